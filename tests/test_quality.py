"""Retrieval quality on a real collection nobody tuned on, with the real embedder (marked slow; CI runs it).

Cranfield (1,400 abstracts, 225 graded queries, ../shared/eval/cranfield) through `python -m rag eval`'s own
path. Measured on this project's machine (docs/retrieval-quality.md, "Held-out check"): nDCG@10 dense 0.386,
BM25 0.372, hybrid 0.419, app default 0.407. The floors sit ~0.01 below, so a broken tokenizer, BM25 index,
fusion or re-ranker fails here while bf16-vs-float32 noise does not.

The index is kept in ~/.cache/footnote/test-cache between runs (embedding 1,400 abstracts is most of this test's
time): the eval's cache key covers the data, the settings that shape an index, the embedder and every file of the
code that builds it, so a change to any of them builds it afresh.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from rag.config import Settings
from rag.evaluate.datasets import read_dataset
from rag.evaluate.runner import evaluate, parse_configs
from rag.library import Library

CACHE = Path.home() / ".cache" / "footnote" / "test-cache"


@pytest.mark.slow
def test_cranfield_fusion_beats_either_retriever(shared_dir, real_embedder, tmp_path):
    evalset = read_dataset(f"smart:{shared_dir / 'eval' / 'cranfield'}")
    settings = Settings(data_dir=tmp_path / "unused", threads=1)  # the app's own retrieval settings
    configs = parse_configs("dense,bm25,hybrid,default")
    open_index = lambda s: Library.open(s, real_embedder)  # noqa: E731
    result = evaluate(evalset, settings, configs, (10,), open_index, real_embedder.name, CACHE)
    ndcg = {c.config: next(m.value for m in c.metrics if m.name == "doc nDCG@10") for c in result.configs}
    assert ndcg["dense"] >= 0.375 and ndcg["bm25"] >= 0.36, ndcg
    assert ndcg["hybrid"] >= 0.41 and ndcg["hybrid"] >= max(ndcg["dense"], ndcg["bm25"]) + 0.02, ndcg
    assert ndcg["default"] >= 0.395, ndcg
    assert len(result.index.failed) == 2  # records 471 and 995 have no text


@pytest.mark.slow
def test_solana_pages_are_found_as_well_on_qdrant_edge(shared_dir, real_embedder, tmp_path):
    """The same retrieval through Qdrant's embedded engine (its dense search, BM25 as IDF-weighted sparse
    vectors): the app default found the right page in the top 5 for 0.966 of the 58 questions on local files."""
    evalset = read_dataset(f"llamaindex:{shared_dir / 'eval' / 'blockchain_solana'}")
    settings = Settings(data_dir=tmp_path / "unused", threads=1, index="qdrant-edge")
    open_index = lambda s: Library.open(s, real_embedder)  # noqa: E731
    result = evaluate(evalset, settings, parse_configs("dense,bm25,default"), (5,), open_index, real_embedder.name, CACHE)
    hit = {c.config: next(m.value for m in c.metrics if m.name == "page hit@5") for c in result.configs}
    assert hit["default"] >= 0.93 and hit["dense"] >= 0.9 and hit["bm25"] >= 0.9, hit
