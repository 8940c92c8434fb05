"""PDF text extraction: one `Page` per PDF page, for `rag.ingest.loaders.load_document`.

    load_pdf(data, "report.pdf", settings) -> ([Page(1, "..."), Page(2, ""), ...], ["1 of 2 pages have no text — ..."])

Readers are tried in the order of `PDF_READERS`: PDFium (pypdfium2, C++), then pypdf (pure Python) for a
file PDFium cannot parse, finds no text in, or refuses for a password (pypdf also opens files whose
*owner* password is empty). PDFium goes first because it is 14-28x faster with the same text (three SEC
10-Qs: 0.3-2 s against 4-54 s per file; pypdf ran past the 120 s parse timeout on an MSFT 10-Q on a busy
box) and it decodes CJK fonts pypdf garbles. It is C++: a crash on a hostile file is contained by the
parse worker (rag/ingest/parsing.py).

Encrypted files that open with an empty password are decrypted; others raise `EncryptedFileError`.
pypdf's safety limits (`LimitReachedError`) are retried with raised limits, per page where possible; a
page that still fails is skipped with a warning naming it. Empty pages are kept so page numbers stay right.

`without_pdfium()` reads with pypdf alone: the parse worker retries a PDF that way when PDFium crashed the
worker on it (a native abort, e.g. a decompression bomb at the memory cap), as pypdf limits what it inflates.
"""

from __future__ import annotations

import contextvars
import io
import logging
from collections.abc import Iterator
from contextlib import contextmanager

from rag.config import Settings
from rag.errors import DocumentLoadError, EncryptedFileError, FileTooLargeError, NoTextError
from rag.ingest.cleaning import clean_text
from rag.ingest.scans import ScanReport, read_scans, unread_scans
from rag.ingest.tables import with_tables
from rag.types import Page

logger = logging.getLogger(__name__)

# pypdf's safety limits stop a few real files (SEC filings with >100k-element arrays). We retry once with
# these higher limits; the parse worker's timeout and memory cap still guard against hostile files.
RAISED_PDF_LIMITS = {"array_maximum_element_count": 5_000_000, "dictionary_maximum_element_count": 5_000_000}
# A page with an image and fewer letters/digits than this is counted as scanned (only a stamp or header line).
SCANNED_PAGE_ALNUM = 100


def load_pdf(data: bytes, name: str, settings: Settings) -> tuple[list[Page], list[str]]:
    """Pages and warnings from the first reader in PDF_READERS that finds text.

    When none does, the most telling error wins: password, then no text, then unreadable.
    """
    failures: list[Exception] = []
    for reader in PDF_READERS if _pdfium_allowed.get() else FALLBACK_READERS:
        try:
            return reader(data, name, settings)
        except (_Unreadable, EncryptedFileError, NoTextError) as exc:  # the next reader may do better
            logger.info("%s: %s: %s", name, reader.__name__, exc)
            failures.append(exc)
    for kind in (EncryptedFileError, NoTextError):
        for exc in failures:
            if isinstance(exc, kind):
                raise exc
    raise DocumentLoadError(name, f"is not a readable PDF ({failures[0]}); re-export or repair it") from failures[0]


@contextmanager
def without_pdfium() -> Iterator[None]:
    """Within this block `load_pdf` uses FALLBACK_READERS (pypdf only), for a file that crashed PDFium."""
    token = _pdfium_allowed.set(False)
    try:
        yield
    finally:
        _pdfium_allowed.reset(token)


def pdf_title(data: bytes) -> str:
    """The PDF's /Title metadata, or "" when absent or unreadable (a title is a nicety: never fail a load over it).

    Read with PDFium, or with pypdf under `without_pdfium()`, so a file that crashed PDFium is not handed to it again.
    """
    return _pdfium_title(data) if _pdfium_allowed.get() else _pypdf_title(data)


def _pdfium_title(data: bytes) -> str:
    import pypdfium2 as pdfium

    try:
        pdf = pdfium.PdfDocument(data)
    except pdfium.PdfiumError as exc:  # the text reader reports an unreadable file; here it only means no title
        logger.debug("no PDF title: %s", exc)
        return ""
    try:
        return str(pdf.get_metadata_dict().get("Title") or "")
    finally:
        pdf.close()


