"""The SQLite layout of an index: tables, the manifest that guards them, and rows <-> records.

`rag.index.store.Store` owns the connection, the transactions and the FAISS cache; this module only says what the
tables hold and how a row becomes a `Chunk` or `DocumentInfo` (and back).
"""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path

import numpy as np

from rag.errors import IndexError_, IndexMismatchError
from rag.types import Chunk, DocumentInfo

FORMAT_VERSION = "1"

SCHEMA = """
CREATE TABLE IF NOT EXISTS manifest (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS documents (
    doc_id TEXT PRIMARY KEY, name TEXT NOT NULL UNIQUE, path TEXT NOT NULL, kind TEXT NOT NULL,
    pages INTEGER NOT NULL, chunks INTEGER NOT NULL, added_at REAL NOT NULL, warnings TEXT NOT NULL,
    file TEXT NOT NULL DEFAULT '');
CREATE TABLE IF NOT EXISTS pages (
    doc_id TEXT NOT NULL, number INTEGER NOT NULL, text TEXT NOT NULL, PRIMARY KEY (doc_id, number));
CREATE TABLE IF NOT EXISTS chunks (
    id INTEGER PRIMARY KEY AUTOINCREMENT, chunk_id TEXT NOT NULL, doc_id TEXT NOT NULL, page INTEGER NOT NULL,
    start_off INTEGER NOT NULL, end_off INTEGER NOT NULL, text TEXT NOT NULL, headings TEXT NOT NULL,
    ordinal INTEGER NOT NULL, vector BLOB NOT NULL, context TEXT NOT NULL DEFAULT '');
CREATE INDEX IF NOT EXISTS chunks_by_doc ON chunks (doc_id, ordinal);
CREATE INDEX IF NOT EXISTS chunks_by_chunk_id ON chunks (chunk_id);
"""
CHUNK_COLUMNS = "id, chunk_id, doc_id, page, start_off, end_off, text, headings, ordinal, context"


def create_schema(conn: sqlite3.Connection, data_dir: Path, embedder_name: str, dim: int) -> None:
    """Create the tables and the manifest in one transaction, so a crash never leaves half a manifest."""
    conn.execute("BEGIN IMMEDIATE")
    try:
        for statement in SCHEMA.split(";"):
            if statement.strip():
                conn.execute(statement)
        _add_missing_columns(conn)
        _check_manifest(conn, data_dir, embedder_name, dim)
        conn.execute("COMMIT")
    except BaseException:
        if conn.in_transaction:
            conn.execute("ROLLBACK")
        raise


def _add_missing_columns(conn: sqlite3.Connection) -> None:
    """Upgrade an index made before passages had a context header: old rows keep an empty one."""
    columns = {row[1] for row in conn.execute("PRAGMA table_info(chunks)")}
    if "context" not in columns:
        conn.execute("ALTER TABLE chunks ADD COLUMN context TEXT NOT NULL DEFAULT ''")


def _check_manifest(conn: sqlite3.Connection, data_dir: Path, embedder_name: str, dim: int) -> None:
    """Write the manifest of a new index, or refuse an index built by another embedder / format."""
    found = dict(conn.execute("SELECT key, value FROM manifest").fetchall())
    if not found:
        conn.executemany(
            "INSERT INTO manifest VALUES (?, ?)",
            [("format", FORMAT_VERSION), ("embedder", embedder_name), ("dim", str(dim)), ("generation", "0")],
        )
        return
    if found.get("format") != FORMAT_VERSION:
        raise IndexError_(
            f"the index in {data_dir} has format {found.get('format')}, this version reads {FORMAT_VERSION}; delete it to rebuild"
        )
    if found.get("embedder") != embedder_name or found.get("dim") != str(dim):
        raise IndexMismatchError(
            f"the index in {data_dir} was built with {found.get('embedder')} ({found.get('dim')} dims); you are using "
            f"{embedder_name} ({dim} dims). Use another --data-dir or delete it to rebuild"
        )


def delete_document_rows(cur: sqlite3.Cursor, doc_id: str) -> None:
    """Delete one document's chunks, pages and record (inside the caller's transaction)."""
    for table in ("chunks", "pages", "documents"):
        cur.execute(f"DELETE FROM {table} WHERE doc_id = ?", (doc_id,))


def chunk_values(chunk: Chunk, vector: np.ndarray) -> tuple:
    """The INSERT values of one chunk, in CHUNK_COLUMNS order (without id) then the vector."""
    return (
        chunk.chunk_id,
        chunk.doc_id,
        chunk.page,
        chunk.start,
        chunk.end,
        chunk.text,
        json.dumps(chunk.headings),
        chunk.ordinal,
        chunk.context,
        vector.tobytes(),
    )


def chunk_from_row(row: tuple) -> Chunk:
    """A Chunk from CHUNK_COLUMNS plus the document's name."""
    _, chunk_id, doc_id, page, start, end, text, headings, ordinal, context, name = row
    return Chunk(chunk_id, doc_id, name, page, start, end, text, tuple(json.loads(headings)), ordinal, context)


def info_from_row(row: tuple) -> DocumentInfo:
    """A DocumentInfo from (doc_id, name, kind, pages, chunks, added_at, warnings)."""
    doc_id, name, kind, pages, chunks, added_at, warnings = row
    return DocumentInfo(doc_id, name, kind, pages, chunks, added_at, tuple(json.loads(warnings)))
