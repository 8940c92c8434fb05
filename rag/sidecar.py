"""Small SQLite files kept beside the index in the data dir (conversations, feedback): one helper opens them.

Each use is one transaction (committed on success, rolled back on error) on a connection closed afterwards, so
callers from several threads never share one; "disk full" or "read-only" becomes IndexWriteError naming the folder.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path

from rag.index.files import writing


@contextmanager
def transaction(data_dir: Path, file_name: str, schema: Sequence[str], what: str) -> Iterator[sqlite3.Connection]:
    """`data_dir/file_name` (created with `schema` if new) inside one transaction; `what` names it in errors."""
    with writing(what, data_dir):
        data_dir.mkdir(parents=True, exist_ok=True)
        conn = sqlite3.connect(data_dir / file_name, timeout=10)
        try:
            conn.execute("PRAGMA journal_mode=WAL")
            with conn:
                for statement in schema:
                    conn.execute(statement)
                yield conn
        finally:
            conn.close()
