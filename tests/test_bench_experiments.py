"""The retrieval prototypes in bench/experiments.py (not the product): hand-checked rankings."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

from rag.types import Chunk, Hit

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))  # `bench` is a folder beside `rag`


def _hits(*pairs: tuple[str, float]) -> list[Hit]:
    return [Hit(Chunk(cid, "d", "d.txt", 1, 0, len(text), text), score) for cid, score, text in
            ((p[0], p[1], p[2] if len(p) > 2 else p[0]) for p in pairs)]  # fmt: skip


def test_fuse_normalized_weights_minmax_scores():
    from bench.experiments import fuse_normalized

    dense = _hits(("a", 0.9), ("b", 0.7), ("c", 0.5))  # normalised: a 1, b 0.5, c 0
    bm25 = _hits(("c", 12.0), ("b", 10.0), ("d", 4.0))  # normalised: c 1, b 0.75, d 0
    fused = fuse_normalized(dense, bm25, 0.5)
    # a 0.5; b 0.25 + 0.375 = 0.625; c 0.5; d 0 → b, then a and c tied (a seen first), then d
    assert [h.chunk.chunk_id for h in fused] == ["b", "a", "c", "d"]
    assert fused[0].score == pytest.approx(0.625)
    assert [h.chunk.chunk_id for h in fuse_normalized(dense, bm25, 1.0)][:1] == ["c"]


def test_adaptive_weight_favours_the_retriever_with_a_clear_winner():
    from bench.experiments import adaptive_bm25_weight

    flat = _hits(("a", 0.50), ("b", 0.49), ("c", 0.48), ("d", 0.47))
    peaked = _hits(("a", 30.0), ("b", 5.0), ("c", 4.0), ("d", 3.0))
    # standout = (top - second) / (top - last): flat 0.01 / 0.03 = 1/3, peaked 25 / 27
    share = (25 / 27) / (25 / 27 + 1 / 3)
    assert adaptive_bm25_weight(flat, peaked) == pytest.approx(0.3 + 0.4 * share)
    assert adaptive_bm25_weight(peaked, flat) == pytest.approx(0.3 + 0.4 * (1 - share))
    assert adaptive_bm25_weight([], []) == pytest.approx(0.5)


def test_expand_query_adds_words_shared_by_the_top_hits_only():
    from bench.experiments import expand_query

    hits = _hits(
        ("1", 3, "solana uses proof of history timestamps"),
        ("2", 2, "proof of history orders solana transactions"),
        ("3", 1, "bitcoin uses proof of work"),
        ("4", 0, "ethereum moved to proof of stake"),
    )
    # feedback = first 2 hits: "history" and "solana" occur in both ("proof" and "of" also in the rest / stopword)
    assert (
        expand_query("how are events ordered?", hits, feedback=2, terms=2) == "how are events ordered? history solana"
    )
    assert expand_query("short list", hits[:2], feedback=2) == "short list"




def test_document_prior_lifts_passages_of_a_document_with_several_good_ones():
    from bench.experiments import document_prior

    def hit(cid: str, doc: str, score: float) -> Hit:
        return Hit(Chunk(cid, doc, f"{doc}.txt", 1, 0, 1, cid), score)

    hits = [hit("a1", "A", 1.0), hit("b1", "B", 0.9), hit("b2", "B", 0.8), hit("b3", "B", 0.7), hit("c1", "C", 0.0)]
    # scaled: a1 1, b1 .9, b2 .8, b3 .7, c1 0; evidence A 1/3, B 2.4/3 = .8 (the best), C 0
    # w=.5: a1 .5 + .5·(1/3)/.8 = .708; b1 .45 + .5 = .95; b2 .9; b3 .85; c1 0
    ranked = document_prior(hits, 0.5)
    assert [h.chunk.chunk_id for h in ranked] == ["b1", "b2", "b3", "a1", "c1"]
    assert ranked[3].score == pytest.approx(0.5 + 0.5 * (1 / 3) / 0.8)
    assert [h.chunk.chunk_id for h in document_prior(hits, 0.0)] == ["a1", "b1", "b2", "b3", "c1"]
