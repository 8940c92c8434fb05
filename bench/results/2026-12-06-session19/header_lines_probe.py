"""Session 19: which table rows of the 20 SEC filings change when the header is looked for further above a table's
first row (`rag.ingest.tables.HEADER_LINES`, 10 → the value given). Prints every changed row, before and after,
and the counts; a table whose row count changes is printed whole.

    python bench/results/2026-12-06-session19/header_lines_probe.py --shared ../shared --lines 20
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


def rows(lines, header_lines: int) -> list[str]:
    tables.HEADER_LINES = header_lines
    return [sentence for table in tables.find_tables(lines) for sentence in table.sentences]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--shared", type=Path, default=HERE.parents[3] / "shared")
    parser.add_argument("--before", type=int, default=10)
    parser.add_argument("--lines", type=int, default=20)
    args = parser.parse_args()
    total, changed, files = 0, 0, set()
    for path in sorted((args.shared / SEC_DOCS).glob("*.pdf")):
        pdf = pdfium.PdfDocument(path)
        for number in range(len(pdf)):
            lines = read_lines(pdf[number].get_textpage())
            before, after = rows(lines, args.before), rows(lines, args.lines)
            total += len(after)
            if len(before) != len(after):
                print(f"{path.name} p{number + 1}: {len(before)} rows → {len(after)}\n  " + "\n  ".join(after))
                changed += abs(len(after) - len(before))
                continue
            for old, new in zip(before, after, strict=True):
                if old != new:
                    changed += 1
                    files.add(path.name)
                    print(f"{path.name} p{number + 1}\n  before: {old[:240]}\n  after:  {new[:240]}")
    print(f"\n{changed} of {total} table rows changed, in {len(files)} of 20 filings")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