def _pypdf_title(data: bytes) -> str:
    import pypdf

    try:
        metadata = pypdf.PdfReader(io.BytesIO(data)).metadata
    except (pypdf.errors.PyPdfError, ValueError) as exc:
        logger.debug("no PDF title: %s", exc)
        return ""
    return str((metadata.title if metadata else None) or "")


class _Unreadable(Exception):
    """The PDF's structure could not be parsed (the message is the parser's reason)."""


def _read_with_pypdf(data: bytes, name: str, settings: Settings) -> tuple[list[Page], list[str]]:
    import pypdf
    from pypdf.errors import LimitReachedError

    try:
        try:
            reader = _open_pdf(data, name)
            count = len(reader.pages)
        except LimitReachedError as exc:
            logger.info("%s: pypdf limit reached (%s); retrying with raised limits", name, exc)
            with pypdf.apply_configuration(**RAISED_PDF_LIMITS):
                reader = _open_pdf(data, name)
                count = len(reader.pages)
    except (DocumentLoadError, MemoryError):
        raise
    except Exception as exc:  # hostile files raise anything (KeyError, RecursionError, ...): one file fails
        raise _Unreadable(_describe(exc)) from exc
    _check_page_count(name, count, settings)
    pages, skipped, scanned = [], [], []
    for number in range(1, count + 1):
        text = _page_text(reader, number, name)
        if text is None:
            skipped.append(number)
        elif _looks_scanned(reader, number, text):
            scanned.append(number)
        pages.append(Page(number, text or ""))
    return pages, _pdf_warnings(name, pages, skipped, unread_scans(pages, scanned, settings))


def _open_pdf(data: bytes, name: str):
    import pypdf

    reader = pypdf.PdfReader(io.BytesIO(data))
    if reader.is_encrypted and not reader.decrypt(""):
        raise EncryptedFileError(name, "is password-protected; remove the password and upload it again")
    return reader


def _check_page_count(name: str, count: int, settings: Settings) -> None:
    if count > settings.max_pages:
        raise FileTooLargeError(
            name,
            f"has {count} pages, over the {settings.max_pages} page limit (RAG_MAX_PAGES); split it or raise the limit",
        )
    if count == 0:
        raise NoTextError(name, "has no pages")


def _page_text(reader, number: int, name: str) -> str | None:
    """The cleaned text of one page, or None when pypdf fails on it (the page is skipped, the rest loads)."""
    import pypdf
    from pypdf.errors import LimitReachedError

    try:
        try:
            raw = reader.pages[number - 1].extract_text()
        except LimitReachedError:
            with pypdf.apply_configuration(**RAISED_PDF_LIMITS):
                raw = reader.pages[number - 1].extract_text()
    except MemoryError:
        raise
    except Exception as exc:
        logger.info("%s: page %d could not be read: %s", name, number, _describe(exc))
        return None
    return clean_text(raw or "")


def _looks_scanned(reader, number: int, text: str) -> bool:
    """A page image with at most a stamp or header line of text (e.g. a scanned court order's ECF line)."""
    if not _few_letters(text):
        return False
    try:
        xobjects = reader.pages[number - 1]["/Resources"]["/XObject"].get_object()
        return any(xobjects[key].get_object().get("/Subtype") == "/Image" for key in xobjects)
    except Exception:  # no resources, or broken ones: nothing says it is a scan
        return False


def _few_letters(text: str) -> bool:
    """Too little text for a page of content: a scan's stamp or header line at most."""
    return sum(ch.isalnum() for ch in text) < SCANNED_PAGE_ALNUM


def _junk(text: str) -> bool:
    """A text layer that is not text: fonts without a character map give symbols and replacement characters."""
    shown = [ch for ch in text if not ch.isspace()]
    return len(shown) >= 50 and sum(ch.isalnum() for ch in shown) < 0.3 * len(shown)


