"""VectorCache: exact below RAG_ANN_THRESHOLD, IVF from it on (recall vs exact, exact filtered searches, save/load),
the settings that choose it, and one FAISS thread per searching thread."""

from __future__ import annotations

import threading
from pathlib import Path

import faiss
import numpy as np
import pytest

from rag.config import Settings
from rag.errors import ConfigError
from rag.index.vectors import AnnOptions, VectorCache, ivf_lists
from rag.library import Library
from tests.fakes import FakeEmbedder

DIM = 32
ROWS = 1000
THRESHOLD = 500  # tiny, so the IVF path is exercised on 1,000 vectors in well under a second


def unit_vectors(count: int, seed: int) -> np.ndarray:
    """Return `count` random unit vectors around 30 random centres (seeded).

    Clustered like real embeddings: IVF relies on that (on uniform random points of the sphere it is at its worst:
    recall@10 0.78 here at nprobe 16).
    """
    rng = np.random.default_rng(seed)
    centres = rng.normal(size=(30, DIM))
    points = centres[rng.integers(0, 30, count)] + 0.8 * rng.normal(size=(count, DIM))
    return (points / np.linalg.norm(points, axis=1, keepdims=True)).astype(np.float32)


def built(data_dir: Path, ann: AnnOptions, rows: int = ROWS) -> VectorCache:
    """Return a cache over `rows` seeded vectors whose row ids start at 101 (not positions)."""
    data_dir.mkdir(parents=True, exist_ok=True)
    cache = VectorCache(data_dir, DIM, ann)
    cache.rebuild(1, np.arange(101, 101 + rows, dtype=np.int64), unit_vectors(rows, seed=0))
    return cache


def top_ids(cache: VectorCache, query: np.ndarray, k: int = 10, allowed: np.ndarray | None = None) -> list[int]:
    return [row for row, _ in cache.search(query, k, allowed)]


def is_ivf(cache: VectorCache) -> bool:
    return faiss.try_extract_index_ivf(cache.index) is not None


def test_above_the_threshold_the_index_is_ivf_with_high_recall(tmp_path):
    ivf = built(tmp_path / "ivf", AnnOptions(THRESHOLD, 16))
    exact = built(tmp_path / "flat", AnnOptions(0, 16))
    assert is_ivf(ivf) and ivf.describe() == f"ivf{ivf_lists(ROWS)}/nprobe16" and ivf_lists(ROWS) == 63
    assert not is_ivf(exact) and exact.describe() == "flat"
    queries = unit_vectors(50, seed=1)
    recall = np.mean([len(set(top_ids(ivf, q)) & set(top_ids(exact, q))) / 10 for q in queries])
    assert recall >= 0.9
    assert ivf.index.ntotal == ROWS and set(top_ids(ivf, queries[0], k=ROWS)) <= set(range(101, 101 + ROWS))


def test_below_the_threshold_the_index_is_exact(tmp_path):
    cache = built(tmp_path, AnnOptions(THRESHOLD, 16), rows=THRESHOLD - 1)
    assert not is_ivf(cache) and cache.describe() == "flat"
    assert is_ivf(built(tmp_path / "at", AnnOptions(THRESHOLD, 16), rows=THRESHOLD))  # the threshold itself is IVF


def test_filtered_ivf_search_equals_exact_filtered_search(tmp_path):
    ivf = built(tmp_path / "ivf", AnnOptions(THRESHOLD, 1))  # nprobe 1: an unfiltered search scans 1 of 63 lists
    exact = built(tmp_path / "flat", AnnOptions(0, 1))
    rng = np.random.default_rng(2)
    for query in unit_vectors(20, seed=3):
        allowed = np.sort(rng.choice(np.arange(101, 101 + ROWS), 15, replace=False)).astype(np.int64)
        found = ivf.search(query, 10, allowed)
        assert [row for row, _ in found] == top_ids(exact, query, allowed=allowed)
        assert {row for row, _ in found} <= set(allowed.tolist())
        assert np.allclose([s for _, s in found], [s for _, s in exact.search(query, 10, allowed)], atol=1e-5)
    few = np.array([101, 102], dtype=np.int64)
    assert sorted(top_ids(ivf, unit_vectors(1, seed=4)[0], allowed=few)) == [101, 102]  # k above the allowed count


