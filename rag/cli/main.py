"""`python -m rag COMMAND`: ingest, search, list, delete, ask, eval, migrate.

Each command lives in a module that exposes `register(subparsers)`; this file only assembles them and
turns a `RagError` into a one-line message and exit code 1. Usage errors exit 2 (argparse's convention).
Other exceptions are bugs and keep their traceback.
"""

from __future__ import annotations

import argparse
import logging
import sys

from rag.cli import ask, index_commands, migrate_command
from rag.errors import RagError
from rag.evaluate import command as eval_command

# Modules that add sub-commands; each defines register(subparsers) and sets `func` on its parser.
COMMAND_MODULES = (index_commands, eval_command, ask, migrate_command)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m rag", description="Footnote: chat with your documents, offline.")
    parser.add_argument("-v", "--verbose", action="store_true", help="log what happens (to stderr)")
    subparsers = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for module in COMMAND_MODULES:
        module.register(subparsers)
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    logging.basicConfig(
        level=logging.INFO if args.verbose else logging.WARNING, format="%(levelname)s %(name)s: %(message)s"
    )
    try:
        return int(args.func(args) or 0)
    except RagError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130
