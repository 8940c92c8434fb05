"""The index sub-commands: `ingest`, `search`, `list`, `delete` (registered by `rag/cli.py`).

python -m rag ingest docs/ report.pdf      # one outcome line per file; exit 1 if any file failed
python -m rag search "net revenue" --json  # [{document, page, score, text, start, end, chunk_id}, ...]
python -m rag list --json                  # [{name, pages, chunks, kind, doc_id, warnings}, ...]
python -m rag delete report.pdf
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

from rag.cli.common import EXIT_USAGE, add_data_dir, open_library, settings_for
from rag.jsonview import document_json, hit_json
from rag.search.options import MODES
from rag.types import IngestProgress


def register(subparsers: argparse._SubParsersAction) -> None:
    """Add ingest, search, list and delete to the `python -m rag` parser."""
    ingest = subparsers.add_parser("ingest", help="index files and folders (pdf, txt, md, html, docx)")
    ingest.add_argument("paths", nargs="+", metavar="PATH", help="files or folders (searched recursively)")
    ingest.add_argument("--quiet", action="store_true", help="no progress bar")
    ingest.set_defaults(func=run_ingest)

    search = subparsers.add_parser("search", help="show the passages that best match a query")
    search.add_argument("query")
    search.add_argument("--k", type=int, default=10, help="how many passages (default: 10)")
    search.add_argument("--mode", choices=MODES, default=None, help="retriever (default: $RAG_RETRIEVAL)")
    search.add_argument("--document", action="append", default=None, help="only this document (repeatable)")
    search.add_argument("--json", action="store_true", help="print JSON")
    search.set_defaults(func=run_search)

    listing = subparsers.add_parser("list", help="list the indexed documents")
    listing.add_argument("--json", action="store_true", help="print JSON")
    listing.set_defaults(func=run_list)

    delete = subparsers.add_parser("delete", help="remove a document from the index")
    delete.add_argument("document", help="its name (as in `list`) or doc_id")
    delete.set_defaults(func=run_delete)

    for parser in (ingest, search, listing, delete):
        add_data_dir(parser)


def run_ingest(args: argparse.Namespace) -> int:
    """Index the given paths; return 0 if every file is indexed or unchanged, 1 if some failed, 2 on a bad path."""
    missing = [p for p in args.paths if not Path(p).exists()]
    if missing:
        print(f"error: no such file or folder: {', '.join(missing)}", file=sys.stderr)
        return EXIT_USAGE
    library = open_library(settings_for(args))
    try:
        with _ProgressBar(disabled=args.quiet) as bar:
            outcomes = library.ingest([Path(p) for p in args.paths], on_progress=bar.update)
    finally:
        library.close()
    for outcome in outcomes:
        # A failure's message already starts with the file name ("scan.pdf: contains no readable text").
        print(f"{outcome.name}: {outcome.message}" if outcome.ok else f"FAILED {outcome.message}")
        for warning in outcome.warnings:
            print(f"    warning: {warning}")
    if not outcomes:
        print("no supported files found (pdf, txt, md, html, docx)", file=sys.stderr)
    return 0 if all(o.ok for o in outcomes) else 1


def run_search(args: argparse.Namespace) -> int:
    """Print the best passages for the query, as text or JSON."""
    library = open_library(settings_for(args))
    try:
        hits = library.search(args.query, k=args.k, documents=args.document, mode=args.mode)
    finally:
        library.close()
    if args.json:
        print(json.dumps([hit_json(h) for h in hits], ensure_ascii=False, indent=2))
        return 0
    for rank, hit in enumerate(hits, start=1):
        text = " ".join(hit.chunk.text.split())
        print(f"[{rank}] {hit.document} p.{hit.page}  score {hit.score:.3f}\n    {text[:300]}")
    if not hits:
        print("no matching passages (is anything indexed? try `python -m rag list`)")
    return 0


def run_list(args: argparse.Namespace) -> int:
    """Print the indexed documents, as a table or JSON."""
    library = open_library(settings_for(args))
    try:
        documents = library.documents()
        how = library.describe_search() if documents and not args.json else ""
    finally:
        library.close()
    if args.json:
        print(json.dumps([document_json(d) for d in documents], ensure_ascii=False, indent=2))
        return 0
    for info in documents:
        print(f"{info.name}  ({info.kind}, {info.pages} pages, {info.chunks} passages)  {info.doc_id[:12]}")
        for warning in info.warnings:
            print(f"    warning: {warning}")
    if not documents:
        print(f"no documents indexed in {library.settings.data_dir}")
    else:
        print(f"search: {how}")
    return 0


def run_delete(args: argparse.Namespace) -> int:
    """Remove one document; an unknown name raises DocumentNotFoundError (exit 1, lists known names)."""
    library = open_library(settings_for(args))
    try:
        info = library.delete(args.document)
    finally:
        library.close()
    print(f"deleted {info.name} ({info.pages} pages, {info.chunks} passages)")
    return 0


class _ProgressBar:
    """A tqdm bar on stderr counting files, with the current file and stage as its description."""

    def __init__(self, disabled: bool) -> None:
        from tqdm import tqdm

        self._tqdm = tqdm
        self.bar: Any = None
        self.disabled = disabled

    def __enter__(self) -> _ProgressBar:
        return self

    def __exit__(self, *exc_info: object) -> None:
        if self.bar is not None:
            self.bar.close()

    def update(self, progress: IngestProgress) -> None:
        if self.bar is None:
            self.bar = self._tqdm(total=progress.file_count, unit="file", file=sys.stderr, disable=self.disabled)
        detail = f" {progress.done}/{progress.total}" if progress.stage in ("embedding", "ocr") else ""
        self.bar.set_description_str(f"{progress.name[:30]} {progress.stage}{detail}", refresh=False)
        if progress.stage in ("done", "failed"):
            self.bar.update(1)
        else:
            self.bar.refresh()
