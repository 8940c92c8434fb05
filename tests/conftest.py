"""Shared fixtures: a clean environment per test, the shared data dir, and the real models loaded once."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent

# Set before any test module imports gradio/gradio_client/huggingface_hub: they read these at import time,
# and a client built before `clean_env` runs would otherwise fetch from the hub and send telemetry.
for _name, _value in {
    "HF_HUB_OFFLINE": "1",
    "TRANSFORMERS_OFFLINE": "1",
    "HF_HUB_DISABLE_TELEMETRY": "1",
    "GRADIO_ANALYTICS_ENABLED": "False",
}.items():
    os.environ.setdefault(_name, _value)


@pytest.fixture(autouse=True)
def clean_env(monkeypatch, tmp_path):
    """No RAG_* variable leaks into a test; every test gets its own data dir; nothing goes online."""
    for name in list(os.environ):
        if name.startswith("RAG_") and name not in ("RAG_REQUIRE_SHARED", "RAG_SHARED_DIR"):
            monkeypatch.delenv(name)
    monkeypatch.setenv("RAG_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.setenv("RAG_THREADS", "1")  # oversubscribed torch is 10x slower on a busy 2-core box
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setenv("TRANSFORMERS_OFFLINE", "1")
    monkeypatch.setenv("GRADIO_ANALYTICS_ENABLED", "False")
    yield


def _shared_dir() -> Path:
    return Path(os.environ.get("RAG_SHARED_DIR", ROOT.parent / "shared"))


@pytest.fixture(scope="session")
def shared_dir() -> Path:
    """../shared (benchmarks, hostile PDFs). Skips when absent, except in CI where absence fails."""
    path = _shared_dir()
    if not (path / "eval").is_dir():
        message = f"shared data not found at {path} (set RAG_SHARED_DIR)"
        if os.environ.get("RAG_REQUIRE_SHARED") == "1":
            pytest.fail(message)
        pytest.skip(message)
    return path


@pytest.fixture(scope="session")
def real_embedder():
    """The default embedder (all-MiniLM-L6-v2 from its registry package), loaded once per session."""
    from rag.config import Settings
    from rag.embedding import load_embedder

    return load_embedder(Settings(threads=1))
