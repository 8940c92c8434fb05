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
# The line above "(Exact name of registrant as specified in its charter)" on an SEC form's cover page.
_REGISTRANT = re.compile(r"([^\n]{2,80}?)[ \t]*\r?\n[ \t]*\(\s*exact\s+name\s+of\s+registrant", re.IGNORECASE)
_FORM = re.compile(r"\bFORM\s+(10-[QK]|8-K|20-F|S-1)\b", re.IGNORECASE)
_PLACEHOLDERS = {"untitled", "title", "document", "slide 1", "none", "pdf", "word document"}


def document_title(kind: str, pages: Sequence[Page], metadata_title: str = "") -> str:
    """Return the document's own title, or "" when it has none worth indexing.

    `metadata_title` is what a PDF's metadata says (its /Title, read by `rag.ingest.pdf.pdf_title`).
    """
    if kind == "pdf":
        return clean_title(metadata_title) or registrant_title(pages)
    first = next((p.text for p in pages if p.text.strip()), "")
    if kind in ("md", "html", "docx"):
        found = _FIRST_HEADING.search(first)
        return clean_title(found.group(1)) if found else ""
    line = next((ln.strip() for ln in first.splitlines() if ln.strip()), "")
    return "" if line.endswith((".", ":", ";", ",")) else clean_title(line)


def registrant_title(pages: Sequence[Page]) -> str:
    """An SEC filing's company and form from its cover page ("NVIDIA CORPORATION Form 10-Q"), or "".

    Apple's, Amazon's and NVIDIA's 10-Q PDFs carry an accession number as their metadata title, so without this
    no passage of theirs said whose filing it was: "What was Amazon's gross margin?" found other companies'
    margins, and an answer naming Amazon was refused because no passage stated "Amazon".
    """
    cover = "\n".join(p.text for p in pages[:2])
    found = _REGISTRANT.search(cover)
    if not found:
        return ""
    form = _FORM.search(cover)
    return clean_title(found.group(1) + (f" Form {form.group(1).upper()}" if form else ""))


def clean_title(raw: str) -> str:
    """The title with a tool prefix removed, or "" when it is not a few real words."""
    title = _TOOL_PREFIX.sub("", " ".join(raw.split())).strip(" -_|")
    words = title.split()
    if not words or len(words) > MAX_TITLE_WORDS or title.lower() in _PLACEHOLDERS:
        return ""
    letters = sum(ch.isalpha() for ch in title)
    return title if letters >= 3 and letters >= len(title.replace(" ", "")) / 2 else ""
