"""Concurrent users against the served app in public mode: errors, privacy leaks, latency percentiles, memory.

    python bench/load_test.py --sessions 10 --rounds 2            # real embedder + default LLM (slow on CPU)
    python bench/load_test.py --sessions 30 --rounds 3 --fake     # FakeEmbedder + FakeGenerator: plumbing only

Each session is its own gradio_client.Client (loopback only): it uploads a document holding a unique secret
phrase, asks about it `--rounds` times, searches and lists, all sessions at once. Reported: failed requests,
sessions whose outputs contained another session's secret (must be 0), answers missing their own secret,
ask latency p50/p90/p99/max, and the server process's RSS before, at peak and after idle sessions are swept.
The same user script is the CI test tests/test_many_users.py (10 sessions, fake models).
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
import threading
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from tests import test_many_users as load  # noqa: E402


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * (len(ordered) - 1) + 0.5))] if ordered else float("nan")


def make_engine(work: Path, fake: bool, chat_concurrency: int):
    from rag.config import Settings
    from ui.config import AppSettings
    from ui.engine import Engine

    app = AppSettings(public=True, sample_dir=None, session_ttl_s=3600.0, chat_concurrency=chat_concurrency)
    settings = Settings.from_env().replace(data_dir=work / "data")
    if fake:
        from rag.generate.registry import register_generator
        from tests.fakes import FakeEmbedder, FakeGenerator

        generator = FakeGenerator()
        register_generator("fake", lambda _settings, _argument: generator)
        engine = Engine(settings.replace(generator="fake"), app, embedder=FakeEmbedder(dim=64))
    else:
        engine = Engine(settings, app)
    engine.start(background=False)
    return engine


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sessions", type=int, default=10)
    parser.add_argument("--rounds", type=int, default=2, help="questions per session")
    parser.add_argument("--fake", action="store_true", help="fake models (tests the app, not the models)")
    parser.add_argument("--chat-concurrency", type=int, default=1, help="answers generated at once")
    parser.add_argument("--json", type=Path, default=None, help="also write the figures here")
    args = parser.parse_args(argv)
    load.SESSIONS, load.ROUNDS = args.sessions, args.rounds
    work = Path(tempfile.mkdtemp(prefix="footnote-load-"))
    (work / "docs").mkdir()

    from tests.browser import serve

    started = time.monotonic()
    engine = make_engine(work, args.fake, args.chat_concurrency)
    print(f"models loaded in {time.monotonic() - started:.1f} s ({'fake' if args.fake else 'real'})")
    pool = engine.wait()
    with serve(engine) as url:
        from gradio_client import Client

        Client(url, verbose=False).predict(api_name="/list")
        _, baseline = load.settle(pool)
        sessions = [load.make_session(i, work / "docs") for i in range(args.sessions)]
        barrier = threading.Barrier(args.sessions)
        threads = [threading.Thread(target=load.user, args=(url, s, barrier)) for s in sessions]
        began = time.monotonic()
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        wall = time.monotonic() - began
        peak = load.rss_mb()
        swept, after = load.settle(pool)

    latencies = [x for s in sessions for x in s.latencies]
    errors = [f"{s.index}: {s.error}" for s in sessions if s.error]
    leaks = []
    for s in sessions:
        seen = json.dumps(s.outputs)
        leaks += [(s.index, o.index) for o in sessions if o is not s and o.secret in seen]
    missing = sum(1 for s in sessions for a in s.answers if s.secret not in a)
    figures = {
        "sessions": args.sessions, "rounds": args.rounds, "models": "fake" if args.fake else "real",
        "wall_s": round(wall, 1), "errors": errors, "leaks": leaks, "answers_missing_own_secret": missing,
        "ask_s": {"p50": percentile(latencies, 0.5), "p90": percentile(latencies, 0.9),
                  "p99": percentile(latencies, 0.99), "max": max(latencies, default=float("nan")),
                  "mean": statistics.fmean(latencies) if latencies else float("nan")},
        "rss_mb": {"baseline": round(baseline), "peak": round(peak), "after_sweep": round(after)},
        "swept": len(swept),
    }  # fmt: skip
    print(json.dumps(figures, indent=1))
    if args.json:
        args.json.write_text(json.dumps(figures, indent=1))
    return 1 if errors or leaks else 0


if __name__ == "__main__":
    sys.exit(main())
