"""A picture of a cited PDF page, with the supporting span painted over, rendered with pypdfium2.

The engine's page text (pypdf) and pdfium's text differ in whitespace, so the span is located by searching
pdfium's text for its first few words and then highlighting as many characters as the span has.
When that search fails the page is still shown, just without the highlight.
"""

from __future__ import annotations

import logging
import threading
from functools import lru_cache
from pathlib import Path

from PIL import Image, ImageDraw

logger = logging.getLogger(__name__)

SCALE = 1.4  # ~100 dpi: readable in the side panel, cheap to render
HIGHLIGHT = (255, 214, 0, 90)
_PDFIUM_LOCK = threading.Lock()  # pdfium is not thread-safe; sessions render concurrently


def render_page(path: Path | None, page: int, span: str = "") -> Image.Image | None:
    """Return page `page` (1-based) of the PDF at `path` as an image, `span` highlighted; None if not a PDF page."""
    if path is None or path.suffix.lower() != ".pdf" or page < 1:
        return None
    image = _render(str(path), path.stat().st_mtime, page, " ".join(span.split())[:400])
    return image.copy() if image is not None else None


@lru_cache(maxsize=32)
def _render(path: str, _mtime: float, page: int, span: str) -> Image.Image | None:
    import pypdfium2 as pdfium

    with _PDFIUM_LOCK:
        try:
            document = pdfium.PdfDocument(path)
        except pdfium.PdfiumError as exc:  # a stored file we cannot open: show no picture, say why in the log
            logger.warning("cannot render %s: %s", path, exc)
            return None
        try:
            if page > len(document):
                return None
            pdf_page = document[page - 1]
            image = pdf_page.render(scale=SCALE).to_pil().convert("RGBA")
            rects = _span_rects(pdf_page, span) if span else []
            height = pdf_page.get_height()
        finally:
            document.close()
    if rects:
        overlay = Image.new("RGBA", image.size, (0, 0, 0, 0))
        draw = ImageDraw.Draw(overlay)
        for left, bottom, right, top in rects:
            draw.rectangle([left * SCALE, (height - top) * SCALE, right * SCALE, (height - bottom) * SCALE], HIGHLIGHT)
        image = Image.alpha_composite(image, overlay)
    return image.convert("RGB")


def _span_rects(pdf_page: object, span: str) -> list[tuple[float, float, float, float]]:
    """Return pdfium rectangles (left, bottom, right, top in PDF points) covering `span`, or [] if not found."""
    textpage = pdf_page.get_textpage()  # type: ignore[attr-defined]
    words = span.split()
    for size in (8, 5, 3):
        probe = " ".join(words[:size])
        if len(probe) < 8:
            continue
        match = textpage.search(probe, match_case=False).get_next()
        if match:
            start = match[0]
            count = min(len(span), textpage.count_chars() - start)
            return [textpage.get_rect(i) for i in range(textpage.count_rects(start, count))]
    return []
