"""Clean-up every loader applies: the page text we store and the names we show.

The stored page text is already cleaned, so chunk offsets index exactly what is stored.
"""

from __future__ import annotations

import re
import unicodedata

_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f\ud800-\udfff\ufeff]")
_SPACES = re.compile(r"(?<=\S)[ \t\u00a0]+")  # inside a line; indentation (Markdown code, lists) stays
_NEWLINES = str.maketrans({"\r": "\n", "\f": "\n", "\v": "\n", "\u2028": "\n", "\u2029": "\n\n"})
_TRAILING = re.compile(r"[ \t]+\n")
_BLANK_LINES = re.compile(r"\n{3,}")


def clean_text(text: str) -> str:
    """Light, lossless-for-reading clean-up: no NULs/control chars, unified newlines, runs of spaces as one.

    Example: "a\\x00b  c \\r\\n\\n\\n\\nd" -> "ab c\\n\\nd"
    """
    text = text.replace("\r\n", "\n").translate(_NEWLINES)
    text = _CONTROL.sub("", text)
    text = _SPACES.sub(" ", text)
    text = _TRAILING.sub("\n", text)
    return _BLANK_LINES.sub("\n\n", text).strip()


def display_name(name: str) -> str:
    """The name with control characters removed (it is only ever displayed, never used as a path)."""
    return "".join(ch for ch in name if unicodedata.category(ch) not in ("Cc", "Cs")).strip()
