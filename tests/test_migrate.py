"""`rag.index.migrate` and `python -m rag migrate`: every document, its pages, passages and vectors reach the
target backend unchanged, nothing is embedded again, and an interrupted migration resumes."""

from __future__ import annotations

import pytest

from rag.cli.main import main
from rag.config import Settings
from rag.index.backends import open_index
from rag.index.migrate import migrate
from tests.fakes import FakeEmbedder
from tests.test_index_contract import FARM, ZOO, put, settings_for

PAIRS = [("local", "qdrant-edge"), ("qdrant-edge", "local"), ("local", "qdrant-client-local")]


@pytest.fixture
def embedder() -> FakeEmbedder:
    return FakeEmbedder(dim=32)


def snapshot(index) -> list[tuple]:
    """Everything a reader can see of each document, vectors included."""
    seen = []
    for info in index.documents():
        stored = index.stored(info.doc_id)
        seen.append((info.doc_id, info.name, info.pages, info.chunks, info.warnings, stored.file,
                     [p.text for p in stored.document.pages], [(c.chunk_id, c.page, c.start, c.end, c.text,
                     c.headings, c.ordinal, c.context) for c in stored.chunks], stored.vectors.round(6).tolist()))  # fmt: skip
    return seen


@pytest.mark.parametrize(("source", "target"), PAIRS)
def test_migration_copies_everything_and_searches_the_same(source, target, tmp_path, embedder):
    src = open_index(settings_for(source, tmp_path / "a"), embedder.name, embedder.dim)
    dst = open_index(settings_for(target, tmp_path / "b"), embedder.name, embedder.dim)
    try:
        for name, pages in (("zoo.txt", ZOO), ("farm.txt", FARM)):
            put(src, embedder, name, pages)
            (tmp_path / "a" / "files").mkdir(exist_ok=True)
            (tmp_path / "a" / "files" / f"{src.find(name).doc_id}.txt").write_text("original")
        report = migrate(src, dst)
        assert (report.copied, report.skipped, report.chunks) == (2, 0, 6)
        assert snapshot(dst) == snapshot(src)
        assert sorted((tmp_path / "b" / "files").iterdir()) != []  # kept originals follow the index
        query = embedder.vector("farm.txt\nhens lay brown eggs")
        got, want = dst.dense_search(query, 6), src.dense_search(query, 6)
        assert got[0].chunk == want[0].chunk  # (lower ranks hold ties, in any order)
        assert [h.score for h in got] == pytest.approx([h.score for h in want], abs=1e-5)
        assert [h.chunk.text for h in dst.keyword_search("tractor running", 2)] == ["the tractor is running again"]
    finally:
        src.close()
        dst.close()


def test_an_interrupted_migration_resumes_without_copying_twice(tmp_path, embedder):
    src = open_index(settings_for("local", tmp_path / "a"), embedder.name, embedder.dim)
    dst = open_index(settings_for("qdrant-edge", tmp_path / "a"), embedder.name, embedder.dim)  # same folder
    try:
        for name, pages in (("zoo.txt", ZOO), ("farm.txt", FARM)):
            put(src, embedder, name, pages)
        real_put, calls = dst.put, []

        def put_once(*args, **kwargs):
            if calls:
                raise KeyboardInterrupt("killed")
            calls.append(args[0].name)
            return real_put(*args, **kwargs)

        dst.put = put_once
        with pytest.raises(KeyboardInterrupt):
            migrate(src, dst)
        dst.put = real_put
        steps = []
        report = migrate(src, dst, steps.append)
        assert (report.copied, report.skipped) == (1, 1)
        assert [(s.name, s.status, s.done, s.total) for s in steps] == [
            ("zoo.txt", "skipped", 1, 2), ("farm.txt", "copied", 2, 2),
        ]  # fmt: skip
        assert snapshot(dst) == snapshot(src)
    finally:
        src.close()
        dst.close()


def test_cli_migrate_then_search_on_the_new_backend(tmp_path, monkeypatch, capsys):
    monkeypatch.setattr("rag.embedding.load_embedder", lambda settings: FakeEmbedder())
    docs = tmp_path / "docs"
    docs.mkdir()
    (docs / "fruit.txt").write_text("Apples are red.\n\nBananas are yellow and sweet.\n")
    data = str(tmp_path / "data")
    monkeypatch.setenv("RAG_INDEX", "local")
    assert main(["ingest", str(docs), "--data-dir", data, "--quiet"]) == 0
    assert main(["migrate", "--to", "qdrant-edge", "--data-dir", data, "--quiet"]) == 0
    assert "1 documents copied" in capsys.readouterr().out
    monkeypatch.setenv("RAG_INDEX", "qdrant-edge")
    assert main(["search", "bananas", "--data-dir", data, "--json"]) == 0
    assert '"fruit.txt"' in capsys.readouterr().out
    assert main(["migrate", "--to", "qdrant-edge", "--data-dir", data, "--quiet"]) == 1  # the same index
    assert "same index" in capsys.readouterr().err
    assert Settings.from_env().index == "qdrant-edge"