def _read_with_pdfium(data: bytes, name: str, settings: Settings) -> tuple[list[Page], list[str]]:
    import pypdfium2 as pdfium

    try:
        pdf = pdfium.PdfDocument(data)
    except pdfium.PdfiumError as exc:
        if exc.err_code == PDFIUM_PASSWORD_ERROR:
            raise EncryptedFileError(name, "is password-protected; remove the password and upload it again") from exc
        raise _Unreadable(_describe(exc)) from exc
    try:
        _check_page_count(name, len(pdf), settings)
        pages, skipped, scanned = [], [], []
        for number in range(1, len(pdf) + 1):
            try:
                text, scan = _pdfium_page_text(pdf[number - 1], settings)
            except pdfium.PdfiumError as exc:
                logger.info("%s: page %d could not be read: %s", name, number, _describe(exc))
                skipped.append(number)
                text, scan = "", False
            if scan:
                scanned.append(number)
            pages.append(Page(number, text))
        ocr = read_scans(pdf, pages, scanned, settings)
    finally:
        pdf.close()
    return ocr.pages, _pdf_warnings(name, ocr.pages, skipped, ocr)


def _pdfium_page_text(page, settings: Settings) -> tuple[str, bool]:
    """A page's cleaned text (tables as rows with their headers) and whether OCR should read it instead: a layer
    of symbols, or a picture with at most a stamp or header line of text."""
    import pypdfium2.raw as raw

    try:
        textpage = page.get_textpage()
        try:
            text = textpage.get_text_bounded()
            text = clean_text(with_tables(textpage, text) if settings.pdf_tables else text)
        finally:
            textpage.close()
        pictured = _few_letters(text) and any(True for _ in page.get_objects([raw.FPDF_PAGEOBJ_IMAGE], max_depth=2))
        return text, _junk(text) or pictured
    finally:
        page.close()


PDFIUM_PASSWORD_ERROR = 4  # FPDF_ERR_PASSWORD
PDF_READERS = (_read_with_pdfium, _read_with_pypdf)  # see the module docstring for why PDFium goes first
FALLBACK_READERS = (_read_with_pypdf,)  # under without_pdfium(): pure Python, so it fails with an exception
_pdfium_allowed = contextvars.ContextVar("pdfium_allowed", default=True)


def _pdf_warnings(name: str, pages: list[Page], skipped: list[int], ocr: ScanReport) -> list[str]:
    warnings = []
    if ocr.read:
        warnings.append(f"read {_count(ocr.read)} by OCR ({ocr.engine}): check its passages against the page pictures")
    if ocr.failed:
        warnings.append(f"page(s) {_ranges(ocr.failed)} could not be read by OCR ({ocr.failure}) and have no text")
    if skipped:
        warnings.append(f"page(s) {_ranges(skipped)} could not be read and were skipped")
    empty = {p.number for p in pages if not any(ch.isalnum() for ch in p.text)} - set(skipped)
    if len(empty) == len(pages):
        raise NoTextError(name, f"has no text on any of its {len(pages)} pages {_why_no_text(ocr)}")
    unread = set(ocr.unread) | (empty - set(ocr.read) - set(ocr.failed))
    if unread:
        how = "little or no" if set(ocr.unread) - empty else "no"  # a scan may carry a stamp or header line
        warnings.append(f"{len(unread)} of {len(pages)} pages have {how} text {_why_no_text(ocr)}")
    return warnings


def _why_no_text(ocr: ScanReport) -> str:
    if ocr.read or ocr.failed:
        return "even by OCR"
    if ocr.missing:
        return f"— scanned? {ocr.missing}"
    return "(blank: no text and no picture to read by OCR)"


def _count(pages: list[int]) -> str:
    return f"{len(pages)} page{'s' if len(pages) != 1 else ''}"


def _describe(exc: BaseException) -> str:
    """Example: KeyError('/Root') -> "KeyError: '/Root'" (cut to 200 characters)."""
    return (f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__)[:200]


def _ranges(numbers: list[int]) -> str:
    """Example: [1, 2, 3, 7] -> "1-3, 7"."""
    parts, start = [], None
    for i, n in enumerate(numbers):
        if start is None:
            start = n
        if i + 1 == len(numbers) or numbers[i + 1] != n + 1:
            parts.append(str(start) if start == n else f"{start}-{n}")
            start = None
    return ", ".join(parts)
