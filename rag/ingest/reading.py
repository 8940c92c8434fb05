"""Reading one file into a `ParsedFile` (document + chunks), and that result as it crosses the sandbox boundary.

    parse_in_process(path, settings, chunker)        # here, no limits: tests and trusted files
    ParseHandler(config)(request)                     # in the sandboxed child: a JSON reply
    parsed_from_wire(reply, path, name)               # in the parent: the reply checked and rebuilt

The parent trusts nothing in a reply it did not check: page numbers must increase, every chunk must lie inside its
page, the document's id is the parent's own sha256 of the file and each chunk id is recomputed from its offsets.
"""

from __future__ import annotations

import re
import traceback
from collections.abc import Callable
from contextlib import nullcontext
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from rag import errors
from rag.config import Settings
from rag.digest import file_sha256
from rag.errors import DocumentLoadError
from rag.ingest.chunking import Chunker, chunk_id
from rag.ingest.loaders import load_document
from rag.ingest.ocr import reporting_pages
from rag.ingest.pdf import without_pdfium
from rag.sandbox.wire import BadMessage, field
from rag.types import Chunk, Document, Page

# The errors a worker may report for a file, by the name it sends (anything else becomes a DocumentLoadError).
LOAD_ERRORS = {cls.__name__: cls for cls in (
    errors.DocumentLoadError, errors.UnsupportedFileError, errors.EncryptedFileError, errors.FileTooLargeError,
    errors.NoTextError,
)}  # fmt: skip
MAX_REASON_CHARS = 500
_KIND = re.compile(r"[a-z0-9]{1,16}")


@dataclass(frozen=True)
class ParsedFile:
    """A loaded document and its chunks, in reading order."""

    document: Document
    chunks: tuple[Chunk, ...]


def chunker_for(settings: Settings, tokenizer_file: str | Path) -> Chunker:
    """The Chunker that Settings ask for (chunk_tokens, chunk_overlap, chunk_context)."""
    return Chunker(tokenizer_file, settings.chunk_tokens, settings.chunk_overlap, settings.chunk_context)


def parse_in_process(path: Path, settings: Settings, chunker: Chunker, name: str | None = None) -> ParsedFile:
    """Load and chunk one file in this process: no timeout, no memory cap (tests, trusted files)."""
    document = load_document(Path(path), settings, name)
    return ParsedFile(document, tuple(chunker.split(document)))


def memory_reason(settings: Settings) -> str:
    """The reason given for a file that hit the worker's memory cap."""
    return (
        f"needed more than {settings.parse_memory_mb} MB of memory to read and was stopped; "
        "split it or raise RAG_PARSE_MEMORY_MB"
    )


# ---- the child's side -------------------------------------------------------------------------------------


class ParseHandler:
    """Answers {"path", "name", "pdfium"} requests in the sandboxed child (see `rag.sandbox.child`)."""

    def __init__(self, config: dict[str, Any]) -> None:
        import pypdf  # noqa: F401  (imported once, up front, before the memory cap)

        self.settings = Settings.from_dict(config["settings"])
        self.chunker = chunker_for(self.settings, config["tokenizer_file"])
        self.progress: Callable[[dict[str, Any]], None] = lambda _data: None  # set by rag.sandbox.child

    def _report_ocr(self, done: int, total: int) -> None:
        self.progress({"stage": "ocr", "done": done, "total": total})

    def __call__(self, request: dict[str, Any]) -> tuple[dict[str, Any], None]:
        """Return the wire reply for one file; `pdfium=False` is the parent's retry of a PDF that crashed PDFium."""
        name = request["name"]
        try:
            with nullcontext() if request["pdfium"] else without_pdfium(), reporting_pages(self._report_ocr):
                return parsed_to_wire(parse_in_process(Path(request["path"]), self.settings, self.chunker, name)), None
        except DocumentLoadError as exc:
            return _failure(type(exc).__name__, exc.reason), None
        except MemoryError:
            return self.out_of_memory(request), None
        except RecursionError:
            return _failure("DocumentLoadError", "is nested too deeply to read; re-export or simplify it"), None
        except Exception as exc:  # a bug of ours or a parser's: this file fails, the batch goes on
            traceback.print_exc()
            return _failure("DocumentLoadError", f"could not be read: unexpected {type(exc).__name__}: {exc}"), None

    def out_of_memory(self, request: dict[str, Any]) -> dict[str, Any]:
        return _failure("DocumentLoadError", memory_reason(self.settings))


