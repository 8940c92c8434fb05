"""The generator seam: one small interface every language-model backend implements.

    gen = load_generator(settings)                 # cheap: the model loads on first use, once
    for piece in gen.stream([Message("system", "..."), Message("user", "...")], max_tokens=64):
        print(piece, end="")

`settings.generator` picks the backend:
    "qwen2.5-1.5b"              the default: Qwen2.5-Coder-1.5B-Instruct GGUF in llama.cpp (verified by sha256)
    "smollm2-135m"              SmolLM2-135M GGUF in llama.cpp: fast plumbing tests, poor answers
    "gguf:PATH"                 any chat GGUF file in llama.cpp
    "transformers:PATH_OR_ID"   a local transformers model dir (or a hub id already in the offline cache)
    "openai"                    an OpenAI-compatible HTTP server (settings.openai_base_url / _api_key / _model)
"""

from __future__ import annotations

import threading
from abc import ABC, abstractmethod
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from .config import Settings
from .errors import ConfigError

Role = Literal["system", "user", "assistant"]
PRESETS = ("qwen2.5-1.5b", "smollm2-135m")


@dataclass(frozen=True)
class Message:
    """One chat turn sent to a generator."""

    role: Role
    content: str


class Generator(ABC):
    """A chat model that streams text. Subclasses load lazily and only once."""

    name: str = "generator"
    n_ctx: int = 4096

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.n_ctx = settings.n_ctx
        self._load_lock = threading.Lock()
        self._loaded = False

    def load(self) -> None:
        """Load the model now (otherwise the first `stream` or `count_tokens` does). Safe to call twice."""
        with self._load_lock:
            if not self._loaded:
                self._load()
                self._loaded = True

    @abstractmethod
    def _load(self) -> None:
        """Do the expensive part of construction; raise ModelLoadError on failure."""

    def stream(
        self,
        messages: Sequence[Message],
        max_tokens: int | None = None,
        temperature: float | None = None,
        stop: Sequence[str] = (),
    ) -> Iterator[str]:
        """Yield the reply's text pieces as they are produced; closing the iterator stops generation.

        `max_tokens`/`temperature` default to settings.max_new_tokens / settings.temperature.
        Raises GenerationError when the backend fails mid-answer.
        """
        self.load()
        max_tokens = self.settings.max_new_tokens if max_tokens is None else max_tokens
        temperature = self.settings.temperature if temperature is None else temperature
        return self._stream(list(messages), max_tokens, temperature, list(stop))

    @abstractmethod
    def _stream(self, messages: list[Message], max_tokens: int, temperature: float, stop: list[str]) -> Iterator[str]:
        """Backend-specific streaming; arguments are already resolved."""

    def complete(self, messages: Sequence[Message], max_tokens: int | None = None, stop: Sequence[str] = ()) -> str:
        """Return the whole reply as one string (greedy)."""
        return "".join(self.stream(messages, max_tokens=max_tokens, temperature=0.0, stop=stop))

    @abstractmethod
    def count_tokens(self, text: str) -> int:
        """Return the number of tokens `text` costs in this model's prompt."""

    def close(self) -> None:
        """Free the model. The generator loads again if used after this."""
        with self._load_lock:
            self._close()
            self._loaded = False

    def _close(self) -> None:  # noqa: B027 - optional hook, most backends hold nothing to free
        """Backend hook for `close`."""

    def __repr__(self) -> str:
        return f"{type(self).__name__}(name={self.name!r}, n_ctx={self.n_ctx})"


_CACHE: dict[tuple, Generator] = {}
_CACHE_LOCK = threading.Lock()


def load_generator(settings: Settings) -> Generator:
    """Return the generator named by `settings.generator`, shared by callers with the same settings.

    Construction is cheap; the model itself is loaded on first use (or by `.load()`), once.
    Raises ConfigError for an unknown generator name.
    """
    key = (
        settings.generator,
        settings.n_ctx,
        settings.threads,  # the configured value: resolved_threads follows the CPU load now and would reload
        str(settings.models_dir),
        settings.openai_base_url,
        settings.openai_model,
        settings.openai_api_key,
    )
    with _CACHE_LOCK:
        if key not in _CACHE:
            _CACHE[key] = create_generator(settings)
        return _CACHE[key]


def create_generator(settings: Settings) -> Generator:
    """Return a new, not yet loaded generator for `settings.generator` (no sharing)."""
    spec = settings.generator.strip()
    if spec in PRESETS or spec.startswith("gguf:"):
        from .generators.llamacpp import LlamaCppGenerator

        return LlamaCppGenerator(settings, *_gguf_source(spec, settings))
    if spec.startswith("transformers:"):
        from .generators.hf import TransformersGenerator

        return TransformersGenerator(settings, spec.removeprefix("transformers:"))
    if spec == "openai":
        from .generators.openai_http import OpenAIGenerator

        return OpenAIGenerator(settings)
    raise ConfigError(
        f"RAG_GENERATOR={spec!r} is not a generator; use one of {', '.join(PRESETS)}, "
        "gguf:/path/model.gguf, transformers:/path/or/id, or openai"
    )


def _gguf_source(spec: str, settings: Settings) -> tuple[str, Callable[[], Path]]:
    """Return the display name and a function giving the GGUF path (resolved only when the model loads)."""
    from . import models

    if spec == "qwen2.5-1.5b":
        return spec, lambda: models.default_gguf_path(settings)
    if spec == "smollm2-135m":
        return spec, models.smollm2_gguf_path
    path = Path(spec.removeprefix("gguf:")).expanduser()
    return path.name, lambda: path
