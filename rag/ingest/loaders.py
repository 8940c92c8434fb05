"""Turn a file into a `Document`: one loader per format, chosen by the file's extension.

    load_document(Path("report.pdf"), settings) -> Document(kind="pdf", pages=(Page(1, "..."), ...))

PDFs (read in `rag/ingest/pdf.py`) keep one `Page` per PDF page (1-based, empty pages included so numbers stay
right). Text, Markdown,
HTML and DOCX give a single page 1. Markdown stays raw; HTML and DOCX headings become `#` lines so the
chunker can give every passage its heading path. The page text we store is already cleaned
(`clean_text`), so chunk offsets index exactly what is stored.

Every failure a user can cause (bad file, wrong type, password, too big) raises a `DocumentLoadError`
subclass whose message names the file and says what to do. Hostile files are expected: the loaders
turn any exception from a parser into a per-file error, and `rag/ingest/parsing.py` runs them in a sandboxed
child process with a timeout and a memory cap.
"""

from __future__ import annotations

import codecs
import io
import logging
import re
import stat
import unicodedata
from pathlib import Path

from rag.config import Settings
from rag.digest import bytes_sha256
from rag.errors import DocumentLoadError, FileTooLargeError, NoTextError, UnsupportedFileError
from rag.ingest.cleaning import clean_text, display_name
from rag.ingest.pdf import load_pdf, pdf_title
from rag.ingest.titles import document_title
from rag.types import Document, Page

logger = logging.getLogger(__name__)

KINDS = {".pdf": "pdf", ".txt": "txt", ".md": "md", ".markdown": "md", ".html": "html", ".htm": "html", ".docx": "docx"}
SUPPORTED_TYPES = ", ".join(KINDS)


def load_document(path: Path, settings: Settings, name: str | None = None) -> Document:
    """Read one file into a Document.

    Args:
        path: the file on disk.
        settings: for the limits `max_file_mb` and `max_pages`.
        name: the name shown to the user (the original upload name); defaults to the file's name.

    Raises:
        DocumentLoadError (or a subclass) naming the file.
    """
    path = Path(path)
    name = display_name(name if name is not None else path.name) or display_name(path.name) or "unnamed file"
    kind = KINDS.get(path.suffix.lower())
    if kind is None:
        what = f"'{path.suffix}' files are" if path.suffix else "files without an extension are"
        raise UnsupportedFileError(name, f"{what} not supported; supported types: {SUPPORTED_TYPES}")
    data = _read_bytes(path, name, settings)
    pages, warnings = LOADERS[kind](data, name, settings)
    if not any(page.text.strip() for page in pages):
        raise NoTextError(name, "contains no readable text")
    return Document(
        doc_id=bytes_sha256(data),
        name=name,
        path=str(path),
        kind=kind,
        pages=tuple(pages),
        warnings=tuple(warnings),
        title=document_title(kind, pages, pdf_title(data) if kind == "pdf" else ""),
    )


def _read_bytes(path: Path, name: str, settings: Settings) -> bytes:
    limit = settings.max_file_mb * 1024 * 1024
    try:
        info = path.stat()
        if not stat.S_ISREG(info.st_mode):  # a FIFO or device would block or never end
            raise DocumentLoadError(name, "is not a regular file (a folder, pipe or device); choose the file itself")
        size = info.st_size
        if size > limit:
            raise FileTooLargeError(
                name, f"is {size / 1024 / 1024:.1f} MB, over the {settings.max_file_mb:g} MB limit (RAG_MAX_FILE_MB)"
            )
        if size == 0:
            raise DocumentLoadError(name, "is empty (0 bytes); there is nothing to read")
        return path.read_bytes()
    except OSError as exc:
        raise DocumentLoadError(name, f"could not be opened ({exc.strerror or exc})") from exc


# --- plain text and Markdown ---

_BOMS = ((codecs.BOM_UTF32_LE, "utf-32"), (codecs.BOM_UTF32_BE, "utf-32"), (codecs.BOM_UTF8, "utf-8-sig"),
         (codecs.BOM_UTF16_LE, "utf-16"), (codecs.BOM_UTF16_BE, "utf-16"))  # fmt: skip


def decode_text(data: bytes, name: str) -> str:
    """Bytes to str: a BOM wins, then UTF-8, then charset-normalizer's guess.

    Raises DocumentLoadError when no encoding fits (binary data); never a UnicodeDecodeError.
    """
    for bom, encoding in _BOMS:
        if data.startswith(bom):
            return data.decode(encoding, errors="replace")
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        from charset_normalizer import from_bytes  # not UTF-8: guess below

    matches = from_bytes(data)
    best = matches.best()
    if best is None:
        raise DocumentLoadError(name, "does not look like text (binary data or an unknown encoding)")
    # Short Western text scores the same in cp1250 and cp1252; the tie goes to the far more common cp1252.
    for match in matches:
        if (match.chaos, match.coherence) == (best.chaos, best.coherence) and "cp1252" in match.could_be_from_charset:
            return data.decode("cp1252", errors="replace")
    return str(best)


