"""Footnote's engine: chat with your own documents, offline, with page citations.

Importing `rag` is cheap: it loads no model and imports no heavy library. Models are loaded
explicitly (`load_embedder`, `load_generator`) and passed in.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING

from .config import Settings
from .errors import (
    ConfigError,
    DocumentLoadError,
    DocumentNotFoundError,
    EncryptedFileError,
    FileTooLargeError,
    GenerationError,
    IndexMismatchError,
    IndexWriteError,
    ModelLoadError,
    NoTextError,
    QueryError,
    RagError,
    UnsupportedFileError,
)
from .types import Answer, Chunk, Citation, Document, DocumentInfo, FileOutcome, Hit, IngestProgress, Page

# Heavy entry points resolve on first use so that `import rag` stays fast.
_LAZY = {
    "Library": "rag.library",
    "load_embedder": "rag.embedding",
    "load_generator": "rag.generation",
    "answer": "rag.pipeline",
}

if TYPE_CHECKING:  # pragma: no cover
    from .embedding import load_embedder
    from .generation import load_generator
    from .library import Library
    from .pipeline import answer


def __getattr__(name: str):
    if name in _LAZY:
        return getattr(importlib.import_module(_LAZY[name]), name)
    raise AttributeError(f"module 'rag' has no attribute {name!r}")


__all__ = [
    "Answer",
    "Chunk",
    "Citation",
    "ConfigError",
    "Document",
    "DocumentInfo",
    "DocumentLoadError",
    "DocumentNotFoundError",
    "EncryptedFileError",
    "FileOutcome",
    "FileTooLargeError",
    "GenerationError",
    "Hit",
    "IndexMismatchError",
    "IndexWriteError",
    "IngestProgress",
    "Library",
    "ModelLoadError",
    "NoTextError",
    "Page",
    "QueryError",
    "RagError",
    "Settings",
    "UnsupportedFileError",
    "answer",
    "load_embedder",
    "load_generator",
]
