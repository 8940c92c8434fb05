"""What every sub-command shares: the `--data-dir` flag, Settings from the environment, opening a Library."""

from __future__ import annotations

import argparse
from pathlib import Path

from rag import embedding
from rag.config import Settings
from rag.library import Library

EXIT_USAGE = 2  # argparse's convention for a bad command line


def add_data_dir(parser: argparse.ArgumentParser) -> None:
    """Every command takes --data-dir; the default comes from Settings (RAG_DATA_DIR)."""
    parser.add_argument("--data-dir", default=None, help="index directory (default: $RAG_DATA_DIR or ~/.footnote)")


def settings_for(args: argparse.Namespace) -> Settings:
    """Settings from the environment, with --data-dir on top."""
    settings = Settings.from_env()
    if getattr(args, "data_dir", None):
        settings = settings.replace(data_dir=Path(args.data_dir).expanduser())
    return settings


def open_library(settings: Settings) -> Library:
    """Return a Library on `settings.data_dir` with the configured embedder (loads the model: only when needed)."""
    return Library.open(settings, embedding.load_embedder(settings))
