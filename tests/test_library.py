"""Library: ingest outcomes and progress, idempotence, replace/delete, search checks, restart, real-model checks."""

from __future__ import annotations

import os
import threading
from pathlib import Path

import numpy as np
import pytest

from rag.config import Settings
from rag.errors import DocumentNotFoundError, IndexMismatchError, QueryError
from rag.index.files import remove_leftovers
from rag.ingest.batch import expand
from rag.library import Library
from rag.types import IngestProgress
from tests.fakes import FakeEmbedder


@pytest.fixture(params=["qdrant-edge", "local"])
def settings(tmp_path, request) -> Settings:
    """Every library test runs on both embedded backends (the default first)."""
    return Settings(data_dir=tmp_path / "data", threads=1, retrieval="hybrid", top_k=3, index=request.param)


@pytest.fixture
def docs(tmp_path) -> Path:
    folder = tmp_path / "docs"
    (folder / "sub").mkdir(parents=True)
    (folder / "fruit.txt").write_text("Apples are red.\n\nBananas are yellow and sweet.\n")
    (folder / "sub" / "space.md").write_text("# Space\n\nRockets fly to the moon.\n\nThe moon orbits the earth.\n")
    (folder / "notes.xyz").write_text("not a supported type")
    return folder


@pytest.fixture
def library(settings):
    opened = Library.open(settings, FakeEmbedder())
    yield opened
    opened.close()


def test_expand_walks_folders_for_supported_files_only(docs):
    items = expand([docs, docs / "fruit.txt"], None)
    assert [i.name for i in items] == ["fruit.txt", "sub/space.md", "fruit.txt"]
    assert [i.name for i in expand([docs / "fruit.txt"], ["Upload.txt"])] == ["Upload.txt"]


def test_ingest_reports_outcomes_and_progress_in_order(library, docs, tmp_path):
    bad = tmp_path / "broken.pdf"
    bad.write_bytes(b"%PDF-1.4 this is not really a pdf")
    events: list[IngestProgress] = []
    outcomes = library.ingest([docs, bad], on_progress=events.append)
    assert [(o.name, o.status) for o in outcomes] == [
        ("fruit.txt", "indexed"),
        ("sub/space.md", "indexed"),
        ("broken.pdf", "failed"),
    ]
    assert outcomes[0].message == "indexed 1 page, 1 passage"
    assert "broken.pdf" in outcomes[2].message and not outcomes[2].ok
    stages = [(e.file_index, e.stage) for e in events if e.stage != "embedding"]
    assert stages[:4] == [(0, "reading"), (0, "chunking"), (0, "indexing"), (0, "done")]
    assert stages[-2:] == [(2, "reading"), (2, "failed")]
    embedding = [e for e in events if e.stage == "embedding" and e.file_index == 1]
    assert embedding[-1].done == embedding[-1].total > 0
    assert [d.name for d in library.documents()] == ["fruit.txt", "sub/space.md"]


def test_reingest_is_a_no_op_and_changed_file_replaces(library, docs):
    library.ingest([docs])
    before = [(d.doc_id, d.added_at) for d in library.documents()]
    again = library.ingest([docs / "fruit.txt"])
    assert again[0].status == "unchanged" and [(d.doc_id, d.added_at) for d in library.documents()] == before
    (docs / "fruit.txt").write_text("Cherries are dark red.\n")
    [replaced] = library.ingest([docs / "fruit.txt"])
    assert replaced.status == "replaced"
    assert [h.chunk.text for h in library.search("cherries", k=1, mode="bm25")] == ["Cherries are dark red."]
    assert library.search("bananas", k=5, mode="bm25") == []
    assert len(list((library.settings.data_dir / "files").iterdir())) == 2  # old copy dropped


def test_replacing_an_edited_file_embeds_only_its_new_passages(settings, tmp_path):
    embedder = FakeEmbedder()
    paragraphs = [f"Paragraph {i} is about subject{i} and nothing else. " * 12 for i in range(6)]
    (tmp_path / "notes.txt").write_text("\n\n".join(paragraphs))
    settings = settings.replace(chunk_tokens=160, chunk_overlap=32)  # one paragraph per passage
    with Library.open(settings, embedder) as library:
        [first] = library.ingest([tmp_path / "notes.txt"])
        (tmp_path / "notes.txt").write_text("\n\n".join(paragraphs + ["A brand new closing paragraph."]))
        embedder.calls.clear()
        [second] = library.ingest([tmp_path / "notes.txt"])
        assert second.status == "replaced" and second.chunks >= first.chunks > 3
        assert sum(embedder.calls) < second.chunks  # unchanged passages kept their stored vectors
        hit = library.search("subject3", k=1, mode="dense")[0]
        assert "subject3" in hit.chunk.text  # a reused vector is stored under the new chunk and still found
        assert np.allclose(library.index.vectors_of([hit.chunk.chunk_id])[0], embedder.vector(hit.chunk.indexed_text))


def test_delete_removes_document_everywhere(library, docs):
    library.ingest([docs])
    doc_id = library.index.find("fruit.txt").doc_id
    assert library.document_path(doc_id).read_bytes() == (docs / "fruit.txt").read_bytes()
    info = library.delete("fruit.txt")
    assert info.name == "fruit.txt"
    assert [d.name for d in library.documents()] == ["sub/space.md"]
    for mode in ("dense", "bm25", "hybrid"):
        assert all(h.document != "fruit.txt" for h in library.search("apples bananas", k=5, mode=mode))
    assert library.document_path(doc_id) is None
    with pytest.raises(DocumentNotFoundError, match="known documents: sub/space.md"):
        library.delete("fruit.txt")