def test_saved_ivf_cache_round_trips_its_type_nprobe_and_results(tmp_path):
    cache = built(tmp_path, AnnOptions(THRESHOLD, 7))
    cache.save()
    queries = unit_vectors(10, seed=5)
    allowed = np.arange(150, 180, dtype=np.int64)
    reloaded = VectorCache(tmp_path, DIM, AnnOptions(THRESHOLD, 7))
    assert reloaded.load(1) and is_ivf(reloaded) and reloaded.describe() == cache.describe() == "ivf63/nprobe7"
    for q in queries:
        assert reloaded.search(q, 10, None) == cache.search(q, 10, None)
        assert reloaded.search(q, 10, allowed) == cache.search(q, 10, allowed)
    other_nprobe = VectorCache(tmp_path, DIM, AnnOptions(THRESHOLD, 12))
    assert other_nprobe.load(1) and other_nprobe.describe() == "ivf63/nprobe12"  # the current setting wins


def test_a_saved_cache_of_the_other_kind_is_rebuilt_and_resaved(tmp_path):
    built(tmp_path, AnnOptions(THRESHOLD, 16)).save()
    exact = VectorCache(tmp_path, DIM, AnnOptions(0, 16))
    assert not exact.load(1)  # the threshold changed since the IVF file was written: the store rebuilds
    exact.rebuild(1, np.arange(101, 101 + ROWS, dtype=np.int64), unit_vectors(ROWS, seed=0))
    exact.save()  # overwrites the IVF file of the same generation, so the next open loads instead of rebuilding
    again = VectorCache(tmp_path, DIM, AnnOptions(0, 16))
    assert again.load(1) and not is_ivf(again)


def test_threshold_zero_from_the_environment_means_always_exact(tmp_path):
    settings = Settings.from_env({"RAG_ANN_THRESHOLD": "0"})
    cache = built(tmp_path, AnnOptions(settings.ann_threshold, settings.ann_nprobe), rows=ROWS)
    assert settings.ann_threshold == 0 and not is_ivf(cache)


def test_ann_settings_parse_from_the_environment():
    assert (Settings().ann_threshold, Settings().ann_nprobe) == (100_000, 16)
    parsed = Settings.from_env({"RAG_ANN_THRESHOLD": "250000", "RAG_ANN_NPROBE": "32"})
    assert (parsed.ann_threshold, parsed.ann_nprobe) == (250_000, 32)
    with pytest.raises(ConfigError, match="RAG_ANN_NPROBE"):
        Settings.from_env({"RAG_ANN_NPROBE": "many"})


def test_library_passes_the_ann_settings_to_its_vector_cache(tmp_path):
    settings = Settings(data_dir=tmp_path / "data", threads=1, ann_threshold=1234, ann_nprobe=8, index="local")
    with Library.open(settings, FakeEmbedder(dim=DIM)) as library:
        assert library.index.store._vectors.ann == AnnOptions(1234, 8)


def test_every_searching_thread_runs_faiss_on_one_thread(tmp_path):
    cache = built(tmp_path, AnnOptions(THRESHOLD, 16))
    seen: list[int] = []

    def search_then_look() -> None:
        cache.search(unit_vectors(1, seed=6)[0], 5, None)
        seen.append(faiss.omp_get_max_threads())

    worker = threading.Thread(target=search_then_look)  # libgomp keeps the thread count per thread
    worker.start()
    worker.join()
    assert seen == [1]


# ---- writes update the index in place ----------------------------------------------------------------------


def no_training(*args, **kwargs):
    """Stands in for `VectorCache._trained_ivf` where training the IVF again would be the bug."""
    raise AssertionError("the IVF was trained again")


@pytest.mark.parametrize("threshold", [0, THRESHOLD], ids=["flat", "ivf"])
def test_an_update_in_place_equals_a_rebuild(tmp_path, threshold):
    ann = AnnOptions(threshold, 1000)  # nprobe ≥ nlist: the IVF scans every list, so results must be identical
    cache = built(tmp_path / "a", ann)
    removed = np.arange(101, 201, dtype=np.int64)
    added, vectors = np.arange(5001, 5201, dtype=np.int64), unit_vectors(200, seed=7)
    assert cache.fits(ROWS - 100 + 200)
    cache.update(2, removed, added, vectors)
    keep = np.arange(201, 101 + ROWS, dtype=np.int64)
    fresh = VectorCache(tmp_path / "b", DIM, ann)
    fresh.rebuild(2, np.concatenate([keep, added]), np.concatenate([unit_vectors(ROWS, seed=0)[100:], vectors]))
    assert sorted(cache.ids().tolist()) == sorted(fresh.ids().tolist()) and cache.generation == 2
    for query in unit_vectors(10, seed=8):
        assert top_ids(cache, query) == top_ids(fresh, query)
        assert not set(top_ids(cache, query, k=50)) & set(removed.tolist())


