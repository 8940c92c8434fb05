"""Retrieval quality on a real collection nobody tuned on, with the real embedder (marked slow; CI runs it).

Cranfield (1,400 abstracts, 225 graded queries, ../shared/eval/cranfield) through `python -m rag eval`'s own
path. Measured on this project's machine (docs/retrieval-quality.md, "Held-out check"): nDCG@10 dense 0.386,
BM25 0.372, hybrid 0.419, app default 0.407. The floors sit ~0.01 below, so a broken tokenizer, BM25 index,
fusion or re-ranker fails here while bf16-vs-float32 noise does not.
"""

from __future__ import annotations

import pytest

from rag.config import Settings
from rag.evaluate.configs import parse_option_configs
from rag.evaluate.datasets import read_dataset
from rag.evaluate.runner import evaluate, parse_configs
from rag.library import Library


@pytest.mark.slow
def test_cranfield_fusion_beats_either_retriever(shared_dir, real_embedder, tmp_path):
    evalset = read_dataset(f"smart:{shared_dir / 'eval' / 'cranfield'}")
    settings = Settings(data_dir=tmp_path / "unused", threads=1, reranker="none")
    configs = parse_configs("dense,bm25,hybrid") + parse_option_configs(["app:candidates=100,reranker=embed"])
    result = evaluate(evalset, settings, configs, (10,), lambda s: Library.open(s, real_embedder), real_embedder.name)
    ndcg = {c.config: next(m.value for m in c.metrics if m.name == "doc nDCG@10") for c in result.configs}
    assert ndcg["dense"] >= 0.375 and ndcg["bm25"] >= 0.36, ndcg
    assert ndcg["hybrid"] >= 0.41 and ndcg["hybrid"] >= max(ndcg["dense"], ndcg["bm25"]) + 0.02, ndcg
    assert ndcg["app"] >= 0.395, ndcg
    assert len(result.index.failed) == 2  # records 471 and 995 have no text
