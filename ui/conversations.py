"""The sidebar's conversations: every finished answer is saved in the session library's data dir
(`rag.conversations`); the list is searchable by title; a conversation opens again (after a restart too) with its
chat and the last answer's sources; New, Rename, Delete and Export (Markdown with real footnotes, `rag.export`).

Which conversation a tab is in lives here, by session; in local mode the store is the library's own folder, so
conversations outlive the app; in public mode it is the visitor's temporary folder and goes with the session.
"""

from __future__ import annotations

import re
import threading
from typing import Any

import gradio as gr

from rag.conversations import ConversationNotFoundError, Conversations
from rag.export import conversation_markdown
from rag.types import Answer

from .chat import replay
from .engine import Engine
from .errors import info, mistake, shows_errors
from .render import sources_html


class ConversationHandlers:
    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self._current: dict[str, str | None] = {}  # session -> the conversation its chat continues
        self._lock = threading.Lock()

    def store(self, session: str) -> Conversations:
        return Conversations(self.engine.library(session).settings.data_dir)

    def record(self, session: str, answer: Answer) -> None:
        """Called when an answer is finished: append it to the tab's conversation (a new one at first)."""
        with self._lock:
            self._current[session] = self.store(session).add_turn(self._current.get(session), answer)

    def take_back(self, session: str, question: str) -> None:
        """Retry or Undo removed the answer to `question` from the chat: remove it from the saved conversation too
        (only if it was saved: an answer stopped before the end never was)."""
        with self._lock:
            conversation = self._current.get(session)
            if not conversation:
                return
            store = self.store(session)
            try:
                saved = store.answers(conversation)
            except ConversationNotFoundError:  # deleted meanwhile (another tab): nothing to take back
                return
            if saved and saved[-1].question == question:
                store.drop_last(conversation)

    def forget(self, session: str) -> None:
        with self._lock:
            self._current.pop(session, None)

    # ---- event handlers (inputs from the page, a gr.Request last) -------------------------------------------
    @shows_errors
    def listing(self, search: str, request: gr.Request) -> Any:
        found = self.store(request.session_hash).listing(search or "")
        choices = [(f"{c.title} · {c.turns} question{'s' if c.turns != 1 else ''}", c.id) for c in found]
        current = self._current.get(request.session_hash)
        return gr.update(choices=choices, value=current if current in {c.id for c in found} else None)

    @shows_errors
    def open(self, conversation: str | None, request: gr.Request) -> tuple[Any, ...]:
        """Show a saved conversation: its chat, and the last answer's sources ready to pick."""
        if not conversation:
            return (gr.skip(),) * 5
        answers = self.store(request.session_hash).answers(conversation)
        with self._lock:
            self._current[request.session_hash] = conversation
        update = replay(answers)
        first = update.views[0].n if update.views else None
        picker = gr.update(choices=[(v.label, v.n) for v in update.views], value=first)
        return update.history, sources_html(update.views, first, update.note), picker, gr.update(visible=False), update.views

    def new(self, request: gr.Request) -> tuple[Any, ...]:
        """An empty chat; the next answer starts a new conversation."""
        self.forget(request.session_hash)
        empty = gr.update(choices=[], value=None)
        return [], sources_html([]), empty, gr.update(value=None, visible=False), [], gr.update(value=None)

    @shows_errors
    def rename(self, title: str, request: gr.Request) -> tuple[Any, str]:
        conversation = self._current.get(request.session_hash)
        if not conversation:
            raise mistake("Open or start a conversation first, then rename it.")
        self.store(request.session_hash).rename(conversation, title or "")
        return self.listing("", request), ""

    @shows_errors
    def delete(self, request: gr.Request) -> tuple[Any, ...]:
        conversation = self._current.get(request.session_hash)
        if not conversation:
            raise mistake("Open the conversation to delete first.")
        self.store(request.session_hash).delete(conversation)
        info("Conversation deleted.")
        return self.new(request)

    @shows_errors
    def export(self, request: gr.Request) -> Any:
        """The tab's conversation as a Markdown file with real footnotes."""
        conversation = self._current.get(request.session_hash)
        if not conversation:
            raise mistake("Ask a question or open a conversation first; then export it.")
        store = self.store(request.session_hash)
        title = store.title(conversation)
        name = re.sub(r"[^A-Za-z0-9._-]+", "-", title).strip("-")[:60] or "conversation"
        # In the library's own folder: in public mode it goes with the visitor's session, like the conversation.
        path = store.data_dir / "exports" / f"{name}.md"
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(conversation_markdown(store.answers(conversation), title), encoding="utf-8")
        return gr.update(value=str(path), visible=True)


def conversations_panel(page: Any) -> None:
    """The sidebar's Conversations accordion (the components land on `page`)."""
    with gr.Accordion("Conversations", open=False, elem_id="conversations"):
        page.conv_search = gr.Textbox(placeholder="Search by title…", show_label=False, elem_id="conv-search")
        page.conv_pick = gr.Radio(choices=[], label="Open a conversation", elem_id="conv-list")
        with gr.Row():
            page.conv_new = gr.Button("New", elem_id="conv-new", min_width=60)
            page.conv_export = gr.Button("Export", elem_id="conv-export", min_width=60)
            page.conv_delete = gr.Button("Delete", variant="stop", elem_id="conv-delete", min_width=60)
        with gr.Row():
            page.conv_title = gr.Textbox(placeholder="New title", show_label=False, elem_id="conv-title", scale=3)
            page.conv_rename = gr.Button("Rename", elem_id="conv-rename", scale=1, min_width=60)
        page.conv_file = gr.File(label="Markdown with footnotes", visible=False, elem_id="conv-file")


def wire_conversations(demo: gr.Blocks, page: Any, c: ConversationHandlers, answers: list[Any]) -> None:
    """Connect the panel; `answers` are the chat events after which the list refreshes. Every event is named
    (private): an unnamed handler takes its function's name, and `delete` would push the API's /delete aside."""
    private = {"api_visibility": "private"}
    shown = [page.chatbot, page.sources, page.cite_pick, page.page_image, page.views]
    listed = ([page.conv_search], [page.conv_pick])
    demo.load(c.listing, *listed, **private)
    for event in answers:  # a finished answer was saved: the list shows its conversation
        event.then(c.listing, *listed, **private)
    page.conv_search.input(c.listing, *listed, api_name="conv_search", **private)
    page.conv_pick.input(c.open, [page.conv_pick], shown, api_name="conv_open", **private)
    page.conv_new.click(c.new, None, [*shown, page.conv_pick], api_name="conv_new", **private)
    deleted = page.conv_delete.click(c.delete, None, [*shown, page.conv_pick], api_name="conv_delete", **private)
    deleted.then(c.listing, *listed, **private)
    page.conv_rename.click(c.rename, [page.conv_title], [page.conv_pick, page.conv_title], api_name="conv_rename",
                           **private)  # fmt: skip
    page.conv_export.click(c.export, None, [page.conv_file], api_name="conv_export", **private)
