"""Embedding a list of texts in batches, longest first: shared by every embedder backend so they pad alike."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

# Progress callback: (texts embedded so far, total texts).
BatchCallback = Callable[[int, int], None]


def encode_in_batches(
    texts: list[str],
    dim: int,
    batch_size: int,
    embed_batch: Callable[[list[str]], np.ndarray],
    on_batch: BatchCallback | None = None,
) -> np.ndarray:
    """Return float32 unit vectors (n, dim), in the order of `texts`, embedding `batch_size` texts per call.

    Shared by every backend so they pad alike. sentence-transformers sorts by length only within one `encode`
    call; we call a backend once per batch (to report progress), so the whole list is sorted by length first
    to keep padding minimal.
    """
    total = len(texts)
    if total == 0:
        return np.zeros((0, dim), dtype=np.float32)
    order = np.argsort([-len(t) for t in texts], kind="stable")
    out = np.empty((total, dim), dtype=np.float32)
    for start in range(0, total, batch_size):
        idx = order[start : start + batch_size]
        vectors = np.asarray(embed_batch([texts[i] for i in idx]), dtype=np.float32)
        # bf16 and int8 land a little off unit length (bf16 norms 0.996-1.0): re-normalise in float32 so that
        # inner product == cosine downstream.
        out[idx] = vectors / np.maximum(np.linalg.norm(vectors, axis=1, keepdims=True), 1e-12)
        if on_batch is not None:
            on_batch(min(start + batch_size, total), total)
    return out
