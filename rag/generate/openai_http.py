"""An OpenAI-compatible chat server over HTTP (llama.cpp server, vLLM, Ollama, LM Studio, OpenAI itself).

Replies stream as server-sent events (`data: {...}` lines, ending with `data: [DONE]`). The API key
is sent as a bearer token and never logged, printed or shown in repr.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable, Iterator
from typing import Any

from rag.config import Settings
from rag.errors import GenerationError, ModelLoadError
from rag.generate.generator import LazyGenerator, Message, chat_request, delta_text

logger = logging.getLogger(__name__)

_CHARS_PER_TOKEN = 3.0  # conservative estimate: real tokenizers give ~3.5-4.5 chars per token in English


class OpenAIGenerator(LazyGenerator):
    """Streams chat completions from `settings.openai_base_url` (e.g. http://127.0.0.1:8080/v1)."""

    def __init__(self, settings: Settings) -> None:
        super().__init__(settings)
        self.base_url = settings.openai_base_url.rstrip("/")
        self.model = settings.openai_model
        self.name = f"openai:{self.model}"
        self._client: Any = None

    def _load(self) -> None:
        import httpx

        headers = {"Authorization": f"Bearer {self.settings.openai_api_key}"} if self.settings.openai_api_key else {}
        # Generous read timeout: a CPU server may prefill for a minute before the first token.
        self._client = httpx.Client(base_url=self.base_url, headers=headers, timeout=httpx.Timeout(10.0, read=300.0))

    def _close(self) -> None:
        if self._client is not None:
            self._client.close()
            self._client = None

    def count_tokens(self, text: str) -> int:
        """Return an estimate (the OpenAI API has no tokenizer endpoint); errs on the high side."""
        return int(len(text) / _CHARS_PER_TOKEN) + 1

    def _stream(self, messages: list[Message], max_tokens: int, temperature: float, stop: list[str]) -> Iterator[str]:
        return self._events({"model": self.model, **chat_request(messages, max_tokens, temperature, stop)})

    def _events(self, body: dict) -> Iterator[str]:
        """POST the request and yield content deltas from the SSE stream."""
        import httpx

        try:
            with self._client.stream("POST", "/chat/completions", json=body) as response:
                if response.status_code >= 400:
                    response.read()
                    raise GenerationError(
                        f"{self.base_url} answered HTTP {response.status_code}: {self._redact(response.text[:300])}; "
                        "check RAG_OPENAI_BASE_URL, RAG_OPENAI_MODEL and RAG_OPENAI_API_KEY"
                    )
                for line in response.iter_lines():
                    if not line.startswith("data:"):
                        continue  # comments, keep-alives and event names
                    data = line[5:].strip()
                    if data == "[DONE]":
                        return
                    yield from _content(data, self.base_url, self._redact)
        except httpx.ConnectError as exc:
            raise ModelLoadError(
                f"cannot reach the OpenAI-compatible server at {self.base_url}; is it running? (RAG_OPENAI_BASE_URL)"
            ) from exc
        except httpx.HTTPError as exc:
            raise GenerationError(
                f"the server at {self.base_url} failed while answering: {self._redact(str(exc))}"
            ) from exc

    def _redact(self, text: str) -> str:
        """Return `text` with the API key replaced by ***: servers and proxies may echo what they were sent."""
        key = self.settings.openai_api_key
        return text.replace(key, "***") if key else text


def _content(data: str, base_url: str, redact: Callable[[str], str] = str) -> Iterator[str]:
    """Yield the text of one SSE data payload; raise GenerationError for a malformed or error payload."""
    try:
        event = json.loads(data)
    except ValueError as exc:
        raise GenerationError(f"{base_url} sent a malformed stream event: {redact(repr(data[:200]))}") from exc
    if not isinstance(event, dict):
        raise GenerationError(f"{base_url} sent a malformed stream event: {redact(repr(data[:200]))}")
    yield from delta_text(event, base_url, redact)
