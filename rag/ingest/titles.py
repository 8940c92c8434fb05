"""A document's title, for the short context header indexed with each of its passages (see `rag.ingest.chunking`).

Passages of a long document lose its identity: a 10-Q table says "Total net sales" without naming the company,
a paper's fifth paragraph does not repeat the paper's subject. LlamaIndex embeds the file name with each node
for the same reason. The title comes from what the file says about itself: a PDF's metadata title (when it is
words, not an accession number or a tool's placeholder), the first heading of Markdown/HTML/DOCX, or the first
line of a text file when it is short and not a sentence.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

from rag.types import Page

MAX_TITLE_WORDS = 20
_FIRST_HEADING = re.compile(r"^ {0,3}#{1,6}[ \t]+(.+?)[ \t]*#*[ \t]*$", re.MULTILINE)
_TOOL_PREFIX = re.compile(r"^(microsoft (word|powerpoint|excel) - )", re.IGNORECASE)
_PLACEHOLDERS = {"untitled", "title", "document", "slide 1", "none", "pdf", "word document"}


def document_title(kind: str, pages: Sequence[Page], metadata_title: str = "") -> str:
    """Return the document's own title, or "" when it has none worth indexing.

    `metadata_title` is what a PDF's metadata says (its /Title, read by `rag.ingest.pdf.pdf_title`).
    """
    if kind == "pdf":
        return clean_title(metadata_title)
    first = next((p.text for p in pages if p.text.strip()), "")
    if kind in ("md", "html", "docx"):
        found = _FIRST_HEADING.search(first)
        return clean_title(found.group(1)) if found else ""
    line = next((ln.strip() for ln in first.splitlines() if ln.strip()), "")
    return "" if line.endswith((".", ":", ";", ",")) else clean_title(line)


def clean_title(raw: str) -> str:
    """The title with a tool prefix removed, or "" when it is not a few real words."""
    title = _TOOL_PREFIX.sub("", " ".join(raw.split())).strip(" -_|")
    words = title.split()
    if not words or len(words) > MAX_TITLE_WORDS or title.lower() in _PLACEHOLDERS:
        return ""
    letters = sum(ch.isalpha() for ch in title)
    return title if letters >= 3 and letters >= len(title.replace(" ", "")) / 2 else ""