def test_search_checks_query_and_documents(library, docs):
    library.ingest([docs])
    with pytest.raises(QueryError, match="empty"):
        library.search("   ")
    with pytest.raises(QueryError, match="limit is 2000"):
        library.search("x" * 2001)
    with pytest.raises(DocumentNotFoundError, match="nope.pdf"):
        library.search("moon", documents=["nope.pdf"])
    hits = library.search("moon apples", documents=["fruit.txt"])
    assert {h.document for h in hits} == {"fruit.txt"}


def test_neighbours_and_page_text(library, tmp_path):
    text = "\n\n".join(f"Sentence {i} talks about topic{i} at length. " * 12 for i in range(12))
    (tmp_path / "long.txt").write_text(text)
    library.ingest([tmp_path / "long.txt"])
    hit = library.search("topic6", k=1, mode="bm25")[0]
    assert "topic6" in hit.chunk.text and library.documents()[0].chunks > hit.chunk.ordinal + 1 > 1
    around = library.chunk_neighbours(hit.chunk, 1)
    assert [c.ordinal for c in around] == [hit.chunk.ordinal - 1, hit.chunk.ordinal, hit.chunk.ordinal + 1]
    page = library.page_text(hit.chunk.doc_id, hit.chunk.page)
    assert page[hit.chunk.start : hit.chunk.end] == hit.chunk.text
    with pytest.raises(DocumentNotFoundError):
        library.page_text(hit.chunk.doc_id, 99)


def test_restart_gives_identical_results_without_rebuilding(settings, docs):
    first = Library.open(settings, FakeEmbedder())
    first.ingest([docs])
    expected = [(h.chunk.chunk_id, h.score) for h in first.search("the moon", k=3)]
    first.close()
    second = Library.open(settings, FakeEmbedder())
    assert [(h.chunk.chunk_id, h.score) for h in second.search("the moon", k=3)] == expected
    if settings.index == "local":  # its BM25 is a file derived from SQLite: loaded, not rebuilt (see test_lexical)
        generation = second.index.store.generation
        assert second.index.bm25.generation == generation
    second.close()


def test_other_embedder_refused(settings, docs):
    Library.open(settings, FakeEmbedder(dim=32)).close()
    with pytest.raises(IndexMismatchError, match="Use another --data-dir"):
        Library.open(settings, FakeEmbedder(dim=16))


def test_searches_while_ingesting_from_other_threads(library, docs, tmp_path):
    library.ingest([docs / "fruit.txt"])
    for i in range(6):
        (tmp_path / f"extra{i}.txt").write_text(f"Extra document {i} about planets and apples.\n")
    errors: list[BaseException] = []

    def searcher() -> None:
        try:
            for _ in range(30):
                assert library.search("apples", k=2)
        except BaseException as exc:  # collected and re-raised in the main thread
            errors.append(exc)

    threads = [threading.Thread(target=searcher) for _ in range(3)]
    for t in threads:
        t.start()
    library.ingest(sorted(tmp_path.glob("extra*.txt")))
    for t in threads:
        t.join()
    assert errors == []
    assert len(library.documents()) == 7


@pytest.mark.slow
def test_real_embedder_finds_the_page_of_a_known_sentence(shared_dir, tmp_path, real_embedder):
    pdf = shared_dir / "eval" / "blockchain_solana" / "source_files" / "BlockchainSolana.pdf"
    # reranker off: the score checked below is the embedder's cosine, not the re-ranker's blend
    settings = Settings(data_dir=tmp_path / "real", threads=1, reranker="none")
    with Library.open(settings, real_embedder) as library:
        [outcome] = library.ingest([pdf])
        assert outcome.status == "indexed" and outcome.pages == 27
        for mode in ("dense", "bm25", "hybrid"):  # a sentence from page 18, reworded
            hits = library.search(
                "The Proof of History sequence is a list of transactions ordered by a leader", k=1, mode=mode
            )
            assert hits[0].page == 18 and "Proof of History sequence" in hits[0].chunk.text
        related = library.search("Proof of History sequence", k=1, mode="dense")[0].score
        unrelated = library.search("recipe for chocolate cake", k=1, mode="dense")[0].score
        assert unrelated < 0.3 < related


def test_a_named_pipe_in_a_batch_fails_without_blocking(library, docs, tmp_path):
    pipe = tmp_path / "pipe.txt"
    os.mkfifo(pipe)
    outcomes = library.ingest([pipe, docs / "fruit.txt"])  # would block forever if anything read the pipe
    assert [(o.name, o.status) for o in outcomes] == [("pipe.txt", "failed"), ("fruit.txt", "indexed")]


def test_open_removes_old_leftovers_of_killed_writes_only(settings, docs):
    with Library.open(settings, FakeEmbedder()) as library:
        library.ingest([docs / "fruit.txt"])
        kept = library.document_path(library.documents()[0].doc_id)
    data = settings.data_dir
    (data / ".bm25-x").mkdir()
    old = [data / ".vectors-1.tmp", data / "files" / ".copy-1", data / "files" / ("f" * 64 + ".pdf"), data / ".bm25-x"]
    for path in old[:3]:
        path.write_bytes(b"junk")
    young = data / ".vectors-2.tmp"
    young.write_bytes(b"a write in progress elsewhere")
    for path in [*old, kept]:
        os.utime(path, (1, 1))  # 1970: older than any cutoff
    Library.open(settings, FakeEmbedder()).close()
    assert [p.exists() for p in old] == [False] * 4
    assert young.exists() and kept.exists()
    assert remove_leftovers(data, set(), min_age_s=0) != []  # without documents, the kept copy is a leftover
