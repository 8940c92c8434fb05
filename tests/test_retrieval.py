"""Retrieval: RRF on a hand-checked case, MMR order, option checks, modes and document filters."""

from __future__ import annotations

import numpy as np
import pytest

from rag.errors import ConfigError
from rag.index.local import LocalIndex
from rag.index.store import Store
from rag.search.fusion import fuse_rrf as fuse
from rag.search.options import RetrievalOptions, Sources
from rag.search.retrieve import mmr_order, retrieve
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
    yield Sources(LocalIndex(store), embedder)
    store.close()


@pytest.mark.parametrize("mode", ["dense", "bm25", "hybrid"])
def test_each_mode_ranks_the_matching_passage_first(sources, mode):
    hits = retrieve("rockets moon", sources, RetrievalOptions(mode=mode, k=2))
    assert hits[0].chunk.text == "rockets fly to the moon"
    assert len(hits) == 2 and hits[0].method == mode


@pytest.mark.parametrize("mode", ["dense", "bm25", "hybrid"])
def test_document_filter_applies_inside_each_retriever(sources, mode):
    fruit = sources.index.store.find("fruit.txt").doc_id
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


def test_normalized_fusion_hand_checked():
    from rag.search.fusion import fuse_normalized

    dense = [hit("a", 0.9), hit("b", 0.5), hit("c", 0.1)]
    bm25 = [hit("c", 12.0), hit("d", 6.0), hit("a", 0.0)]
    fused = fuse_normalized([dense, bm25], [0.5, 0.5])
    # a: 0.5·1 + 0.5·0 = 0.5; c: 0.5·0 + 0.5·1 = 0.5; b: 0.5·0.5 = 0.25; d: 0.5·0.5 = 0.25
    assert ids(fused) == ["a", "c", "b", "d"]
    assert [h.score for h in fused] == pytest.approx([0.5, 0.5, 0.25, 0.25])
    heavier = fuse_normalized([dense, bm25], [0.3, 0.7])  # c: 0.7 beats a: 0.3
    assert ids(heavier)[:2] == ["c", "d"]


def test_normalized_fusion_keeps_a_towering_bm25_hit_that_rrf_ranks_below():
    from rag.search.fusion import combine

    # "x" is BM25's runaway winner and only 3rd for dense; RRF sees ranks only and puts "a" (1st + 2nd) first.
    dense = [hit("a", 0.80), hit("b", 0.79), hit("x", 0.78), hit("c", 0.10)]
    bm25 = [hit("x", 30.0), hit("a", 3.0), hit("c", 2.0), hit("b", 1.0)]
    assert ids(combine(dense, bm25, RetrievalOptions(fusion="rrf")))[0] == "a"
    assert ids(combine(dense, bm25, RetrievalOptions(fusion="normalized")))[0] == "x"


def test_options_from_settings_carry_every_stage():
    from rag.config import Settings

    settings = Settings(reranker="embed", expansion="prf", multi_hop=True, top_k=3, mmr_lambda=0.6)
    options = RetrievalOptions.from_settings(settings, k=7)
    assert (options.reranker, options.expansion, options.multi_hop) == ("embed", "prf", True)
    assert (options.k, options.mmr_lambda, options.fusion) == (7, 0.6, "normalized")


@pytest.mark.parametrize(
    "bad", [{"fusion": "max"}, {"bm25_weight": 2.0}, {"expansion": "llm"}, {"reranker": " "}, {"rerank_depth": 0}]
)
def test_bad_stage_options_are_config_errors(bad):
    with pytest.raises(ConfigError):
        RetrievalOptions(**bad)


@pytest.mark.parametrize(
    "stages",
    [{"reranker": "embed"}, {"expansion": "prf"}, {"multi_hop": True}, {"fusion": "rrf"}, {"mmr_lambda": 0.5}],
    ids=lambda d: next(iter(d)),
)
def test_every_stage_still_returns_k_distinct_hits_and_honours_the_filter(sources, stages):
    fruit = sources.index.store.find("fruit.txt").doc_id
    options = RetrievalOptions(k=2, **stages)
    hits = retrieve("rockets moon", sources, options)
    assert hits[0].chunk.text == "rockets fly to the moon" and len(set(ids(hits))) == 2
    filtered = retrieve("rockets moon fruit", sources, RetrievalOptions(k=5, documents=(fruit,), **stages))
    assert filtered and {h.document for h in filtered} == {"fruit.txt"}


def test_library_search_honours_per_call_settings(sources, tmp_path):
    from rag.config import Settings
    from rag.errors import ModelLoadError
    from rag.library import Library

    library = Library(Settings(data_dir=tmp_path / "idx", reranker="none"), sources.embedder, sources.index)
    assert library.search("rockets moon", k=1)[0].method == "hybrid"
    reranked = library.search("rockets moon", k=1, settings=library.settings.replace(reranker="embed"))
    assert reranked[0].method == "rerank"
    bm25 = library.search("rockets moon", settings=library.settings.replace(retrieval="bm25", top_k=1))
    assert len(bm25) == 1 and bm25[0].method == "bm25"
    missing = library.settings.replace(reranker=str(tmp_path / "no-such-cross-encoder"))
    with pytest.raises(ModelLoadError, match="RAG_RERANKER"):
        library.search("rockets moon", settings=missing)


def test_eval_config_rows_search_one_index_with_changed_options(sources, tmp_path):
    from rag.config import Settings
    from rag.evaluate.configs import parse_option_configs
    from rag.library import Library

    library = Library(Settings(data_dir=tmp_path / "idx", reranker="none"), sources.embedder, sources.index)
    plain, bm25 = parse_option_configs(["plain:fusion=rrf", "kw:mode=bm25,multi_hop=true,rerank_depth=3"])
    assert (plain.name, plain.mode, bm25.mode) == ("plain", "hybrid", "bm25")
    assert {h.method for h in bm25.strategy(library, "rockets moon", 2)} == {"multi_hop"}
    assert plain.strategy(library, "rockets moon", 1)[0].chunk.text == "rockets fly to the moon"
    for bad in ["nofields", "x:fusion=max", "x:unknown=1", "x:multi_hop=maybe", "x:k=two"]:
        with pytest.raises(ConfigError):
            parse_option_configs([bad])
