"""The process the crash-safety test kills, plus the corpus it ingests and the checks run after each kill.

As a script:  python tests/crash_ingest_worker.py DATA_DIR DOCS_DIR [--cycles N]
    opens a Library (real Store, SQLite, FAISS and BM25; FakeEmbedder for speed), ingests DOCS_DIR, then
    N times deletes every other document and ingests the folder again (so deletes, re-adds and cache saves
    are in the window too), printing one line per progress stage. The test SIGKILLs it at a random moment.
As a module: `make_corpus` writes the documents, `check_index` opens what a killed run left behind and
returns its counts after asserting every invariant (tests/test_crash_safety.py, bench/crash_safety.py).
"""

from __future__ import annotations

import argparse
import contextlib
import os
import random
import signal
import sqlite3
import subprocess
import sys
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from rag.config import Settings  # noqa: E402
from rag.library import Library  # noqa: E402
from rag.types import IngestProgress  # noqa: E402
from tests.fakes import FakeEmbedder  # noqa: E402

DIM = 32
WORDS = ("amber", "basalt", "cedar", "delta", "ember", "fjord", "garnet", "harbor", "indigo", "juniper",
         "kestrel", "lagoon", "meadow", "nectar")  # fmt: skip


def settings_for(data_dir: Path) -> Settings:
    """The backend under test comes from FOOTNOTE_CRASH_INDEX (default local), so the killed child uses it too."""
    index = os.environ.get("FOOTNOTE_CRASH_INDEX", "local")
    return Settings(data_dir=data_dir, threads=1, parse_timeout_s=60, index=index)  # type: ignore[arg-type]


def open_library(data_dir: Path) -> Library:
    return Library.open(settings_for(data_dir), FakeEmbedder(dim=DIM))


