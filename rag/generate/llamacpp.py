"""llama.cpp through xllamacpp: a GGUF model served in-process, streamed token by token.

xllamacpp's `Server.handle_chat_completions` blocks until the reply is complete and calls a callback
with each OpenAI-style delta chunk, so we run it on a worker thread and hand the chunks over a queue.
A callback that returns True stops generation, which is how closing the iterator cancels the answer.

`cache_prompt` keeps the previous request's KV cache: when the system prompt (instructions, then the
same passages) repeats, only the new tail is prefilled — that is why the prompt puts stable parts first.
`RAG_LLM_PROMPT_CACHE=0` turns it off so that greedy output depends on the prompt alone (and the thread count:
benchmarks fix RAG_THREADS too).
"""

from __future__ import annotations

import logging
import queue
import threading
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

from rag.config import Settings, usable_cores
from rag.errors import GenerationError, ModelLoadError
from rag.generate.generator import HEARTBEAT, HEARTBEAT_S, LazyGenerator, Message, chat_request, delta_text

logger = logging.getLogger(__name__)

_DONE = object()  # end-of-stream marker on the queue


class LlamaCppGenerator(LazyGenerator):
    """A GGUF chat model in llama.cpp; `path_of()` gives the file (e.g. assembling the default model first)."""

    def __init__(self, settings: Settings, name: str, path_of: Callable[[], Path]) -> None:
        super().__init__(settings)
        self.name, self._path_of = name, path_of
        self._server: Any = None
        self._address = ""
        self._http: Any = None
        self._token_cache: dict[str, int] = {}
        # What llama.cpp reported for the last request: its "timings" (prompt_n, cache_n, prompt_ms, predicted_n, …;
        # absent when the request was cancelled) and how many chunks it streamed before it ended or was stopped.
        self.last_timings: dict[str, float] = {}
        self.last_chunks = 0
        self.last_logprobs: list[float] = []  # each generated token's log-probability (a confidence signal)

    def _load(self) -> None:
        import httpx
        import xllamacpp

        path = self._path_of()
        if not Path(path).is_file():
            raise ModelLoadError(f"model file {path} does not exist; check RAG_GENERATOR")
        params = xllamacpp.CommonParams()
        params.model.path = str(path)
        params.n_ctx = self.n_ctx
        params.n_parallel = 1  # one answer at a time: the slot keeps its prompt cache between answers
        params.cache_ram_mib = self.settings.llm_cache_mb  # earlier prompts kept in RAM: bounded (see Settings)
        params.no_extra_bufts = not self.settings.llm_repack_weights  # faster prompt reading (see Settings)
        # Every usable core unless RAG_THREADS says otherwise, however busy the box is now: beside 1-3 processes
        # spinning on a 2-core box two threads wrote the first token as soon as one or sooner (bench/llm_threads.py,
        # docs/speed.md), and a count chosen from a busy moment at load held a whole session to 1 core (session 16).
        threads = self.settings.threads or usable_cores()
        params.cpuparams.n_threads = threads
        params.cpuparams_batch.n_threads = threads
        params.port = 0  # the embedded HTTP server takes a free loopback port (used for /tokenize)
        params.warmup = False
        params.verbosity = -1 if not logger.isEnabledFor(logging.DEBUG) else 3
        try:
            self._server = xllamacpp.Server(params)
        except Exception as exc:  # xllamacpp raises RuntimeError/ValueError without detail
            raise ModelLoadError(f"llama.cpp could not load {path}: {exc}; is it a valid GGUF chat model?") from exc
        self._address = self._server.listening_address
        self._http = httpx.Client(base_url=self._address, timeout=60.0)
        logger.info("loaded %s (%s) with %d threads", self.name, path, threads)

    def _close(self) -> None:
        if self._http is not None:
            self._http.close()
        self._server = None  # the C++ destructor stops the server loop
        self._http = None

    def count_tokens(self, text: str) -> int:
        """Return the token count from the model's own tokenizer (llama.cpp's /tokenize), memoised."""
        if text in self._token_cache:
            return self._token_cache[text]
        self.load()
        try:
            response = self._http.post("/tokenize", json={"content": text})
            response.raise_for_status()
            count = len(response.json()["tokens"])
        except Exception as exc:
            raise GenerationError(f"counting tokens with {self.name} failed: {exc}") from exc
        if len(self._token_cache) < 50_000:
            self._token_cache[text] = count
        return count

    def _stream(self, messages: list[Message], max_tokens: int, temperature: float, stop: list[str]) -> Iterator[str]:
        request = chat_request(messages, max_tokens, temperature, stop)
        cache = self.settings.llm_prompt_cache
        return self._run({**request, "cache_prompt": cache, "logprobs": True, "top_logprobs": 1})

    def _run(self, request: dict) -> Iterator[str]:
        """Run one request on a worker thread; yield text deltas; cancel when the consumer stops."""
        chunks: queue.Queue = queue.Queue()
        cancel = threading.Event()
        self.last_timings, self.last_chunks, self.last_logprobs = {}, 0, []

        def on_chunk(chunk: dict) -> bool:
            self.last_chunks += 1
            if isinstance(chunk, dict) and isinstance(chunk.get("timings"), dict):
                self.last_timings = chunk["timings"]
            self.last_logprobs.extend(_logprobs(chunk))
            chunks.put(chunk)
            return cancel.is_set()  # True tells llama.cpp to stop generating

        def work() -> None:
            try:
                self._server.handle_chat_completions(request, on_chunk)
            except Exception as exc:  # handed to the consumer thread, which raises it
                chunks.put(exc)
            finally:
                chunks.put(_DONE)

        worker = threading.Thread(target=work, name=f"llama-{self.name}", daemon=True)
        worker.start()
        try:
            while (item := _next(chunks)) is not _DONE:
                if item is None:  # nothing yet: llama.cpp is still reading the prompt
                    yield HEARTBEAT
                    continue
                yield from _deltas(item, self.name)
        finally:
            cancel.set()
            worker.join(timeout=30)


def _next(chunks: queue.Queue) -> object:
    """The next chunk from the worker, or None when none came within HEARTBEAT_S."""
    try:
        return chunks.get(timeout=HEARTBEAT_S)
    except queue.Empty:
        return None


def _logprobs(chunk: object) -> list[float]:
    """The log-probabilities of the tokens in one streamed chunk (none when llama.cpp sent none)."""
    if not isinstance(chunk, dict) or not chunk.get("choices"):
        return []
    content = (chunk["choices"][0].get("logprobs") or {}).get("content") or []
    return [float(t["logprob"]) for t in content if isinstance(t, dict) and "logprob" in t]


def _deltas(item: object, name: str) -> Iterator[str]:
    """Yield the text in one streamed chunk; raise GenerationError for an error chunk or a worker exception."""
    if isinstance(item, Exception):
        raise GenerationError(f"{name} failed while answering: {item}") from item
    if isinstance(item, dict):
        yield from delta_text(item, name)
