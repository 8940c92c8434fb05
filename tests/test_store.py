"""Store: SQLite round trip, replace/delete, generation-tagged FAISS cache, manifest checks, crash safety."""

from __future__ import annotations

import hashlib
import os
import signal
import sqlite3
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import numpy as np
import pytest

from rag.errors import IndexError_, IndexMismatchError, IndexWriteError
from rag.index.store import Store
from rag.index.vectors import VectorCache
from rag.types import Chunk, Document, Page
from tests.fakes import FakeEmbedder

ROOT = Path(__file__).resolve().parent.parent


def make_doc(name: str, pages: list[list[str]], salt: str = "") -> tuple[Document, list[Chunk]]:
    """Return a Document whose pages join the given paragraphs, and one Chunk per paragraph."""
    doc_id = hashlib.sha256((name + salt + repr(pages)).encode()).hexdigest()
    page_objs, chunks = [], []
    for number, paragraphs in enumerate(pages, start=1):
        text = "\n\n".join(paragraphs)
        start = 0
        for para in paragraphs:
            cid = hashlib.sha256(f"{doc_id}{number}{start}".encode()).hexdigest()[:16]
            chunks.append(Chunk(cid, doc_id, name, number, start, start + len(para), para, ("H",), len(chunks)))
            start += len(para) + 2
        page_objs.append(Page(number, text))
    return Document(doc_id, name, f"/src/{name}", "txt", tuple(page_objs), ("a warning",)), chunks


def put(store: Store, embedder: FakeEmbedder, name: str, pages: list[list[str]], salt: str = "") -> Document:
    document, chunks = make_doc(name, pages, salt)
    store.put(document, chunks, embedder.encode([c.text for c in chunks]))
    return document


@pytest.fixture
def embedder() -> FakeEmbedder:
    return FakeEmbedder(dim=32)


@pytest.fixture
def store(tmp_path, embedder):
    opened = Store.open(tmp_path / "idx", embedder.name, embedder.dim)
    yield opened
    opened.close()


def top(store: Store, embedder: FakeEmbedder, query: str, k: int = 3, doc_ids=None) -> list[str]:
    return [h.chunk.text for h in store.dense_search(embedder.vector(query), k, doc_ids)]


def test_round_trip_keeps_chunks_pages_and_info(store, embedder):
    doc = put(store, embedder, "zoo.txt", [["lions roar loudly", "zebras graze"], ["penguins swim in cold water"]])
    [info] = store.documents()
    assert (info.name, info.pages, info.chunks, info.warnings) == ("zoo.txt", 2, 3, ("a warning",))
    hit = store.dense_search(embedder.vector("penguins swim"), 1)[0]
    assert (hit.chunk.text, hit.chunk.page, hit.chunk.document, hit.chunk.headings) == (
        "penguins swim in cold water",
        2,
        "zoo.txt",
        ("H",),
    )
    assert store.page_text(doc.doc_id, 1)[hit.chunk.start : hit.chunk.end] != ""
    assert store.page_text(doc.doc_id, 1) == "lions roar loudly\n\nzebras graze"
    assert [c.ordinal for c in store.neighbours(doc.doc_id, 1, 1)] == [0, 1, 2]
    assert np.allclose(store.vectors_of([hit.chunk.chunk_id])[0], embedder.vector("penguins swim in cold water"))


def test_same_name_replaces_old_chunks_and_bumps_generation(store, embedder):
    put(store, embedder, "a.txt", [["old text about apples"]])
    before = store.generation
    put(store, embedder, "a.txt", [["new text about bananas"]], salt="v2")
    assert store.generation == before + 1
    assert [d.chunks for d in store.documents()] == [1]
    assert top(store, embedder, "apples", k=5) == ["new text about bananas"]


def test_delete_removes_metadata_pages_and_vectors(store, embedder):
    a = put(store, embedder, "a.txt", [["alpha words here"]])
    put(store, embedder, "b.txt", [["beta words here"]])
    store.delete(a.doc_id)
    assert [d.name for d in store.documents()] == ["b.txt"]
    assert store.page_text(a.doc_id, 1) is None
    assert top(store, embedder, "alpha words", k=5) == ["beta words here"]
    assert len(store.corpus().texts) == 1


def test_document_filter_searches_only_those_documents(store, embedder):
    put(store, embedder, "a.txt", [["shared topic alpha"]])
    b = put(store, embedder, "b.txt", [["other stuff"]])
    assert top(store, embedder, "shared topic alpha", k=5, doc_ids=[b.doc_id]) == ["other stuff"]
    assert top(store, embedder, "shared topic alpha", k=5, doc_ids=[]) == []


def test_reopen_loads_saved_cache_without_rebuilding(tmp_path, embedder, monkeypatch):
    first = Store.open(tmp_path / "idx", embedder.name, embedder.dim)
    put(first, embedder, "a.txt", [["red apples", "green pears", "yellow bananas"]])
    first.flush()
    generation, expected = first.generation, top(first, embedder, "green pears")
    first.close()
    assert (tmp_path / "idx" / f"vectors.g{generation}.faiss").is_file()

    def no_rebuild(*args, **kwargs):
        raise AssertionError("the saved cache should have been loaded")

    monkeypatch.setattr(VectorCache, "rebuild", no_rebuild)
    second = Store.open(tmp_path / "idx", embedder.name, embedder.dim)
    assert second.generation == generation
    assert top(second, embedder, "green pears") == expected
    second.close()


