"""Helpers for the app tests: an Engine on fake models, and a served app on a free port.

The fake generator (`tests.fakes.FakeGenerator`) answers by quoting the first sentence of the passage that best
matches the question and citing it, so the real citation checker finds it supported; with no such passage it
says it cannot answer. It reaches the app through the real generator registry, named "fake" in the settings.
"""

from __future__ import annotations

import itertools
import socket
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from rag.config import Settings  # noqa: E402
from rag.generate.registry import register_generator  # noqa: E402
from tests.fakes import FakeEmbedder, FakeGenerator  # noqa: E402
from ui.config import SAMPLE_DIR, AppSettings  # noqa: E402
from ui.engine import Engine  # noqa: E402

_ENGINES = itertools.count(1)
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


def make_engine(
    tmp_path: Path,
    public: bool = False,
    sample_dir: Path | None = SAMPLE_DIR,
    generator: FakeGenerator | None = None,
    embedder: FakeEmbedder | None = None,
    **app_changes: Any,
) -> Engine:
    """Return a started Engine on FakeEmbedder + FakeGenerator with its data under `tmp_path`.

    The generator is registered under a name of its own (engines of a test module can outlive one test) and named
    in the settings, as a person names a model.
    """
    fake = generator or FakeGenerator()
    name = f"fake-{next(_ENGINES)}"
    register_generator(name, lambda _settings, _argument: fake)
    settings = Settings(data_dir=tmp_path / "data", threads=1, generator=name)
    app = AppSettings(public=public, sample_dir=sample_dir, **app_changes)
    engine = Engine(settings, app, embedder=embedder or FakeEmbedder(dim=64))
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