def _failure(error: str, reason: str) -> dict[str, Any]:
    return {"ok": False, "error": error, "reason": reason[:MAX_REASON_CHARS]}


def parsed_to_wire(parsed: ParsedFile) -> dict[str, Any]:
    """The reply for a parsed file: pages and chunk positions (chunk text is cut from the pages by the parent)."""
    doc = parsed.document
    return {
        "ok": True,
        "kind": doc.kind,
        "title": doc.title,
        "warnings": list(doc.warnings),
        "pages": [[page.number, page.text] for page in doc.pages],
        "chunks": [[c.page, c.start, c.end, list(c.headings), c.ordinal, c.context] for c in parsed.chunks],
    }


# ---- the parent's side ------------------------------------------------------------------------------------


def parsed_from_wire(reply: Any, path: Path, name: str) -> ParsedFile | DocumentLoadError:
    """Rebuild a worker's reply for the file at `path` shown as `name`; raise BadMessage when it is malformed."""
    if not field(reply, "ok", bool):
        error = LOAD_ERRORS.get(field(reply, "error", str), DocumentLoadError)
        return error(name, field(reply, "reason", str)[:MAX_REASON_CHARS])
    kind = field(reply, "kind", str)
    if not _KIND.fullmatch(kind):
        raise BadMessage(f"kind {kind[:20]!r} is not a file type")
    pages = tuple(_page(item) for item in field(reply, "pages", list))
    numbers = [page.number for page in pages]
    if numbers != sorted(set(numbers)):
        raise BadMessage("page numbers do not increase")
    warnings = tuple(_text(w) for w in field(reply, "warnings", list))
    document = Document(file_sha256(path), name, str(path), kind, pages, warnings, _text(field(reply, "title", str)))
    texts = {page.number: page.text for page in pages}
    return ParsedFile(document, tuple(_chunk(row, document, texts) for row in field(reply, "chunks", list)))


def ocr_progress_from_wire(data: Any) -> tuple[int, int]:
    """(done, total) from a worker's {"stage": "ocr", "done", "total"} progress; raise BadMessage when malformed."""
    if field(data, "stage", str) != "ocr":
        raise BadMessage("unknown progress stage")
    done, total = field(data, "done", int), field(data, "total", int)
    if not 0 <= done <= total:
        raise BadMessage("progress out of range")
    return done, total


def _page(item: Any) -> Page:
    if not (isinstance(item, list) and len(item) == 2 and _is_int(item[0]) and item[0] >= 1 and isinstance(item[1], str)):
        raise BadMessage("a page is not [number, text]")
    return Page(item[0], item[1])


def _chunk(row: Any, document: Document, texts: dict[int, str]) -> Chunk:
    if not (isinstance(row, list) and len(row) == 6):
        raise BadMessage("a chunk is not [page, start, end, headings, ordinal, context]")
    page, start, end, headings, ordinal, context = row
    if not (_is_int(page) and page in texts and _is_int(start) and _is_int(end) and _is_int(ordinal)):
        raise BadMessage("a chunk's page or offsets are not numbers of this document")
    if not 0 <= start < end <= len(texts[page]):
        raise BadMessage("a chunk lies outside its page")
    if not (isinstance(headings, list) and all(isinstance(h, str) for h in headings) and isinstance(context, str)):
        raise BadMessage("a chunk's headings or context are not text")
    return Chunk(
        chunk_id(document.doc_id, page, start, end), document.doc_id, document.name, page, start, end,
        texts[page][start:end], tuple(headings), ordinal, context,
    )  # fmt: skip


def _is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _text(value: Any) -> str:
    if not isinstance(value, str):
        raise BadMessage("expected text")
    return value
