"""SIGKILL an ingest at random moments (and at chosen ones): the index must always open and be consistent.

Each trial runs tests/crash_ingest_worker.py (real Library, Store, SQLite, FAISS and BM25; FakeEmbedder) in a
subprocess and kills it. Afterwards `check_index` asserts: the index opens, SQLite's integrity check passes,
every document is wholly present (its clean-ingest chunk and page counts) or absent, no orphan rows, FAISS and
BM25 hold exactly SQLite's chunk rows, and BM25 finds exactly the present documents. Every few trials the
ingest is re-run to completion and everything must be there. bench/crash_safety.py runs many more trials.
"""

from __future__ import annotations

import os
import random
import time
from collections import Counter
from pathlib import Path

import pytest

from tests import crash_ingest_worker as worker

TRIALS = 20
EDGE_TRIALS = 10
GROUP = 5  # trials per data dir before a completing run and a fresh dir (fresh dirs hit index creation)


@pytest.fixture(scope="module")
def corpus(tmp_path_factory) -> tuple[Path, worker.Expected, float]:
    """The documents, their clean-ingest counts, and how long a full run takes after "opened"."""
    root = tmp_path_factory.mktemp("crash-corpus")
    markers = worker.make_corpus(root / "docs")
    expected = worker.clean_ingest(root / "docs", root / "reference", markers)
    full = worker.run(root / "timing", root / "docs", None, after_open=True)
    assert full.last_line == "finished"
    worker.check_index(root / "timing", expected)
    start = time.monotonic()
    worker.run(root / "timing2", root / "docs", None)
    whole = time.monotonic() - start
    return root / "docs", expected, whole


def _complete(data_dir: Path, docs: Path, expected: worker.Expected) -> worker.Counts:
    """Re-run the ingest to the end: it must finish and leave every document with its clean counts."""
    finished = worker.run(data_dir, docs, None)
    assert finished.last_line == "finished", finished
    counts = worker.check_index(data_dir, expected)
    assert counts.documents == len(expected.docs)
    assert counts.chunks == sum(chunks for _, _, chunks in expected.docs.values())
    return counts


def test_random_sigkills_never_leave_a_broken_or_half_written_index(corpus, tmp_path):
    docs, expected, whole = corpus
    seed = int(os.environ.get("FOOTNOTE_CRASH_SEED", time.time_ns() % 1_000_000))
    rng = random.Random(seed)
    print(f"\nseed {seed}; a full run takes {whole:.1f} s; {TRIALS} trials")
    phases: Counter[str] = Counter()
    litter = orphans = killed = 0
    data_dir = tmp_path
    for trial in range(TRIALS):
        if trial % GROUP == 0:
            data_dir = tmp_path / f"data{trial // GROUP}"
        # Most kills land after start-up (where the writes are); one in four anywhere from process start.
        from_start = trial % 4 == 0
        delay = rng.uniform(0.0, whole * 1.05) if from_start else rng.uniform(0.0, whole * 0.6)
        run = worker.run(data_dir, docs, delay, after_open=not from_start)
        counts = worker.check_index(data_dir, expected)
        phases[worker.phase(run.last_line)] += 1
        killed += run.killed
        litter, orphans = litter + counts.litter, orphans + counts.orphan_copies
        print(
            f"  trial {trial:2d}: kill at {delay:4.2f} s ({'start' if from_start else 'open'}) in "
            f"{worker.phase(run.last_line):9s} docs={counts.documents} chunks={counts.chunks} "
            f"faiss={counts.faiss} bm25={counts.bm25} litter={counts.litter} orphan_copies={counts.orphan_copies}"
        )
        if trial % GROUP == GROUP - 1:
            done = _complete(data_dir, docs, expected)
            print(f"  re-run completed: docs={done.documents} chunks={done.chunks} faiss={done.faiss}")
    print(f"killed {killed}/{TRIALS} mid-run; phases hit: {dict(phases)}; litter {litter}, orphan copies {orphans}")
    assert killed >= TRIALS // 2  # the trials really interrupted the ingest


