"""Passages from the filing the question dates: `toward_period(question, query, hits, library, k, documents)`.

A library of quarterly reports holds one file per quarter ("2023 Q1 AAPL.pdf" … "2023 Q3 AAPL.pdf"), each with
the same table rows for a different quarter. "What was Apple's R&D spend in Q1 2023?" or "… in the latest
10-Q?" then retrieves rows of all four filings, and the few hundred tokens the model reads hold the right
filing's row only now and then. When the question dates itself (a quarter and year, or "latest"/"most recent")
and the documents found belong to a series titled by period (file names that differ only by the quarter), the
search is repeated within the filing of that period (the series' newest for "latest"). Passages of undated
documents keep up to half the places. Nothing changes when no such filing exists: the question is answered, or
refused, from what was found.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import PurePath
from typing import Literal, Protocol

from rag.types import DocumentInfo, Hit

LATEST: Literal["latest"] = "latest"
_YEAR = r"((?:19|20)\d{2}|'\d{2})"  # 2023, or '23
_START, _END = r"(?<![A-Za-z0-9])", r"(?![A-Za-z0-9])"  # not \b: file names join words with "_" ("aapl_Q1-2023")
_QUARTER_YEAR = re.compile(rf"{_START}Q([1-4])[\s_-]*(?:of\s+|FY[\s_-]*)?{_YEAR}{_END}", re.IGNORECASE)
_YEAR_QUARTER = re.compile(rf"{_START}{_YEAR}[\s_-]*Q([1-4]){_END}", re.IGNORECASE)
_FINANCE = re.compile(rf"{_START}([1-4])Q[\s_-]*((?:19|20)?\d{{2}}|'\d{{2}}){_END}", re.IGNORECASE)  # 3Q23, 3Q 2023
_ORDINALS = {"first": 1, "1st": 1, "second": 2, "2nd": 2, "third": 3, "3rd": 3, "fourth": 4, "4th": 4}
_WORDS = re.compile(rf"\b({'|'.join(_ORDINALS)})\s+(?:fiscal\s+)?quarter\s+(?:of\s+|in\s+)?(?:fiscal\s+)?(?:year\s+)?{_YEAR}\b",
                    re.IGNORECASE)  # fmt: skip
_ACROSS = re.compile(r"\b(?:quarters|periods|filings|10-?Qs|reports|over\s+time|trends?|previous|prior|past|earlier|"
                     r"historical|fluctuat\w*|across)\b", re.IGNORECASE)  # fmt: skip
_NEWEST = re.compile(r"\b(?:latest|most\s+recent|newest|last|current)\s+(?:[\w-]+\s+){0,2}?"
                     r"(?:10-?Q|10-?K|quarter|report|filing|statement)s?\b", re.IGNORECASE)  # fmt: skip


@dataclass(frozen=True, order=True)
class Period:
    """A calendar quarter as written ("Q3 2023", "2023 Q3", "third quarter of 2023")."""

    year: int
    quarter: int


@dataclass(frozen=True)
class Dated:
    """A document whose title carries a period; `series` is its title without it ("aapl" for "2023 Q3 AAPL")."""

    doc_id: str
    series: str
    period: Period


class PeriodLibrary(Protocol):
    """What `toward_period` needs from a library (`rag.Library`, or a session's view of it)."""

    def search(self, query: str, k: int | None = None, documents: Sequence[str] | None = None) -> list[Hit]: ...

    def documents(self) -> list[DocumentInfo]: ...


def asked_period(question: str) -> Period | Literal["latest"] | None:
    """The quarter the question asks about, LATEST for "the latest 10-Q"/"most recent quarter", or None; None
    too when it compares periods ("… compare to previous quarters", "over time"): one filing would not do."""
    if _ACROSS.search(question):
        return None
    found = _period_in(question)
    if found is not None:
        return found[0]
    return LATEST if _NEWEST.search(question) else None


def dated(info: DocumentInfo) -> Dated | None:
    """`info` with the period its file name carries, or None when it carries none."""
    stem = PurePath(info.name).stem
    found = _period_in(stem)
    if found is None:
        return None
    period, span = found
    series = re.sub(r"[\W_]+", " ", stem[: span[0]] + " " + stem[span[1] :]).strip().casefold()
    return Dated(info.doc_id, series, period)


def toward_period(question: str, query: str, hits: Sequence[Hit], library: PeriodLibrary, k: int,
                  documents: Sequence[str] | None = None) -> tuple[Hit, ...]:  # fmt: skip
    """`hits` moved to the filing(s) of the period the question asks about (module docstring)."""
    hits = tuple(hits)
    asked = asked_period(question)
    if asked is None or not hits:
        return hits
    listed = {d.doc_id: d for d in map(dated, _searched(library.documents(), documents)) if d is not None}
    series = {listed[h.chunk.doc_id].series for h in hits if h.chunk.doc_id in listed}
    targets = {t for s in series if (t := _target(asked, [d for d in listed.values() if d.series == s]))}
    if not targets or all(h.chunk.doc_id in targets for h in hits):
        return hits
    steered = library.search(query, k=k, documents=sorted(targets))
    undated = [h for h in hits if h.chunk.doc_id not in listed][: k // 2]
    return tuple(steered[: k - len(undated)] + undated) if steered else hits


def _period_in(text: str) -> tuple[Period, tuple[int, int]] | None:
    """The first quarter written in `text`, with where it is written."""
    patterns = ((_QUARTER_YEAR, 2, 1), (_YEAR_QUARTER, 1, 2), (_WORDS, 2, 1), (_FINANCE, 2, 1))
    for pattern, year_group, quarter_group in patterns:
        match = pattern.search(text)
        if match:
            quarter = match.group(quarter_group).lower()
            number = _ORDINALS[quarter] if quarter in _ORDINALS else int(quarter)
            year = int(match.group(year_group).lstrip("'"))
            return Period(year + 2000 if year < 100 else year, number), match.span()
    return None


def _searched(infos: Sequence[DocumentInfo], documents: Sequence[str] | None) -> list[DocumentInfo]:
    """The documents a search may use: all, or those the person picked (by id or name)."""
    if not documents:
        return list(infos)
    picked = set(documents)
    return [i for i in infos if i.doc_id in picked or i.name in picked]


def _target(asked: Period | Literal["latest"], series: list[Dated]) -> str | None:
    """The document of `series` for the asked period: the newest for LATEST (a series of one has no choice)."""
    if asked == LATEST:
        return max(series, key=lambda d: d.period).doc_id if len(series) > 1 else None
    return next((d.doc_id for d in series if d.period == asked), None)
