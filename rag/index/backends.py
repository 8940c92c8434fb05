"""Open the index backend `Settings.index` names: the one place that knows which backends exist.

- `qdrant-edge` (the default): Qdrant's engine in this process, its shard in data_dir/qdrant-edge
  (`rag.index.qdrant` over `rag.index.qdrant_edge`);
- `local`: SQLite + FAISS + bm25s files in data_dir (`rag.index.local`); "auto" keeps using it where a data dir
  already holds one;
- `qdrant`: one collection (`RAG_QDRANT_COLLECTION`) on the Qdrant server or cluster at `RAG_QDRANT_URL`;
  a folder path instead of a URL opens qdrant-client's local mode, a slow pure-Python stand-in for tests.
Kept copies of the originals (page pictures) stay in data_dir/files whichever backend holds the index.
"""

from __future__ import annotations

import importlib.util

from rag.config import Settings
from rag.errors import ConfigError
from rag.index.contract import Index
from rag.index.files import writing
from rag.index.local import LocalIndex
from rag.index.vectors import AnnOptions

BACKENDS = ("local", "qdrant-edge", "qdrant")
DEFAULT_BACKEND = "qdrant-edge"  # what RAG_INDEX=auto opens in a data dir that holds no local index
# On a shared server another replica may be writing when this one opens: its unfinished write is only treated
# as a crash's leftover after this long (a document's write takes seconds; embedding happens before it starts).
SERVER_WRITE_GRACE_S = 600.0
_PACKAGES = {
    "qdrant-edge": ("qdrant_edge", "qdrant-edge-py==0.9.0"),
    "qdrant": ("qdrant_client", "qdrant-client==1.20.0"),
}


def resolve(settings: Settings) -> Settings:
    """`settings` with `index` made concrete: "auto" is Qdrant Edge, or the local files a data dir already holds
    (an index built before Edge was the default keeps working; `python -m rag migrate --to qdrant-edge` moves it)."""
    if settings.index != "auto":
        return settings
    local = (settings.data_dir / "index.sqlite3").exists() and not (settings.data_dir / "qdrant-edge").exists()
    return settings.replace(index="local" if local else DEFAULT_BACKEND)


def open_index(settings: Settings, embedder_name: str, dim: int) -> Index:
    """Open (or create) the index of `settings`; raises IndexMismatchError if another embedder built it."""
    settings = resolve(settings)
    if settings.index == "local":
        ann = AnnOptions(settings.ann_threshold, settings.ann_nprobe)
        return LocalIndex.open(settings.data_dir, embedder_name, dim, ann)
    _require(settings.index)
    from rag.index.qdrant import QdrantIndex
    from rag.index.qdrant_edge import EdgeEngine
    from rag.index.qdrant_server import ClientEngine

    if settings.index == "qdrant-edge":
        folder = settings.data_dir / "qdrant-edge"
        with writing("create the index", settings.data_dir):
            folder.mkdir(parents=True, exist_ok=True)
        engine = EdgeEngine(folder, dim, search_threads=settings.resolved_threads)
        return QdrantIndex.open(engine, settings.data_dir, embedder_name, dim, str(settings.data_dir))
    if not settings.qdrant_url:
        raise ConfigError("RAG_INDEX=qdrant needs RAG_QDRANT_URL (e.g. http://localhost:6333), the server to use")
    with writing("create the data folder", settings.data_dir):
        settings.data_dir.mkdir(parents=True, exist_ok=True)
    engine = ClientEngine(settings.qdrant_url, settings.qdrant_collection, dim, settings.qdrant_api_key)
    where = f"the Qdrant collection {settings.qdrant_collection!r} at {settings.qdrant_url}"
    return QdrantIndex.open(engine, settings.data_dir, embedder_name, dim, where, grace_s=SERVER_WRITE_GRACE_S)


def describe(settings: Settings) -> str:
    """Where the index lives, for messages (never the API key)."""
    settings = resolve(settings)
    if settings.index == "local":
        return f"local files in {settings.data_dir}"
    if settings.index == "qdrant-edge":
        return f"Qdrant Edge (embedded) in {settings.data_dir / 'qdrant-edge'}"
    return f"Qdrant collection {settings.qdrant_collection!r} at {settings.qdrant_url or '(RAG_QDRANT_URL unset)'}"


def _require(backend: str) -> None:
    module, requirement = _PACKAGES[backend]
    if importlib.util.find_spec(module) is None:
        raise ConfigError(f"RAG_INDEX={backend} needs the {module} package: pip install {requirement}")
