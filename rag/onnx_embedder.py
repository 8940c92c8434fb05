"""int8 embedding on ONNX Runtime (RAG_EMBED_DTYPE=int8, opt-in): a faster path for CPUs without native bfloat16.

Why ONNX Runtime: its int8 matrix kernels (AVX2, AVX-512 VNNI, NEON) are maintained and tested by a large
team; hand-written int8 code of ours would not be. The ONNX file is made once, offline, from the installed
sentence-transformers folder (`rag.onnx_export`) and cached in `settings.models_dir`; this module runs it and
reproduces sentence-transformers' pipeline around the network: the same tokenizer.json, truncation at the
model's `max_seq_length`, mean pooling over real tokens, L2 normalisation, float32 out.

Supported: BERT-like folders (config `model_type` "bert": MiniLM, BGE, E5...) with mean pooling and a
`model.safetensors`. Anything else is reported by `unsupported_reason` and embedded in float32 on torch.
Measured on all-MiniLM-L6-v2 (docs/documents.md): cosine to the float32 model 0.998 mean over real passages,
1.5x float32's speed on one thread; the vectors share the model's identity (see `rag.embedding`).
"""

from __future__ import annotations

import json
import logging
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from rag.batching import BatchCallback, encode_in_batches
from rag.config import Settings
from rag.errors import ModelLoadError
from rag.onnx_export import ensure_onnx

if TYPE_CHECKING:  # pragma: no cover
    import onnxruntime

logger = logging.getLogger(__name__)

WEIGHTS = "model.safetensors"
# Texts per ONNX Runtime call: one. Dynamic quantisation gives each call's activations one scale, so a text alone
# gets its own (its vector no longer depends on its batch-mates) and no padding is computed: on 200 SEC passages,
# 33.8 passages/s and cosine 0.9929 to float32 at one text per call vs 22.7/s and 0.9924 at 16. The graph also
# materialises each layer's attention scores per call (texts x 12 heads x 256^2 floats): peak RSS over 300
# passages was 1.9 GB at 64 texts per call, 0.56 GB at 16 (torch bf16: 0.78 GB).
ROWS_PER_RUN = 1


class OnnxEmbedder:
    """A quantised sentence-transformers model on ONNX Runtime behind the `Embedder` seam."""

    def __init__(self, session: onnxruntime.InferenceSession, folder: Path, name: str, batch_size: int = 64) -> None:
        from tokenizers import Tokenizer

        config = _read_json(folder / "sentence_bert_config.json")
        self.session = session
        self.name = name
        self.dim = int(_read_json(folder / "config.json")["hidden_size"])
        self.tokenizer_file = folder / "tokenizer.json"
        self.max_tokens = int(config["max_seq_length"])
        self.batch_size = batch_size
        self.inputs = {i.name for i in session.get_inputs()}
        self.tokenizer = Tokenizer.from_file(str(self.tokenizer_file))
        # tokenizer.json carries its own limits (MiniLM's: cut and pad to 128); sentence-transformers cuts at
        # max_seq_length and pads to the longest text of the batch, so do the same.
        self.tokenizer.enable_truncation(max_length=self.max_tokens)
        padding = self.tokenizer.padding or {}
        self.tokenizer.enable_padding(pad_id=padding.get("pad_id", 0), pad_token=padding.get("pad_token", "[PAD]"))

    def encode(self, texts: list[str], on_batch: BatchCallback | None = None) -> np.ndarray:
        """Return float32 unit vectors (n, dim) for `texts`, calling `on_batch(done, total)` after each batch."""
        return encode_in_batches(texts, self.dim, self.batch_size, self._embed_batch, on_batch)

    def _embed_batch(self, batch: list[str]) -> np.ndarray:
        """Mean-pooled, unnormalised vectors for one batch (encode_in_batches normalises them)."""
        return np.concatenate([self._run(batch[i : i + ROWS_PER_RUN]) for i in range(0, len(batch), ROWS_PER_RUN)])

    def _run(self, texts: list[str]) -> np.ndarray:
        encodings = self.tokenizer.encode_batch(texts)
        ids = np.array([e.ids for e in encodings], dtype=np.int64)
        mask = np.array([e.attention_mask for e in encodings], dtype=np.int64)
        feeds = {"input_ids": ids, "attention_mask": mask, "token_type_ids": np.zeros_like(ids)}
        hidden = self.session.run(None, {k: v for k, v in feeds.items() if k in self.inputs})[0]
        weights = mask.astype(np.float32)
        summed = np.einsum("bsd,bs->bd", hidden, weights)
        return summed / np.maximum(weights.sum(axis=1, keepdims=True), 1e-9)  # the clamp sentence-transformers uses


def unsupported_reason(path: str | Path) -> str | None:
    """Return why the model at `path` cannot run in int8 here, or None when it can.

    Example: a hub id (not a folder) -> "not a local model folder".
    """
    folder = Path(path)
    if not folder.is_dir():
        return "not a local model folder"
    for needed in (WEIGHTS, "tokenizer.json", "config.json", "sentence_bert_config.json", "1_Pooling/config.json"):
        if not (folder / needed).is_file():
            return f"it has no {needed}"
    try:
        model_type = _read_json(folder / "config.json").get("model_type")
        pooling = _read_json(folder / "1_Pooling" / "config.json")
        lowercase = _read_json(folder / "sentence_bert_config.json").get("do_lower_case", False)
    except ModelLoadError as exc:
        return str(exc)
    if model_type != "bert":
        return f"model_type {model_type!r}; only BERT-like models are exported"
    modes = [k for k, v in pooling.items() if k.startswith("pooling_mode_") and v]
    if modes != ["pooling_mode_mean_tokens"]:
        return f"pooling {modes}; only mean pooling is reproduced"
    if lowercase:
        return "do_lower_case is set; only the tokenizer's own normalisation is reproduced"
    return None


def load_onnx_embedder(folder: Path, name: str, settings: Settings) -> OnnxEmbedder:
    """Return the int8 embedder for `folder`, exporting and quantising it into the model cache on first use.

    Raises:
        ModelLoadError: the cache cannot be written, the export fails, or ONNX Runtime cannot run the file.
    """
    onnx_file = ensure_onnx(folder, name, settings.models_dir)
    try:
        session = _session(onnx_file, settings.resolved_threads)
    except Exception as exc:  # noqa: BLE001 - onnxruntime raises its own untyped errors for a file it cannot run
        raise ModelLoadError(
            f"ONNX Runtime cannot run {onnx_file} ({exc}); delete it to have it rebuilt, or set RAG_EMBED_DTYPE=float32"
        ) from exc
    logger.info("embedder %s loaded from %s (int8, ONNX Runtime)", name, onnx_file)
    return OnnxEmbedder(session, folder, name, settings.embed_batch_size)


def _session(onnx_file: Path, threads: int) -> onnxruntime.InferenceSession:
    """An ONNX Runtime CPU session with `threads` threads inside each operator and none across operators."""
    import onnxruntime as ort

    options = ort.SessionOptions()
    options.intra_op_num_threads = threads
    options.inter_op_num_threads = 1  # BERT is one chain of operators: a second pool would only oversubscribe
    options.log_severity_level = 3  # errors only: its optimiser's notes are not the user's business
    return ort.InferenceSession(str(onnx_file), options, providers=["CPUExecutionProvider"])


def _read_json(path: Path) -> dict:
    try:
        return json.loads(path.read_text())
    except (OSError, ValueError) as exc:
        raise ModelLoadError(f"cannot read {path} ({exc}); reinstall the model") from exc