def test_an_ivf_is_trained_again_only_when_its_size_has_moved_far():
    cache = VectorCache(Path("unused"), DIM, AnnOptions(200, 16))
    cache.rebuild(1, np.arange(ROWS, dtype=np.int64), unit_vectors(ROWS, seed=0))  # nlist 63: sized for 1,000
    assert cache.fits(ROWS) and cache.fits(1990) and cache.fits(260)  # ivf_lists 89 and 32 are within 31.5..89.1
    assert not cache.fits(2100) and not cache.fits(240)  # 92 and 31: outgrown, or far too many lists
    assert not cache.fits(199)  # below the threshold the index must be exact
    flat = VectorCache(Path("unused"), DIM, AnnOptions(200, 16))
    assert not flat.fits(10)  # nothing in memory yet: build it
    flat.rebuild(1, np.arange(10, dtype=np.int64), unit_vectors(10, seed=0))
    assert flat.fits(199) and not flat.fits(200)  # the threshold itself wants an IVF


def test_a_saved_ivf_inside_an_id_map_is_rebuilt(tmp_path):
    ivf = faiss.IndexIVFFlat(faiss.IndexFlatIP(DIM), DIM, 8, faiss.METRIC_INNER_PRODUCT)
    ivf.train(unit_vectors(600, seed=0))
    wrapped = faiss.IndexIDMap2(ivf)  # the layout written before in-place updates: its remove_ids breaks
    wrapped.add_with_ids(unit_vectors(600, seed=0), np.arange(600, dtype=np.int64))
    faiss.write_index(wrapped, str(tmp_path / "vectors.g3.faiss"))
    assert not VectorCache(tmp_path, DIM, AnnOptions(THRESHOLD, 16)).load(3)


def test_store_writes_update_the_ivf_without_training_it_again(tmp_path, monkeypatch):
    from rag.index.store import Store
    from tests.test_store import put

    embedder = FakeEmbedder(dim=512)  # wide enough that no two of these passages hash to the same vector
    store = Store.open(tmp_path / "idx", embedder.name, embedder.dim, AnnOptions(50, 1000))
    words = [f"w{i} v{i} u{i}" for i in range(100)]
    try:
        put(store, embedder, "a.txt", [words[:60]])
        store.flush()
        assert store._vectors.describe().startswith("ivf")

        monkeypatch.setattr(VectorCache, "_trained_ivf", no_training)
        put(store, embedder, "b.txt", [words[60:80]])
        put(store, embedder, "c.txt", [words[80:100]])
        store.delete(store.find("b.txt").doc_id)
        store.flush()
        assert store._vectors.index.ntotal == 80
        found = [h.chunk.text for h in store.dense_search(embedder.vector(words[90]), 5)]
        assert found[0] == words[90] and not set(found) & set(words[60:80])
    finally:
        store.close()
    reopened = Store.open(tmp_path / "idx", embedder.name, embedder.dim, AnnOptions(50, 1000))
    try:  # the saved file is the updated index, at SQLite's generation
        assert reopened.dense_search(embedder.vector(words[90]), 1)[0].chunk.text == words[90]
        assert reopened._vectors.index.ntotal == 80
    finally:
        reopened.close()


def test_a_cache_saved_before_the_last_writes_is_updated_not_trained_again(tmp_path, monkeypatch):
    from rag.index.store import Store
    from tests.test_store import put

    embedder, ann = FakeEmbedder(dim=512), AnnOptions(50, 1000)
    words = [f"w{i} v{i} u{i}" for i in range(80)]
    store = Store.open(tmp_path / "idx", embedder.name, embedder.dim, ann)
    put(store, embedder, "a.txt", [words[:60]])
    store.flush()  # saved at this generation
    put(store, embedder, "b.txt", [words[60:]])  # then killed before flush: no cache file for this generation
    store.close()

    monkeypatch.setattr(VectorCache, "_trained_ivf", no_training)
    reopened = Store.open(tmp_path / "idx", embedder.name, embedder.dim, ann)
    try:
        assert reopened.dense_search(embedder.vector(words[70]), 1)[0].chunk.text == words[70]
        assert reopened._vectors.index.ntotal == 80 and reopened._vectors.generation == reopened.generation
        reopened.flush()
        assert [p.name for p in (tmp_path / "idx").glob("vectors.g*.faiss")] == [
            f"vectors.g{reopened.generation}.faiss"
        ]
    finally:
        reopened.close()
