"""`python -m rag eval`: measure retrieval on real benchmarks, comparing modes side by side over one index.

    python -m rag eval --dataset beir:/path/scifact --cache-dir ~/.cache/footnote/eval   # dense, bm25, default
    python -m rag eval --dataset squad:/path/covidQA.json --limit 300 --k 5 --markdown results.md
    python -m rag eval --dataset pages:gold.jsonl --docs ./pdfs --json --config rrf:fusion=rrf

"default" is what the app does with the current settings; "dense", "bm25" and "hybrid" are first stages alone.
The index is built in a temporary folder (or `--cache-dir`), never in the user's data dir.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

from rag import embedding
from rag.config import Settings
from rag.errors import ConfigError
from rag.evaluate.configs import parse_option_configs
from rag.evaluate.datasets import read_dataset
from rag.evaluate.index import LexicalOnlyEmbedder
from rag.evaluate.report import to_json, to_markdown
from rag.evaluate.runner import DEFAULT_MODES, MODES, evaluate, parse_configs
from rag.library import Library


def register(subparsers: argparse._SubParsersAction) -> None:
    """Add the `eval` sub-command."""
    parser = subparsers.add_parser(
        "eval",
        help="measure retrieval quality on a benchmark",
        description="Index a benchmark once, query it with each retrieval mode and report ir-measures metrics.",
    )
    parser.add_argument(
        "--dataset",
        action="append",
        required=True,
        metavar="KIND:PATH",
        help="beir:DIR, squad:FILE, llamaindex:DIR, docugami:DIR, pages:FILE or smart:DIR (repeatable)",
    )
    parser.add_argument("--docs", type=Path, help="folder of documents for pages:FILE")
    parser.add_argument("--limit", type=int, help="use only the first N questions of each dataset")
    parser.add_argument("--split", default="test", help="BEIR qrels split (default: test)")
    parser.add_argument(
        "--mode",
        default=DEFAULT_MODES,
        help=f"comma-separated rows to compare, of {', '.join(MODES)} (default: {DEFAULT_MODES})",
    )
    parser.add_argument(
        "--config",
        action="append",
        metavar="NAME:FIELD=VALUE,...",
        help="an extra row: the engine's retrieval options with these fields changed, e.g. rerank:reranker=embed",
    )
    parser.add_argument("--k", default="5,10", help="comma-separated cutoffs for hit@k / recall@k (default: 5,10)")
    parser.add_argument(
        "--lexical-only",
        action="store_true",
        help="measure BM25 only and skip embedding (fast; for large corpora on a busy machine)",
    )
    parser.add_argument(
        "--cache-dir",
        type=Path,
        help="keep built indexes here and reuse them across runs (or: the folder of one built index)",
    )
    parser.add_argument("--json", action="store_true", help="print results as JSON instead of Markdown")
    parser.add_argument("--markdown", type=Path, metavar="FILE", help="also write the Markdown tables to FILE")
    parser.set_defaults(func=run)


def parse_ks(raw: str) -> tuple[int, ...]:
    """ "5,10" -> (5, 10); anything else is a ConfigError naming the flag."""
    try:
        ks = tuple(sorted({int(k) for k in raw.split(",") if k.strip()}))
    except ValueError:
        raise ConfigError(f"--k {raw!r}: expected comma-separated positive integers such as 5,10") from None
    if not ks or ks[0] < 1:
        raise ConfigError(f"--k {raw!r}: expected comma-separated positive integers such as 5,10")
    return ks


def load_embedder(settings: Settings) -> Any:
    """The embedder named by the settings (a seam: tests replace it with a fake)."""
    return embedding.load_embedder(settings)


def open_library(settings: Settings, embedder: Any) -> Any:
    """A Library over `settings.data_dir` (a seam: tests replace it with a fake index)."""
    return Library.open(settings, embedder)


def run(args: argparse.Namespace) -> int:
    """Evaluate every --dataset and print the report; returns the exit code."""
    if args.limit is not None and args.limit < 1:
        raise ConfigError(f"--limit {args.limit}: expected a positive number of questions")
    ks = parse_ks(args.k)
    configs = parse_configs("bm25" if args.lexical_only else args.mode)
    if args.lexical_only and args.config:
        raise ConfigError("--lexical-only measures BM25 alone; drop --config (its rows need the embedder)")
    configs += parse_option_configs(args.config)
    evalsets = [read_dataset(spec, args.docs, args.limit, args.split) for spec in args.dataset]
    settings = Settings.from_env()
    embedder = load_embedder(settings)
    if args.lexical_only:
        embedder = LexicalOnlyEmbedder(embedder.tokenizer_file, embedder.max_tokens)
    results = []
    for evalset in evalsets:
        result = evaluate(
            evalset, settings, configs, ks, lambda s: open_library(s, embedder), embedder.name, args.cache_dir
        )
        results.append(result)
    markdown = to_markdown(results)
    if args.markdown:
        args.markdown.write_text(markdown, encoding="utf-8")
    sys.stdout.write(to_json(results) + "\n" if args.json else markdown)
    return 0
