"""The one place a RagError becomes a message on the page: `gr.Error` with the text escaped.

Gradio renders `gr.Error`/`gr.Info` messages as HTML, and ours can contain file names and questions,
so they are escaped here. A RagError or a person's slip is one line in the terminal, not a traceback; other
exceptions are bugs: they pass through with their traceback.
"""

from __future__ import annotations

import functools
import logging
from collections.abc import Callable, Iterator
from typing import Any, TypeVar

import gradio as gr

from rag.errors import RagError

from .render import escape

F = TypeVar("F", bound=Callable[..., Any])
logger = logging.getLogger("footnote")


def user_error(exc: RagError) -> gr.Error:
    logger.warning("%s", exc)
    return gr.Error(escape(str(exc)), print_exception=False)


def mistake(message: str) -> gr.Error:
    """An error for a person's slip ("Type a question first."): shown on the page, silent in the terminal."""
    return gr.Error(escape(message), print_exception=False)


def info(message: str) -> None:
    """Show a short notice; `message` is plain text."""
    gr.Info(escape(message))


def shows_errors(fn: F) -> F:
    """Wrap a handler so a RagError is shown to the person instead of failing the event."""

    @functools.wraps(fn)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return fn(*args, **kwargs)
        except RagError as exc:
            raise user_error(exc) from exc

    return wrapper  # type: ignore[return-value]


def streams_errors(fn: F) -> F:
    """Like `shows_errors` for generator handlers (Gradio streams only from generator functions)."""

    @functools.wraps(fn)
    def wrapper(*args: Any, **kwargs: Any) -> Iterator[Any]:
        try:
            yield from fn(*args, **kwargs)
        except RagError as exc:
            raise user_error(exc) from exc

    return wrapper  # type: ignore[return-value]
