"""Pictures of PDF pages with the cited span highlighted, drawn by PDFium in the sandbox, never in the app.

    renderer = PageRenderer(settings)
    image = renderer.render(library.renderable(doc_id), page=3, spans=("the sentence that supports the claim",))

PDFium is C++ and the file is the user's: a page that hangs or crashes it must not freeze the web server. So the
picture is drawn in a sandboxed worker (`rag.sandbox`: memory cap, `RENDER_TIMEOUT_S` per page) and comes back as
raw RGB pixels, checked before use. A file that hung or crashed the renderer is not sent to it again, and files
whose text needed the fallback reader are never sent at all (`Library.renderable`).
"""

from __future__ import annotations

import logging
import re
import threading
from collections import OrderedDict
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from rag.config import Settings
from rag.sandbox.process import Crashed, Outcome, Reply, TimedOut, Unreadable, WorkerProcess
from rag.sandbox.wire import BadMessage, field

if TYPE_CHECKING:
    from PIL import Image

logger = logging.getLogger(__name__)

SCALE = 1.4  # ~100 dpi: readable in the side panel, cheap to draw
HIGHLIGHT = (255, 214, 0, 90)
RENDER_TIMEOUT_S = 20.0  # a page takes 0.05-0.5 s; past this the worker is stopped and the file refused
MAX_PIXELS = 25_000_000  # a page picture larger than this is not drawn (a poster-sized page at 100 dpi)
CACHE_PAGES = 16  # pictures kept for a second look (each ~3 MB)
SPAN_CHARS = 400


class PageRenderer:
    """Draws PDF pages in one sandboxed worker, one page at a time; safe to call from several threads."""

    def __init__(self, settings: Settings, timeout_s: float = RENDER_TIMEOUT_S, preload: Sequence[str] = ()) -> None:
        """`preload` names modules the worker imports at start (tests use it to make PDFium hang or crash)."""
        self.timeout_s = timeout_s
        self._worker = WorkerProcess("render", {"memory_mb": settings.parse_memory_mb, "preload": list(preload)})
        self._lock = threading.Lock()
        self._cache: OrderedDict[tuple, Image.Image] = OrderedDict()
        self._refused: set[str] = set()  # files that hung or crashed the worker

    def render(self, path: Path | None, page: int, spans: Sequence[str] = ()) -> Image.Image | None:
        """Return page `page` (1-based) of the PDF at `path` with each of `spans` highlighted, or None when it
        cannot be drawn (not a PDF, no such page, or the file hung or crashed the renderer)."""
        if path is None or path.suffix.lower() != ".pdf" or page < 1 or not path.is_file():
            return None
        spans = tuple(clipped for span in spans if (clipped := " ".join(span.split())[:SPAN_CHARS]))
        key = (str(path), path.stat().st_mtime_ns, page, spans)
        with self._lock:
            if key in self._cache:
                self._cache.move_to_end(key)
                return self._cache[key].copy()
            if str(path) in self._refused:
                return None
            image = self._draw(path, page, spans)
            if image is not None:
                self._cache[key] = image
                while len(self._cache) > CACHE_PAGES:
                    self._cache.popitem(last=False)
        return image.copy() if image is not None else None

    def close(self) -> None:
        with self._lock:
            self._worker.stop()
            self._cache.clear()

    def _draw(self, path: Path, page: int, spans: tuple[str, ...]) -> Image.Image | None:
        request = {"path": str(path), "page": page, "spans": list(spans), "scale": SCALE}
        deadline = self._worker.submit(request, self.timeout_s)
        if deadline is None:
            logger.warning("cannot draw %s: the page renderer did not start", path.name)
            return None
        outcome = self._worker.collect(deadline, frame=True)
        if not isinstance(outcome, Reply):
            self._refused.add(str(path))
            logger.warning("not drawing pages of %s any more: the renderer %s", path.name, _what(outcome, self.timeout_s))
            return None
        try:
            return _image(outcome)
        except BadMessage as exc:
            self._worker.stop()
            self._refused.add(str(path))
            logger.warning("not drawing pages of %s any more: unreadable reply (%s)", path.name, exc)
            return None


def _what(outcome: Outcome, timeout_s: float) -> str:
    if isinstance(outcome, Crashed):
        return f"crashed ({outcome.how})"
    if isinstance(outcome, Unreadable):
        return f"sent an unreadable reply ({outcome.reason})"
    return f"took longer than {timeout_s:g} s" if isinstance(outcome, TimedOut) else "failed"


