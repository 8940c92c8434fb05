"""Read back the table rows `rag.ingest.tables` writes into a page's text, for the checks on an answer's figures.

    for row in table_rows(hit.chunk.text): row.label, row.section, row.cells   # ("Revenue", "", (RowCell, …))

A row is one line, "Section — Label: Header: figure; header: figure; … (in millions).", where a header part the
figure before already named is left out ("June 25, 2022: $82,959" sits under the "Three Months Ended" before it)
and a figure may have no header at all ("Intelligent Cloud: 24,259; 20,325 (in millions)."). A line counts as a
row only when every cell ends in a figure as `rag.ingest.page_lines.FIGURE` reads one, so prose with a colon and
semicolons is not taken for a row.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from rag.ingest.page_lines import FIGURE

_LINE = re.compile(r"^(?P<label>[^:\n]{1,300}?): (?P<cells>[^\n]+)$", re.MULTILINE)
_UNIT = re.compile(r"\s*\(in (?:thousands|millions|billions)\)\.?$|\.$")
_PERIOD = re.compile(r"\b(three|six|nine|twelve)\s+months\s+ended\b", re.IGNORECASE)
MIN_CELLS = 2  # rag.ingest.tables.MIN_FIGURES: a row has a label and at least two figures


@dataclass(frozen=True)
class RowCell:
    """One figure of a row, with the column header the row names for it ("" when none). Not
    `rag.ingest.page_lines.Cell`, a piece of a PDF line with its position: this is a row's figure as written."""

    header: str
    figure: str  # as printed: "$5,931", "(1)%", "—"
    period: str  # "three", "six", "nine", "twelve" months ended, from this or an earlier header; "" when none


@dataclass(frozen=True)
class TableRow:
    """One row of figures and where its line sits in the text read."""

    label: str  # the row's own label: "Cost of sales"
    section: str  # the heading it sits under ("Operating expenses"), "" when none
    cells: tuple[RowCell, ...]
    start: int  # the row's line in the text: text[start:end]
    end: int


def table_rows(text: str) -> list[TableRow]:
    """The rows of figures in `text` (a chunk or a page), in order."""
    rows = []
    for match in _LINE.finditer(text):
        cells = _cells(match.group("cells"))
        if cells is not None:
            section, _, label = match.group("label").rpartition(" — ")
            rows.append(TableRow(label.strip(), section.strip(), cells, match.start(), match.end()))
    return rows


def _cells(written: str) -> tuple[RowCell, ...] | None:
    """The cells of a row's figures part, or None when it is not one (a cell that does not end in a figure)."""
    parts = _UNIT.sub("", written).split("; ")
    if len(parts) < MIN_CELLS:
        return None
    cells, period = [], ""
    for part in parts:
        header, _, figure = part.rpartition(": ")
        if not FIGURE.match(figure.strip()):
            return None
        found = _PERIOD.findall(header)
        period = found[-1].lower() if found else period
        cells.append(RowCell(header.strip(), figure.strip(), period))
    return tuple(cells)
