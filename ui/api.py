"""The named API endpoints (upload, ask, search, list, delete) for `gradio_client`, returning plain JSON.

Shapes follow the CLI's `--json` output (docs/architecture.md). Each endpoint works on the caller's session
library, so in public mode two `Client` objects see different documents. Dicts sent back never carry a
"path" key: gradio_client would take such a dict for a file and try to download it.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path
from typing import Any

import gradio as gr

from rag.jsonview import answer_json as rag_answer_json
from rag.jsonview import document_json, evidence_json, hit_json, outcome_json
from rag.types import FileOutcome

from .chat import ChatOptions, ChatUpdate, respond
from .engine import Engine
from .errors import shows_errors, streams_errors
from .uploads import Upload, check_limits, ingest_live


def uploads_from(files: list[Any] | None) -> list[Upload]:
    """Return uploads from Gradio file values (FileData dicts, objects with .path, or plain paths)."""
    uploads = []
    for item in files or []:
        if isinstance(item, dict):
            path, name = item.get("path"), item.get("orig_name")
        else:
            path, name = getattr(item, "path", item), getattr(item, "orig_name", None)
        path = Path(str(path))
        uploads.append(Upload(path, name or path.name))
    return uploads


class Api:
    """Endpoint functions bound to one Engine; `gr.api` reads their type hints for the API page."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine

    @shows_errors
    def upload(self, files: list[gr.FileData], request: gr.Request) -> list[dict]:
        """Index files into your library; returns one {name, status, message, pages, chunks, doc_id} per file."""
        library = self.engine.library(request.session_hash)
        accepted, refused = check_limits(uploads_from(files), len(library.documents()), self.engine.app)
        outcomes: list[FileOutcome] = []
        for _rows, final in ingest_live(library, accepted) if accepted else ():
            outcomes = final or outcomes
        results = [outcome_json(o) for o in outcomes]
        return results + [{"name": name, "status": status, "message": message} for name, status, message in refused]

    @streams_errors
    def ask(
        self,
        question: str,
        documents: list[str] | None = None,
        history: list[dict] | None = None,
        top_k: int = 0,
        mode: str = "",
        request: gr.Request = None,  # type: ignore[assignment]  # Gradio fills it in
    ) -> Iterator[dict]:
        """Stream an answer: {status: retrieved, sources}, {status: evidence, evidence}, then about once a second
        {status: waiting, waited_s} while the model reads the passages, {status: streaming, answer}, then
        {status: done, ...} (the `python -m rag ask --json` object)."""
        defaults = ChatOptions.defaults(self.engine.settings)
        options = replace(defaults, retrieval=mode or defaults.retrieval, top_k=top_k or defaults.top_k)
        turns = [dict(m) for m in history or []]
        for update in respond(self.engine, question, turns, documents, options, request.session_hash):
            if update.answer is not None:
                yield answer_json(update.answer)
            elif update.views:
                status = _status(update)
                evidence = [evidence_json(q) for q in update.evidence]
                part = {"status": status, "answer": update.text, "evidence": evidence, "sources": _views(update)}
                yield part | ({"waited_s": round(update.waited, 1)} if status == "waiting" else {})

    @shows_errors
    def search(
        self,
        query: str,
        k: int = 5,
        documents: list[str] | None = None,
        request: gr.Request = None,  # type: ignore[assignment]
    ) -> list[dict]:
        """Return the best passages for `query`: [{document, page, score, text, ...}], best first."""
        library = self.engine.library(request.session_hash)
        return [hit_json(h) for h in library.search(query, k=k or None, documents=documents or None)]

    @shows_errors
    def list_documents(self, request: gr.Request) -> list[dict]:
        """Return the documents in your library: [{doc_id, name, kind, pages, chunks, added_at}]."""
        return [document_json(d) for d in self.engine.library(request.session_hash).documents()]

    @shows_errors
    def delete(self, document: str, request: gr.Request) -> dict:
        """Remove a document by name or doc_id; returns what was removed."""
        return document_json(self.engine.library(request.session_hash).delete(document))


def answer_json(answer: Any) -> dict[str, Any]:
    """Return the finished answer like `python -m rag ask --json` does, plus the status."""
    return {**rag_answer_json(answer), "status": "done"}


def _status(update: ChatUpdate) -> str:
    """Which stage of an answer a streamed update shows (see `Api.ask`)."""
    if update.text:
        return "streaming"
    if update.waited:
        return "waiting"
    return "evidence" if update.evidence else "retrieved"


def _views(update: Any) -> list[dict[str, Any]]:
    return [{"n": v.n, "document": v.document, "page": v.page, "score": round(v.score, 4)} for v in update.views]
