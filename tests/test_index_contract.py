"""The index contract (`rag.index.contract.Index`), one suite run against every backend this machine has:

- `local`: SQLite + FAISS + bm25s;
- `qdrant-edge`: Qdrant's Rust engine embedded in the process;
- `qdrant-client-local`: qdrant-client's local mode, the stand-in for a Qdrant server (same client calls and
  payloads; it cannot check the server's own HNSW, sharding, replication, auth or network errors).
The same documents, the same fake 32-d vectors, the same expectations, whatever the backend.
"""

from __future__ import annotations

import hashlib
from pathlib import Path

import numpy as np
import pytest

from rag.config import Settings
from rag.errors import ConfigError, IndexError_, IndexMismatchError
from rag.index.backends import open_index
from rag.index.contract import Index
from rag.index.qdrant_engines import Where
from rag.types import Chunk, Document, Page
from tests.fakes import FakeEmbedder

BACKENDS = ("local", "qdrant-edge", "qdrant-client-local")


def settings_for(backend: str, folder: Path) -> Settings:
    if backend == "qdrant-client-local":
        return Settings(data_dir=folder, index="qdrant", qdrant_url=str(folder / "qdrant-local"))
    return Settings(data_dir=folder, index=backend)


def make_doc(name: str, pages: list[list[str]], salt: str = "") -> tuple[Document, list[Chunk]]:
    """A Document whose pages join the given paragraphs, and one Chunk per paragraph (with a context header)."""
    doc_id = hashlib.sha256((name + salt + repr(pages)).encode()).hexdigest()
    page_objs, chunks = [], []
    for number, paragraphs in enumerate(pages, start=1):
        start = 0
        for para in paragraphs:
            cid = hashlib.sha256(f"{doc_id}{number}{start}".encode()).hexdigest()[:16]
            chunks.append(
                Chunk(cid, doc_id, name, number, start, start + len(para), para, ("H",), len(chunks), f"{name}")
            )
            start += len(para) + 2
        page_objs.append(Page(number, "\n\n".join(paragraphs)))
    return Document(doc_id, name, f"/src/{name}", "txt", tuple(page_objs), ("a warning",)), chunks


ZOO = [["lions roar loudly at dusk", "zebras graze on the savanna"], ["penguins swim in cold water"]]
FARM = [["cows give milk every morning", "the tractor is running again"], ["hens lay brown eggs"]]


@pytest.fixture(params=BACKENDS)
def backend(request) -> str:
    return request.param


@pytest.fixture
def embedder() -> FakeEmbedder:
    return FakeEmbedder(dim=32)


@pytest.fixture
def index(backend, tmp_path, embedder):
    opened = open_index(settings_for(backend, tmp_path / "idx"), embedder.name, embedder.dim)
    yield opened
    opened.close()


def put(index: Index, embedder: FakeEmbedder, name: str, pages: list[list[str]], salt: str = "") -> Document:
    document, chunks = make_doc(name, pages, salt)
    index.put(document, chunks, embedder.encode([c.indexed_text for c in chunks]), file=f"{document.doc_id}.txt")
    index.commit()
    return document


def texts(hits) -> list[str]:
    return [h.chunk.text for h in hits]


def test_a_document_round_trips_with_its_provenance(index, embedder):
    doc = put(index, embedder, "zoo.txt", ZOO)
    [info] = index.documents()
    assert (info.doc_id, info.name, info.kind, info.pages, info.chunks, info.warnings) == (
        doc.doc_id, "zoo.txt", "txt", 2, 3, ("a warning",),
    )  # fmt: skip
    hit = index.dense_search(embedder.vector("zoo.txt\npenguins swim in cold water"), 1)[0]
    assert (hit.chunk.text, hit.chunk.page, hit.chunk.document, hit.chunk.headings, hit.chunk.context) == (
        "penguins swim in cold water", 2, "zoo.txt", ("H",), "zoo.txt",
    )  # fmt: skip
    assert hit.method == "dense" and hit.score == pytest.approx(1.0, abs=1e-4)
    page = index.page_text(doc.doc_id, 1)
    assert page == "lions roar loudly at dusk\n\nzebras graze on the savanna"
    first = index.neighbours(doc.doc_id, 0, 0)[0]
    assert page[first.start : first.end] == first.text
    assert index.page_text(doc.doc_id, 9) is None and index.page_text("nope", 1) is None
    assert index.document_file(doc.doc_id) == f"{doc.doc_id}.txt" and index.document_file("nope") == ""


