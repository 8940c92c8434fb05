"""A full disk or a read-only data dir gives a clear IndexWriteError, and the index written before stays intact.

Real failures, not mocks: the data dir is a small tmpfs (disk full) or a read-only bind mount of it. Root
ignores file permissions, so chmod would prove nothing; the tests mount instead and skip, saying why, where
mounting is not permitted (not root, no CAP_SYS_ADMIN).
"""

from __future__ import annotations

import shutil
import subprocess
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

from rag.config import Settings
from rag.errors import IndexWriteError
from rag.library import Library
from tests.fakes import FakeEmbedder

SEED = {
    "alpha.txt": "Alpha notes: the lighthouse keeper logs every passing ship in a leather book.",
    "beta.txt": "Beta notes: glaciers carve fjords over thousands of years.",
}


def _mount(*args: str) -> None:
    subprocess.run(["mount", *args], check=True, capture_output=True, text=True)


def _umount(target: Path) -> None:
    subprocess.run(["umount", "-l", str(target)], check=False, capture_output=True)


@contextmanager
def _tmpfs(target: Path, size: str) -> Iterator[Path]:
    """A tmpfs of `size` mounted at `target` (skips where mounting is not permitted), unmounted afterwards."""
    target.mkdir()
    try:
        _mount("-t", "tmpfs", "-o", f"size={size}", "tmpfs", str(target))
    except (subprocess.CalledProcessError, FileNotFoundError) as exc:
        pytest.skip(f"cannot mount a tmpfs here (needs root with CAP_SYS_ADMIN): {exc}")
    try:
        yield target
    finally:
        _umount(target)


@pytest.fixture
def small_disk(tmp_path) -> Iterator[Path]:
    """A 3 MB tmpfs at tmp_path/disk."""
    with _tmpfs(tmp_path / "disk", "3m") as disk:
        yield disk


@pytest.fixture
def edge_disk(tmp_path) -> Iterator[Path]:
    """A 300 MB tmpfs: room for a Qdrant Edge shard (~15 MB used, its log preallocated)."""
    with _tmpfs(tmp_path / "edge-disk", "300m") as disk:
        yield disk


@pytest.fixture
def bind_view(small_disk, tmp_path) -> Iterator[tuple[Path, Path]]:
    """(the disk, the same dir through a bind mount that `make_read_only` can flip to read-only)."""
    view = tmp_path / "view"
    view.mkdir()
    try:
        _mount("--bind", str(small_disk), str(view))
    except subprocess.CalledProcessError as exc:
        pytest.skip(f"cannot bind-mount here: {exc.stderr.strip()}")
    try:
        yield small_disk, view
    finally:
        _umount(view)


def make_read_only(view: Path) -> None:
    try:
        _mount("-o", "remount,bind,ro", str(view))
    except subprocess.CalledProcessError as exc:
        pytest.skip(f"cannot remount {view} read-only: {exc.stderr.strip()}")


def open_library(data_dir: Path, index: str = "local") -> Library:
    settings = Settings(data_dir=data_dir, threads=1, parse_timeout_s=60, index=index)  # type: ignore[arg-type]
    return Library.open(settings, FakeEmbedder())


def seed(library: Library, folder: Path) -> dict[str, object]:
    folder.mkdir(exist_ok=True)
    for name, text in SEED.items():
        (folder / name).write_text(text)
    assert all(o.status == "indexed" for o in library.ingest(sorted(folder.glob("*.txt"))))
    return observe(library)


def observe(library: Library) -> dict[str, object]:
    """What a user can see: the documents and what searches return."""
    return {
        "documents": [(d.doc_id, d.name, d.pages, d.chunks) for d in library.documents()],
        "search": [(h.chunk.chunk_id, round(h.score, 5)) for h in library.search("lighthouse ship glaciers", 4)],
        "dense": [h.chunk.chunk_id for h in library.search("lighthouse keeper", 2, mode="dense")],
    }


def consistent(library: Library) -> None:
    """FAISS and BM25 hold exactly SQLite's chunk rows."""
    store = library.index.store
    with store._lock:
        rows = sorted(r[0] for r in store._conn.execute("SELECT id FROM chunks"))
        store._sync_vectors()
        index = store._vectors.index
        assert sorted(int(index.id_map.at(i)) for i in range(index.ntotal)) == rows
    library.index.bm25.refresh()
    assert sorted(int(r) for r in library.index.bm25._rows) == rows


