"""BM25: stemming + stopwords, mapping back to chunks, persistence by generation, delete and filters."""

from __future__ import annotations

import pytest

from rag.index.lexical import Bm25Index, tokenize
from rag.index.store import Store
from tests.fakes import FakeEmbedder
from tests.test_store import put


@pytest.fixture
def embedder() -> FakeEmbedder:
    return FakeEmbedder(dim=16)


@pytest.fixture
def store(tmp_path, embedder):
    opened = Store.open(tmp_path / "idx", embedder.name, embedder.dim)
    yield opened
    opened.close()


def texts(hits) -> list[str]:
    return [h.chunk.text for h in hits]


def test_tokenize_stems_and_drops_stopwords():
    assert tokenize(["The dogs are running in the parks"]) == [["dog", "run", "park"]]


def test_search_finds_stemmed_words_and_maps_to_chunks(store, embedder):
    put(store, embedder, "a.txt", [["cats sleep all day", "a dog runs in the park"], ["revenue grew strongly"]])
    hits = Bm25Index(store).search("running dogs", 5)
    assert texts(hits) == ["a dog runs in the park"]
    assert hits[0].method == "bm25" and hits[0].score > 0 and hits[0].chunk.page == 1


def test_unknown_or_stopword_only_query_returns_nothing(store, embedder):
    put(store, embedder, "a.txt", [["cats sleep all day"]])
    index = Bm25Index(store)
    assert index.search("zebra", 5) == []
    assert index.search("the of and", 5) == []


def test_empty_store_returns_nothing(store):
    assert Bm25Index(store).search("anything", 5) == []


def test_saved_index_is_loaded_after_restart_not_rebuilt(tmp_path, store, embedder, monkeypatch):
    put(store, embedder, "a.txt", [["alpha beta", "gamma delta"]])
    first = Bm25Index(store)
    first.refresh()
    assert (store.data_dir / f"bm25.g{store.generation}" / "rows.npy").is_file()
    expected = texts(first.search("gamma", 5))

    def no_build(self, corpus):
        raise AssertionError("should load the saved index")

    monkeypatch.setattr(Bm25Index, "_build", no_build)
    assert texts(Bm25Index(store).search("gamma", 5)) == expected == ["gamma delta"]


def test_follows_deletes_and_keeps_one_saved_generation(store, embedder):
    a = put(store, embedder, "a.txt", [["shared word apple"]])
    put(store, embedder, "b.txt", [["shared word banana"]])
    index = Bm25Index(store)
    assert len(index.search("shared", 5)) == 2
    store.delete(a.doc_id)
    assert texts(index.search("shared", 5)) == ["shared word banana"]
    assert [p.name for p in store.data_dir.glob("bm25.g*")] == [f"bm25.g{store.generation}"]


def test_document_filter(store, embedder):
    put(store, embedder, "a.txt", [["shared apple"]])
    b = put(store, embedder, "b.txt", [["shared banana"]])
    index = Bm25Index(store)
    assert texts(index.search("shared apple", 5, [b.doc_id])) == ["shared banana"]
    assert index.search("shared", 5, []) == []
