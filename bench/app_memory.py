"""What grows in a long-running app: RSS of the serving process after each round of real use.

    python bench/app_memory.py --rounds 40                       # real embedder + default LLM
    python bench/app_memory.py --rounds 200 --fake-generator     # everything but the LLM, 5x faster per round

The app is served in this process (local mode, the sample library plus `--pdfs` shared PDFs uploaded through the
API) and used through `gradio_client` as a person would: each round asks one question (/ask, streamed), searches
(/search), lists (/list), and draws the pages of the answer's citations (`Engine.page_image`, what picking a source
in the page does). RSS is read from /proc after every round; the report gives it at the start, after the first
round (models warm), at the end, and the growth per round over the second half (a leak keeps growing; a cache
levels off). `--trace` adds Python's own allocations (tracemalloc) by file, to tell Python objects from native
memory. Not part of the test suite.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
import time
import tracemalloc
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.common import DEFAULT_SHARED, rss_mb, write_json  # noqa: E402

QUESTIONS = [
    "What is the difference between LoRA and adapters?",
    "How does multi-head attention work?",
    "What are the steps of a ReAct agent?",
    "Why do transformers need positional encoding?",
    "What are the components of a RAG system?",
    "How does Solana order transactions?",
    "What is proof of history?",
    "What was NVIDIA's revenue in the quarter?",
]
PDFS = [
    "eval/blockchain_solana/source_files/BlockchainSolana.pdf",
    "eval/docugami_sec10q/docs/2022 Q3 NVDA.pdf",
    "pdfs/real_world/attention_is_all_you_need_1706.03762.pdf",
]


def start(work: Path, fake_generator: bool):
    """Start the served app on the real embedder (and the real LLM unless `fake_generator`); return (engine, url)."""
    import app as footnote_app
    from rag.config import Settings
    from tests.browser import free_port
    from ui.config import AppSettings
    from ui.engine import Engine

    settings = Settings.from_env().replace(data_dir=work / "data")
    if fake_generator:
        from rag.generate.registry import register_generator
        from tests.fakes import FakeGenerator

        generator = FakeGenerator()
        register_generator("fake", lambda _settings, _argument: generator)
        settings = settings.replace(generator="fake")
    engine = Engine(settings, AppSettings(port=free_port()))
    engine.start(background=False)
    demo = footnote_app.build_demo(engine)
    return engine, demo, footnote_app.launch(demo, engine.app, block=False)


def one_round(client, engine, question: str) -> int:
    """Ask, search, list, and draw the cited pages; return how many pages were drawn."""
    final = client.submit(question, api_name="/ask").result()
    client.predict(question, 5, None, api_name="/search")
    docs = {d["name"]: d["doc_id"] for d in client.predict(api_name="/list")}
    drawn = 0
    for citation in final["citations"] or final["sources"][:2]:
        doc_id = docs.get(citation["document"])
        if doc_id and engine.page_image("bench", doc_id, citation["page"], citation["text"][:200]) is not None:
            drawn += 1
    return drawn


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=40)
    parser.add_argument("--fake-generator", action="store_true", help="a fake LLM: measures everything else")
    parser.add_argument("--shared", type=Path, default=DEFAULT_SHARED)
    parser.add_argument("--pdfs", type=int, default=len(PDFS), help="shared PDFs to upload first")
    parser.add_argument("--trace", action="store_true", help="also report Python allocations (tracemalloc)")
    parser.add_argument("--out", type=Path)
    args = parser.parse_args(argv)
    from gradio_client import Client, handle_file

    if args.trace:
        tracemalloc.start(1)
    with tempfile.TemporaryDirectory(prefix="footnote-mem-") as tmp:
        samples = [("start", rss_mb())]
        engine, demo, url = start(Path(tmp), args.fake_generator)
        client = Client(url, verbose=False)
        uploads = [handle_file(str(args.shared / p)) for p in PDFS[: args.pdfs] if (args.shared / p).exists()]
        if uploads:
            client.predict(uploads, api_name="/upload")
        samples.append(("loaded", rss_mb()))
        snapshot = tracemalloc.take_snapshot() if args.trace else None
        per_round, drawn, started = [], 0, time.perf_counter()
        for i in range(args.rounds):
            drawn += one_round(client, engine, QUESTIONS[i % len(QUESTIONS)])
            per_round.append(rss_mb())
            print(f"round {i + 1}: {per_round[-1]:.0f} MB", flush=True)
        grown = tracemalloc.take_snapshot().compare_to(snapshot, "filename")[:15] if snapshot else []
        demo.close()
        engine.close()
    half = per_round[len(per_round) // 2 :]
    slope = (half[-1] - half[0]) / max(len(half) - 1, 1)
    report = {
        "rounds": args.rounds,
        "fake_generator": args.fake_generator,
        "pages_drawn": drawn,
        "seconds": round(time.perf_counter() - started, 1),
        "rss_mb": {"start": samples[0][1], "loaded": samples[1][1], "after_round_1": per_round[0],
                   "end": per_round[-1], "max": max(per_round), "median": statistics.median(per_round)},
        "growth_mb_per_round_second_half": round(slope, 2),
        "python_growth_by_file": [f"{s.traceback[0].filename}: {s.size_diff / 1e6:+.1f} MB" for s in grown],
    }  # fmt: skip
    print(json.dumps(report, indent=2))
    write_json(args.out, report)
    return 0


if __name__ == "__main__":
    sys.exit(main())
