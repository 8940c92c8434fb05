"""The loaded parts the UI works with: settings, the embedder, the generator, the libraries and the page renderer.

`Engine.start()` loads the models in a background thread so the page is served at once; handlers call
`library(session)` / `generator(settings)`, which wait for the loading to finish (or re-raise its error).
The generator comes from `rag.load_generator`: tests register a fake one (`rag.register_generator`) and name it
in the settings, as a user names a model. Nothing here imports gradio.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import rag
from rag.config import Settings
from rag.errors import ModelLoadError, RagError
from rag.generate.generator import Generator
from rag.pages import PageRenderer
from rag.search.rerank import load_reranker
from rag.types import Chunk, DocumentInfo, Hit

from .config import AppSettings
from .sessions import LibraryPool, LocalLibraries, SessionLibraries

logger = logging.getLogger(__name__)

LOAD_TIMEOUT_S = 900.0  # the first start assembles a 1 GB model; never wait forever
Announce = Callable[[str], None]


class SessionSearch:
    """A library seen through one session's settings (the `rag.generate.pipeline.AnswerLibrary` that `answer`
    reads): searches use that session's retrieval mode, re-ranker, query expansion and the rest of its retrieval
    settings (the Settings accordion's toggles)."""

    def __init__(self, library: Any, settings: Settings) -> None:
        self.library = library
        self.settings = settings
        self.embedder = library.embedder

    def search(self, query: str, k: int | None = None, documents: Sequence[str] | None = None) -> list[Hit]:
        return self.library.search(query, k=k, documents=documents, settings=self.settings)

    def chunk_neighbours(self, chunk: Chunk, n: int) -> list[Chunk]:
        return self.library.chunk_neighbours(chunk, n)

    def page_text(self, doc_id: str, page: int) -> str:
        return self.library.page_text(doc_id, page)

    def documents(self) -> list[DocumentInfo]:
        return self.library.documents()


class Engine:
    """Models, libraries and the page renderer for one app process. Tests pass a fake `embedder`.

    `announce` is told each start-up step as it begins ("Loading the embedding model…", …, "Ready"): the app
    prints them in the terminal.
    """

    def __init__(
        self,
        settings: Settings,
        app: AppSettings,
        embedder: Any = None,
        warm_generator: bool = True,
        announce: Announce | None = None,
    ) -> None:
        # Pin the thread count once: the generator cache is keyed by it, and "free cores" changes with load.
        self.settings = settings.replace(threads=settings.resolved_threads)
        self.app = app
        self.embedder = embedder
        self.warm_generator = warm_generator
        self.renderer = PageRenderer(self.settings)
        self._announce = announce
        self._status = "Starting…"
        self.pool: LibraryPool | None = None
        self._ready = threading.Event()
        self._error: RagError | None = None
        self._generator_error: RagError | None = None
        self._thread: threading.Thread | None = None

    @property
    def status(self) -> str:
        """The start-up step now under way, "Ready", or what went wrong (shown on the page)."""
        return self._status

    @status.setter
    def status(self, text: str) -> None:
        self._status = text
        if self._announce is not None:
            self._announce(text)

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
            if self.settings.reranker not in ("none", "embed"):  # a model re-ranker: its load is not the first search's
                self.status = "Loading the re-ranking model…"
                load_reranker(self.settings)
            self.status = "Opening the library…" + (" (an empty one gets the sample documents)" if self.app.sample_dir else "")
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
        self.status = "Loading the language model (the first start assembles it from its packages)…"
        try:
            rag.load_generator(self.settings).load()
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

    def generator(self, settings: Settings) -> Generator:
        """Return the generator for these settings (loaded once per model and shared)."""
        self.wait()
        if self._generator_error is not None and settings.generator == self.settings.generator:
            raise self._generator_error
        return rag.load_generator(settings)

    def page_image(self, session: str, doc_id: str, page: int, spans: Sequence[str]) -> Any:
        """Return a picture of one page of a session's document with `spans` highlighted, or None."""
        return self.renderer.render(self.library(session).renderable(doc_id), page, spans)

    def release(self, session: str) -> None:
        """Forget a session's private library (public mode); nothing happens in local mode."""
        if self.pool is not None:
            self.pool.release(session)

    def close(self) -> None:
        self.renderer.close()
        if self.pool is not None:
            self.pool.close()


def _sample_files(sample_dir: Path | None) -> list[Path]:
    if sample_dir is None or not sample_dir.is_dir():
        return []
    return sorted(p for p in sample_dir.iterdir() if p.is_file() and not p.name.startswith("."))
