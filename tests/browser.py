"""Helpers for the app tests: a fake generator, an Engine on fake models, and a served app on a free port.

`FakeGenerator` answers by quoting the first sentence of the passage that best matches the question and
citing it, so the real citation checker finds it supported; with no such passage it says it cannot answer.
"""

from __future__ import annotations

import re
import socket
import sys
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from rag.config import Settings  # noqa: E402
from rag.prompting import NOT_FOUND, content_terms  # noqa: E402
from tests.fakes import FakeEmbedder  # noqa: E402
from ui.config import SAMPLE_DIR, AppSettings  # noqa: E402
from ui.engine import Engine  # noqa: E402

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
PASSAGE = re.compile(r"\[(\d+)\][^\n]*\n<<<\n(.*?)\n>>>", re.S)
SENTENCE = re.compile(r"(.+?[.!?])(\s|$)", re.S)


class FakeGenerator:
    """Streams "<first sentence of the best passage> [n]" word by word; records the messages it was given.

    The best passage is the one sharing most content words with the question (ties: the lower number);
    when none shares any, it says it could not find the answer.
    """

    name = "fake-generator"
    n_ctx = 4096

    def __init__(self, delay_s: float = 0.0, first_delay_s: float = 0.0) -> None:
        self.delay_s = delay_s  # between words, so streaming can be watched
        self.first_delay_s = first_delay_s  # before the first word, like a real model's prefill
        self.calls: list[list[Any]] = []

    def load(self) -> None:
        """Nothing to load."""

    def reply(self, messages: Sequence[Any]) -> str:
        system = messages[0].content if messages else ""
        question = content_terms(messages[-1].content.split("\n\n(")[0]) if messages else set()  # drop the reminder
        passages = [(int(n), " ".join(text.split())) for n, text in PASSAGE.findall(system)]
        scored = [(len(question & content_terms(text)), -n, n, text) for n, text in passages]
        if not scored or max(scored)[0] == 0:
            return NOT_FOUND
        _, _, n, passage = max(scored)
        sentence = SENTENCE.match(passage)
        return (sentence.group(1) if sentence else passage[:200]) + f" [{n}]"

    def stream(self, messages: Sequence[Any], max_tokens: int | None = None, temperature: float | None = None,
               stop: Sequence[str] = ()) -> Iterator[str]:  # fmt: skip
        self.calls.append(list(messages))
        words = self.reply(messages).split(" ")
        if self.first_delay_s:
            time.sleep(self.first_delay_s)
        for i, word in enumerate(words):
            if self.delay_s:
                time.sleep(self.delay_s)
            yield word if i == 0 else " " + word

    def complete(self, messages: Sequence[Any], max_tokens: int | None = None, stop: Sequence[str] = ()) -> str:
        return "".join(self.stream(messages))

    def count_tokens(self, text: str) -> int:
        return len(text.split())


def make_engine(
    tmp_path: Path,
    public: bool = False,
    sample_dir: Path | None = SAMPLE_DIR,
    generator: FakeGenerator | None = None,
    embedder: FakeEmbedder | None = None,
    **app_changes: Any,
) -> Engine:
    """Return a started Engine on FakeEmbedder + FakeGenerator with its data under `tmp_path`."""
    settings = Settings(data_dir=tmp_path / "data", threads=1)
    app = AppSettings(public=public, sample_dir=sample_dir, **app_changes)
    generator = generator or FakeGenerator()
    embedder = embedder or FakeEmbedder(dim=64)
    engine = Engine(settings, app, embedder=embedder, generator_factory=lambda _s: generator)
    engine.start(background=False)
    return engine


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@contextmanager
def serve(engine: Engine) -> Iterator[str]:
    """Serve `build_demo(engine)` on a free local port; yield its URL; close it afterwards."""
    import app as footnote_app

    demo = footnote_app.build_demo(engine)
    url = footnote_app.launch(demo, engine.app.replace(host="127.0.0.1", port=free_port()), block=False)
    try:
        yield url
    finally:
        demo.close()
        engine.close()
