"""A PDF page's text lines as cells with their horizontal extent, from PDFium's character boxes.

    lines = read_lines(textpage)     # [Line(cells=(Cell("Revenue", 20.0, 59.0), Cell("$5,931", 300.0, 350.0), …)), …]

The layout `rag.ingest.tables` finds tables in: words closer than about a space and a half are one cell; a lone "$"
joins the figure after it and a lone "%" the figure before it; two figures never merge.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

FIGURE = re.compile(r"^\(?[-–]?\$?\(?(\d{1,3}(,\d{3})+|\d+)(\.\d+)?\)?%?\)?$|^\$?[—–-]$")


@dataclass(frozen=True)
class Cell:
    """Words printed close together, and where they start and end across the page (PDF points)."""

    text: str
    left: float
    right: float


@dataclass(frozen=True)
class Line:
    """One text line of the page, left to right."""

    cells: tuple[Cell, ...]

    @property
    def figures(self) -> list[Cell]:
        return [c for c in self.cells if FIGURE.match(c.text)]

    @property
    def label(self) -> str:
        return " ".join(c.text for c in self.cells if not FIGURE.match(c.text))

    @property
    def text(self) -> str:
        return " ".join(c.text for c in self.cells)


def read_lines(textpage: Any) -> list[Line]:
    """The page's text lines (PDFium's order, split at its CR LF) as cells: words closer than a gap merge."""
    count = textpage.count_chars()
    raw = textpage.get_text_range(0, count)
    if len(raw) != count:  # characters outside the BMP: indices no longer line up with boxes
        return []
    lines, words, word, left, right = [], [], [], 0.0, 0.0
    for index, ch in enumerate(raw + "\n"):
        if ch.isspace():
            if word:
                words.append(("".join(word), left, right))
                word = []
            if ch == "\n":
                lines.append(_cells(words))
                words = []
            continue
        box_left, _, box_right, _ = textpage.get_charbox(index)
        if not word:
            left = box_left
        word.append(ch)
        right = box_right
    return lines


def _cells(words: list[tuple[str, float, float]]) -> Line:
    """Join words into cells: a gap wider than ~1.5 spaces separates cells; a lone "$" joins the figure after it."""
    cells: list[Cell] = []
    widths = [(r - le) / max(len(t), 1) for t, le, r in words]
    gap = 1.6 * (sorted(widths)[len(widths) // 2] if widths else 5.0)  # ~ a space and a half at this font size
    for text, left, right in words:
        previous = cells[-1] if cells else None
        if previous and text == "%" and FIGURE.match(previous.text):  # "100.0 %": the sign belongs to its figure
            cells[-1] = Cell(f"{previous.text}%", previous.left, right)
        elif previous and (left - previous.right <= gap or previous.text == "$") and not _splits(previous, text):
            cells[-1] = Cell(f"{previous.text}{'' if previous.text == '$' else ' '}{text}", previous.left, right)
        else:
            cells.append(Cell(text, left, right))
    return Line(tuple(cells))


def _splits(previous: Cell, text: str) -> bool:
    """Two figures never merge into one cell, nor a label and a figure after it."""
    return bool(FIGURE.match(text)) and previous.text != "$"
