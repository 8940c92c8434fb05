"""Conversations kept with the library: each question with its whole checked answer (citations and the passages
shown), so a conversation resumes after a restart with its sources, and exports with footnotes (`rag.export`).

    store = Conversations(data_dir)
    cid = store.add_turn(None, answer)            # a new conversation titled by its first question
    store.add_turn(cid, next_answer); store.rename(cid, "Solana notes")
    store.listing("solana") -> [ConversationInfo(...)]; store.answers(cid) -> [Answer, ...]; store.delete(cid)

One SQLite file, data_dir/conversations.sqlite3 (WAL); a turn is one transaction, so a crash keeps it whole or not
at all. In public mode the data dir is the visitor's temporary one, so conversations go with the session.
"""

from __future__ import annotations

import json
import sqlite3
import time
import uuid
from contextlib import AbstractContextManager
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from rag.errors import RagError
from rag.sidecar import transaction
from rag.types import Answer, Chunk, Citation, Hit

FILE_NAME = "conversations.sqlite3"
TITLE_CHARS = 80
SCHEMA = (
    "CREATE TABLE IF NOT EXISTS conversations (id TEXT PRIMARY KEY, title TEXT NOT NULL, created_at REAL NOT NULL,"
    " updated_at REAL NOT NULL)",
    "CREATE TABLE IF NOT EXISTS turns (conversation TEXT NOT NULL, position INTEGER NOT NULL, answer TEXT NOT NULL,"
    " PRIMARY KEY (conversation, position))",
)


class ConversationNotFoundError(RagError):
    """The conversation was deleted (perhaps in another tab)."""


@dataclass(frozen=True)
class ConversationInfo:
    id: str
    title: str
    created_at: float
    updated_at: float
    turns: int


class Conversations:
    """The conversations of one data dir; every method opens and closes its own connection (thread-safe)."""

    def __init__(self, data_dir: Path) -> None:
        self.data_dir = Path(data_dir)

    def add_turn(self, conversation: str | None, answer: Answer) -> str:
        """Append `answer` (a new conversation when `conversation` is None); return the conversation's id."""
        now = time.time()
        with self._connected("save the conversation") as conn:
            if conversation is None or not self._exists(conn, conversation):
                conversation = uuid.uuid4().hex
                title = " ".join(answer.question.split())[:TITLE_CHARS] or "Untitled"
                conn.execute("INSERT INTO conversations VALUES (?, ?, ?, ?)", (conversation, title, now, now))
            position = conn.execute("SELECT COUNT(*) FROM turns WHERE conversation = ?", (conversation,)).fetchone()[0]
            conn.execute("INSERT INTO turns VALUES (?, ?, ?)", (conversation, position, json.dumps(answer_record(answer))))
            conn.execute("UPDATE conversations SET updated_at = ? WHERE id = ?", (now, conversation))
        return conversation

    def listing(self, search: str = "") -> list[ConversationInfo]:
        """Conversations, most recently used first; `search` keeps those whose title contains it (any case)."""
        if not (self.data_dir / FILE_NAME).exists():
            return []
        with self._connected("read the conversations") as conn:
            rows = conn.execute(
                "SELECT c.id, c.title, c.created_at, c.updated_at, COUNT(t.position) FROM conversations c "
                "LEFT JOIN turns t ON t.conversation = c.id WHERE instr(lower(c.title), lower(?)) > 0 "
                "GROUP BY c.id ORDER BY c.updated_at DESC",
                (search.strip(),),
            ).fetchall()
        return [ConversationInfo(*row) for row in rows]

    def answers(self, conversation: str) -> list[Answer]:
        """The conversation's answers in order; raises ConversationNotFoundError when it is gone."""
        with self._connected("read the conversation") as conn:
            if not self._exists(conn, conversation):
                raise ConversationNotFoundError("that conversation was deleted; pick another or start a new one")
            rows = conn.execute(
                "SELECT answer FROM turns WHERE conversation = ? ORDER BY position", (conversation,)
            ).fetchall()
        return [answer_from_record(json.loads(row[0])) for row in rows]

    def title(self, conversation: str) -> str:
        with self._connected("read the conversation") as conn:
            row = conn.execute("SELECT title FROM conversations WHERE id = ?", (conversation,)).fetchone()
        return row[0] if row else ""

    def rename(self, conversation: str, title: str) -> None:
        title = " ".join(title.split())[:TITLE_CHARS]
        if not title:
            raise RagError("a conversation needs a title; type one first")
        with self._connected("rename the conversation") as conn:
            conn.execute("UPDATE conversations SET title = ? WHERE id = ?", (title, conversation))

    def drop_last(self, conversation: str) -> None:
        """Remove the conversation's last turn (the chat's Retry and Undo take an answer back)."""
        with self._connected("update the conversation") as conn:
            conn.execute(
                "DELETE FROM turns WHERE conversation = ? AND position = "
                "(SELECT MAX(position) FROM turns WHERE conversation = ?)",
                (conversation, conversation),
            )

    def delete(self, conversation: str) -> None:
        with self._connected("delete the conversation") as conn:
            conn.execute("DELETE FROM turns WHERE conversation = ?", (conversation,))
            conn.execute("DELETE FROM conversations WHERE id = ?", (conversation,))

    @staticmethod
    def _exists(conn: sqlite3.Connection, conversation: str) -> bool:
        return conn.execute("SELECT 1 FROM conversations WHERE id = ?", (conversation,)).fetchone() is not None

    def _connected(self, what: str) -> AbstractContextManager[sqlite3.Connection]:
        return transaction(self.data_dir, FILE_NAME, SCHEMA, what)


def answer_record(answer: Answer) -> dict[str, Any]:
    """An Answer as plain JSON-ready data (every field, so it comes back equal)."""
    return asdict(answer)


def answer_from_record(record: dict[str, Any]) -> Answer:
    """The Answer `answer_record` described."""

    def chunk(c: dict[str, Any]) -> Chunk:
        return Chunk(**{**c, "headings": tuple(c.get("headings", ()))})

    def citation(c: dict[str, Any]) -> Citation:
        spans = tuple((int(start), int(end)) for start, end in c.get("spans", ()))  # absent before session 15
        return Citation(c["n"], chunk(c["chunk"]), c["score"], c["span_start"], c["span_end"], spans)

    return Answer(
        record["question"], record["query"], record["text"],
        tuple(citation(c) for c in record["citations"]),
        tuple(Hit(chunk(h["chunk"]), h["score"], h.get("method", "dense")) for h in record["sources"]),
        tuple(record.get("unsupported", ())), bool(record.get("abstained")), tuple(record.get("dropped", ())),
        tuple(citation(c) for c in record.get("evidence", ())), dict(record.get("timings", {})),
    )  # fmt: skip
