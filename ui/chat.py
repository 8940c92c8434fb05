"""One chat turn: run the engine's `answer` and turn its events into chat messages and source views.

`respond` yields a `ChatUpdate` after the user's message is shown, once retrieval is done (sources appear
before the first token), after every token, and once the checked answer is in. It knows nothing about
Gradio components; `app.py` maps updates onto them. Chat messages are Gradio's dict format
(`{"role", "content", "metadata"}`); the "what the model saw" trace is a collapsible metadata message.
"""

from __future__ import annotations

import html
from collections.abc import Generator, Sequence
from dataclasses import dataclass, field
from typing import Any

from rag.config import Settings
from rag.generate.generator import Message
from rag.generate.pipeline import Done, Quoted, Retrieved, Token, Waiting, answer
from rag.types import Answer, Citation

from .engine import Engine, SessionSearch
from .memory import release_freed_memory
from .render import answer_markdown, chat_markdown, evidence_markdown, split_evidence, trace_markdown
from .views import SourceView, views_from_answer, views_from_hits

TRACE_TITLE = "What the model saw"
ChatMessage = dict[str, Any]


@dataclass(frozen=True)
class ChatOptions:
    """The settings a person can change for their own session (the Settings accordion)."""

    retrieval: str = "hybrid"
    top_k: int = 5
    rerank: bool = False
    expand: bool = False
    generator: str = ""  # "" = the app's default model
    temperature: float = 0.1
    max_new_tokens: int = 384
    system_prompt: str = ""

    @classmethod
    def defaults(cls, settings: Settings) -> ChatOptions:
        return cls(
            settings.retrieval,
            settings.top_k,
            settings.reranker != "none",
            settings.expansion != "none",
            settings.generator,
            settings.temperature,
            settings.max_new_tokens,
            settings.system_prompt,
        )

    def apply(self, settings: Settings) -> Settings:
        """Return `settings` with this session's choices applied."""
        return settings.replace(
            retrieval=self.retrieval,
            top_k=int(self.top_k),
            reranker=("embed" if settings.reranker == "none" else settings.reranker) if self.rerank else "none",
            expansion="prf" if self.expand else "none",
            generator=self.generator or settings.generator,
            temperature=float(self.temperature),
            max_new_tokens=int(self.max_new_tokens),
            system_prompt=self.system_prompt.strip(),
        )


@dataclass(frozen=True)
class ChatUpdate:
    """What the page shows at one moment of a turn. `answer` is set on the last update only."""

    history: list[ChatMessage]
    views: list[SourceView] = field(default_factory=list)
    note: str = ""
    text: str = ""  # the answer so far, raw (the chat shows it escaped)
    evidence: tuple[Citation, ...] = ()  # the documents' sentences shown above the answer
    waited: float = 0.0  # seconds since the question, while the model reads the passages (before its first word)
    answer: Answer | None = None


def respond(
    engine: Engine,
    question: str,
    history: Sequence[ChatMessage],
    documents: Sequence[str] | None,
    options: ChatOptions,
    session: str,
) -> Generator[ChatUpdate, None, None]:
    """Yield the page's state through one question; raises RagError for the UI to show. A generator: closing it
    (Stop) closes the model's stream too."""
    shown = [*history, {"role": "user", "content": question}]
    yield ChatUpdate(shown, note="Searching your documents…")
    settings = options.apply(engine.settings)
    library = engine.library(session)
    generator = engine.generator(settings)
    trace: ChatMessage = _trace("", [], status="pending", title="Searching your documents…")
    text = ""
    events = answer(
        question,
        SessionSearch(library, settings),
        generator,
        history=to_turns(history),
        settings=settings,
        documents=list(documents) if documents else None,
    )
    views: list[SourceView] = []
    quotes: tuple[Citation, ...] = ()
    quoted = ""  # the documents' own sentences, shown above the answer from before its first token
    how = ""  # how the passages were found (mode, the library's BM25 weight, re-ranking), once per turn
    for event in events:
        if isinstance(event, Retrieved):
            views = views_from_hits(event.hits)
            how = library.describe_search(settings)
            trace = _trace(trace_markdown(event.query, event.hits, how=how), event.hits, status="pending")
            yield ChatUpdate([*shown, trace], views, note="Retrieved passages; writing the answer…")
        elif isinstance(event, Quoted):
            quotes, quoted = event.evidence, evidence_markdown(event.evidence)
            reply = {"role": "assistant", "content": quoted + waiting_markdown(0)}
            yield ChatUpdate([*shown, trace, reply], views, note="Retrieved passages; writing the answer…", evidence=quotes)
        elif isinstance(event, Waiting):  # the model is reading the prompt: show that time passes
            reply = {"role": "assistant", "content": quoted + waiting_markdown(event.seconds)}
            yield ChatUpdate([*shown, trace, reply], views, note="Writing the answer…", evidence=quotes,
                             waited=event.seconds)  # fmt: skip
        elif isinstance(event, Token):
            text += event.text
            reply = {"role": "assistant", "content": quoted + chat_markdown(text)}
            yield ChatUpdate([*shown, trace, reply], views, note="Writing the answer…", text=text, evidence=quotes)
        elif isinstance(event, Done):
            release_freed_memory()  # an answer's buffers (prompt, embeddings, citation checks) are free now
            yield _finished(shown, event.answer, how or library.describe_search(settings))


