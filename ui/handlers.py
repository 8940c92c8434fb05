"""Event handlers for the page: thin functions that call the engine and format what it returns.

Each handler takes component values (and `gr.Request` for the session) and returns or yields component
updates in the order `app.py` wires them. A RagError becomes an escaped `gr.Error` (see ui.errors).
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import gradio as gr

from rag.errors import RagError
from rag.feedback import record

from .api import uploads_from
from .chat import ChatOptions, ChatUpdate, last_question, respond, stopped
from .conversations import ConversationHandlers
from .engine import Engine
from .errors import info, mistake, shows_errors, streams_errors
from .feedback import RatedAnswers
from .render import documents_html, outcomes_html, sources_html
from .stopping import StopRequests
from .uploads import check_limits, ingest_live
from .views import SourceView


class Handlers:
    """Event handlers: a RagError becomes an escaped gr.Error (ui.errors); other exceptions are bugs."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self._rated = RatedAnswers()  # finished answers by session and message, for 👍/👎
        self.conversations = ConversationHandlers(engine)  # each finished answer is saved in the tab's conversation
        self._stops = StopRequests()  # the Stop button, checked by the running answer between its updates

    # ---- documents -------------------------------------------------------------------------------------
    def documents(self, request: gr.Request, selected: list[str] | None = None) -> tuple[Any, Any, Any]:
        """Return (document table, filter checkboxes, remove dropdown) for this session's library.

        Raises RagError: callers are handlers that already turn it into a message.
        """
        library = self.engine.library(request.session_hash)
        docs = library.documents()
        choices = [(d.name, d.doc_id) for d in docs]
        ids = {d.doc_id for d in docs}
        kept = [s for s in selected or [] if s in ids]
        return (
            documents_html(docs),
            gr.update(choices=choices, value=kept),
            gr.update(choices=choices, value=None),
        )

    def refresh(self, filter_value: list[str] | None, request: gr.Request) -> tuple[Any, ...]:
        """Timer/load: the status line, the document list, and stop polling once everything is loaded."""
        status = f"**Status:** {self.engine.status}"
        if not self.engine.loaded:
            return status, gr.skip(), gr.skip(), gr.skip(), gr.Timer(active=True)
        try:
            docs = self.documents(request, filter_value)
        except RagError as exc:
            return f"**Status:** {exc}", gr.skip(), gr.skip(), gr.skip(), gr.Timer(active=False)
        loading = self.engine.status != "Ready" and not self.engine.status.startswith("Search works")
        return (status, *docs, gr.Timer(active=loading))

    @streams_errors
    def upload(self, files: list[Any] | None, filter_value: list[str] | None, request: gr.Request,
               progress: gr.Progress = gr.Progress()) -> Iterator[tuple[Any, ...]]:  # fmt: skip
        """Index dropped files, showing each file's stage as it goes; finally refresh the document list."""
        uploads = uploads_from(files)
        if not uploads:
            return
        library = self.engine.library(request.session_hash)
        accepted, refused = check_limits(uploads, len(library.documents()), self.engine.app)
        rows: list[tuple[str, str, str]] = []
        report = lambda share, desc: progress(share, desc=desc)  # noqa: E731
        for rows, _final in ingest_live(library, accepted, report) if accepted else ():
            yield outcomes_html(rows + refused), gr.skip(), gr.skip(), gr.skip(), gr.skip()
        yield (outcomes_html(rows + refused), *self.documents(request, filter_value), None)

    @shows_errors
    def remove(self, doc_id: str | None, filter_value: list[str] | None, request: gr.Request) -> tuple[Any, ...]:
        if not doc_id:  # a person's slip: shown on the page, no traceback in the terminal
            raise mistake("Pick a document to remove first.")
        removed = self.engine.library(request.session_hash).delete(doc_id)
        info(f"Removed {removed.name}")
        return self.documents(request, filter_value)

    # ---- chat ------------------------------------------------------------------------------------------
    @streams_errors
    def ask(self, message: str, history: list[Any], documents: list[str] | None, mode: str, k: float,
            rerank: bool, expand: bool, model: str, temperature: float, max_tokens: float, system: str,
            request: gr.Request) -> Iterator[tuple]:  # fmt: skip
        question = (message or "").strip()
        if not question:
            raise mistake("Type a question first.")
        options = ChatOptions(mode, int(k), rerank, expand, model, temperature, int(max_tokens), system or "")
        yield from self._stream(question, history or [], documents, options, request)

    @streams_errors
    def retry(self, history: list[Any], documents: list[str] | None, mode: str, k: float, rerank: bool,
              expand: bool, model: str, temperature: float, max_tokens: float, system: str,
              retry_data: gr.RetryData, request: gr.Request) -> Iterator[tuple]:  # fmt: skip
        before, question = last_question(history, retry_data.index)
        options = ChatOptions(mode, int(k), rerank, expand, model, temperature, int(max_tokens), system or "")
        if question:
            self.conversations.take_back(request.session_hash, question)  # the new answer replaces the saved one
            yield from self._stream(question, before, documents, options, request)

    def undo(self, history: list[Any], undo_data: gr.UndoData, request: gr.Request) -> tuple[list[Any], str]:
        before, question = last_question(history, undo_data.index)
        self.conversations.take_back(request.session_hash, question)
        return before, question

    def stop(self, request: gr.Request) -> None:
        """The Stop button: the running answer ends itself at its next update (see ui.stopping)."""
        self._stops.request(request.session_hash)

    def _stream(self, question: str, history: list[Any], documents: list[str] | None, options: ChatOptions,
                request: gr.Request) -> Iterator[tuple]:  # fmt: skip
        session = request.session_hash
        self._stops.begin(session)
        updates = respond(self.engine, question, history, documents, options, session)
        try:
            yield from self._shown(updates, request)
        finally:
            updates.close()  # on Stop: closes the model's stream, so it stops decoding now
            self._stops.end(session)

    def _shown(self, updates: Iterator[ChatUpdate], request: gr.Request) -> Iterator[tuple]:
        # The previous answer's picker and page go away as soon as a new question starts.
        reset = (gr.update(choices=[], value=None), gr.update(value=None, visible=False))
        box = ""  # the question box is cleared once; a question typed while the answer streams stays in it
        for update in updates:
            if update.answer is None and self._stops.requested(request.session_hash):  # a finished answer stays
                end = stopped(update)
                yield box, end.history, sources_html(end.views, note=end.note), gr.skip(), gr.skip(), end.views
                return
            panel = sources_html(update.views, note=update.note)
            if update.answer is None:
                yield box, update.history, panel, *(reset or (gr.skip(), gr.skip())), update.views
                reset, box = None, gr.skip()
                continue
            self._rated.remember(request.session_hash, len(update.history) - 1, update.answer)
            self.conversations.record(request.session_hash, update.answer)
            first = update.views[0].n if update.views else None
            picker = gr.update(choices=[(v.label, v.n) for v in update.views], value=first)
            image = self._image(update.views, first, request)
            yield box, update.history, sources_html(update.views, first, update.note), picker, image, update.views

    @shows_errors
    def rate(self, note: str, like: gr.LikeData, request: gr.Request) -> str:
        """👍/👎 on an answer: stored with its question, citations and passages (`rag.feedback`); clears the note."""
        if not isinstance(like.liked, bool):  # a rating taken back, or a choice we do not offer
            return note
        index = like.index[0] if isinstance(like.index, (list, tuple)) else like.index
        answer = self._rated.find(request.session_hash, int(index))
        if answer is None:
            raise mistake("Rate the answer itself (the message with the citations), once it has finished.")
        library = self.engine.library(request.session_hash)
        files = {c.chunk.doc_id: library.index.document_file(c.chunk.doc_id) for c in answer.citations}
        record(library.settings.data_dir, answer, like.liked, note or "", files)
        info("Thanks: your rating is saved with this library (python -m rag eval --dataset feedback:DATA_DIR).")
        return ""

    @shows_errors
    def pick(self, n: int | None, views: list[SourceView], request: gr.Request) -> tuple[str, Any]:
        """Bring source [n] to the top of the panel and show its page."""
        return sources_html(views, n), self._image(views, n, request)

    def release(self, request: gr.Request) -> None:
        """The page was closed: drop its private library (public mode)."""
        self.engine.release(request.session_hash)

    def clear(self, request: gr.Request) -> tuple[Any, ...]:
        """The chat's Clear button: an empty chat, and the next answer starts a new conversation."""
        self.conversations.forget(request.session_hash)
        return sources_html([]), gr.update(choices=[], value=None), gr.update(value=None, visible=False), []

    def _image(self, views: list[SourceView], n: int | None, request: gr.Request) -> Any:
        view = next((v for v in views if v.n == n), None)
        if view is None:
            return gr.update(value=None, visible=False)
        image = self.engine.page_image(request.session_hash, view.doc_id, view.page, view.marked or (view.text[:200],))
        if image is None:
            return gr.update(value=None, visible=False)
        return gr.update(value=image, visible=True, label=f"{view.document}, page {view.page}")
