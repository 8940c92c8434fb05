"""The files side of a data directory: the originals kept in data_dir/files, leftovers, and write errors.

`keep_copy` stores each ingested original as files/<doc_id><ext> (temp file + rename) so the app can render its
pages later. `remove_leftovers` clears what killed writes leave behind (temp files, copies whose document row was
never committed). `writing` turns "read-only / disk full" failures of any index file into `IndexWriteError`.
"""

from __future__ import annotations

import errno
import logging
import os
import shutil
import sqlite3
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from rag.errors import IndexWriteError

logger = logging.getLogger(__name__)

WRITE_ERRNOS = {errno.ENOSPC, errno.EROFS, errno.EACCES, errno.EPERM, errno.EDQUOT}


@contextmanager
def writing(what: str, where: Path) -> Iterator[None]:
    """Turn "read-only / disk full" failures into `IndexWriteError` naming `where` and what to do."""
    try:
        yield
    except sqlite3.OperationalError as exc:
        raise IndexWriteError(
            f"could not {what} in {where}: {exc}. Check the folder is writable and the disk has space"
        ) from exc
    except OSError as exc:
        if exc.errno not in WRITE_ERRNOS:
            raise
        raise IndexWriteError(
            f"could not {what} in {where}: {exc.strerror}. Free disk space or use a writable --data-dir"
        ) from exc


def keep_copy(path: Path, doc_id: str, folder: Path) -> str:
    """Copy the original into `folder` atomically (once per doc_id); return its file name there."""
    name = doc_id + path.suffix.lower()
    with writing("keep a copy of the file", folder):
        folder.mkdir(parents=True, exist_ok=True)
        if not (folder / name).is_file():
            fd, tmp = tempfile.mkstemp(prefix=".copy-", dir=folder)
            os.close(fd)
            try:
                shutil.copyfile(path, tmp)
                os.replace(tmp, folder / name)
            except BaseException:
                Path(tmp).unlink(missing_ok=True)
                raise
    return name


def drop_copy(doc_id: str, folder: Path) -> None:
    """Delete the kept copy of one document (if any)."""
    for old in folder.glob(doc_id + ".*"):
        old.unlink(missing_ok=True)


def remove_leftovers(data_dir: Path, known_doc_ids: set[str], min_age_s: float = 3600.0) -> list[Path]:
    """Delete temp files of killed writes and kept copies without a document; return what was removed.

    Only files older than `min_age_s`: a younger one may belong to a write in progress in another process.
    """
    cutoff = time.time() - min_age_s
    leftovers = [*data_dir.glob(".vectors-*"), *data_dir.glob(".bm25-*"), *data_dir.glob("files/.copy-*")]
    leftovers += [p for p in data_dir.glob("files/*") if p.name.split(".")[0] not in known_doc_ids]
    removed = []
    for path in leftovers:
        try:
            if path.lstat().st_mtime < cutoff:
                shutil.rmtree(path) if path.is_dir() else path.unlink()
                removed.append(path)
        except OSError as exc:  # a read-only data dir can still be searched: leave the leftovers be
            logger.info("could not remove leftover %s: %s", path, exc)
    return removed