def test_find_by_name_id_or_id_prefix(index, embedder):
    doc = put(index, embedder, "zoo.txt", ZOO)
    put(index, embedder, "farm.txt", FARM)
    assert index.find("zoo.txt").doc_id == doc.doc_id
    assert index.find(doc.doc_id).name == "zoo.txt"
    assert index.find(doc.doc_id[:10]).name == "zoo.txt"
    assert index.find(doc.doc_id[:5]) is None  # too short to be a prefix
    assert index.find("missing.txt") is None
    assert [d.name for d in index.documents()] == ["zoo.txt", "farm.txt"]  # oldest first


def test_dense_search_is_best_first_and_document_filters_miss_nothing(index, embedder):
    put(index, embedder, "zoo.txt", ZOO)
    farm = put(index, embedder, "farm.txt", FARM)
    hits = index.dense_search(embedder.vector("farm.txt\nhens lay brown eggs"), 6)
    assert len(hits) == 6 and hits[0].chunk.text == "hens lay brown eggs"
    assert [h.score for h in hits] == sorted((h.score for h in hits), reverse=True)
    only = index.dense_search(embedder.vector("zoo.txt\nlions roar loudly at dusk"), 10, (farm.doc_id,))
    assert sorted(texts(only)) == sorted(p for page in FARM for p in page)  # every farm chunk, nothing else
    assert index.dense_search(embedder.vector("lions"), 5, ()) == []


def test_keyword_search_stems_skips_stopwords_and_filters(index, embedder):
    zoo = put(index, embedder, "zoo.txt", ZOO)
    put(index, embedder, "farm.txt", FARM)
    assert texts(index.keyword_search("swimming penguin", 3)) == ["penguins swim in cold water"]
    assert texts(index.keyword_search("runs", 3)) == ["the tractor is running again"]
    assert index.keyword_search("the is at on", 3) == []  # stopwords only
    assert index.keyword_search("zebra", 3, (zoo.doc_id,))[0].method == "bm25"
    assert index.keyword_search("tractor", 3, (zoo.doc_id,)) == []
    scores = [h.score for h in index.keyword_search("cows milk tractor eggs", 5)]
    assert scores == sorted(scores, reverse=True) and all(s > 0 for s in scores)


def test_replacing_a_name_or_deleting_leaves_nothing_behind(index, embedder):
    old = put(index, embedder, "zoo.txt", ZOO)
    new = put(index, embedder, "zoo.txt", [["koalas sleep all day"]], salt="v2")
    assert [(d.doc_id, d.chunks) for d in index.documents()] == [(new.doc_id, 1)]
    assert index.page_text(old.doc_id, 1) is None and index.neighbours(old.doc_id, 0, 5) == []
    assert texts(index.keyword_search("lions zebras penguins koalas", 5)) == ["koalas sleep all day"]
    assert texts(index.dense_search(embedder.vector("lions"), 5)) == ["koalas sleep all day"]
    index.delete(new.doc_id)
    index.commit()
    assert index.documents() == [] and index.find("zoo.txt") is None
    assert index.dense_search(embedder.vector("koalas"), 5) == [] and index.keyword_search("koalas", 5) == []


def test_the_same_bytes_again_replace_in_place(index, embedder):
    doc = put(index, embedder, "zoo.txt", ZOO)
    document, chunks = make_doc("zoo.txt", ZOO)
    index.put(document, chunks[:2], embedder.encode([c.indexed_text for c in chunks[:2]]))  # re-chunked
    index.commit()
    assert [(d.doc_id, d.chunks) for d in index.documents()] == [(doc.doc_id, 2)]
    assert len(index.neighbours(doc.doc_id, 0, 10)) == 2 and len(index.dense_search(embedder.vector("x"), 9)) == 2


def test_vectors_come_back_as_stored_in_the_order_asked(index, embedder):
    doc = put(index, embedder, "zoo.txt", ZOO)
    chunks = index.neighbours(doc.doc_id, 1, 1)
    assert [c.ordinal for c in chunks] == [0, 1, 2]
    ids = [chunks[2].chunk_id, chunks[0].chunk_id]
    expected = embedder.encode([chunks[2].indexed_text, chunks[0].indexed_text])
    assert np.allclose(index.vectors_of(ids), expected, atol=1e-6)
    assert index.vectors_of([]).shape == (0, 32)
    by_text = index.vectors_by_text(doc.doc_id)
    assert set(by_text) == {c.indexed_text for c in chunks}
    assert np.allclose(by_text[chunks[1].indexed_text], embedder.encode([chunks[1].indexed_text])[0], atol=1e-6)


