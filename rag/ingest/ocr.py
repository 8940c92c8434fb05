"""Reading pages without a text layer (scans) by OCR: Tesseract, run in the parse sandbox.

    engine = ocr_engine(settings)          # None when RAG_OCR=off or Tesseract is not installed
    text = engine.read(picture)            # a PIL picture of the page, rendered by PDFium
    with reporting_pages(on_page): ...     # (done, total) after each page read, for progress and the time limit

Tesseract (Debian's `tesseract-ocr`, through pytesseract) was chosen over RapidOCR (`rapidocr-onnxruntime`, models
in its wheel) by measurement on 13 text pages of ../shared rendered to pictures, their own text layer the truth
(`python bench/ocr_engines.py`): character error rate 0.069 vs 0.152, words found 0.95 vs 0.75 (RapidOCR's English
model drops spaces, so the words it does read do not match in search), and it was faster on this CPU.

Each page runs as its own `tesseract` process (pytesseract), within `ocr_page_timeout_s`: a page that takes longer
is skipped with a warning and the rest of the file still loads. The child process inherits the sandbox's memory
cap. OpenMP threads are capped at RAG_THREADS so OCR never takes more cores than embedding would.
"""

from __future__ import annotations

import contextvars
import logging
import os
import shutil
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING, Protocol

from rag.config import Settings

if TYPE_CHECKING:  # pragma: no cover
    from PIL import Image

logger = logging.getLogger(__name__)

PageCallback = Callable[[int, int], None]  # (pages read so far, pages to read)
INSTALL_HINT = "install Tesseract to read them (Debian/Ubuntu: apt install tesseract-ocr)"


class OcrEngine(Protocol):
    """Turns a picture of a page into its text. Tests use a fake that returns fixed text."""

    name: str

    def read(self, picture: Image.Image) -> str: ...


class OcrFailed(Exception):
    """One page could not be read (timeout, engine error): that page is skipped, the file still loads."""


class TesseractEngine:
    """Tesseract through pytesseract: one `tesseract` process per page."""

    name = "tesseract"

    def __init__(self, languages: str, timeout_s: float, threads: int) -> None:
        self.languages = languages
        self.timeout_s = timeout_s
        os.environ["OMP_THREAD_LIMIT"] = str(max(threads, 1))  # read by the tesseract processes we start

    def read(self, picture: Image.Image) -> str:
        import pytesseract

        try:
            return pytesseract.image_to_string(picture, lang=self.languages, timeout=self.timeout_s)
        except RuntimeError as exc:  # pytesseract's timeout
            raise OcrFailed(f"took longer than {self.timeout_s:g} s") from exc
        except (pytesseract.TesseractError, OSError) as exc:
            raise OcrFailed(str(exc)[:200]) from exc


def ocr_engine(settings: Settings) -> OcrEngine | None:
    """The engine RAG_OCR asks for, or None when it is off or Tesseract is missing (`missing_reason` says which)."""
    if settings.ocr == "off" or missing_reason(settings):
        return None
    return TesseractEngine(settings.ocr_languages, settings.ocr_page_timeout_s, settings.resolved_threads)


def missing_reason(settings: Settings) -> str:
    """Why scanned pages are not read, for the warning ("" when OCR is available)."""
    if settings.ocr == "off":
        return "OCR is off (RAG_OCR=off)"
    if shutil.which("tesseract") is None:
        return INSTALL_HINT
    try:
        import pytesseract  # noqa: F401
    except ImportError:
        return "install pytesseract to read them (pip install -r requirements.txt)"
    return ""


_page_callback: contextvars.ContextVar[PageCallback | None] = contextvars.ContextVar("ocr_pages", default=None)


@contextmanager
def reporting_pages(callback: PageCallback) -> Iterator[None]:
    """Within this block, OCR calls `callback(done, total)` before the first page and after each page."""
    token = _page_callback.set(callback)
    try:
        yield
    finally:
        _page_callback.reset(token)


def report_page(done: int, total: int) -> None:
    callback = _page_callback.get()
    if callback is not None:
        callback(done, total)
