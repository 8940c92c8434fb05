"""Embedding backends side by side: float32 and bf16 (torch), and int8 on ONNX Runtime in three weight encodings.

    python bench/embed_backends.py --passages 300 --speed-passages 128 --threads 1,2 \\
        --out bench/results/2026-12-05-session10/embed-backends.json

Quality: cosine of each backend's vectors to float32's, mean and min, over real passages (COVID-QA article
windows of ~1,000 characters and SciFact abstracts, alternating) and over real questions. Speed: passages per
second on the first `--speed-passages` of them, at each thread count, backends interleaved, best of `--repeats`
(the box is shared: the best run is the least disturbed one). bf16 is skipped where the CPU would emulate it.
The int8 files are built (or reused) in a scratch cache, never the app's.
"""

from __future__ import annotations

import json
import tempfile
import time
from pathlib import Path
from typing import Any

from common import COVID_JSON, base_parser, cpu_flags, go_offline, load_avg, shared_dir, table, write_json

SCIFACT = Path("eval/beir_scifact/corpus.jsonl")


def main() -> None:
    parser = base_parser(__doc__.splitlines()[0])
    parser.add_argument("--passages", type=int, default=300, help="passages for the quality comparison")
    parser.add_argument("--speed-passages", type=int, default=128, help="passages timed per backend and run")
    parser.add_argument("--threads", default="1,2", help="comma-separated thread counts to time")
    parser.add_argument("--repeats", type=int, default=2)
    parser.add_argument("--cache", type=Path, help="model cache for the int8 files (default: a temp dir)")
    parser.add_argument("--no-quality", action="store_true", help="time only (the cosines do not change run to run)")
    args = parser.parse_args()
    go_offline()
    shared = shared_dir(args.shared, COVID_JSON, SCIFACT)
    passages, questions = real_texts(shared, args.passages)
    cache = args.cache or Path(tempfile.mkdtemp(prefix="s10-onnx-"))
    threads = [int(t) for t in args.threads.split(",")]
    print(f"CPU flags: {cpu_flags()}; load {load_avg()}; {len(passages)} passages, {len(questions)} questions")
    builders = backends(cache)
    quality = {} if args.no_quality else measure_quality(builders, passages, questions)
    speed = measure_speed(builders, passages[: args.speed_passages], threads, args.repeats)
    report(quality, speed, threads)
    write_json(args.out, {"passages": len(passages), "questions": len(questions), "speed_passages":
                          args.speed_passages, "quality": quality, "speed": speed})  # fmt: skip


def real_texts(shared: Path, count: int) -> tuple[list[str], list[str]]:
    """Return `count` passages (COVID-QA windows and SciFact abstracts, alternating) and 100 COVID-QA questions."""
    articles = json.loads((shared / COVID_JSON).read_text())["data"]
    windows, questions = [], []
    for article in articles:
        for paragraph in article["paragraphs"]:
            text = paragraph["context"]
            windows += [text[i : i + 1000] for i in range(0, len(text), 1000)][:3]
            questions += [qa["question"] for qa in paragraph["qas"]][:2]
    abstracts = []
    with open(shared / SCIFACT) as lines:
        for line in lines:
            record = json.loads(line)
            abstracts.append(f"{record['title']}. {record['text']}")
            if len(abstracts) >= count:
                break
    mixed = [t for pair in zip(windows, abstracts, strict=False) for t in pair]
    return mixed[:count], questions[:100]


def backends(cache: Path) -> dict[str, Any]:
    """Return {label: build(threads) -> embedder} for every backend this CPU runs well."""
    from rag.config import Settings
    from rag.embedding import _load_sentence_transformer, _resolve, cpu_has_bf16
    from rag.onnx_embedder import OnnxEmbedder, _session
    from rag.onnx_export import VARIANTS, ensure_onnx

    base = Settings(model_cache_dir=cache)
    folder, name = _resolve(base.embedder, base)

    def torch_backend(dtype: str) -> Any:
        return lambda threads: _load_sentence_transformer(folder, name, dtype, base.replace(threads=threads))

    def onnx_backend(variant: str) -> Any:
        started = time.perf_counter()
        onnx_file = ensure_onnx(Path(folder), name, cache, variant)
        print(f"int8 {variant}: {onnx_file.name} ready in {time.perf_counter() - started:.1f} s")
        return lambda threads: OnnxEmbedder(_session(onnx_file, threads), Path(folder), name)

    out = {"float32": torch_backend("float32")}
    if cpu_has_bf16():
        out["bfloat16"] = torch_backend("bfloat16")
    for variant in VARIANTS:
        out[f"int8 {variant}"] = onnx_backend(variant)
    return out


def measure_quality(builders: dict[str, Any], passages: list[str], questions: list[str]) -> dict[str, Any]:
    """Cosine of each backend's vectors to float32's (one thread: leaves a core to others)."""
    reference = {kind: builders["float32"](1).encode(texts) for kind, texts in (("passages", passages),
                                                                                  ("questions", questions))}  # fmt: skip
    out: dict[str, Any] = {}
    for label, build in builders.items():
        if label == "float32":
            continue
        embedder = build(1)
        out[label] = {}
        for kind, texts in (("passages", passages), ("questions", questions)):
            cosines = (embedder.encode(texts) * reference[kind]).sum(axis=1)
            out[label][kind] = {"mean": float(cosines.mean()), "min": float(cosines.min())}
    return out


def measure_speed(builders: dict[str, Any], texts: list[str], threads: list[int], repeats: int) -> dict[str, Any]:
    """Passages/s per backend and thread count: best of `repeats` runs, backends interleaved within a repeat."""
    out: dict[str, Any] = {}
    for count in threads:
        embedders = {label: build(count) for label, build in builders.items()}
        for embedder in embedders.values():
            embedder.encode(texts[:8])  # warm-up: first-call allocations, ORT's thread pool
        runs: dict[str, list[float]] = {label: [] for label in embedders}
        for _ in range(repeats):
            for label, embedder in embedders.items():
                started = time.perf_counter()
                embedder.encode(texts)
                runs[label].append(len(texts) / (time.perf_counter() - started))
        out[str(count)] = {label: {"best": max(r), "runs": r, "load_after": load_avg()} for label, r in runs.items()}
        print(f"{count} thread(s): " + ", ".join(f"{k} {max(v):.1f}/s" for k, v in runs.items()), flush=True)
    return out


def report(quality: dict[str, Any], speed: dict[str, Any], threads: list[int]) -> None:
    rows = []
    for label in speed[str(threads[0])]:
        same = {"mean": 1.0, "min": 1.0} if label == "float32" else {"mean": float("nan"), "min": float("nan")}
        q = quality.get(label, {"passages": same, "questions": same})
        rates = [speed[str(t)][label]["best"] for t in threads]
        fp32 = [speed[str(t)]["float32"]["best"] for t in threads]
        rows.append([label, q["passages"]["mean"], q["passages"]["min"], q["questions"]["mean"],
                     q["questions"]["min"], *rates, *[r / f for r, f in zip(rates, fp32, strict=True)]])  # fmt: skip
    headers = ["backend", "cos mean (passages)", "cos min", "cos mean (questions)", "cos min (q)"]
    headers += [f"passages/s, {t} thr" for t in threads] + [f"x float32, {t} thr" for t in threads]
    print(table(headers, rows))


if __name__ == "__main__":
    main()