def _image(reply: Reply) -> Image.Image | None:
    """The picture in a render reply (None for a page that could not be drawn); raise BadMessage when malformed."""
    from PIL import Image

    if not field(reply.message, "ok", bool):
        logger.info("page not drawn: %s", field(reply.message, "reason", str)[:200])
        return None
    width, height = field(reply.message, "width", int), field(reply.message, "height", int)
    if not (width > 0 and height > 0 and width * height <= MAX_PIXELS) or reply.frame is None:
        raise BadMessage(f"a {width}x{height} picture")
    if len(reply.frame) != width * height * 3:
        raise BadMessage("the pixels do not match the picture's size")
    return Image.frombytes("RGB", (width, height), reply.frame)


# ---- the child's side -------------------------------------------------------------------------------------


class RenderHandler:
    """Answers {"path", "page", "spans", "scale"} requests in the sandboxed child with RGB pixels."""

    def __init__(self, config: dict[str, Any]) -> None:
        import pypdfium2  # noqa: F401  (imported before the memory cap)
        from PIL import Image  # noqa: F401

    def __call__(self, request: dict[str, Any]) -> tuple[dict[str, Any], bytes | None]:
        import pypdfium2 as pdfium

        try:
            spans = [str(span) for span in request["spans"]]
            image = draw_page(Path(request["path"]), int(request["page"]), spans, float(request["scale"]))
        except pdfium.PdfiumError as exc:
            return {"ok": False, "reason": f"PDFium could not open it: {exc}"}, None
        if image is None:
            return {"ok": False, "reason": "no such page"}, None
        if image.width * image.height > MAX_PIXELS:
            return {"ok": False, "reason": f"the page is too large to draw ({image.width}x{image.height})"}, None
        return {"ok": True, "width": image.width, "height": image.height}, image.tobytes()

    def out_of_memory(self, request: dict[str, Any]) -> dict[str, Any]:
        return {"ok": False, "reason": "drawing the page needed more memory than RAG_PARSE_MEMORY_MB allows"}


def draw_page(path: Path, page: int, spans: Sequence[str], scale: float = SCALE) -> Image.Image | None:
    """Return page `page` (1-based) as an RGB picture with `spans` highlighted; None when there is no such page."""
    import pypdfium2 as pdfium
    from PIL import Image, ImageDraw

    document = pdfium.PdfDocument(str(path))
    try:
        if page > len(document):
            return None
        pdf_page = document[page - 1]
        image = pdf_page.render(scale=scale).to_pil().convert("RGBA")
        rects = [rect for span in spans for rect in _span_rects(pdf_page, span)]
        height = pdf_page.get_height()
    finally:
        document.close()
    if rects:
        overlay = Image.new("RGBA", image.size, (0, 0, 0, 0))
        draw = ImageDraw.Draw(overlay)
        for left, bottom, right, top in rects:
            draw.rectangle([left * scale, (height - top) * scale, right * scale, (height - bottom) * scale], HIGHLIGHT)
        image = Image.alpha_composite(image, overlay)
    return image.convert("RGB")


def _span_rects(pdf_page: Any, span: str) -> list[tuple[float, float, float, float]]:
    """Return PDFium rectangles (left, bottom, right, top in PDF points) covering `span`, or [] if not found.

    The stored page text is PDFium's, cleaned (`rag.ingest.cleaning.clean_text`: spaces and line breaks
    normalised), so the span is found by searching PDFium's raw text for its first few words, then as many
    characters as the span has are highlighted.
    """
    textpage = pdf_page.get_textpage()
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
    return _figure_rects(textpage, span)


def _figure_rects(textpage: Any, span: str) -> list[tuple[float, float, float, float]]:
    """The figures of a table passage where the page prints them.

    A table's rows are stored as sentences that name their column headers (`rag.ingest.tables`), words the page
    does not print in that order; their figures it does ("5,931"), so those are highlighted.
    """
    rects = []
    for figure in dict.fromkeys(_FIGURE.findall(span)):
        match = textpage.search(figure, match_case=True, match_whole_word=True).get_next()
        if match:
            rects += [textpage.get_rect(i) for i in range(textpage.count_rects(*match))]
    return rects


_FIGURE = re.compile(r"\d{1,3}(?:,\d{3})+(?:\.\d+)?|\d+\.\d+")  # "5,931", "0.27": specific enough to find