def test_stored_returns_the_whole_document_for_a_migration(index, embedder):
    doc = put(index, embedder, "zoo.txt", ZOO)
    stored = index.stored(doc.doc_id)
    assert [p.text for p in stored.document.pages] == [p.text for p in doc.pages]
    assert [c.text for c in stored.chunks] == [p for page in ZOO for p in page]
    assert stored.vectors.shape == (3, 32) and stored.file == f"{doc.doc_id}.txt"
    assert (stored.document.name, stored.document.kind, stored.document.warnings) == ("zoo.txt", "txt", ("a warning",))
    assert index.stored("nope") is None


def test_notes_and_documents_survive_a_reopen(backend, tmp_path, embedder):
    settings = settings_for(backend, tmp_path / "idx")
    first = open_index(settings, embedder.name, embedder.dim)
    put(first, embedder, "zoo.txt", ZOO)
    first.write_note("fusion", '{"w": 0.3}')
    assert first.note("fusion") == '{"w": 0.3}' and first.note("other") is None
    first.close()
    again = open_index(settings, embedder.name, embedder.dim)
    try:
        assert [d.name for d in again.documents()] == ["zoo.txt"] and again.note("fusion") == '{"w": 0.3}'
        assert texts(again.keyword_search("penguins", 1)) == ["penguins swim in cold water"]
    finally:
        again.close()


def test_another_embedder_is_refused_and_a_closed_index_says_so(backend, tmp_path, embedder):
    settings = settings_for(backend, tmp_path / "idx")
    open_index(settings, embedder.name, embedder.dim).close()
    with pytest.raises(IndexMismatchError, match="built with"):
        open_index(settings, "other-model", 64)
    index = open_index(settings, embedder.name, embedder.dim)
    index.close()
    with pytest.raises(IndexError_, match="closed"):
        index.documents()


def test_qdrant_without_a_url_is_a_config_error(tmp_path):
    with pytest.raises(ConfigError, match="RAG_QDRANT_URL"):
        open_index(Settings(data_dir=tmp_path, index="qdrant"), "m", 8)


class CrashAt:
    """Wraps a Qdrant engine; the write whose points include `kind` raises, as if the process died there."""

    def __init__(self, engine, kind: str, when: str = "upsert") -> None:
        self.engine, self.kind, self.when = engine, kind, when

    def upsert(self, points) -> None:
        if self.when == "upsert" and any(p.payload["kind"] == self.kind for p in points):
            raise KeyboardInterrupt("killed")
        self.engine.upsert(points)

    def delete(self, where) -> None:
        if self.when == "delete" and where.kind == self.kind:
            raise KeyboardInterrupt("killed")
        self.engine.delete(where)

    def __getattr__(self, name):
        return getattr(self.engine, name)


@pytest.mark.parametrize("qdrant", ["qdrant-edge", "qdrant-client-local"])
@pytest.mark.parametrize("crash", [("document", "upsert"), ("page", "upsert"), ("chunk", "delete")])
def test_a_write_cut_short_is_never_half_seen_and_is_settled_on_reopen(qdrant, crash, tmp_path, embedder, monkeypatch):
    """Before the document point is written the old document stands whole; after it, the new one does."""
    monkeypatch.setattr("rag.index.backends.SERVER_WRITE_GRACE_S", 0.0)  # a server waits 10 min before settling
    settings = settings_for(qdrant, tmp_path / "idx")
    index = open_index(settings, embedder.name, embedder.dim)
    old = put(index, embedder, "zoo.txt", ZOO)
    real = index.engine
    index.engine = CrashAt(real, *crash)
    with pytest.raises(KeyboardInterrupt):
        put(index, embedder, "zoo.txt", [["koalas sleep all day"]], salt="v2")
    index.engine = real
    committed = crash == ("chunk", "delete")  # the crash came after the commit
    expected = ["koalas sleep all day"] if committed else sorted(p for page in ZOO for p in page)
    shown = sorted(texts(index.dense_search(embedder.vector("koalas"), 9)))
    assert shown == expected or committed  # after the commit a reader may see both until the reopen
    if not committed:
        assert sorted(texts(index.keyword_search("koalas lions zebras penguins", 9))) == expected
        assert [d.doc_id for d in index.documents()] == [old.doc_id]
    index.close()
    again = open_index(settings, embedder.name, embedder.dim)  # finishes or undoes the interrupted write
    try:
        assert [d.name for d in again.documents()] == ["zoo.txt"]
        assert sorted(texts(again.dense_search(embedder.vector("koalas"), 9))) == expected
        assert sorted(texts(again.keyword_search("koalas lions zebras penguins", 9))) == expected
        leftovers = [r for kind in ("chunk", "page", "intent") for r in again.engine.scroll(Where(kind))]
        assert len(leftovers) == len(expected) + (1 if committed else 2)  # chunks + pages, no intent
    finally:
        again.close()


