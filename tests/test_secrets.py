"""The API key of an OpenAI-compatible server comes only from the environment/settings and is never shown.

A local HTTP server (loopback, in a thread) plays the OpenAI chat API: it checks the bearer token and streams
server-sent events, or fails in the ways real servers do. With every logger at DEBUG, the key must not appear
in logs, stdout/stderr, reprs, error messages, or the served app's page and config.
"""

from __future__ import annotations

import json
import logging
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from rag.config import Settings
from rag.errors import GenerationError, ModelLoadError, RagError
from rag.generate.generator import Message
from rag.generate.registry import create_generator

KEY = "sk-test-7f3a9c1e5b2d4f6a8c0e1b3d5f7a9c1e"
QUESTION = [Message("system", "You are terse."), Message("user", "Say hello.")]


class FakeOpenAI(BaseHTTPRequestHandler):
    """POST /v1/chat/completions. `mode` picks the reply: ok, unauthorized_echo, error_event_echo."""

    mode = "ok"
    seen_auth: list[str] = []

    def do_POST(self) -> None:  # noqa: N802 - the http.server API
        auth = self.headers.get("Authorization", "")
        FakeOpenAI.seen_auth.append(auth)
        self.rfile.read(int(self.headers.get("Content-Length", 0)))
        if self.mode == "unauthorized_echo" or auth != f"Bearer {KEY}":
            # Some servers and proxies echo what they were sent when refusing it.
            self._send(401, "application/json", json.dumps({"error": f"invalid credentials: {auth}"}).encode())
            return
        if self.mode == "error_event_echo":
            event = {"error": {"message": f"quota exceeded for key {KEY}"}}
            self._send(200, "text/event-stream", f"data: {json.dumps(event)}\n\n".encode())
            return
        chunks = [{"choices": [{"delta": {"content": piece}}]} for piece in ("Hello", " there.")]
        body = "".join(f"data: {json.dumps(c)}\n\n" for c in chunks) + "data: [DONE]\n\n"
        self._send(200, "text/event-stream", body.encode())

    def _send(self, status: int, kind: str, body: bytes) -> None:
        self.send_response(status)
        self.send_header("Content-Type", kind)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: object) -> None:  # noqa: A002 - keep the test output clean
        """Silence the default stderr access log."""


@contextmanager
def openai_server(mode: str = "ok") -> Iterator[str]:
    FakeOpenAI.mode = mode
    FakeOpenAI.seen_auth = []
    server = ThreadingHTTPServer(("127.0.0.1", 0), FakeOpenAI)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/v1"
    finally:
        server.shutdown()
        server.server_close()


@pytest.fixture
def debug_logs(caplog) -> pytest.LogCaptureFixture:
    """Every logger at DEBUG (httpx and httpcore included), captured."""
    caplog.set_level(logging.DEBUG)
    for name in ("httpx", "httpcore", "rag", "urllib3"):
        caplog.set_level(logging.DEBUG, logger=name)
    return caplog


def settings_with_key(base_url: str) -> Settings:
    return Settings.from_env({"RAG_GENERATOR": "openai", "RAG_OPENAI_BASE_URL": base_url, "RAG_OPENAI_API_KEY": KEY})


def test_the_key_comes_from_the_environment_and_repr_hides_it():
    settings = Settings.from_env({"RAG_OPENAI_API_KEY": KEY})
    assert settings.openai_api_key == KEY
    assert Settings.from_env({}).openai_api_key == ""
    for shown in (repr(settings), str(settings), f"{settings!r}", repr(settings.replace(top_k=2))):
        assert KEY not in shown and "openai_api_key" not in shown
    generator = create_generator(settings.replace(generator="openai"))
    assert KEY not in repr(generator) and KEY not in str(vars(generator).get("name", ""))


def test_streaming_with_a_key_logs_nothing_secret(debug_logs, capfd):
    with openai_server() as url:
        generator = create_generator(settings_with_key(url))
        reply = "".join(generator.stream(QUESTION, max_tokens=16, temperature=0))
        generator.close()
    out, err = capfd.readouterr()
    assert reply == "Hello there."
    assert FakeOpenAI.seen_auth == [f"Bearer {KEY}"]  # it was sent, as a bearer token, once
    assert debug_logs.records, "expected DEBUG logs from httpx/httpcore to check"
    assert KEY not in debug_logs.text and KEY not in out and KEY not in err


def test_an_unreachable_server_error_does_not_contain_the_key(debug_logs):
    with openai_server() as url:
        pass  # the server is gone: the port now refuses
    generator = create_generator(settings_with_key(url))
    with pytest.raises(ModelLoadError) as caught:
        "".join(generator.stream(QUESTION, max_tokens=16, temperature=0))
    assert "cannot reach" in str(caught.value)
    assert KEY not in str(caught.value) and KEY not in repr(caught.value) and KEY not in debug_logs.text


@pytest.mark.parametrize("mode", ["unauthorized_echo", "error_event_echo"])
def test_a_server_that_echoes_the_key_does_not_get_it_shown(debug_logs, mode):
    with openai_server(mode) as url:
        generator = create_generator(settings_with_key(url))
        with pytest.raises(GenerationError) as caught:
            "".join(generator.stream(QUESTION, max_tokens=16, temperature=0))
        generator.close()
    assert isinstance(caught.value, RagError)
    assert KEY not in str(caught.value), str(caught.value)


def test_the_served_app_never_puts_the_key_in_its_page_or_config(tmp_path):
    import urllib.request

    from tests.browser import serve
    from tests.fakes import FakeEmbedder
    from ui.config import AppSettings
    from ui.engine import Engine

    # The app runs the OpenAI-compatible backend with a key; no answer is asked for, so no server is needed.
    settings = settings_with_key("http://127.0.0.1:9/v1").replace(data_dir=tmp_path / "data", threads=1)
    engine = Engine(settings, AppSettings(sample_dir=None), embedder=FakeEmbedder(dim=64), warm_generator=False)
    engine.start(background=False)
    with serve(engine) as url:
        pages = []
        for path in ("", "config", "gradio_api/info"):
            with urllib.request.urlopen(url.rstrip("/") + "/" + path, timeout=30) as response:
                pages.append(response.read().decode(errors="replace"))
    assert all(len(p) > 100 for p in pages)
    assert not [p[:80] for p in pages if KEY in p]
