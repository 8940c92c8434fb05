"""The int8 ONNX file of an embedder: exported once, offline, quantised, cached and checked on every load.

Recipe (docs/documents.md has the measurements behind each choice):
1. `torch.onnx.export` of the float32 transformer (TorchScript exporter, opset 17, dynamic batch and length),
   from the installed folder with `local_files_only`: nothing is downloaded.
2. `onnxruntime.quantization.quantize_dynamic`: only MatMuls with a constant weight (the linear layers), per
   output channel, except each layer's feed-forward block (`FLOAT_MATMULS`). Quantising the attention MatMuls
   too (both inputs activations) cut the cosine to float32 to 0.936. Weights are int8 in [-64, 63] (QInt8 with
   `reduce_range`): ONNX Runtime's u8 x s8 kernel on AVX2 without VNNI (vpmaddubsw) adds pairs of products into
   int16 with saturation, and 2 * 255 * 64 = 32,640 never saturates, so the integer sums are exact on every CPU
   and the quality measured on a VNNI machine holds on AVX2. Full int8 weights could saturate there; u8 weights
   (u8 x u8, exact too) have no VNNI kernel and ran 1.27x float32 instead of 1.94x (all layers int8).

Cache: `models_dir/onnx/<identity>-<weights sha256[:16]>-<RECIPE>.onnx`, keyed by the source weights' digest,
so another model (or other weights under the same name) never reuses it. Beside it, `<file>.json` records the
file's own sha256; a file that no longer matches it (a torn copy, a flipped byte) is rebuilt, never run. Both are
written under temp names and renamed into place, the record last: a crash leaves a file without a matching
record, which is rebuilt.
"""

from __future__ import annotations

import json
import logging
import os
import re
import shutil
import tempfile
import time
import warnings
from pathlib import Path

from rag.digest import file_sha256
from rag.errors import ModelLoadError
from rag.generate.models import sweep_stale_temps

logger = logging.getLogger(__name__)

RECIPE = "int8-pc-v3"  # change it when the recipe changes: old files are then never read
# Weight encodings: name -> (onnxruntime QuantType, reduce_range). The first is the one the app uses; the others
# stay for bench/embed_backends.py. "s7": int8 weights in [-64, 63], so a u8 x s7 pair sum fits int16.
VARIANTS = {"s7": ("QInt8", True), "u8": ("QUInt8", False), "s8": ("QInt8", False)}
DEFAULT_VARIANT = next(iter(VARIANTS))
# MatMuls left in float32: each layer's feed-forward block (384 -> 1536 -> 384), whose activations have the widest
# range (one scale per text for all of them costs the most precision). On 200 SEC passages, cosine to float32:
# 0.9929 with every linear layer int8 (SEC doc hit@5 0.923 vs float32's 0.959), 0.9966 with the FFN output float
# (0.944), 0.9984 with both FFN layers float; 34, 26 and 20 passages/s.
FLOAT_MATMULS = re.compile(r"/layer\.\d+/(intermediate|output)/dense/MatMul$")
OPSET = 17


def ensure_onnx(folder: Path, identity: str, models_dir: Path, variant: str = DEFAULT_VARIANT) -> Path:
    """Return the verified int8 ONNX file for the model in `folder`, building it on first use (10-20 s).

    Raises:
        ModelLoadError: the cache cannot be written or the export / quantisation fails.
    """
    source_sha = file_sha256(folder / "model.safetensors")
    stem = re.sub(r"[^\w.-]+", "_", identity)
    dest = models_dir / "onnx" / f"{stem}-{source_sha[:16]}-{RECIPE}-{variant}.onnx"
    if is_intact(dest):
        return dest
    if dest.exists():
        logger.warning("%s does not match its record (damaged or half-written); rebuilding it", dest)
    build_onnx(folder, dest, variant)
    return dest


def is_intact(onnx_file: Path) -> bool:
    """Return True when `onnx_file` exists and hashes to the sha256 its record holds (a 23 MB read, ~30 ms)."""
    try:
        record = json.loads(_record_path(onnx_file).read_text())
        return onnx_file.is_file() and file_sha256(onnx_file) == record["sha256"]
    except (OSError, ValueError, KeyError, TypeError):
        return False


