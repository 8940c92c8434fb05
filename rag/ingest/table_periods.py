"""Period headers of a financial table, given to every column of their group.

    spread_periods(headers)   # [["October 30,", "2022"], ["Three Months Ended", "July 31,", "2022"], …] → in place

A 10-Q's "Three Months Ended" is often narrower than the columns it heads, so placing header cells by position
(`rag.ingest.tables`) gives it to one column and leaves the others with a bare date; the row then no longer says
which figure is the quarter's. Measured on the 20 SEC filings: `bench/results/2026-12-06-session18/period_headers_probe.py`.
"""

from __future__ import annotations

import re

_PERIOD = re.compile(r"\b(?:months?|weeks?|quarters?|years?)\s+ended\b", re.IGNORECASE)  # a column group's period
_YEAR_IN = re.compile(r"\b(?:19|20)\d\d\b")
_DATE_PART = re.compile(
    r"\b(?:(?:19|20)\d\d|Q[1-4]|January|February|March|April|May|June|July|August|September|October|November|December)\b"
)


def spread_periods(headers: list[list[str]]) -> None:
    """Give a period header ("Three Months Ended") to the dated columns of its group that have none, in place.

    A label over three columns but narrower than them heads only the middle one by position: NVIDIA's summary table
    read "Revenue: October 30, 2022: $5,931; Three Months Ended July 31, 2022: $6,704; October 31, 2021: …", and the
    model gave the middle column's $6,704 as the quarter's revenue. Within a run of dated columns, a column's group
    is the run's repeating pattern of years when it has one ("2022 2021 | 2022 2021": Three, then Six Months Ended);
    otherwise the period nearest on either side, when only one side has one. Anything else stays as it was."""
    periods = [_period(header) for header in headers]
    years = [_year(header) for header in headers]
    start = 0
    while start < len(headers):
        end = start
        while end < len(headers) and (years[end] or periods[end] is not None):
            end += 1
        for index in range(start, end):
            if years[index] and periods[index] is None:
                period = _group_period(index, start, end, years, periods)
                if period:  # before the date, after a title over the table ("SUMMARY RESULTS OF OPERATIONS")
                    header = headers[index]
                    header.insert(next(i for i, part in enumerate(header) if _DATE_PART.search(part)), period)
        start = end + 1


def _group_period(index: int, start: int, end: int, years: list[str], periods: list[str | None]) -> str:
    """The period of column `index`'s group within the dated run `start`..`end` (exclusive), or ""."""
    size = next((k for k in range(2, end - start) if (end - start) % k == 0
                 and all(years[i] and years[i] == years[i + k] for i in range(start, end - k))), 0)  # fmt: skip
    if size:
        first = start + (index - start) // size * size
        found = {p for p in periods[first : first + size] if p}
        return found.pop() if len(found) == 1 else ""
    left = next((periods[i] for i in range(index - 1, start - 1, -1) if periods[i] is not None), None)
    right = next((periods[i] for i in range(index + 1, end) if periods[i] is not None), None)
    sides = {p for p in (left, right) if p is not None}
    return sides.pop() if len(sides) == 1 else ""


def _period(header: list[str]) -> str | None:
    """The header part naming the column's period ("Three Months Ended"); "" when the period is split over parts
    ("Nine Months" / "Ended December"): the column has one, but it is not spread; None when it has none."""
    part = next((part for part in header if _PERIOD.search(part)), None)
    return part if part is not None else ("" if _PERIOD.search(" ".join(header)) else None)


def _year(header: list[str]) -> str:
    """The last year the column's header names, or ""."""
    found = _YEAR_IN.findall(" ".join(header))
    return found[-1] if found else ""
