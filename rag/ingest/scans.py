"""Scanned PDF pages read by OCR (`rag.ingest.ocr`), in place of their missing text layer.

    report = read_scans(pdf, pages, scanned, settings)    # pypdfium2 document, pages, numbers that look scanned
    report.pages                                           # the same pages, scans now holding their OCR text

A page is read when it looks scanned (a picture with at most a stamp or header line of text, or a text layer of
symbols). Its OCR text replaces the layer's only when it has more letters (a blank scan keeps its ECF stamp), so
its passages keep the page's number and offsets into the stored text like any page; the page picture shown
beside an answer is the scan itself.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from typing import Any

from rag.config import Settings
from rag.ingest.cleaning import clean_text
from rag.ingest.ocr import OcrFailed, missing_reason, ocr_engine, report_page
from rag.types import Page


@dataclass(frozen=True)
class ScanReport:
    """What OCR did for one file: pages read, pages it failed on, scans left unread and why."""

    pages: list[Page]
    read: list[int] = field(default_factory=list)
    failed: list[int] = field(default_factory=list)
    failure: str = ""  # the first failure's reason
    unread: list[int] = field(default_factory=list)  # scans not read: OCR off or missing
    missing: str = ""  # why scans are not read ("" when OCR is available)
    engine: str = ""


def unread_scans(pages: list[Page], scanned: list[int], settings: Settings) -> ScanReport:
    """The report for a reader that cannot render pages (pypdf): scans stay unread."""
    return ScanReport(pages, unread=scanned, missing=missing_reason(settings) or "the fallback PDF reader has no OCR")


def read_scans(pdf: Any, pages: list[Page], scanned: list[int], settings: Settings) -> ScanReport:
    """Read the `scanned` pages of the open PDFium document by OCR, reporting (done, total) after each page."""
    if not scanned:  # the usual case: no engine is looked for, and blank pages are not called scans
        return ScanReport(pages)
    engine = ocr_engine(settings)
    if engine is None:
        return ScanReport(pages, unread=scanned, missing=missing_reason(settings))
    out, read, failed, failure = list(pages), [], [], ""
    report_page(0, len(scanned))
    for done, number in enumerate(scanned, 1):
        try:
            text = clean_text(engine.read(_picture(pdf, number, settings.ocr_dpi)))
        except OcrFailed as exc:
            failed.append(number)
            failure = failure or str(exc)
        else:
            read.append(number)
            if _letters(text) > _letters(out[number - 1].text):
                out[number - 1] = replace(out[number - 1], text=text)
        report_page(done, len(scanned))
    return ScanReport(out, read, failed, failure, engine=engine.name)


def _picture(pdf: Any, number: int, dpi: int):
    """Page `number` rendered in grey at `dpi` (a scan's own picture, drawn by PDFium)."""
    page = pdf[number - 1]
    try:
        return page.render(scale=dpi / 72).to_pil().convert("L")
    finally:
        page.close()


def _letters(text: str) -> int:
    return sum(ch.isalnum() for ch in text)