# Chosen crash points (the process kills itself on the Nth call): windows too narrow for random timing.
KILL_POINTS = {
    "inside a document's transaction": "rag.index.store:chunk_values:3",
    "inside a delete's transaction": "rag.index.store:delete_document_rows:2",
    "while writing the FAISS file": "faiss:write_index:1",
    "while writing the BM25 folder": "numpy:save:1",
    "while keeping a copy of the file": "shutil:copyfile:2",
}


@pytest.mark.parametrize("spec", list(KILL_POINTS.values()), ids=list(KILL_POINTS))
def test_a_kill_at_a_chosen_point_leaves_an_index_that_opens_and_completes(corpus, tmp_path, spec):
    docs, expected, _ = corpus
    run = worker.run(tmp_path / "data", docs, None, extra=("--kill-at", spec))
    assert run.killed, run
    counts = worker.check_index(tmp_path / "data", expected)
    print(f"\n{spec}: {counts}")
    _complete(tmp_path / "data", docs, expected)


# Fixed in d1c2b8a: the manifest used to be written one autocommitted row at a time, so a crash between rows
# left an index that never opened again (IndexMismatchError, or TypeError on the missing generation row).
@pytest.mark.parametrize("rows", [1, 3])
def test_a_kill_between_the_manifest_rows_of_a_new_index_leaves_one_that_opens(corpus, tmp_path, rows):
    docs, expected, _ = corpus
    run = worker.run(tmp_path / "data", docs, None, extra=("--kill-at", f"manifest:{rows}"))
    assert run.killed, run
    worker.check_index(tmp_path / "data", expected)


# The same trials on Qdrant Edge: its write-ahead log under SIGKILL, and our versioned writes on top of it.
EDGE_KILL_POINTS = {
    "between a document's passages and its commit": "rag.index.qdrant:QdrantIndex._document_point:2",
    "between the commit and the cleanup": "rag.index.qdrant_edge:EdgeEngine.delete:3",
    "while flushing the shard": "rag.index.qdrant_edge:EdgeEngine.flush:1",
}


@pytest.fixture
def on_edge(monkeypatch):
    monkeypatch.setenv("FOOTNOTE_CRASH_INDEX", "qdrant-edge")


@pytest.mark.parametrize("spec", list(EDGE_KILL_POINTS.values()), ids=list(EDGE_KILL_POINTS))
def test_qdrant_edge_killed_at_a_chosen_point_opens_whole_and_completes(corpus, tmp_path, spec, on_edge):
    docs, expected, _ = corpus
    run = worker.run(tmp_path / "data", docs, None, cycles=1, extra=("--kill-at", spec))
    assert run.killed, run
    counts = worker.check_index(tmp_path / "data", expected)
    print(f"\n{spec}: {counts}")
    _complete(tmp_path / "data", docs, expected)


def test_qdrant_edge_random_sigkills_never_leave_a_half_written_document(corpus, tmp_path, on_edge):
    docs, expected, whole = corpus
    seed = int(os.environ.get("FOOTNOTE_CRASH_SEED", time.time_ns() % 1_000_000))
    rng = random.Random(seed)
    killed, phases = 0, Counter()
    for trial in range(EDGE_TRIALS):
        data_dir = tmp_path / f"data{trial // GROUP}"
        run = worker.run(data_dir, docs, rng.uniform(0.0, whole * 0.8), cycles=1, after_open=True)
        counts = worker.check_index(data_dir, expected)
        killed += run.killed
        phases[worker.phase(run.last_line)] += 1
        print(f"  edge trial {trial}: in {worker.phase(run.last_line):9s} docs={counts.documents} chunks={counts.chunks}")
        if trial % GROUP == GROUP - 1:
            _complete(data_dir, docs, expected)
    print(f"seed {seed}: killed {killed}/{EDGE_TRIALS}; phases {dict(phases)}")
    assert killed >= EDGE_TRIALS // 2