class OtherReplicaWritesFirst:
    """While this replica's put is between its passages and its commit, another replica puts the same file."""

    def __init__(self, index, document, chunks, vectors) -> None:
        self.index, self.engine, self.other = index, index.engine, (document, chunks, vectors)

    def upsert(self, points) -> None:
        if any(p.payload["kind"] == "document" for p in points) and self.other:
            other, self.other = self.other, None
            self.index.engine = self.engine
            self.index.put(*other)  # the other replica's whole write, start to finish
            self.index.engine = self
        self.engine.upsert(points)

    def __getattr__(self, name):
        return getattr(self.engine, name)


@pytest.mark.parametrize("qdrant", ["qdrant-edge", "qdrant-client-local"])
def test_two_replicas_writing_one_file_leave_one_whole_copy(qdrant, tmp_path, embedder):
    """The other writer's cleanup must not delete passages this writer has written but not yet committed."""
    index = open_index(settings_for(qdrant, tmp_path / "idx"), embedder.name, embedder.dim)
    index.grace_s = 600.0  # as on a shared server
    try:
        document, chunks = make_doc("zoo.txt", ZOO)
        vectors = embedder.encode([c.indexed_text for c in chunks])
        real = index.engine
        index.engine = OtherReplicaWritesFirst(index, document, chunks[:2], vectors[:2])
        index.put(document, chunks, vectors)
        index.engine = real
        [info] = index.documents()
        assert info.chunks == 3 and len(index.neighbours(info.doc_id, 0, 9)) == 3  # the last commit, whole
        assert sorted(texts(index.dense_search(embedder.vector("x"), 9))) == sorted(p for pg in ZOO for p in pg)
        assert list(index.engine.scroll(Where("intent"))) == []
    finally:
        index.close()


def test_auto_is_qdrant_edge_but_keeps_an_existing_local_index(tmp_path, embedder):
    """Upgrading must not hide a library: a data dir with local files keeps them until `migrate` moves it."""
    from rag.index.backends import resolve

    fresh = Settings(data_dir=tmp_path / "fresh")
    assert Settings().index == "auto" and resolve(fresh).index == "qdrant-edge"
    old = Settings(data_dir=tmp_path / "old", index="local")
    index = open_index(old, embedder.name, embedder.dim)
    put(index, embedder, "zoo.txt", ZOO)
    index.close()
    auto = old.replace(index="auto")
    assert resolve(auto).index == "local"
    reopened = open_index(auto, embedder.name, embedder.dim)
    assert [d.name for d in reopened.documents()] == ["zoo.txt"]
    reopened.close()
    open_index(old.replace(index="qdrant-edge"), embedder.name, embedder.dim).close()  # after a migration
    assert resolve(auto).index == "qdrant-edge"


def test_an_unreachable_qdrant_server_is_a_clear_error_and_the_key_never_shows(tmp_path):
    from rag.index.backends import describe

    key = "qd-secret-7f3a9c1e5b2d"
    settings = Settings(data_dir=tmp_path, index="qdrant", qdrant_url="http://127.0.0.1:9", qdrant_api_key=key)
    with pytest.raises(IndexError_) as caught:
        open_index(settings, "m", 8)
    message = str(caught.value)
    assert "http://127.0.0.1:9" in message and "RAG_QDRANT_URL" in message and key not in message
    assert key not in repr(settings) and "qdrant_api_key" not in settings.to_dict() and key not in describe(settings)


def test_a_second_process_on_an_edge_index_gets_a_message_not_a_crash(tmp_path, embedder):
    import subprocess
    import sys

    index = open_index(settings_for("qdrant-edge", tmp_path / "idx"), embedder.name, embedder.dim)
    try:
        other = subprocess.run(
            [sys.executable, "-c", "from rag.index.qdrant_edge import EdgeEngine; from pathlib import Path; "
             f"EdgeEngine(Path({str(tmp_path / 'idx' / 'qdrant-edge')!r}), 32)"],
            capture_output=True, text=True, timeout=120,
        )  # fmt: skip
    finally:
        index.close()
    assert other.returncode == 1 and "open in another Footnote process" in other.stderr, other.stderr[-500:]
