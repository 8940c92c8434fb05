"""Which Library a browser session works on.

Local mode: every session shares the one library in `settings.data_dir`; if it is empty on start, the
sample knowledge base is ingested so a newcomer can ask at once.
Public mode: each session gets its own library in its own temporary folder, made by copying a sample index
that was built once at start (a copy takes milliseconds; re-embedding would take seconds). A session's
folder is removed when the page is closed (`release`) or after `ttl_s` seconds without use.
"""

from __future__ import annotations

import functools
import hashlib
import inspect
import logging
import shutil
import tempfile
import threading
import time
from contextlib import closing
from pathlib import Path
from typing import Any, Protocol

from rag.config import Settings
from rag.errors import ConfigError
from rag.index.backends import open_index, resolve
from rag.index.migrate import migrate
from rag.library import Library

logger = logging.getLogger(__name__)


class LibraryPool(Protocol):
    def get(self, session: str) -> Any: ...

    def release(self, session: str) -> None: ...

    def close(self) -> None: ...


class LocalLibraries:
    """One persistent library for everyone (a single-user, local install)."""

    def __init__(self, settings: Settings, embedder: Any, sample: list[Path]) -> None:
        self.library = Library.open(settings, embedder)
        if sample and not self.library.documents():
            outcomes = self.library.ingest(sample)
            logger.info("sample library: %s", "; ".join(f"{o.name}: {o.message}" for o in outcomes))

    def get(self, session: str) -> Library:
        return self.library

    def release(self, session: str) -> None:
        """Nothing to do: the local library outlives sessions."""

    def close(self) -> None:
        self.library.close()


class SessionLibraries:
    """A private, temporary library per session, seeded from a prebuilt copy of the sample library.

    `get` hands out a `SessionLibrary` that counts the calls in flight, so neither the idle sweep nor a
    closed tab removes a library while an ingest or a search is still running on it; the idle time
    starts when the last call ends.
    """

    def __init__(self, settings: Settings, embedder: Any, sample: list[Path], ttl_s: float) -> None:
        if settings.index == "qdrant":  # one server collection would be every visitor's library
            raise ConfigError(
                "public mode gives each visitor a private library in a temporary folder, and RAG_INDEX=qdrant "
                "would put them all in one shared collection; use RAG_INDEX=local or qdrant-edge for public mode"
            )
        self.settings = settings
        self.embedder = embedder
        self.ttl_s = ttl_s
        self.root = Path(tempfile.mkdtemp(prefix="footnote-sessions-"))
        self.template = self.root / "template"
        with Library.open(settings.replace(data_dir=self.template), embedder) as library:
            if sample:
                library.ingest(sample)
        self._libraries: dict[str, Library] = {}
        self._last_used: dict[str, float] = {}
        self._busy: dict[str, int] = {}
        self._closing: set[str] = set()  # released while busy: removed when the last call ends
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._sweeper = threading.Thread(target=self._sweep_forever, name="footnote-sweeper", daemon=True)
        self._sweeper.start()

    def get(self, session: str) -> SessionLibrary:
        """Return this session's library, creating it from the sample copy on first use."""
        key = _key(session)
        with self._lock:
            self._last_used[key] = time.monotonic()
            self._closing.discard(key)
            library = self._libraries.get(key)
            if library is None:
                library = self._new_library(self.root / key)
                self._libraries[key] = library
        self.sweep(keep=key)
        return SessionLibrary(library, self, key)

    def _new_library(self, folder: Path) -> Library:
        """A library seeded with the sample: a copy of the template's files (local), or, for Qdrant Edge, whose
        shard files are mostly preallocated space (~200 MB apparent even when nearly empty), a fresh shard with
        the template's documents copied in, vectors and all (`rag.index.migrate`: ~30 passages, milliseconds)."""
        settings = self.settings.replace(data_dir=folder)
        if resolve(settings).index == "local":
            shutil.copytree(self.template, folder, dirs_exist_ok=True)
            return Library.open(settings, self.embedder)
        library = Library.open(settings, self.embedder)
        try:
            template = open_index(self.settings.replace(data_dir=self.template), self.embedder.name, self.embedder.dim)
            with closing(template):
                migrate(template, library.index)
        except BaseException:
            library.close()
            raise
        return library

    def release(self, session: str) -> None:
        """Close and delete this session's library and its folder (uploaded files included)."""
        self._release_key(_key(session))

    def sweep(self, keep: str = "") -> list[str]:
        """Release every session (but `keep`) idle for longer than the time-to-live; return their keys."""
        now = time.monotonic()
        with self._lock:
            idle = [
                k
                for k, used in self._last_used.items()
                if k != keep and not self._busy.get(k) and now - used > self.ttl_s
            ]
        for key in idle:
            logger.info("removing idle session library %s", key)
            self._release_key(key)
        return idle

    def sessions(self) -> list[str]:
        with self._lock:
            return sorted(self._libraries)

    def close(self) -> None:
        self._stop.set()
        with self._lock:
            keys = list(self._libraries)
            self._busy.clear()  # shutting down: nothing may keep a folder alive
        for key in keys:
            self._release_key(key)
        shutil.rmtree(self.root, ignore_errors=True)

    def enter(self, key: str) -> None:
        with self._lock:
            self._busy[key] = self._busy.get(key, 0) + 1

    def leave(self, key: str) -> None:
        with self._lock:
            self._busy[key] = max(self._busy.get(key, 1) - 1, 0)
            self._last_used[key] = time.monotonic()
            finish = not self._busy[key] and key in self._closing
        if finish:
            self._release_key(key)

    def _release_key(self, key: str) -> None:
        with self._lock:
            if self._busy.get(key):
                self._closing.add(key)
                return
            library = self._libraries.pop(key, None)
            self._last_used.pop(key, None)
            self._busy.pop(key, None)
            self._closing.discard(key)
        if library is not None:
            library.close()
        shutil.rmtree(self.root / key, ignore_errors=True)

    def _sweep_forever(self) -> None:
        interval = max(1.0, min(60.0, self.ttl_s / 2))
        while not self._stop.wait(interval):
            self.sweep()


class SessionLibrary:
    """A session's Library as handlers see it: the same methods, each call counted as "in use"."""

    def __init__(self, library: Library, pool: SessionLibraries, key: str) -> None:
        self._library = library
        self._pool = pool
        self._key = key

    def __getattr__(self, name: str) -> Any:
        attr = getattr(self._library, name)
        if not inspect.ismethod(attr):
            return attr  # settings, embedder, ...

        @functools.wraps(attr)
        def counted(*args: Any, **kwargs: Any) -> Any:
            self._pool.enter(self._key)
            try:
                return attr(*args, **kwargs)
            finally:
                self._pool.leave(self._key)

        return counted


def _key(session: str) -> str:
    """Return a folder-safe key for a session id (which comes from the browser and is not trusted)."""
    return "s" + hashlib.sha256((session or "anonymous").encode("utf-8")).hexdigest()[:20]
