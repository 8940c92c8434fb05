"""Content digests: a document's id is the sha256 of its bytes; a model file is trusted only by its sha256."""

from __future__ import annotations

import hashlib
from pathlib import Path

_BLOCK = 1 << 20  # bytes per read: a 1.1 GB model is hashed without holding it in memory


def bytes_sha256(data: bytes) -> str:
    """Return the hex sha256 of `data`."""
    return hashlib.sha256(data).hexdigest()


def file_sha256(path: Path) -> str:
    """Return the hex sha256 of a file's bytes (equal to `bytes_sha256` of its content)."""
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        while block := handle.read(_BLOCK):
            digest.update(block)
    return digest.hexdigest()
