"""A transformers causal LM (a local model folder, or a hub id already in the offline cache).

`spec` is a folder or hub id; "DIR::FILE.gguf" loads a GGUF file from DIR through transformers' GGUF
reader (needs the `gguf` package; the weights are de-quantised, so it is slow and memory-hungry).
`generate` runs on a worker thread and `TextIteratorStreamer` hands us the text as it is decoded.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Iterator
from typing import Any

from rag.config import Settings
from rag.errors import GenerationError, ModelLoadError
from rag.generate.generator import LazyGenerator, Message

logger = logging.getLogger(__name__)


class TransformersGenerator(LazyGenerator):
    """Streams from `AutoModelForCausalLM`; the tokenizer's chat template formats the messages."""

    def __init__(self, settings: Settings, spec: str) -> None:
        super().__init__(settings)
        self.source, _, self.gguf_file = spec.partition("::")
        self.name = spec
        self._model: Any = None
        self._tokenizer: Any = None

    def _load(self) -> None:
        import torch
        from transformers import AutoModelForCausalLM, AutoTokenizer

        torch.set_num_threads(self.settings.resolved_threads)
        extra = {"gguf_file": self.gguf_file} if self.gguf_file else {}
        try:
            self._tokenizer = AutoTokenizer.from_pretrained(self.source, **extra)
            self._model = AutoModelForCausalLM.from_pretrained(self.source, dtype=torch.float32, **extra)
        except (OSError, ValueError, ImportError) as exc:
            raise ModelLoadError(
                f"transformers could not load {self.name!r}: {exc}; give a local model folder "
                "(RAG_GENERATOR=transformers:/path/to/model) — nothing is downloaded"
            ) from exc
        self._model.eval()
        if self._tokenizer.chat_template is None:
            raise ModelLoadError(f"{self.name} has no chat template; use an instruction-tuned (chat) model")

    def _close(self) -> None:
        self._model = None
        self._tokenizer = None

    def count_tokens(self, text: str) -> int:
        """Return the number of tokens in the model's own tokenizer."""
        self.load()
        return len(self._tokenizer(text, add_special_tokens=False)["input_ids"])

    def _stream(self, messages: list[Message], max_tokens: int, temperature: float, stop: list[str]) -> Iterator[str]:
        from transformers import StoppingCriteriaList, TextIteratorStreamer

        chat = [{"role": m.role, "content": m.content} for m in messages]
        inputs = self._tokenizer.apply_chat_template(
            chat, add_generation_prompt=True, return_tensors="pt", return_dict=True
        )
        streamer = TextIteratorStreamer(self._tokenizer, skip_prompt=True, skip_special_tokens=True, timeout=600)
        sampling = {"do_sample": True, "temperature": temperature} if temperature > 0 else {"do_sample": False}
        kwargs = dict(inputs, streamer=streamer, max_new_tokens=max_tokens, stop_strings=stop or None, **sampling)
        if stop:
            kwargs["tokenizer"] = self._tokenizer  # stop_strings needs it
        cancel = threading.Event()
        # Checked after every token, so closing the iterator stops generate() promptly.
        kwargs["stopping_criteria"] = StoppingCriteriaList([lambda *args, **kw: cancel.is_set()])
        errors: list[BaseException] = []
        worker = threading.Thread(target=self._generate, args=(kwargs, errors), daemon=True)
        worker.start()
        return self._drain(streamer, worker, errors, stop, cancel)

    def _generate(self, kwargs: dict, errors: list[BaseException]) -> None:
        import torch

        try:
            with torch.inference_mode():
                self._model.generate(**kwargs)
        except Exception as exc:  # re-raised in the consumer thread by _drain
            errors.append(exc)
            kwargs["streamer"].end()

    def _drain(
        self, streamer: Any, worker: threading.Thread, errors: list, stop: list[str], cancel: threading.Event
    ) -> Iterator[str]:
        """Yield decoded text; cut at a stop string (transformers keeps it in the output)."""
        text = ""
        try:
            for piece in streamer:
                text += piece
                cut = min((text.find(s) for s in stop if s in text), default=-1)
                if cut >= 0:
                    yield piece[: max(0, len(piece) - (len(text) - cut))]
                    break
                yield piece
        finally:
            cancel.set()
            worker.join()
        if errors:
            raise GenerationError(f"{self.name} failed while answering: {errors[0]}") from errors[0]
