"""Session 18: which table rows of the 20 SEC filings change when a period header ("Three Months Ended") is given
to the dated columns of its group (`rag.ingest.table_periods.spread_periods`). Prints every changed row, before and
after, and the counts.

    python bench/results/2026-12-06-session18/period_headers_probe.py --shared ../shared
"""

import argparse
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parents[2]))

import pypdfium2 as pdfium  # noqa: E402

from bench.common import SEC_DOCS  # noqa: E402
from rag.ingest import tables  # noqa: E402
from rag.ingest.page_lines import read_lines  # noqa: E402


def rows(lines) -> list[str]:
    return [sentence for table in tables.find_tables(lines) for sentence in table.sentences]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--shared", type=Path, default=HERE.parents[3] / "shared")
    args = parser.parse_args()
    spread, total, changed, files = tables.spread_periods, 0, 0, set()
    for path in sorted((args.shared / SEC_DOCS).glob("*.pdf")):
        pdf = pdfium.PdfDocument(path)
        for number in range(len(pdf)):
            lines = read_lines(pdf[number].get_textpage())
            tables.spread_periods = spread
            after = rows(lines)
            tables.spread_periods = lambda headers: None
            before = rows(lines)
            total += len(after)
            for old, new in zip(before, after, strict=True):
                if old != new:
                    changed += 1
                    files.add(path.name)
                    print(f"{path.name} p{number + 1}\n  before: {old[:220]}\n  after:  {new[:220]}")
    tables.spread_periods = spread
    print(f"\n{changed} of {total} table rows changed, in {len(files)} of 20 filings")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
