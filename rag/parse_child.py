"""The parse worker's side of `rag/parsing.py`: its request loop, its memory cap and the messages it sends.

Started by `ParseWorker` as `python -c "...serve(read_fd, write_fd)"`. It receives
(settings, tokenizer_file, preload, log_level) once, answers "ready", then for each (path, name, pdfium) request
sends a `Parsed` (the document; chunks without their text, which the parent slices from the pages) or a
`Failed` (a DocumentLoadError's class name, file name and reason: exceptions with a 2-argument
`__init__` do not pickle).
"""

from __future__ import annotations

import importlib
import logging
import signal
import traceback
from contextlib import nullcontext
from dataclasses import dataclass
from multiprocessing.connection import Connection
from pathlib import Path

from . import errors
from .chunking import Chunker
from .config import Settings
from .errors import DocumentLoadError
from .parsing import ParsedFile, chunker_for, parse_in_process
from .pdf import without_pdfium
from .types import Chunk, Document


class Duplex(Connection):
    """A Connection over two one-way pipe fds (read, write), as the worker and its parent use them."""

    def __init__(self, read_fd: int, write_fd: int) -> None:
        super().__init__(read_fd, writable=False)
        self._writer = Connection(write_fd, readable=False)

    def send(self, obj) -> None:
        self._writer.send(obj)

    def close(self) -> None:
        self._writer.close()
        super().close()


@dataclass(frozen=True)
class Parsed:
    """A parsed file; `result()` rebuilds the ParsedFile in the parent."""

    document: Document
    # chunk_id, page, start, end, headings, ordinal, context (the text is rebuilt from the page: not sent twice)
    rows: list[tuple[str, int, int, int, tuple[str, ...], int, str]]

    @classmethod
    def of(cls, parsed: ParsedFile) -> Parsed:
        return cls(
            parsed.document,
            [(c.chunk_id, c.page, c.start, c.end, c.headings, c.ordinal, c.context) for c in parsed.chunks],
        )

    def result(self) -> ParsedFile:
        doc = self.document
        texts = {page.number: page.text for page in doc.pages}
        chunks = tuple(
            Chunk(cid, doc.doc_id, doc.name, page, start, end, texts[page][start:end], headings, ordinal, context)
            for cid, page, start, end, headings, ordinal, context in self.rows
        )
        return ParsedFile(doc, chunks)


@dataclass(frozen=True)
class Failed:
    """A file that could not be parsed; `result()` rebuilds the DocumentLoadError in the parent."""

    error: str  # the DocumentLoadError subclass's name in rag.errors
    name: str
    reason: str

    def result(self) -> DocumentLoadError:
        cls = getattr(errors, self.error, DocumentLoadError)
        if not (isinstance(cls, type) and issubclass(cls, DocumentLoadError)):
            cls = DocumentLoadError
        return cls(self.name, self.reason)


def serve(read_fd: int, write_fd: int) -> None:
    """Child main loop: read (path, name) requests, answer each with a ParsedFile or an error."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C is for the parent, which stops us
    conn = Duplex(read_fd, write_fd)
    settings, tokenizer_file, preload, log_level = conn.recv()
    logging.basicConfig(level=log_level, format="%(levelname)s %(name)s (parse worker): %(message)s")
    logging.getLogger("pypdf").setLevel(logging.ERROR)  # hostile PDFs make it chatty; failures reach the user anyway
    import pypdf  # noqa: F401  (import once, up front)

    for module in preload:
        importlib.import_module(module)
    chunker = chunker_for(settings, tokenizer_file)
    _cap_memory(settings.parse_memory_mb)
    conn.send("ready")
    while True:
        try:
            path, name, pdfium = conn.recv()
        except EOFError:  # the parent closed the pipe or died
            return
        message = _parse(Path(path), name, pdfium, settings, chunker)
        try:
            conn.send(message)
        except MemoryError:
            conn.send(Failed("DocumentLoadError", name, memory_reason(settings)))
        except BrokenPipeError:  # the parent stopped listening (it was closed or died): nothing left to do
            return


def _parse(path: Path, name: str, pdfium: bool, settings: Settings, chunker: Chunker) -> Parsed | Failed:
    """One request's answer; `pdfium=False` is the parent's retry of a PDF that crashed PDFium (pypdf only)."""
    try:
        with nullcontext() if pdfium else without_pdfium():
            return Parsed.of(parse_in_process(path, settings, chunker, name))
    except DocumentLoadError as exc:
        return Failed(type(exc).__name__, exc.name, exc.reason)
    except MemoryError:
        return Failed("DocumentLoadError", name, memory_reason(settings))
    except RecursionError:
        return Failed("DocumentLoadError", name, "is nested too deeply to read; re-export or simplify it")
    except Exception as exc:  # a bug of ours or a parser's: this file fails, the batch goes on
        traceback.print_exc()
        detail = f"{type(exc).__name__}: {exc}"[:200]
        return Failed("DocumentLoadError", name, f"could not be read: unexpected {detail}")


def memory_reason(settings: Settings) -> str:
    """The reason given for a file that hit the worker's memory cap."""
    return (
        f"needed more than {settings.parse_memory_mb} MB of memory to read and was stopped; "
        "split it or raise RAG_PARSE_MEMORY_MB"
    )


def _cap_memory(megabytes: int) -> None:
    import resource

    limit = megabytes * 1024 * 1024
    _, hard = resource.getrlimit(resource.RLIMIT_AS)
    if hard != resource.RLIM_INFINITY:
        limit = min(limit, hard)
    resource.setrlimit(resource.RLIMIT_AS, (limit, hard))
