"""A figure an answer reads off a table row must be said of that row: the claim names the row (a word of its
label) and, when it names a period, the figure's column is of that period. Used by `rag.generate.facts`.

The fact checks find each number in a cited passage, but a table states many numbers side by side: the model read
"$18,592" off "Productivity and Business Processes" and wrote "The Personal Computing segment revenue … was
$18,592 million [1]"; it wrote Apple's "cash flow from operating activities … was $79,082 million [2]" off
"Operating activities — Net income"; and the issue's own example gave NVIDIA's total revenue "for the quarter" from
the "Nine Months Ended" column. Each of those numbers is on the cited page and shares words with the claim through
the row's headers, so only the row's own label and the column's period tell them apart.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass

from rag.entities import numbers, numbers_stated, percentages
from rag.ingest.table_rows import RowCell, TableRow, table_rows
from rag.text import content_terms
from rag.types import Hit

# Filings say "net sales" where a question and the model say "revenue", "income" where they say "earnings".
_SAME_THING = {"revenue": "sale", "earning": "income"}
_CLAUSE = re.compile(r",\s|;\s?|\s(?:and|while|whereas|versus|compared to|compared with)\s")  # not "5,931"
_PERIODS = {
    "three": re.compile(r"\b(?:three|3)[- ]months?\b|\bquarter(?:ly|'s)?\b", re.IGNORECASE),
    "six": re.compile(r"\b(?:six|6)[- ]months?\b|\bfirst half\b", re.IGNORECASE),
    "nine": re.compile(r"\b(?:nine|9)[- ]months?\b", re.IGNORECASE),
    "twelve": re.compile(r"\b(?:twelve|12)[- ]months?\b|\bfull year\b", re.IGNORECASE),
}


@dataclass(frozen=True)
class Misreading:
    """A figure of an answer sentence that the cited passages give for another row or period than it says."""

    figure: str  # as the answer wrote it: "18,592", "36.5%"
    row: str  # what the passages give it for: "Productivity and Business Processes"


def misread_figures(claim: str, passages: Sequence[Hit], question: str = "") -> tuple[Misreading, ...]:
    """The figures of `claim` that `passages` give only for another table row or period (`misreading`)."""
    shares, stated = percentages(claim), sorted(numbers(claim).items())
    found = ((value, written, misreading(value, claim, passages, question)) for value, written in stated)
    return tuple(Misreading(f"{written}%" if value in shares else written, row) for value, written, row in found if row)


def misreading(value: str, claim: str, passages: Sequence[Hit], question: str = "") -> str:
    """What `passages` give the number `value` (normalised, `rag.entities.numbers`) for, when every table row that
    has it as a figure is another row or another period than `claim` says and no sentence outside their tables
    states it: "Productivity and Business Processes", "Revenue, nine months". "" otherwise; a number no row has
    is not judged here (`rag.generate.facts.anchored` judges sentences).

    The question speaks for the claim too: asked "What was NVIDIA's revenue for the quarter?", the answer "It was
    $5,931 million [1]." is about the revenue row and the quarter. A claim that names a period speaks for itself
    (asked about the quarter, "the first nine months' revenue was …" says which figure it gives), clause by clause
    when it names two (`period_of`)."""
    found: list[tuple[TableRow, RowCell]] = []
    for hit in passages:
        rows = table_rows(hit.chunk.text)
        if value in numbers_stated(_outside(hit.chunk.text, rows)):
            return ""
        found += [(row, cell) for row in rows for cell in row.cells if value in numbers(cell.figure)]
    terms, period = _terms(claim) | _terms(question), period_of(value, claim, question)
    wrong = [
        (row, cell) for row, cell in found if _other_row(row, terms) or (period and cell.period not in ("", period))
    ]
    if not found or len(wrong) < len(found):
        return ""
    row, cell = wrong[0]
    name = f"{row.section} — {row.label}" if row.section else row.label
    return name if _other_row(row, terms) else f"{name}, {cell.period} months"


def period_of(value: str, claim: str, question: str = "") -> str:
    """The period `claim` gives the number `value`: the one named in its clause ("$74,039 million for the
    three-month period and $79,082 million for the nine-month period"), else the one the claim names, else the
    question's ("" when none, or two where one is wanted)."""
    for clause in _CLAUSE.split(claim):
        if value in numbers(clause) and (named := _periods_named(clause)):
            return _one(named)
    return _one(_periods_named(claim) or _periods_named(question))


def _periods_named(text: str) -> list[str]:
    """The periods `text` names: ["three"] for "the quarter", ["three", "nine"] for "the third quarter and first
    nine months"."""
    return [period for period, words in _PERIODS.items() if words.search(text)]


def _one(named: list[str]) -> str:
    return named[0] if len(named) == 1 else ""


def _other_row(row: TableRow, claim_terms: set[str]) -> bool:
    """True when the claim says no word of the row's own label (a label of only stopwords says nothing)."""
    label = _terms(row.label)
    return bool(label) and not label & claim_terms


def _terms(text: str) -> set[str]:
    return {_SAME_THING.get(term, term) for term in content_terms(text, split_hyphens=True)}


def _outside(text: str, rows: Sequence[TableRow]) -> str:
    """`text` without its table rows' lines."""
    kept, at = [], 0
    for row in rows:
        kept.append(text[at : row.start])
        at = row.end
    return "".join([*kept, text[at:]])