def build_onnx(folder: Path, dest: Path, variant: str = DEFAULT_VARIANT) -> None:
    """Export and quantise the model in `folder` into `dest` (and its record), through a temp folder."""
    if variant not in VARIANTS:
        raise ValueError(f"variant {variant!r}; use one of {list(VARIANTS)}")
    sweep_stale_temps(dest.parent, "export.*.part")
    started = time.perf_counter()
    try:
        dest.parent.mkdir(parents=True, exist_ok=True)
        tmp = Path(tempfile.mkdtemp(prefix="export.", suffix=".part", dir=dest.parent))
    except OSError as exc:
        raise ModelLoadError(f"cannot write the model cache in {dest.parent}: {exc}; set RAG_MODEL_CACHE_DIR") from exc
    try:
        _export_float(folder, tmp / "float.onnx")
        _quantise(tmp / "float.onnx", tmp / "int8.onnx", variant)
        _install(tmp / "int8.onnx", dest)
    except OSError as exc:
        raise ModelLoadError(f"cannot write {dest} ({exc}); free disk space or set RAG_MODEL_CACHE_DIR") from exc
    except (RuntimeError, ValueError) as exc:  # torch's exporter or the quantiser refused this model
        raise ModelLoadError(f"cannot export {folder} to int8 ONNX ({exc}); set RAG_EMBED_DTYPE=float32") from exc
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    logger.info("exported and quantised %s in %.1f s", dest.name, time.perf_counter() - started)


def _export_float(folder: Path, out: Path) -> None:
    """Write the float32 transformer (last hidden state out) as ONNX, traced on a two-text batch."""
    import torch
    from transformers import AutoModel
    from transformers.utils import logging as hf_logging

    hf_logging.disable_progress_bar()  # "Loading weights" bars would clutter CLI output

    try:
        model = AutoModel.from_pretrained(str(folder), local_files_only=True).eval()
    except (OSError, ValueError) as exc:
        raise ModelLoadError(f"cannot load {folder} to export it to ONNX ({exc}); reinstall the model") from exc

    class LastHidden(torch.nn.Module):  # the ONNX graph's one output: pooling stays in numpy, as in the embedder
        def __init__(self) -> None:
            super().__init__()
            self.model = model

        def forward(self, input_ids, attention_mask, token_type_ids):
            return self.model(input_ids, attention_mask, token_type_ids).last_hidden_state

    names = ["input_ids", "attention_mask", "token_type_ids"]
    ids = torch.tensor([[101, 7592, 2088, 102], [101, 7592, 102, 0]])  # any ids: tracing needs shapes, not text
    sample = (ids, (ids > 0).long(), torch.zeros_like(ids))
    axes = {n: {0: "batch", 1: "tokens"} for n in names + ["last_hidden_state"]}
    with warnings.catch_warnings(), torch.no_grad():
        warnings.simplefilter("ignore")  # tracer warnings about Python control flow fixed at trace time
        torch.onnx.export(LastHidden(), sample, str(out), input_names=names, output_names=["last_hidden_state"],
                          dynamic_axes=axes, opset_version=OPSET, dynamo=False)  # fmt: skip


def _quantise(source: Path, out: Path, variant: str) -> None:
    """Dynamic int8 quantisation of the constant-weight MatMuls, per output channel."""
    import onnx
    from onnxruntime.quantization import QuantType, quantize_dynamic

    weight_type, reduce_range = VARIANTS[variant]
    graph = onnx.load(str(source), load_external_data=False).graph
    keep_float = [n.name for n in graph.node if n.op_type == "MatMul" and FLOAT_MATMULS.search(n.name)]
    quiet = _DropMessage("Please consider to run pre-processing")  # advice for static quantisation, not ours
    logging.getLogger().addFilter(quiet)
    try:
        quantize_dynamic(
            str(source),
            str(out),
            weight_type=getattr(QuantType, weight_type),
            per_channel=True,
            reduce_range=reduce_range,
            op_types_to_quantize=["MatMul"],  # the word-embedding table (Gather) stays float: 35 MB for quality
            nodes_to_exclude=keep_float,
            extra_options={"MatMulConstBOnly": True},
        )
    finally:
        logging.getLogger().removeFilter(quiet)


class _DropMessage(logging.Filter):
    """Drops log records whose message starts with `prefix`."""

    def __init__(self, prefix: str) -> None:
        super().__init__()
        self.prefix = prefix

    def filter(self, record: logging.LogRecord) -> bool:
        return not str(record.msg).startswith(self.prefix)


def _install(built: Path, dest: Path) -> None:
    """Rename `built` to `dest`, then write its record beside it (temp name + rename): the record goes last."""
    os.chmod(built, 0o644)  # the cache is shared by the user's processes
    os.replace(built, dest)
    record = _record_path(dest)
    tmp = record.with_name(f"{record.name}.{os.getpid()}.part")
    tmp.write_text(json.dumps({"sha256": file_sha256(dest), "recipe": RECIPE}))
    os.replace(tmp, record)


def _record_path(onnx_file: Path) -> Path:
    return onnx_file.with_name(onnx_file.name + ".json")