def make_corpus(folder: Path, count: int = 4, seed: int = 1) -> dict[str, str]:
    """Write `count` documents of 1-7 KB (txt, md, html) with one unique marker word each; return name → marker."""
    rng = random.Random(seed)
    folder.mkdir(parents=True, exist_ok=True)
    markers = {}
    for i in range(count):
        marker = f"zq{i}marker"
        sentences = [
            " ".join(rng.choice(WORDS) for _ in range(rng.randint(6, 14))).capitalize() + "."
            for _ in range(10 + 25 * i)
        ]
        sentences.insert(len(sentences) // 2, f"The unique word of document {i} is {marker}.")
        body = " ".join(sentences)
        kind = ("txt", "md", "html")[i % 3]
        name = f"doc{i}.{kind}"
        if kind == "md":
            body = f"# Document {i}\n\n{body}"
        elif kind == "html":
            body = f"<html><body><h1>Document {i}</h1><p>{body}</p></body></html>"
        (folder / name).write_text(body)
        markers[name] = marker
    return markers


@dataclass(frozen=True)
class Expected:
    """What a clean ingest gives per document name: (doc_id, pages, chunks)."""

    docs: dict[str, tuple[str, int, int]]
    markers: dict[str, str] = field(default_factory=dict)


def clean_ingest(folder: Path, data_dir: Path, markers: dict[str, str]) -> Expected:
    """Ingest `folder` without interruption and return the reference counts."""
    with open_library(data_dir) as library:
        outcomes = library.ingest([folder])
    assert all(o.status == "indexed" for o in outcomes), outcomes
    return Expected({o.name: (o.doc_id, o.pages, o.chunks) for o in outcomes}, markers)


@dataclass(frozen=True)
class Counts:
    documents: int
    chunks: int
    faiss: int
    bm25: int
    litter: int  # temp files/folders a killed write left behind (.copy-*, .vectors-*.tmp, .bm25-*)
    orphan_copies: int  # kept originals in files/ whose document is not in the index


def check_index(data_dir: Path, expected: Expected) -> Counts:
    """Open what a killed run left and assert the invariants; return the counts.

    - the index opens and SQLite's integrity check passes;
    - every document present has exactly the clean ingest's doc_id, pages and chunks (wholly present);
    - no chunk or page belongs to a missing document;
    - FAISS holds exactly the chunk rows (count and ids), loaded from its file or rebuilt;
    - BM25 holds exactly the chunk rows, every present document is found by its unique word and an absent
      one is not (dense search is covered by the FAISS id check: FakeEmbedder's hashed buckets collide).
    """
    if settings_for(data_dir).index != "local":
        return check_qdrant_index(data_dir, expected)
    database = data_dir / "index.sqlite3"
    if database.exists():  # a kill before the Library created its folder leaves nothing but a fresh open to check
        with sqlite3.connect(database) as conn:
            assert conn.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
    with open_library(data_dir) as library:
        store = library.index.store
        conn = store._conn
        docs = {name: (doc_id, pages, chunks) for doc_id, name, pages, chunks in conn.execute(
            "SELECT doc_id, name, pages, chunks FROM documents")}  # fmt: skip
        for name, info in docs.items():
            assert info == expected.docs[name], (name, info, expected.docs[name])
        per_doc = dict(conn.execute("SELECT doc_id, COUNT(*) FROM chunks GROUP BY doc_id").fetchall())
        pages = dict(conn.execute("SELECT doc_id, COUNT(*) FROM pages GROUP BY doc_id").fetchall())
        present = {doc_id: (n_pages, n_chunks) for doc_id, n_pages, n_chunks in docs.values()}
        assert set(per_doc) <= set(present) and set(pages) <= set(present), "rows of a missing document"
        for doc_id, (n_pages, n_chunks) in present.items():
            assert per_doc.get(doc_id, 0) == n_chunks and pages.get(doc_id, 0) == n_pages, doc_id
        rows = sorted(r[0] for r in conn.execute("SELECT id FROM chunks"))

        with store._lock:
            store._sync_vectors()
            index = store._vectors.index
            faiss_ids = sorted(int(index.id_map.at(i)) for i in range(index.ntotal)) if index is not None else []
        assert faiss_ids == rows, (len(faiss_ids), len(rows))
        library.index.bm25.refresh()
        bm25_rows = sorted(int(r) for r in library.index.bm25._rows)
        assert bm25_rows == rows, (len(bm25_rows), len(rows))

        for name, marker in expected.markers.items():
            hits = library.search(marker, 1, mode="bm25")
            found = bool(hits) and hits[0].document == name and marker in hits[0].chunk.text
            assert found == (name in docs), (name, hits[:1])
        litter = [p for p in data_dir.glob(".*") if p.name.startswith((".copy-", ".vectors-", ".bm25-"))]
        litter += list((data_dir / "files").glob(".copy-*"))
        kept = {p.name.split(".")[0] for p in (data_dir / "files").glob("*") if not p.name.startswith(".")}
        return Counts(len(docs), len(rows), len(faiss_ids), len(bm25_rows), len(litter), len(kept - set(present)))


def check_qdrant_index(data_dir: Path, expected: Expected) -> Counts:
    """The same invariants on a Qdrant backend, through its points: after the open settled any interrupted write,
    every document is whole, no chunk or page point is left from another version, no intent remains, and BM25
    (sparse vectors) finds exactly the present documents by their unique words."""
    from rag.index.qdrant_engines import Where

    with open_library(data_dir) as library:
        index = library.index
        docs = {d.name: (d.doc_id, d.pages, d.chunks) for d in index.documents()}
        for name, info in docs.items():
            assert info == expected.docs[name], (name, info, expected.docs[name])
        versions = {r.payload["doc_id"]: r.payload["version"] for r in index.engine.scroll(Where("document"))}
        points = {kind: list(index.engine.scroll(Where(kind))) for kind in ("chunk", "page", "intent")}
        assert points["intent"] == [], "an interrupted write was not settled on open"
        for kind in ("chunk", "page"):
            stray = [r.payload["doc_id"] for r in points[kind] if versions.get(r.payload["doc_id"]) != r.payload["version"]]
            assert stray == [], f"{len(stray)} {kind} points of a missing or replaced version"
        for doc_id, pages, chunks in docs.values():
            assert len(index.neighbours(doc_id, 0, 10_000)) == chunks
            assert all(index.page_text(doc_id, n) is not None for n in range(1, pages + 1)), doc_id
        for name, marker in expected.markers.items():
            hits = library.search(marker, 1, mode="bm25")
            found = bool(hits) and hits[0].document == name and marker in hits[0].chunk.text
            assert found == (name in docs), (name, hits[:1])
        litter = list((data_dir / "files").glob(".copy-*"))
        kept = {p.name.split(".")[0] for p in (data_dir / "files").glob("*") if not p.name.startswith(".")}
        present = {doc_id for doc_id, _, _ in docs.values()}
        n = len(points["chunk"])
        return Counts(len(docs), n, n, n, len(litter), len(kept - present))


@dataclass(frozen=True)
class Run:
    """One run of this script: whether it was killed, after how long, and the last thing it printed."""

    killed: bool
    seconds: float
    last_line: str


def run(
    data_dir: Path,
    docs_dir: Path,
    kill_after_s: float | None,
    cycles: int = 1,
    log: Path | None = None,
    after_open: bool = False,
    extra: Sequence[str] = (),
) -> Run:
    """Run this script on `data_dir`; SIGKILL it after `kill_after_s` seconds unless it finished first.

    With `after_open` the clock starts when the script says "opened" (imports and start-up take most of a
    run on a busy machine; the writes come after). `extra` adds arguments such as ("--kill-at", spec).

    It runs in its own process group so its parse-worker child is killed with it (as an OOM kill or a
    power cut would take both), and nothing outlives the trial.
    """
    log = log or data_dir.parent / "worker.log"
    command = [sys.executable, str(Path(__file__).resolve()), str(data_dir), str(docs_dir), "--cycles", str(cycles)]
    start = time.monotonic()
    with open(log, "w") as out:
        proc = subprocess.Popen([*command, *extra], stdout=out, stderr=subprocess.STDOUT, start_new_session=True)
        killed = False
        try:
            if after_open:
                _wait_for_line(log, "opened", proc)
            proc.wait(timeout=kill_after_s)
        except subprocess.TimeoutExpired:
            os.kill(proc.pid, signal.SIGKILL)
            killed = True
            proc.wait()
        finally:
            # The group we created, by its id: the orphaned parse worker (already gone if it exited).
            with contextlib.suppress(ProcessLookupError):
                os.killpg(proc.pid, signal.SIGKILL)
    seconds = time.monotonic() - start
    lines = log.read_text(errors="replace").splitlines()
    killed = killed or proc.returncode == -signal.SIGKILL  # --kill-at: it killed itself
    if not killed and proc.returncode != 0:
        raise RuntimeError(f"the ingest worker failed (exit {proc.returncode}):\n" + "\n".join(lines[-20:]))
    return Run(killed, seconds, lines[-1] if lines else "")


def _wait_for_line(log: Path, line: str, proc: subprocess.Popen, timeout: float = 300.0) -> None:
    deadline = time.monotonic() + timeout
    while line not in log.read_text(errors="replace").splitlines():
        if proc.poll() is not None or time.monotonic() > deadline:
            return
        time.sleep(0.01)


def phase(line: str) -> str:
    """The stage a run had reached: "starting", "opened", "reading", "embedding", ..., "delete", "finished"."""
    return line.split(" ", 1)[0] if line else "starting"


def _printer(progress: IngestProgress) -> None:
    print(f"{progress.stage} {progress.name}", flush=True)


def kill_at(spec: str) -> None:
    """Make this process SIGKILL itself at a chosen point: "module:Class.method:N" dies on the Nth call.

    "manifest:N" dies after the Nth row of the new index's manifest is written (inside Store.open).
    Deterministic crash points complement the random kills: they hit windows a few microseconds wide.
    """
    import importlib

    target, _, count = spec.rpartition(":")
    calls = {"n": 0}
    if target == "manifest":
        _kill_in_manifest(int(count))
        return
    module_name, _, attr_path = target.partition(":")
    owner = importlib.import_module(module_name)
    *parents, attr = attr_path.split(".")
    for part in parents:
        owner = getattr(owner, part)
    original = getattr(owner, attr)

    def dying(*args: object, **kwargs: object) -> object:
        calls["n"] += 1
        if calls["n"] == int(count):
            print(f"killing myself in {target}", flush=True)
            os.kill(os.getpid(), signal.SIGKILL)
        return original(*args, **kwargs)

    setattr(owner, attr, dying)


def _kill_in_manifest(rows: int) -> None:
    """Give rag.index.store a sqlite3 whose executemany dies after `rows` rows (autocommit: each row is committed)."""
    import types

    from rag.index import store

    class Dying(sqlite3.Connection):
        def executemany(self, sql: str, params: object) -> sqlite3.Cursor:  # type: ignore[override]
            cursor = self.cursor()
            for i, row in enumerate(params):  # type: ignore[arg-type]
                if i == rows and "manifest" in sql:
                    print("killing myself in the manifest", flush=True)
                    os.kill(os.getpid(), signal.SIGKILL)
                cursor.execute(sql, row)
            return cursor

    shim = types.ModuleType("sqlite3")
    shim.__dict__.update(sqlite3.__dict__)
    shim.connect = lambda *args, **kwargs: sqlite3.connect(*args, factory=Dying, **kwargs)  # type: ignore[attr-defined]
    store.sqlite3 = shim  # type: ignore[attr-defined]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("data_dir", type=Path)
    parser.add_argument("docs_dir", type=Path)
    parser.add_argument("--cycles", type=int, default=1, help="delete-half-and-re-ingest rounds after the ingest")
    parser.add_argument("--kill-at", help='die at a chosen point: "module:Class.method:N" or "manifest:N"')
    args = parser.parse_args(argv)
    if args.kill_at:
        kill_at(args.kill_at)
    with open_library(args.data_dir) as library:
        print("opened", flush=True)
        library.ingest([args.docs_dir], on_progress=_printer)
        for _ in range(args.cycles):
            for info in library.documents()[::2]:
                print(f"delete {info.name}", flush=True)
                library.delete(info.doc_id)
            library.ingest([args.docs_dir], on_progress=_printer)
    print("finished", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