@pytest.mark.parametrize("damage", ["stale", "corrupt"])
def test_stale_or_corrupt_cache_is_rebuilt_from_sqlite(tmp_path, embedder, damage):
    first = Store.open(tmp_path / "idx", embedder.name, embedder.dim)
    put(first, embedder, "a.txt", [["red apples"]])
    first.flush()
    cache = tmp_path / "idx" / f"vectors.g{first.generation}.faiss"
    if damage == "stale":  # a crash after the SQLite commit, before the cache was saved
        put(first, embedder, "b.txt", [["blue sky"]])
    else:
        cache.write_bytes(b"not a faiss index")
    first.close()
    second = Store.open(tmp_path / "idx", embedder.name, embedder.dim)
    assert top(second, embedder, "blue sky red apples", k=5)[0] in {"blue sky", "red apples"}
    assert len(top(second, embedder, "blue sky red apples", k=5)) == (2 if damage == "stale" else 1)
    second.close()


def test_other_embedder_is_refused_with_advice(tmp_path, embedder):
    Store.open(tmp_path / "idx", embedder.name, embedder.dim).close()
    with pytest.raises(IndexMismatchError, match=r"built with fake-bow \(32 dims\); you are using other \(384 dims\)"):
        Store.open(tmp_path / "idx", "other", 384)


def test_failed_write_keeps_previous_document(store, embedder, monkeypatch):
    put(store, embedder, "a.txt", [["original apples"]])
    generation = store.generation

    def disk_full(*args):
        raise sqlite3.OperationalError("database or disk is full")

    monkeypatch.setattr("rag.index.store.chunk_values", disk_full)
    with pytest.raises(IndexWriteError, match="disk is full"):
        put(store, embedder, "a.txt", [["replacement"]], salt="v2")
    assert store.generation == generation
    assert top(store, embedder, "apples") == ["original apples"]


def test_cache_write_on_full_disk_is_an_index_write_error(store, embedder, monkeypatch):
    put(store, embedder, "a.txt", [["apples"]])

    def no_space(src, dst):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr("rag.index.vectors.os.replace", no_space)
    with pytest.raises(IndexWriteError, match="No space left"):
        store.flush()
    assert not list(store.data_dir.glob(".vectors-*"))  # no temp file left behind
    assert top(store, embedder, "apples") == ["apples"]


@pytest.mark.skipif(os.geteuid() == 0, reason="root ignores directory permissions")
def test_read_only_data_dir_is_an_index_write_error(tmp_path, embedder):
    data = tmp_path / "idx"
    store = Store.open(data, embedder.name, embedder.dim)
    put(store, embedder, "a.txt", [["apples"]])
    store.close()
    data.chmod(0o555)
    try:
        with pytest.raises(IndexWriteError):
            reopened = Store.open(data, embedder.name, embedder.dim)
            put(reopened, embedder, "b.txt", [["pears"]])
    finally:
        data.chmod(0o755)


WRITER = """
import sys
sys.path[:0] = [{root!r}]
from tests.fakes import FakeEmbedder
from tests.test_store import put
from rag.index.store import Store
embedder = FakeEmbedder(dim=32)
store = Store.open({data!r}, embedder.name, embedder.dim)
for i in range(100000):
    put(store, embedder, f"doc{{i % 7}}.txt", [[f"para {{j}} of {{i}}" for j in range(40)]] * 3, salt=str(i))
"""


def test_sigkill_mid_ingest_leaves_every_document_whole(tmp_path, embedder):
    data = tmp_path / "idx"
    code = textwrap.dedent(WRITER.format(root=str(ROOT), data=str(data)))
    proc = subprocess.Popen([sys.executable, "-c", code])
    try:
        deadline = time.monotonic() + 60
        while not (data / "index.sqlite3").exists() and time.monotonic() < deadline and proc.poll() is None:
            time.sleep(0.1)
        watcher = Store.open(data, embedder.name, embedder.dim)
        while watcher.generation < 6 and time.monotonic() < deadline and proc.poll() is None:
            time.sleep(0.05)
        watcher.close()
    finally:
        proc.send_signal(signal.SIGKILL)  # lands at a random point inside some document's write
        proc.wait()
    store = Store.open(data, embedder.name, embedder.dim)
    assert store.generation >= 6
    for info in store.documents():
        assert len(store.rows_of([info.doc_id])) == info.chunks == 120
        assert all(store.page_text(info.doc_id, p) for p in (1, 2, 3))
    assert len(store.corpus().texts) == sum(d.chunks for d in store.documents())


def test_find_by_name_id_or_unique_id_prefix_without_wildcards(store, embedder):
    a = put(store, embedder, "a.txt", [["alpha"]])
    assert store.find("a.txt").doc_id == store.find(a.doc_id).doc_id == store.find(a.doc_id[:8]).doc_id == a.doc_id
    assert store.find(a.doc_id[:7]) is None  # too short to be a prefix
    assert store.find("%%%%%%%%") is None and store.find("________") is None


def test_calls_after_close_say_the_index_was_closed(store, embedder):
    put(store, embedder, "a.txt", [["apples"]])
    store.close()
    store.close()  # twice is fine
    with pytest.raises(IndexError_, match="was closed"):
        store.documents()
    with pytest.raises(IndexError_, match="was closed"):
        store.dense_search(embedder.vector("apples"), 1)