def fill(disk: Path, leave_kb: int) -> None:
    """Fill the disk with one file so that only about `leave_kb` KB stay free."""
    free = shutil.disk_usage(disk).free
    with open(disk / "filler.bin", "wb") as handle:
        handle.write(b"\0" * max(0, free - leave_kb * 1024))


def test_a_full_disk_gives_index_write_error_and_keeps_the_previous_index(small_disk, tmp_path):
    data = small_disk / "data"
    library = open_library(data)
    before = seed(library, tmp_path / "seed")
    big = tmp_path / "big.txt"  # its kept copy fits; its pages, chunks and vectors in SQLite do not
    big.write_text(" ".join(f"Sentence {i} about the harbour and its many cranes." for i in range(6000)))
    fill(small_disk, leave_kb=int(big.stat().st_size / 1024) + 150)

    with pytest.raises(IndexWriteError) as caught:
        library.ingest([big])
    message = str(caught.value)
    print(f"\n{message}")
    assert str(data) in message and ("disk" in message or "space" in message)
    assert observe(library) == before  # the same Library still reads the old index
    consistent(library)
    library.close()

    reopened = open_library(data)
    assert observe(reopened) == before
    consistent(reopened)
    (small_disk / "filler.bin").unlink()  # space again: the same ingest now completes
    outcome = reopened.ingest([big])[0]
    assert outcome.status == "indexed", outcome
    consistent(reopened)
    reopened.close()


def test_a_full_disk_when_creating_the_index_is_a_clear_error(small_disk, tmp_path):
    fill(small_disk, leave_kb=0)
    with pytest.raises(IndexWriteError, match="disk"):
        open_library(small_disk / "data")


def test_a_read_only_data_dir_refuses_writes_and_keeps_the_index(bind_view, tmp_path):
    writable, view = bind_view
    library = open_library(writable / "data")
    before = seed(library, tmp_path / "seed")
    library.close()
    make_read_only(view)
    note = tmp_path / "new.txt"
    note.write_text("A new note about tides that cannot be stored.")

    try:
        readonly = open_library(view / "data")
    except IndexWriteError as exc:  # refusing to open read-only is acceptable, if it says why
        print(f"\nopen refused: {exc}")
        assert str(view / "data") in str(exc) and "writable" in str(exc)
    else:
        with pytest.raises(IndexWriteError, match="writable|read-only") as caught:
            readonly.ingest([note])
        print(f"\n{caught.value}")
        with pytest.raises(IndexWriteError):
            readonly.delete("alpha.txt")
        readonly.close()

    reopened = open_library(writable / "data")
    assert observe(reopened) == before
    consistent(reopened)
    reopened.close()


# Fixed in d1c2b8a: SQLite had already rolled back on SQLITE_FULL and a second ROLLBACK raised "cannot rollback -
# no transaction is active", which replaced "database or disk is full" in the message.
def test_the_disk_full_message_names_the_cause(small_disk, tmp_path):
    library = open_library(small_disk / "data")
    seed(library, tmp_path / "seed")
    big = tmp_path / "big.txt"
    big.write_text(" ".join(f"Sentence {i} about the harbour and its many cranes." for i in range(6000)))
    fill(small_disk, leave_kb=int(big.stat().st_size / 1024) + 150)
    with pytest.raises(IndexWriteError) as caught:
        library.ingest([big])
    library.close()
    assert "full" in str(caught.value) and "cannot rollback" not in str(caught.value), str(caught.value)


def test_qdrant_edge_on_a_nearly_full_disk_says_so_instead_of_dying(edge_disk, tmp_path):
    """Measured: with the disk full, opening an Edge index killed the process with SIGBUS (memory-mapped files);
    now opening and writing are refused with a message while under 100 MB are free, and nothing is lost."""
    data = edge_disk / "data"
    library = open_library(data, "qdrant-edge")
    before = seed(library, tmp_path / "seed")
    library.close()
    fill(edge_disk, leave_kb=40_000)
    with pytest.raises(IndexWriteError, match="MB free"):
        open_library(data, "qdrant-edge")
    (edge_disk / "filler.bin").unlink()
    library = open_library(data, "qdrant-edge")
    fill(edge_disk, leave_kb=40_000)  # the disk fills while the app runs
    note = tmp_path / "new.txt"
    note.write_text("A new note about tides that cannot be stored.")
    with pytest.raises(IndexWriteError, match="MB free"):  # as on local files: the ingest stops and says why
        library.ingest([note])
    assert observe(library) == before
    library.close()
    (edge_disk / "filler.bin").unlink()
    reopened = open_library(data, "qdrant-edge")
    assert observe(reopened) == before and reopened.ingest([note])[0].status == "indexed"
    reopened.close()
