"""Retrieval: RRF on a hand-checked case, MMR order, option checks, modes and document filters."""

from __future__ import annotations

import numpy as np
import pytest

from rag.errors import ConfigError
from rag.lexical import Bm25Index
from rag.retrieval import RetrievalOptions, Sources, fuse, mmr_order, retrieve
from rag.store import Store
from rag.types import Chunk, Hit
from tests.fakes import FakeEmbedder
from tests.test_store import put


def hit(cid: str, score: float = 1.0, method: str = "dense") -> Hit:
    return Hit(Chunk(cid, "d", "doc.txt", 1, 0, 1, cid), score, method)


def ids(hits: list[Hit]) -> list[str]:
    return [h.chunk.chunk_id for h in hits]


def test_rrf_hand_checked():
    dense = [hit("a"), hit("b"), hit("c")]
    bm25 = [hit("c"), hit("b"), hit("d")]
    fused = fuse([dense, bm25], c=60)
    # b: 1/62 + 1/62 = 0.03226; c: 1/63 + 1/61 = 0.03227; a: 1/61; d: 1/63
    assert ids(fused) == ["c", "b", "a", "d"]
    assert fused[0].score == pytest.approx(1 / 63 + 1 / 61)
    assert fused[2].score == pytest.approx(1 / 61)
    assert {h.method for h in fused} == {"hybrid"}


def test_mmr_prefers_a_different_passage_over_a_near_duplicate():
    query = np.array([1.0, 0.0, 0.0])
    vectors = np.array([[0.9, 0.436, 0.0], [0.9, 0.436, 0.0], [0.8, 0.0, 0.6]])
    vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
    assert mmr_order(query, vectors, 1.0, 3) == [0, 1, 2]  # pure relevance
    assert mmr_order(query, vectors, 0.5, 2) == [0, 2]  # the duplicate (1) loses to the different one (2)


@pytest.mark.parametrize(
    "bad", [{"mode": "fuzzy"}, {"k": 0}, {"candidates": 0}, {"mmr_lambda": 1.5}], ids=lambda d: next(iter(d))
)
def test_bad_options_are_config_errors(bad):
    with pytest.raises(ConfigError):
        RetrievalOptions(**bad)


@pytest.fixture
def sources(tmp_path):
    embedder = FakeEmbedder(dim=64)
    store = Store.open(tmp_path / "idx", embedder.name, embedder.dim)
    put(store, embedder, "fruit.txt", [["apples are red fruit", "bananas are yellow fruit"]])
    put(store, embedder, "space.txt", [["rockets fly to the moon", "the moon orbits the earth"]])
    yield Sources(store, Bm25Index(store), embedder)
    store.close()


@pytest.mark.parametrize("mode", ["dense", "bm25", "hybrid"])
def test_each_mode_ranks_the_matching_passage_first(sources, mode):
    hits = retrieve("rockets moon", sources, RetrievalOptions(mode=mode, k=2))
    assert hits[0].chunk.text == "rockets fly to the moon"
    assert len(hits) == 2 and hits[0].method == mode


@pytest.mark.parametrize("mode", ["dense", "bm25", "hybrid"])
def test_document_filter_applies_inside_each_retriever(sources, mode):
    fruit = sources.store.find("fruit.txt").doc_id
    hits = retrieve("rockets moon fruit", sources, RetrievalOptions(mode=mode, k=5, documents=(fruit,)))
    assert hits and {h.document for h in hits} == {"fruit.txt"}


def test_hybrid_unions_both_retrievers(sources):
    dense = ids(retrieve("yellow", sources, RetrievalOptions(mode="dense", k=4)))
    bm25 = ids(retrieve("yellow", sources, RetrievalOptions(mode="bm25", k=4)))
    hybrid = ids(retrieve("yellow", sources, RetrievalOptions(mode="hybrid", k=4)))
    assert set(bm25) <= set(hybrid) and hybrid[0] == bm25[0]
    assert set(hybrid) <= set(dense) | set(bm25)


def test_mmr_option_reorders_but_keeps_the_best_first(sources):
    plain = retrieve("the moon", sources, RetrievalOptions(mode="dense", k=4))
    diverse = retrieve("the moon", sources, RetrievalOptions(mode="dense", k=4, mmr_lambda=0.3))
    assert ids(diverse)[0] == ids(plain)[0]
    assert sorted(ids(diverse)) == sorted(ids(plain))
