"""The named API endpoints (upload, ask, search, list, delete) for `gradio_client`, returning plain JSON.

Shapes follow the CLI's `--json` output (docs/architecture.md). Each endpoint works on the caller's session
library, so in public mode two `Client` objects see different documents. Dicts sent back never carry a
"path" key: gradio_client would take such a dict for a file and try to download it.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path
from typing import Any

import gradio as gr

from rag.errors import RagError
from rag.export import answer_markdown
from rag.jsonview import answer_json as rag_answer_json
from rag.jsonview import document_json, evidence_json, hit_json, outcome_json
from rag.types import FileOutcome

from .chat import ChatOptions, ChatUpdate, respond
from .engine import Engine
from .errors import shows_errors, streams_errors
from .uploads import Upload, check_limits, ingest_live

MCP_LIBRARY_HEADER = "x-footnote-library"


def mcp_behind_login(demo: gr.Blocks, url: str, auth: tuple[str, str]) -> None:
    """Let Gradio's MCP server call the tools behind `--auth`: its own client (one per app, made on first use)
    cannot log in, so it is made here, logged in; every MCP call must then bring the login itself
    (`check_mcp_login`), since Gradio's MCP routes do not ask for it. Pinned to gradio 6.31 (tests/test_mcp.py)."""
    from gradio_client import Client

    server = demo.mcp_server_obj
    if server is None:
        raise RuntimeError("the MCP server was not started (launch with mcp_server=True first)")
    server._client_instance = Client(
        url, auth=auth, headers={"x-gradio-user": "mcp"}, download_files=False, verbose=False,
        analytics_enabled=False, ssl_verify=False, _skip_components=False,
    )  # fmt: skip


def check_mcp_login(request: gr.Request, auth: tuple[str, str] | None) -> None:
    """With a login set, an MCP tool call must carry it as HTTP Basic credentials."""
    if auth is None:
        return
    expected = "Basic " + base64.b64encode(f"{auth[0]}:{auth[1]}".encode()).decode()
    if not hmac.compare_digest(request.headers.get("authorization", ""), expected):
        raise RagError("this Footnote asks for a login: give your MCP client the header Authorization: Basic "
                       "<base64 of user:password>")  # fmt: skip


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

    def session(self, request: gr.Request) -> str:
        """Whose library a call works on. Gradio's MCP server calls every tool through one client of its own (one
        session for all assistants), so in public mode an MCP client names its private library with a header."""
        if request.headers.get("x-gradio-user") != "mcp":
            return request.session_hash
        check_mcp_login(request, self.engine.app.auth)
        if not self.engine.app.public:
            return request.session_hash
        secret = request.headers.get(MCP_LIBRARY_HEADER, "")
        if len(secret) < 16:
            raise RagError(
                f"in public mode each MCP client has a private library: add the header {MCP_LIBRARY_HEADER}: <a "
                "secret of 16+ characters of your own> to your MCP client's configuration"
            )
        return "mcp-" + hashlib.sha256(secret.encode()).hexdigest()[:32]

    @shows_errors
    def upload(self, files: list[gr.FileData], request: gr.Request) -> list[dict]:
        """Add files (PDF, Markdown, text, HTML, Word) to the user's library so search and ask can use them.

        Returns one {name, status, message, pages, chunks, doc_id} per file; status is indexed, unchanged,
        replaced or failed (message says why and what to do).

        Args:
            files: the files to index.
        """
        library = self.engine.library(self.session(request))
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
        """Answer a question from the user's own documents, citing the pages it used.

        The answer is written by a local model from passages of the indexed documents only; each claim carries a
        marker [n] pointing to citations[n] (document, page, quoted sentence). When the documents do not hold the
        answer it says so ("abstained": true) instead of guessing; "unsupported" lists sentences no passage backs.
        Streams {status: retrieved, sources}, {status: evidence, evidence}, {status: waiting, waited_s} about once a
        second while the model reads, {status: streaming, answer}, then {status: done, answer, citations, sources,
        abstained, unsupported} (the `python -m rag ask --json` object).

        Args:
            question: the question, in plain words, as the user would ask it.
            documents: only these documents (names or doc_ids from list_documents); empty for all of them.
            history: earlier turns as [{role, content}] so a follow-up ("and in 2021?") is understood.
            top_k: how many passages the model reads (0 = the library's default, 5).
            mode: "hybrid" (default), "dense" or "bm25".
        """
        defaults = ChatOptions.defaults(self.engine.settings)
        options = replace(defaults, retrieval=mode or defaults.retrieval, top_k=top_k or defaults.top_k)
        turns = [dict(m) for m in history or []]
        for update in respond(self.engine, question, turns, documents, options, self.session(request)):
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
        """Search the user's documents for passages about a query; no model writes anything.

        Returns the best passages, best first, each {document, page, score, text, start, end, chunk_id}: `page` is
        the 1-based page the text is on and `start`/`end` are character offsets into that page's text.

        Args:
            query: what to look for, in plain words or keywords.
            k: how many passages to return (default 5).
            documents: only these documents (names or doc_ids from list_documents); empty for all of them.
        """
        library = self.engine.library(self.session(request))
        return [hit_json(h) for h in library.search(query, k=k or None, documents=documents or None)]

    @shows_errors
    def list_documents(self, request: gr.Request) -> list[dict]:
        """List the documents in the user's library, oldest first.

        Returns [{doc_id, name, kind, pages, chunks, added_at, warnings}]; a name or doc_id restricts search and
        ask to that document.
        """
        return [document_json(d) for d in self.engine.library(self.session(request)).documents()]

    @shows_errors
    def delete(self, document: str, request: gr.Request) -> dict:
        """Remove one document from the user's library (its passages, pages and kept copy); returns what was removed.

        Args:
            document: its name or doc_id, as list_documents shows it.
        """
        return document_json(self.engine.library(self.session(request)).delete(document))


def answer_json(answer: Any) -> dict[str, Any]:
    """Return the finished answer like `python -m rag ask --json` does, plus the status and the answer as Markdown
    with real footnotes (`rag.export`)."""
    return {**rag_answer_json(answer), "status": "done", "markdown": answer_markdown(answer)}


def _status(update: ChatUpdate) -> str:
    """Which stage of an answer a streamed update shows (see `Api.ask`)."""
    if update.text:
        return "streaming"
    if update.waited:
        return "waiting"
    return "evidence" if update.evidence else "retrieved"


def _views(update: Any) -> list[dict[str, Any]]:
    return [{"n": v.n, "document": v.document, "page": v.page, "score": round(v.score, 4)} for v in update.views]
