"""Footnote's engine: chat with your own documents, offline, with page citations.

Importing `rag` is cheap: it loads no model and imports no heavy library. Models are loaded
explicitly (`load_embedder`, `load_generator`) and passed in.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING

from rag.config import Settings
from rag.errors import (
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
from rag.types import Answer, Chunk, Citation, Document, DocumentInfo, FileOutcome, Hit, IngestProgress, Page

# Heavy entry points resolve on first use so that `import rag` stays fast.
_LAZY = {
    "Library": "rag.library",
    "load_embedder": "rag.embedding",
    "load_generator": "rag.generate.registry",
    "register_generator": "rag.generate.registry",
    "answer": "rag.generate.pipeline",
    "PageRenderer": "rag.pages",
}

if TYPE_CHECKING:  # pragma: no cover
    from rag.embedding import load_embedder
    from rag.generate.pipeline import answer
    from rag.generate.registry import load_generator, register_generator
    from rag.library import Library
    from rag.pages import PageRenderer


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
    "PageRenderer",
    "QueryError",
    "RagError",
    "Settings",
    "UnsupportedFileError",
    "answer",
    "load_embedder",
    "load_generator",
    "register_generator",
]
