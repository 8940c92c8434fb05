"""Tables on a PDF page rewritten as rows that keep their column headers and units.

    text = with_tables(textpage, textpage.get_text_bounded())   # a PDFium text page and its text

A 10-Q prints "Revenue $ 5,931 $ 7,103 $ 20,923 $ 19,271" under "Three Months Ended / Nine Months Ended"
and "October 30, 2022 …": as plain text the row no longer says which figure is the quarter's, and the model
answered with the nine-month one. Each row becomes one sentence:

    "Revenue: Three Months Ended October 30, 2022: $5,931; October 31, 2021: $7,103; … $19,271 (in millions)."

written in place of the table's lines in the page text, so a passage of it still sits on the table's page and
its offsets point at the table's place in the text (page pictures highlight its figures: `rag.pages`).

Built from PDFium's character boxes (already parsed for the text: ~8 ms a page) rather than pdfplumber, which
needs 170 ms a page only to find tables on a 10-Q, found the ruled body but not the header rows above it, and
whose current release pins a Pillow that Gradio refuses. The layout rules (measured on the SEC filings, see
bench/sec_tables.py): a row is a label followed by at least two figures; figures are right-aligned, so a
column is a cluster of right edges; header cells are the lines just above the first row that sit over the
columns, each assigned to the columns whose centre it spans ("Three Months Ended" spans two).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from rag.ingest.page_lines import FIGURE, Cell, Line, read_lines
from rag.ingest.table_periods import spread_periods

_YEAR = re.compile(r"^(19|20)\d\d$")
_UNIT = re.compile(r"\((?:[^()]*\b)?in (thousands|millions|billions)\b[^()]*\)", re.IGNORECASE)
MIN_ROWS = 2  # a table has at least this many rows of figures
MIN_FIGURES = 2  # ... each with a label and at least this many figures
LABEL_LINES = 2  # label-only lines (section headings, a wrapped label) allowed between rows
HEADER_LINES = 10  # header lines looked for above a table's first row (PDFium may give each column's cells its own lines)
UNIT_LINES = 8  # lines above the header searched for "(In millions, …)"


Header = tuple[str, ...]  # one column's header cells, top line first


@dataclass(frozen=True)
class Table:
    """Lines `first`..`last` (0-based, inclusive, counted in the page's text lines) become `sentences`."""

    first: int
    last: int
    sentences: tuple[str, ...]


def with_tables(textpage: Any, text: str) -> str:
    """`text` (PDFium's text of the page) with each table's lines replaced by one sentence per row.

    When `text` does not split into the same lines as the character stream the tables were read from (PDFium's
    bounded and ranged text differ on a few pages), the character stream's own text is rewritten instead.
    """
    lines = read_lines(textpage)
    tables = find_tables(lines)
    if not tables:
        return text
    rows = text.split("\n")
    if len(rows) != len(lines):
        rows = textpage.get_text_range().split("\n")
    for table in reversed(tables):  # from the bottom, so earlier line numbers stay valid
        rows[table.first : table.last + 1] = list(table.sentences)
    return "\n".join(rows)


def find_tables(lines: list[Line]) -> list[Table]:
    """Every table in a page's lines, as rows with their headers and units."""
    tables: list[Table] = []
    previous: Layout | None = None
    index = 0
    while index < len(lines):
        end = _table_end(lines, index)
        if end is None:
            index += 1
            continue
        table, previous = _describe(lines, index, end, previous)
        tables.append(table)
        index = end + 1
    return tables


def _is_row(line: Line) -> bool:
    """A label, then figures (not only years: "October 30, 2022 January 30, 2022" is a header)."""
    figures = line.figures
    return (
        len(figures) >= MIN_FIGURES
        and bool(line.label)
        and not FIGURE.match(line.cells[0].text)
        and not all(_YEAR.match(c.text) for c in figures)
    )


def _table_end(lines: list[Line], start: int) -> int | None:
    """The last line of a table whose first row is `start`, or None when no table starts there."""
    if not _is_row(lines[start]):
        return None
    rows, end, index = 1, start, start + 1
    amounts = _amounts(lines[start])
    while index < len(lines):
        line = lines[index]
        if _is_row(line) or (line.figures and line.label):
            rows, end = rows + _is_row(line), index
            amounts = amounts or _amounts(line)
        elif not _heading_before_row(lines, index):
            break
        index += 1
    return end if rows >= MIN_ROWS and amounts else None


def _amounts(line: Line) -> bool:
    """Figures a table states ("5,931", "$680", "12.5%", "(65)", "340"), not a diagram's "Transaction 1 Transaction 2"."""
    return any(re.search(r"[,.$%(]|\d{3}", cell.text) for cell in line.figures)


def _heading_before_row(lines: list[Line], index: int) -> bool:
    """A label alone continues a table only as a section heading (or wrapped label) shortly before a row."""
    for ahead in range(index, min(index + LABEL_LINES + 1, len(lines))):
        line = lines[ahead]
        if _is_row(line):
            return ahead > index
        if line.figures or len(line.cells) != 1 or not line.label:
            return False
    return False


@dataclass(frozen=True)
class Layout:
    """A table's columns (left, right edge), their headers and its unit: a headerless table below inherits them."""

    columns: tuple[tuple[float, float], ...]
    headers: tuple[Header, ...]
    unit: str

    def matches(self, columns: list[tuple[float, float]]) -> bool:
        return len(columns) == len(self.columns) and all(
            abs(a[1] - b[1]) <= 6.0 for a, b in zip(columns, self.columns, strict=True)
        )


def _describe(lines: list[Line], first_row: int, last: int, previous: Layout | None) -> tuple[Table, Layout]:
    """The table from its first row to `last`, with the section headings and header lines above it and its unit."""
    columns = _columns([lines[i] for i in range(first_row, last + 1)])
    top = first_row
    while top > 0 and first_row - top < LABEL_LINES and _is_heading(lines[top - 1], columns):
        top -= 1  # "ASSETS", "Current assets:" between the header and the first row
    header_start, header_lines, index = top, [], top - 1
    while index >= 0 and top - index <= HEADER_LINES + 1:
        if _over_columns(lines[index], columns):
            header_lines.insert(0, lines[index])
            header_start = index
        elif not _caption(lines[index]):  # "(In millions)" between the headers and the first row is passed over
            break
        index -= 1
    headers = _headers(header_lines, columns)
    unit = _unit(lines[max(0, header_start - UNIT_LINES) : first_row])
    if not any(headers) and previous is not None and previous.matches(columns):
        headers, unit = list(previous.headers), unit or previous.unit  # the balance sheet's liabilities half
    sentences = _rows(lines[top : last + 1], columns, headers, unit)
    return Table(header_start, last, tuple(sentences)), Layout(tuple(columns), tuple(headers), unit)


def _is_heading(line: Line, columns: list[tuple[float, float]]) -> bool:
    """A section heading: one label cell, left of the figure columns."""
    return len(line.cells) == 1 and not line.figures and bool(columns) and line.cells[0].right < columns[0][0]


def _rows(lines: list[Line], columns: list[tuple[float, float]], headers: list[Header], unit: str) -> list[str]:
    """One sentence per row of figures, named by the innermost section heading it is indented under.

    A label-only line is a section heading ("Operating expenses"), or the first half of a label the next line
    finishes in lower case ("Reclassification adjustments … included in" / "net income"). A row indented no
    further than a heading ("Net cash provided by operating activities", totals) is outside that section.
    """
    sentences: list[str] = []
    headings: list[tuple[float, str]] = []  # (indent, text), outermost first
    for line in lines:
        indent = line.cells[0].left
        if not line.figures:
            headings = [h for h in headings if h[0] < indent - 1.0] + [(indent, line.label.rstrip(":"))]
            continue
        label = line.label
        if headings and label[:1].islower():
            label = f"{headings.pop()[1]} {label}"
        headings = [h for h in headings if h[0] < indent - 1.0]
        section = _short(headings[-1][1]) if headings else ""
        sentences.append(_sentence(label, line, columns, headers, section, unit))
    return sentences


def _short(heading: str, words: int = 8) -> str:
    """A section heading as a row's prefix, cut to a few words: every row of the section repeats it."""
    parts = heading.split()
    return heading if len(parts) <= words else " ".join(parts[:words]) + "…"


def _columns(rows: list[Line]) -> list[tuple[float, float]]:
    """(left, right) of each column: figures are right-aligned, so right edges within 6 pt are one column."""
    groups: list[list[Cell]] = []
    for cell in sorted((c for row in rows for c in row.figures), key=lambda c: c.right):
        if groups and cell.right - groups[-1][-1].right <= 6.0:
            groups[-1].append(cell)
        else:
            groups.append([cell])
    return [(min(c.left for c in g), sum(c.right for c in g) / len(g)) for g in groups if len(g) >= 2]


def _column_of(cell: Cell, columns: list[tuple[float, float]]) -> int | None:
    if not columns:
        return None
    distance, index = min((abs(cell.right - right), i) for i, (_, right) in enumerate(columns))
    return index if distance <= 12.0 else None


def _over_columns(line: Line, columns: list[tuple[float, float]]) -> bool:
    """A header line: every cell lies over the figure columns (a caption or title starts further left)."""
    if not columns or not line.cells or _is_row(line) or _caption(line):
        return False
    start = columns[0][0] - 40.0
    cells = [c for c in line.cells if not _UNIT.search(c.text)]  # "(In Millions)" at the left of a header line
    return bool(cells) and all(cell.left >= start for cell in cells)


def _caption(line: Line) -> bool:
    """ "(In millions)", "(Unaudited)": a caption in parentheses, not a header."""
    return line.text.startswith("(") and line.text.endswith(")")


def _headers(lines: list[Line], columns: list[tuple[float, float]]) -> list[Header]:
    """Each column's header cells, top line first: ("Three Months Ended", "October 30,", "2022")."""
    parts: list[list[str]] = [[] for _ in columns]
    for line in lines:
        for cell in line.cells:
            if _UNIT.search(cell.text):
                continue
            for index in _spanned(cell, columns):
                parts[index].append(cell.text)
    spread_periods(parts)
    return [tuple(p) for p in parts]


def _spanned(cell: Cell, columns: list[tuple[float, float]]) -> list[int]:
    """The columns whose centre lies under `cell`, or the nearest one when it covers none."""
    centres = [(left + right) / 2 for left, right in columns]
    inside = [
        i
        for i, (left, right) in enumerate(columns)
        if cell.left - 4.0 <= centres[i] <= cell.right + 4.0
        or min(cell.right, right) - max(cell.left, left) >= 0.3 * (right - left)  # a centred spanning header
    ]
    if inside:
        return inside
    middle = (cell.left + cell.right) / 2
    return [min(range(len(centres)), key=lambda i: abs(centres[i] - middle))]


def _unit(lines: list[Line]) -> str:
    """ "(in millions)" from a caption such as "(In millions, except per share data)", else ""."""
    for line in reversed(lines):
        match = _UNIT.search(line.text)
        if match:
            return f"(in {match.group(1).lower()})"
    return ""


def _sentence(
    label: str, line: Line, columns: list[tuple[float, float]], headers: list[Header], section: str, unit: str
) -> str:
    """ "Operating expenses — R&D: Three Months Ended Oct 30, 2022: 1,945; Oct 31, 2021: 1,403; … (in millions)."

    A header part the figure before already named is not repeated ("Three Months Ended" spans two columns), so a
    row costs fewer of a passage's tokens.
    """
    label = f"{section} — {label}" if section else label
    if "per share" in label.lower() or "per share" in section.lower():
        unit = ""  # "(In millions, except per share data)"
    values, before = [], ()
    for cell in line.figures:
        column = _column_of(cell, columns)
        header = headers[column] if column is not None else ()
        shared = 0
        while shared < min(len(header), len(before)) - 1 and header[shared] == before[shared]:
            shared += 1
        named = " ".join(header[shared:])
        values.append(f"{named}: {cell.text}" if named else cell.text)  # no header: the figure in its place
        before = header
    return f"{label.rstrip(':')}: {'; '.join(values)}{f' {unit}' if unit else ''}."
