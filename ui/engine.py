"""The loaded parts the UI works with: settings, the embedder, the generator and the libraries.

`Engine.start()` loads the models in a background thread so the page is served at once; handlers call
`library(session)` / `generator(settings)`, which wait for the loading to finish (or re-raise its error).
Tests build an Engine with a fake embedder, generator and answer function; nothing here imports gradio.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import Any, Protocol

import rag
from rag.config import Settings
from rag.errors import ModelLoadError, RagError
from rag.types import Hit

from .config import AppSettings
from .sessions import LibraryPool, LocalLibraries, SessionLibraries

logger = logging.getLogger(__name__)

AnswerFn = Callable[..., Iterator[Any]]
LOAD_TIMEOUT_S = 900.0  # the first start assembles a 1 GB model; never wait forever


class Searchable(Protocol):
    def search(
        self, query: str, k: int | None = None, documents: Sequence[str] | None = None, mode: str | None = None
    ) -> list[Hit]: ...


class SessionSearch:
    """A library seen through one session's settings: searches use that session's retrieval mode, re-ranker,
    query expansion and the rest of its retrieval settings (the Settings accordion's toggles)."""

    def __init__(self, library: Any, settings: Settings) -> None:
        self.library = library
        self.settings = settings
        self.embedder = library.embedder

    def search(self, query: str, k: int | None = None, documents: Sequence[str] | None = None) -> list[Hit]:
        return self.library.search(query, k=k, documents=documents, settings=self.settings)

    def chunk_neighbours(self, chunk: Any, n: int) -> list[Any]:
        return self.library.chunk_neighbours(chunk, n)


class Engine:
    """Models and libraries for one app process. Pass fakes for `embedder`/`generator_factory` in tests."""

    def __init__(
        self,
        settings: Settings,
        app: AppSettings,
        embedder: Any = None,
        generator_factory: Callable[[Settings], Any] | None = None,
        answer_fn: AnswerFn | None = None,
        warm_generator: bool = True,
    ) -> None:
        # Pin the thread count once: the generator cache is keyed by it, and "free cores" changes with load.
        self.settings = settings.replace(threads=settings.resolved_threads)
        self.app = app
        self.embedder = embedder
        self.generator_factory = generator_factory or rag.load_generator
        self.answer_fn = answer_fn or rag.answer
        self.warm_generator = warm_generator
        self.status = "Starting…"
        self.pool: LibraryPool | None = None
        self._ready = threading.Event()
        self._error: RagError | None = None
        self._generator_error: RagError | None = None
        self._thread: threading.Thread | None = None

    # ---- start-up ----------------------------------------------------------------------------------------
    def start(self, background: bool = True) -> None:
        """Load models and open the libraries, in a daemon thread unless `background` is False."""
        if background:
            self._thread = threading.Thread(target=self._load, name="footnote-loader", daemon=True)
            self._thread.start()
        else:
            self._load()

    def _load(self) -> None:
        try:
            if self.embedder is None:
                self.status = "Loading the embedding model…"
                self.embedder = rag.load_embedder(self.settings)
            self.status = "Indexing the sample library…"
            self.pool = self._make_pool()
        except RagError as exc:
            self._error = exc
            self.status = f"Could not start: {exc}"
            logger.error("start-up failed: %s", exc)
            return
        finally:
            self._ready.set()
        if self.warm_generator:
            self._warm()
        self.status = "Ready"

    def _make_pool(self) -> LibraryPool:
        sample = _sample_files(self.app.sample_dir)
        if self.app.public:
            return SessionLibraries(self.settings, self.embedder, sample, self.app.session_ttl_s)
        return LocalLibraries(self.settings, self.embedder, sample)

    def _warm(self) -> None:
        """Load the default generator now, so the first question does not pay for it."""
        self.status = "Loading the language model…"
        try:
            generator = self.generator_factory(self.settings)
            if hasattr(generator, "load"):
                generator.load()
        except RagError as exc:
            self._generator_error = exc
            self.status = f"Search works, but the language model could not load: {exc}"
            logger.error("generator failed to load: %s", exc)

    def wait(self, timeout: float = LOAD_TIMEOUT_S) -> LibraryPool:
        """Return the library pool once loading is done; re-raise a start-up RagError."""
        if not self._ready.wait(timeout):
            raise ModelLoadError(f"the models are still loading after {timeout:.0f} s; try again in a minute")
        if self._error is not None:
            raise self._error
        assert self.pool is not None  # set whenever _ready is set without an error
        return self.pool

    @property
    def loaded(self) -> bool:
        """True once start-up has finished, successfully or not (the generator may still be loading)."""
        return self._ready.is_set()

    # ---- what handlers use -------------------------------------------------------------------------------
    def library(self, session: str) -> Any:
        """Return the Library this session works on (the shared one in local mode)."""
        return self.wait().get(session)

    def generator(self, settings: Settings) -> Any:
        """Return the generator for these settings (loaded once per model and shared)."""
        self.wait()
        if self._generator_error is not None and settings.generator == self.settings.generator:
            raise self._generator_error
        return self.generator_factory(settings)

    def release(self, session: str) -> None:
        """Forget a session's private library (public mode); nothing happens in local mode."""
        if self.pool is not None:
            self.pool.release(session)

    def close(self) -> None:
        if self.pool is not None:
            self.pool.close()


def _sample_files(sample_dir: Path | None) -> list[Path]:
    if sample_dir is None or not sample_dir.is_dir():
        return []
    return sorted(p for p in sample_dir.iterdir() if p.is_file() and not p.name.startswith("."))