def waiting_markdown(seconds: float) -> str:
    """The line shown where the answer will be, while the model reads the passages."""
    return f"*Writing the answer… reading the passages, {seconds:.0f} s*" if seconds >= 1 else "*Writing the answer…*"


def _finished(shown: list[ChatMessage], answer: Answer, how: str) -> ChatUpdate:
    timings = {k: v for k, v in answer.timings.items() if k in ("retrieve", "evidence", "first_token", "total")}
    trace = _trace(trace_markdown(answer.query, answer.sources, timings, how), answer.sources, status="done")
    if "total" in answer.timings:
        trace["metadata"]["duration"] = round(answer.timings["total"], 2)
    quoted = evidence_markdown(answer.evidence, closest=answer.abstained)
    reply = {"role": "assistant", "content": quoted + answer_markdown(answer)}
    views = views_from_answer(answer)
    if answer.abstained:
        note = "No passage answers this question; these are the closest ones."
    else:
        note = f"{len(answer.citations)} cited passage(s). Pick a number to see its page."
    return ChatUpdate([*shown, trace, reply], views, note=note, text=answer.text, answer=answer)


def stopped(update: ChatUpdate) -> ChatUpdate:
    """The page once Stop ended the turn: the words so far stay, the trace is closed, the panel says why."""
    history = [_closed(message) for message in update.history]
    note = "Stopped before the end of the answer: it was not checked or saved. Retry asks again."
    return ChatUpdate(history, update.views, note=note, text=update.text, evidence=update.evidence)


def _closed(message: ChatMessage) -> ChatMessage:
    metadata = message.get("metadata") if isinstance(message, dict) else None
    if not (isinstance(metadata, dict) and metadata.get("status") == "pending"):
        return message
    return {**message, "metadata": {**metadata, "status": "done"}}


def replay(answers: Sequence[Answer]) -> ChatUpdate:
    """The chat of a saved conversation, as it looked when each answer finished; views are the last answer's."""
    update = ChatUpdate([])
    for saved in answers:
        update = _finished([*update.history, {"role": "user", "content": saved.question}], saved, "")
    return update


def _trace(content: str, hits: Sequence[Any], status: str, title: str = "") -> ChatMessage:
    title = title or f"{TRACE_TITLE} ({len(hits)} passages)"
    return {"role": "assistant", "content": content, "metadata": {"title": title, "status": status}}


def to_turns(history: Sequence[ChatMessage]) -> list[Message]:
    """Return the conversation for the engine: user and answer messages as plain text, traces left out."""
    turns: list[Message] = []
    for message in history:
        role = _get(message, "role")
        metadata = _get(message, "metadata") or {}
        if role not in ("user", "assistant") or (isinstance(metadata, dict) and metadata.get("title")):
            continue
        text = content_text(_get(message, "content"))
        if role == "assistant":  # the model's own words only, not the quotes shown above them
            text = split_evidence(text)[1]
        if text:
            turns.append(Message(role, html.unescape(text) if role == "assistant" else text))
    return turns


def content_text(content: Any) -> str:
    """Return the text of a message's content: a str, or Gradio 6's list of parts."""
    if isinstance(content, str):
        return content
    if isinstance(content, dict):
        return str(content.get("text") or "")
    if isinstance(content, (list, tuple)):
        return "".join(content_text(part) for part in content)
    return ""


def last_question(history: Sequence[ChatMessage], index: int | None = None) -> tuple[list[ChatMessage], str]:
    """Return (history before the last user message at or before `index`, that message's text)."""
    end = len(history) - 1 if index is None else min(index, len(history) - 1)
    for i in range(end, -1, -1):
        if _get(history[i], "role") == "user":
            return list(history[:i]), content_text(_get(history[i], "content"))
    return list(history), ""


def _get(message: Any, key: str) -> Any:
    return message.get(key) if isinstance(message, dict) else getattr(message, key, None)
