"""Many SIGKILL trials against a running ingest; prints where each kill landed and the index counts after it.

    python bench/crash_safety.py --trials 200 --work /tmp/crash-bench
    python bench/crash_safety.py --trials 50 --docs 8 --seed 42      # reproduce a run

The same worker and checks as tests/test_crash_safety.py (which runs 20 trials in CI): each trial runs
tests/crash_ingest_worker.py (real Library/Store/FAISS/BM25, FakeEmbedder) on a data dir, SIGKILLs it at a
random moment, then asserts the index opens, FAISS count == BM25 count == SQLite chunk rows, and every
document is wholly present (clean-ingest chunk count) or absent. Every --group trials the ingest is re-run to
completion and a fresh data dir is started. Exit code 1 on the first broken invariant, with the seed.
"""

from __future__ import annotations

import argparse
import json
import random
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from tests import crash_ingest_worker as worker  # noqa: E402


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--trials", type=int, default=100)
    parser.add_argument("--docs", type=int, default=4, help="documents in the ingested folder")
    parser.add_argument("--cycles", type=int, default=2, help="delete-half-and-re-ingest rounds per run")
    parser.add_argument("--group", type=int, default=5, help="trials per data dir before completing it")
    parser.add_argument("--seed", type=int, default=None)
    parser.add_argument("--work", type=Path, default=None, help="scratch folder (default: a temp dir)")
    parser.add_argument("--json", type=Path, default=None, help="also write the per-trial results here")
    args = parser.parse_args(argv)
    seed = args.seed if args.seed is not None else time.time_ns() % 1_000_000
    rng = random.Random(seed)
    work = args.work or Path(tempfile.mkdtemp(prefix="crash-bench-"))
    work.mkdir(parents=True, exist_ok=True)

    markers = worker.make_corpus(work / "docs", count=args.docs)
    expected = worker.clean_ingest(work / "docs", work / "reference", markers)
    started = time.monotonic()
    worker.run(work / "timing", work / "docs", None, cycles=args.cycles)
    whole = time.monotonic() - started
    print(
        f"seed {seed}; {args.docs} docs, {sum(c for _, _, c in expected.docs.values())} chunks; full run {whole:.1f} s"
    )

    rows, phases = [], Counter()
    killed = litter = orphans = 0
    data_dir = work / "data0"
    for trial in range(args.trials):
        if trial % args.group == 0:
            data_dir = work / f"data{trial // args.group}"
        from_start = trial % 4 == 0
        delay = rng.uniform(0.0, whole * 1.05) if from_start else rng.uniform(0.0, whole * 0.6)
        run = worker.run(data_dir, work / "docs", delay, cycles=args.cycles, after_open=not from_start)
        try:
            counts = worker.check_index(data_dir, expected)
        except AssertionError as exc:
            print(f"BROKEN after trial {trial} (seed {seed}, kill at {delay:.3f} s, {run.last_line!r}): {exc!r}")
            return 1
        phases[worker.phase(run.last_line)] += 1
        killed += run.killed
        litter += counts.litter
        orphans += counts.orphan_copies
        rows.append({"trial": trial, "delay": delay, "killed": run.killed, "phase": worker.phase(run.last_line),
                     **counts.__dict__})  # fmt: skip
        print(f"trial {trial:4d} {worker.phase(run.last_line):9s} docs={counts.documents} chunks={counts.chunks} "
              f"faiss={counts.faiss} bm25={counts.bm25} litter={counts.litter} orphans={counts.orphan_copies}")  # fmt: skip
        if trial % args.group == args.group - 1:
            done = worker.run(data_dir, work / "docs", None, cycles=0)
            final = worker.check_index(data_dir, expected)
            assert done.last_line == "finished" and final.documents == len(expected.docs), (done, final)
    print(f"\n{args.trials} trials, {killed} killed mid-run, 0 corrupt; kills landed in {dict(phases)}; "
          f"temp files left by killed writes: {litter}; orphan kept copies: {orphans}")  # fmt: skip
    if args.json:
        args.json.write_text(json.dumps({"seed": seed, "trials": rows}, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