def _load_text(data: bytes, name: str, settings: Settings) -> tuple[list[Page], list[str]]:
    text = decode_text(data, name)
    junk = sum(1 for ch in text if ch == "\ufffd" or (unicodedata.category(ch) == "Cc" and ch not in "\t\n\r\f"))
    if junk > 0.05 * len(text):
        raise DocumentLoadError(name, "does not look like text (binary data or an unknown encoding)")
    return [Page(1, clean_text(text))], []


# --- HTML ---

_SKIP_TAGS = {"script", "style", "noscript", "template", "svg", "nav", "header", "footer", "aside", "form",
              "iframe", "head", "button", "select", "canvas", "object", "embed"}  # fmt: skip
_BLOCK_TAGS = {"p", "div", "section", "article", "main", "ul", "ol", "li", "table", "tr", "blockquote", "pre",
               "dl", "dt", "dd", "figure", "figcaption", "caption", "br", "hr", "body", "address", "details",
               "summary", "thead", "tbody", "tfoot"}  # fmt: skip
_WHITESPACE = re.compile(r"\s+")
_HEADINGS = {"h1": 1, "h2": 2, "h3": 3, "h4": 4, "h5": 5, "h6": 6}


def _load_html(data: bytes, name: str, settings: Settings) -> tuple[list[Page], list[str]]:
    from bs4 import BeautifulSoup

    try:
        soup = BeautifulSoup(data, "lxml")
    except Exception as exc:
        raise DocumentLoadError(name, f"is not readable HTML ({type(exc).__name__}: {exc})") from exc
    root = soup.find("main") or soup.find("article") or soup.body or soup
    return [Page(1, clean_text(html_to_text(root)))], []


def html_to_text(root) -> str:
    """The visible text under `root`, headings as `#` lines, blocks on their own lines.

    Walks the tree with an explicit stack: 100k nested <div>s must not hit Python's recursion limit.
    """
    from bs4 import NavigableString, Tag

    out: list[str] = []
    stack: list[object] = [root]
    while stack:
        node = stack.pop()
        if isinstance(node, str) and not isinstance(node, NavigableString):
            out.append(node)  # a marker pushed below (newline / heading prefix)
        elif isinstance(node, Tag):
            tag = node.name
            if tag in _SKIP_TAGS:
                continue
            if tag in _HEADINGS:
                title = " ".join(node.get_text(" ").split())
                if title:
                    out.append(f"\n\n{'#' * _HEADINGS[tag]} {title}\n\n")
                continue
            closing = "\n" if tag in _BLOCK_TAGS else (" | " if tag in ("td", "th") else "")
            if closing:
                stack.append(closing)
            stack.extend(reversed(node.contents))
            if tag == "li":
                stack.append("\n- ")
        elif type(node) is NavigableString:  # not a Comment, Doctype, CData, ...
            out.append(_WHITESPACE.sub(" ", node))
    text = "".join(out)
    text = re.sub(r" *\| *\n", "\n", text)  # the " | " after a row's last cell
    return re.sub(r"[ \t]*\n[ \t]*", "\n", text)


# --- DOCX ---


def _load_docx(data: bytes, name: str, settings: Settings) -> tuple[list[Page], list[str]]:
    import docx
    from docx.table import Table

    try:
        document = docx.Document(io.BytesIO(data))
        lines = []
        for block in document.iter_inner_content():
            if isinstance(block, Table):
                lines.extend(_docx_table_rows(block))
                lines.append("")
            else:
                lines.append(_docx_paragraph(block))
    except Exception as exc:
        raise DocumentLoadError(
            name, f"is not a readable Word document ({type(exc).__name__}: {exc}); re-save it as .docx"
        ) from exc
    return [Page(1, clean_text("\n".join(lines)))], []


def _docx_paragraph(paragraph) -> str:
    text = paragraph.text.strip()
    style = (paragraph.style.name if paragraph.style is not None else "") or ""
    level = 1 if style == "Title" else None
    match = re.fullmatch(r"Heading (\d)", style)
    if match:
        level = min(int(match.group(1)), 6)
    if level and text:
        return f"\n{'#' * level} {' '.join(text.split())}\n"
    return text + "\n"


def _docx_table_rows(table) -> list[str]:
    rows = []
    for row in table.rows:
        cells, seen = [], set()
        for cell in row.cells:
            if id(cell._tc) in seen:  # a merged cell is repeated once per grid column
                continue
            seen.add(id(cell._tc))
            cells.append(" ".join(cell.text.split()))
        if any(cells):
            rows.append(" | ".join(cells))
    return rows


LOADERS = {"pdf": load_pdf, "txt": _load_text, "md": _load_text, "html": _load_html, "docx": _load_docx}
