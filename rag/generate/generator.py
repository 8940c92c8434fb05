"""The generator seam: a chat model that streams text, whatever runs it.

    generator = load_generator(settings)         # rag.generate.registry: cheap, the model loads on first use, once
    for piece in generator.stream(messages, max_tokens=64, temperature=0.1):
        print(piece, end="")

`Generator` is a Protocol: anything with these members is a generator (the backends in this package, the tests'
fake). Callers always pass `max_tokens` and `temperature`: one generator is shared by every session that uses
its model, each with its own settings, so a generator has no answer settings of its own to fall back on.
`LazyGenerator` is what the bundled backends share: the model loads once, on first use, under a lock.
"""

from __future__ import annotations

import threading
from abc import ABC, abstractmethod
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Literal, Protocol, runtime_checkable

from rag.config import Settings
from rag.errors import GenerationError

Role = Literal["system", "user", "assistant"]


@dataclass(frozen=True)
class Message:
    """One chat turn sent to a generator."""

    role: Role
    content: str


@runtime_checkable
class Generator(Protocol):
    """A chat model that streams its reply. Closing the stream's iterator stops generation."""

    name: str

    def load(self) -> None:
        """Load the model now (otherwise the first `stream` or `count_tokens` does); safe to call twice."""
        ...

    def stream(
        self, messages: Sequence[Message], *, max_tokens: int, temperature: float, stop: Sequence[str] = ()
    ) -> Iterator[str]:
        """Yield the reply's text pieces as they are produced; raise GenerationError when the backend fails.

        A backend may yield "" (HEARTBEAT) while it is still reading the prompt, so a caller can show that it
        waits; "" is never part of the reply.
        """
        ...

    def count_tokens(self, text: str) -> int:
        """Return how many tokens `text` costs in this model's prompt."""
        ...

    def close(self) -> None:
        """Free the model; it loads again if used after this."""
        ...


HEARTBEAT = ""  # yielded by `stream` while the prompt is still being read (see Generator.stream)
HEARTBEAT_S = 1.0  # at most this long between heartbeats


def complete(generator: Generator, messages: Sequence[Message], max_tokens: int, stop: Sequence[str] = ()) -> str:
    """Return the whole greedy reply as one string."""
    return "".join(generator.stream(messages, max_tokens=max_tokens, temperature=0.0, stop=stop))


class LazyGenerator(ABC):
    """Base of the bundled backends: `_load` runs once, on first use, under a lock."""

    name: str = "generator"

    def __init__(self, settings: Settings) -> None:
        self.settings = settings  # where the model is and how to run it (threads, n_ctx, server address)
        self.n_ctx = settings.n_ctx
        self._load_lock = threading.Lock()
        self._loaded = False

    def load(self) -> None:
        with self._load_lock:
            if not self._loaded:
                self._load()
                self._loaded = True

    @abstractmethod
    def _load(self) -> None:
        """Do the expensive part of construction; raise ModelLoadError on failure."""

    def stream(
        self, messages: Sequence[Message], *, max_tokens: int, temperature: float, stop: Sequence[str] = ()
    ) -> Iterator[str]:
        self.load()
        return self._stream(list(messages), max_tokens, temperature, list(stop))

    @abstractmethod
    def _stream(self, messages: list[Message], max_tokens: int, temperature: float, stop: list[str]) -> Iterator[str]:
        """Backend-specific streaming."""

    @abstractmethod
    def count_tokens(self, text: str) -> int: ...

    def close(self) -> None:
        with self._load_lock:
            self._close()
            self._loaded = False

    def _close(self) -> None:  # noqa: B027 - optional hook, most backends hold nothing to free
        """Backend hook for `close`."""

    def __repr__(self) -> str:
        return f"{type(self).__name__}(name={self.name!r}, n_ctx={self.n_ctx})"


def chat_request(messages: Sequence[Message], max_tokens: int, temperature: float, stop: Sequence[str]) -> dict:
    """The OpenAI-style streamed chat request that llama.cpp (in process) and OpenAI-compatible servers take."""
    request: dict = {
        "messages": [{"role": m.role, "content": m.content} for m in messages],
        "max_tokens": max_tokens,
        "temperature": temperature,
        "stream": True,
    }
    if stop:
        request["stop"] = list(stop)
    return request


def delta_text(event: Mapping, source: str, redact: Callable[[str], str] = str) -> Iterator[str]:
    """Yield the text of one OpenAI-style streamed chat event; raise GenerationError for an error event.

    llama.cpp (in process) and OpenAI-compatible servers stream the same shape:
    {"choices": [{"delta": {"content": "..."}}]}, or {"error": {...}} / {"code": ..., "message": ...} on failure.
    `redact` hides secrets a server may echo back.
    """
    if "error" in event or ("code" in event and "message" in event):
        error = event.get("error", event)
        message = error.get("message", error) if isinstance(error, Mapping) else error
        raise GenerationError(f"{source} failed while answering: {redact(str(message))}")
    for choice in event.get("choices", ()):
        piece = (choice.get("delta") or {}).get("content")
        if piece:
            yield piece
