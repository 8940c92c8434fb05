"""👍/👎 on answers, kept with the library so they can become an eval set (`python -m rag eval --dataset
feedback:DATA_DIR`, `rag.evaluate.feedback`).

One SQLite file, data_dir/feedback.sqlite3, one row per rating, written in one statement (a crash keeps it or not,
never half). A row holds what is needed to replay the question later without the app: the question, the answer,
the rating and note, and each cited passage's document, page, text and kept file.
"""

from __future__ import annotations

import json
import sqlite3
import time
from contextlib import AbstractContextManager
from dataclasses import dataclass
from pathlib import Path

from rag.jsonview import supporting_text
from rag.sidecar import transaction
from rag.types import Answer

FILE_NAME = "feedback.sqlite3"
SCHEMA = """CREATE TABLE IF NOT EXISTS feedback (
    id INTEGER PRIMARY KEY AUTOINCREMENT, created_at REAL NOT NULL, question TEXT NOT NULL, answer TEXT NOT NULL,
    liked INTEGER NOT NULL, note TEXT NOT NULL, passages TEXT NOT NULL)"""


@dataclass(frozen=True)
class RatedPassage:
    """A passage the rated answer cited: where it is, what it says, and the kept original's file name."""

    n: int
    document: str
    doc_id: str
    page: int
    text: str
    quote: str
    file: str


@dataclass(frozen=True)
class Rating:
    id: int
    created_at: float
    question: str
    answer: str
    liked: bool
    note: str
    passages: tuple[RatedPassage, ...]


def record(data_dir: Path, answer: Answer, liked: bool, note: str = "", files: dict[str, str] | None = None) -> int:
    """Store one rating of `answer` (`files`: doc_id → kept file name, for the replay); return its id."""
    passages = [
        RatedPassage(c.n, c.document, c.chunk.doc_id, c.page, c.chunk.text, supporting_text(c),
                     (files or {}).get(c.chunk.doc_id, ""))  # fmt: skip
        for c in answer.citations
    ]
    row = (time.time(), answer.question, answer.text, int(liked), note.strip(), json.dumps([vars(p) for p in passages]))
    with _connected(data_dir, "save your feedback") as conn:
        cursor = conn.execute(
            "INSERT INTO feedback (created_at, question, answer, liked, note, passages) VALUES (?, ?, ?, ?, ?, ?)", row
        )
        return int(cursor.lastrowid or 0)


def ratings(data_dir: Path) -> list[Rating]:
    """Every rating in `data_dir`, oldest first ([] when none was ever given)."""
    if not (data_dir / FILE_NAME).exists():
        return []
    with _connected(data_dir, "read the ratings") as conn:
        rows = conn.execute(
            "SELECT id, created_at, question, answer, liked, note, passages FROM feedback ORDER BY id"
        ).fetchall()
    return [
        Rating(i, created, question, text, bool(liked), note, tuple(RatedPassage(**p) for p in json.loads(passages)))
        for i, created, question, text, liked, note, passages in rows
    ]


def _connected(data_dir: Path, what: str) -> AbstractContextManager[sqlite3.Connection]:
    return transaction(data_dir, FILE_NAME, (SCHEMA,), what)
