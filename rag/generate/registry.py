"""Which generator a `RAG_GENERATOR` value names: a small registry of backends, and one shared instance per model.

    "qwen2.5-1.5b"              the default: Qwen2.5-Coder-1.5B-Instruct GGUF in llama.cpp (verified by sha256)
    "smollm2-135m"              SmolLM2-135M GGUF in llama.cpp: fast plumbing tests, poor answers
    "gguf:PATH"                 any chat GGUF file in llama.cpp
    "transformers:PATH_OR_ID"   a local transformers model dir (or a hub id already in the offline cache)
    "openai"                    an OpenAI-compatible HTTP server (settings.openai_base_url / _api_key / _model)

A value is "NAME" or "NAME:ARGUMENT"; NAME picks a factory `(settings, argument) -> Generator`. Tests (and
plugins) add their own with `register_generator("fake", factory)`.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from pathlib import Path

from rag.config import Settings
from rag.errors import ConfigError
from rag.generate import models
from rag.generate.generator import Generator
from rag.generate.hf import TransformersGenerator
from rag.generate.llamacpp import LlamaCppGenerator
from rag.generate.openai_http import OpenAIGenerator

GeneratorFactory = Callable[[Settings, str], Generator]
PRESETS = ("qwen2.5-1.5b", "smollm2-135m")  # the models a person can pick without a path

_FACTORIES: dict[str, GeneratorFactory] = {
    "qwen2.5-1.5b": lambda s, _: LlamaCppGenerator(s, "qwen2.5-1.5b", lambda: models.default_gguf_path(s)),
    "smollm2-135m": lambda s, _: LlamaCppGenerator(s, "smollm2-135m", models.smollm2_gguf_path),
    "gguf": lambda s, arg: LlamaCppGenerator(s, Path(arg).name, lambda: Path(arg).expanduser()),
    "transformers": lambda s, arg: TransformersGenerator(s, arg),
    "openai": lambda s, _: OpenAIGenerator(s),
}
_SHARED: dict[tuple, Generator] = {}
_LOCK = threading.Lock()


def register_generator(name: str, factory: GeneratorFactory) -> None:
    """Make `RAG_GENERATOR=name` (or `name:argument`) build generators with `factory` (replacing any before)."""
    with _LOCK:
        _FACTORIES[name] = factory
        _forget_shared(name)


def unregister_generator(name: str) -> None:
    """Forget a registered backend and every shared generator it made."""
    with _LOCK:
        _FACTORIES.pop(name, None)
        _forget_shared(name)


def _forget_shared(name: str) -> None:
    for key in [k for k in _SHARED if k[0].partition(":")[0] == name]:
        del _SHARED[key]


def create_generator(settings: Settings) -> Generator:
    """Return a new, not yet loaded generator for `settings.generator` (no sharing)."""
    spec = settings.generator.strip()
    name, _, argument = spec.partition(":")
    factory = _FACTORIES.get(name)
    if factory is None or (name in ("gguf", "transformers") and not argument):
        raise ConfigError(
            f"RAG_GENERATOR={spec!r} is not a generator; use one of {', '.join(PRESETS)}, "
            "gguf:/path/model.gguf, transformers:/path/or/id, or openai"
        )
    return factory(settings, argument)


def load_generator(settings: Settings) -> Generator:
    """Return the generator `settings.generator` names, shared by every caller that runs the same model.

    Construction is cheap; the model itself is loaded on first use (or by `.load()`), once. The key holds only
    what decides which model runs and how: answer settings (temperature, length) travel with each request.
    Raises ConfigError for an unknown generator name.
    """
    key = (
        settings.generator.strip(),
        settings.n_ctx,
        settings.llm_cache_mb,
        settings.llm_prompt_cache,
        settings.llm_repack_weights,
        settings.threads,  # the configured value: resolved_threads follows the CPU load now and would reload
        str(settings.models_dir),
        settings.openai_base_url,
        settings.openai_model,
        settings.openai_api_key,
    )
    with _LOCK:
        if key not in _SHARED:
            _SHARED[key] = create_generator(settings)
        return _SHARED[key]
