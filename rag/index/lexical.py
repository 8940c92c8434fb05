"""BM25 keyword search (bm25s, English stopwords + Snowball stemming) over the same chunks as the vectors.

bm25s cannot add or remove documents, so the index is rebuilt from SQLite's chunk texts, but only when the
store's generation has moved: once per ingest batch or delete (the library calls `refresh`), never per
document. It is saved to data_dir/bm25.g<generation>/ (written to a temp folder, then renamed), so a restart
loads it instead of rebuilding. bm25s numbers documents 0..n-1; `rows` maps those back to chunk row ids.
"""

from __future__ import annotations

import logging
import shutil
import tempfile
import threading
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from rag.index.files import writing
from rag.index.store import Corpus, Store
from rag.types import Hit

logger = logging.getLogger(__name__)


def _bm25s() -> Any:
    """Import bm25s, which sets its own logger to DEBUG on import; keep it quiet unless -v asks."""
    import bm25s

    logging.getLogger("bm25s").setLevel(logging.WARNING)
    return bm25s


def tokenize(texts: list[str]) -> list[list[str]]:
    """Return each text as lower-cased, stemmed words without English stopwords ("Running dogs" → [run, dog])."""
    return _bm25s().tokenize(texts, stopwords="en", stemmer=_stemmer(), return_ids=False, show_progress=False)


def _stemmer() -> Any:
    import Stemmer

    return Stemmer.Stemmer("english")


class Bm25Index:
    """BM25 over every chunk of a `Store`, kept at the store's generation."""

    def __init__(self, store: Store) -> None:
        self.store = store
        self.generation = -1
        self._retriever: Any = None
        self._rows = np.zeros(0, dtype=np.int64)
        self._lock = threading.RLock()  # searches from several app threads must not see a half-built index

    def refresh(self) -> None:
        """Bring the index to the store's generation: load the saved copy, or rebuild from SQLite and save it."""
        with self._lock:
            generation = self.store.generation
            if generation == self.generation or self._load(generation):
                return
            self._build(self.store.corpus())
            with writing("save the keyword index", self.store.data_dir):
                self._save()

    def search(self, query: str, k: int, doc_ids: Sequence[str] | None = None) -> list[Hit]:
        """Return up to `k` chunks sharing stemmed words with `query`, best first (score = BM25)."""
        tokens = tokenize([query])
        with self._lock:
            self.refresh()
            if self._retriever is None or not tokens[0] or k <= 0:
                return []
            mask = self._mask(doc_ids)
            if mask is not None and not mask.any():
                return []
            found, scores = self._retriever.retrieve(
                tokens, k=min(k, len(self._rows)), show_progress=False, weight_mask=mask, n_threads=1
            )
            ranked = [(int(self._rows[i]), float(s)) for i, s in zip(found[0], scores[0], strict=True) if s > 0]
        chunks = self.store.chunks([row for row, _ in ranked])
        return [Hit(chunk, score, "bm25") for chunk, (_, score) in zip(chunks, ranked, strict=True)]

    def _mask(self, doc_ids: Sequence[str] | None) -> np.ndarray | None:
        """Return a 0/1 weight per bm25s document allowing only chunks of `doc_ids` (None = no filter)."""
        if doc_ids is None:
            return None
        allowed = self.store.rows_of(doc_ids)
        return np.isin(self._rows, allowed).astype(np.float32)

    def _build(self, corpus: Corpus) -> None:
        retriever = None
        if corpus.texts:
            retriever = _bm25s().BM25()
            # An all-stopword chunk tokenizes to []; bm25s handles empty documents.
            retriever.index(tokenize(list(corpus.texts)), show_progress=False)
        self._retriever, self._rows, self.generation = retriever, corpus.rows, corpus.generation

    def _folder(self, generation: int) -> Path:
        return self.store.data_dir / f"bm25.g{generation}"

    def _load(self, generation: int) -> bool:
        """Return True when a saved index for `generation` was read."""
        folder = self._folder(generation)
        if not (folder / "rows.npy").is_file():
            return False
        rows = np.load(folder / "rows.npy")
        retriever = _bm25s().BM25.load(str(folder), show_progress=False) if len(rows) else None
        self._retriever, self._rows, self.generation = retriever, rows, generation
        return True

    def _save(self) -> None:
        """Write the index to a temp folder, rename it to bm25.g<generation>, drop older generations."""
        target = self._folder(self.generation)
        if target.exists():
            return
        tmp = Path(tempfile.mkdtemp(prefix=".bm25-", dir=self.store.data_dir))
        try:
            if self._retriever is not None:
                self._retriever.save(str(tmp), show_progress=False)
            np.save(tmp / "rows.npy", self._rows)  # written last: its presence marks a complete folder
            tmp.rename(target)
        except BaseException:
            shutil.rmtree(tmp, ignore_errors=True)
            raise
        for old in self.store.data_dir.glob("bm25.g*"):
            if old != target:
                shutil.rmtree(old, ignore_errors=True)
