"""RAG_RERANKER=all-mpnet-base-v2: the "embed" score blended with a second embedder's cosine over the head,
with hand-made judge embedders standing in for mpnet (the real model is measured in bench/mpnet_eval.py)."""

from __future__ import annotations

import numpy as np
import pytest

from rag.config import Settings
from rag.mpnet import MPNET_IDENTITY, MPNET_NAME
from rag.search import rerank as rr
from rag.search.options import Query, RetrievalOptions, Sources
from tests.fakes import FakeEmbedder
from tests.test_rerank import ANSWER, GENERIC, OTHER, first_stage, sources  # noqa: F401 (fixture)

QUERY = "what colour is the wild kestrel"


class Judge:
    """A stand-in second embedder that finds only passages mentioning owls close to the query."""

    name = MPNET_IDENTITY
    dim = 2

    def __init__(self) -> None:
        self.seen: list[list[str]] = []

    def encode(self, texts: list[str], on_batch=None) -> np.ndarray:
        self.seen.append(list(texts))
        return np.array([[1.0, 0.0] if i == 0 or "Owls" in t else [0.0, 1.0] for i, t in enumerate(texts)], np.float32)


@pytest.fixture
def judge(monkeypatch) -> Judge:
    model = Judge()
    monkeypatch.setattr(rr, "_embedders", {MPNET_NAME: model})
    return model


def reranked(sources: Sources) -> list[str]:  # noqa: F811
    query = Query(QUERY, sources.embedder.vector(QUERY))
    hits = rr.rerank(query, first_stage(sources), sources, RetrievalOptions(reranker=MPNET_NAME))
    assert {h.method for h in hits} == {"rerank_mpnet"}
    return [h.chunk.text for h in hits]


def test_the_second_embedder_decides_at_full_weight(sources, judge, monkeypatch):  # noqa: F811
    monkeypatch.setattr(rr, "W_MPNET", 1.0)
    assert reranked(sources) == [OTHER, GENERIC, ANSWER]  # stable among equal cosines: first-stage order
    assert judge.seen == [[QUERY, *[h.chunk.indexed_text for h in first_stage(sources)]]]  # one call, as indexed


def test_at_zero_weight_it_is_the_embed_reranker(sources, judge, monkeypatch):  # noqa: F811
    monkeypatch.setattr(rr, "W_MPNET", 0.0)
    assert reranked(sources) == [ANSWER, GENERIC, OTHER]


def test_the_blend_scales_the_cosines_over_the_head():
    base = np.array([1.0, 0.5, 0.0], np.float32)
    cosines = np.array([0.50, 0.52, 0.54], np.float32)  # finalists' cosines differ by hundredths
    assert rr.blend(base, cosines, 0.5).tolist() == pytest.approx([0.5, 0.5, 0.5])


def test_a_library_built_by_mpnet_reuses_its_stored_vectors(sources, monkeypatch):  # noqa: F811
    monkeypatch.setattr(rr, "_embedders", {})
    monkeypatch.setattr(rr, "load_reranker", lambda settings: pytest.fail("loaded a second copy of the model"))
    library_model = FakeEmbedder(dim=256, name=MPNET_IDENTITY)
    mine = Sources(sources.index, library_model)
    head = first_stage(sources)
    query = Query(QUERY, library_model.vector(QUERY))
    cosines = rr.embedder_cosines(query, head, mine, rr.reranker_embedder(MPNET_NAME, mine))
    assert library_model.calls == []  # nothing embedded at query time
    assert cosines == pytest.approx([library_model.vector(h.chunk.indexed_text) @ query.vector for h in head])


def test_load_reranker_loads_mpnet_once_through_the_embedder_registry(monkeypatch, tmp_path):
    monkeypatch.setattr(rr, "_embedders", {})
    loads: list[Settings] = []
    monkeypatch.setattr("rag.embedding.load_embedder", lambda settings: loads.append(settings) or Judge())
    for _ in range(2):
        rr.load_reranker(Settings(reranker=MPNET_NAME, model_cache_dir=tmp_path))
    rr.load_reranker(Settings(reranker="embed"))
    rr.load_reranker(Settings(reranker="none"))
    assert [(s.embedder, s.models_dir) for s in loads] == [(MPNET_NAME, tmp_path)]


def test_without_a_preload_the_first_search_loads_it_with_the_environment(sources, monkeypatch, tmp_path):  # noqa: F811
    monkeypatch.setattr(rr, "_embedders", {})
    monkeypatch.setenv("RAG_MODEL_CACHE_DIR", str(tmp_path / "models"))
    loads: list[Settings] = []
    monkeypatch.setattr("rag.embedding.load_embedder", lambda settings: loads.append(settings) or Judge())
    reranked(sources)
    reranked(sources)
    assert [s.models_dir for s in loads] == [tmp_path / "models"]


def test_the_setting_accepts_the_name():
    assert Settings.from_env({"RAG_RERANKER": MPNET_NAME}).reranker == MPNET_NAME
    assert "re-ranked (all-mpnet-base-v2)" in RetrievalOptions(reranker=MPNET_NAME).describe("default")
