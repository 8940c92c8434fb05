"""PDF tables rewritten as rows that keep their column headers (rag/ingest/tables.py)."""

from __future__ import annotations

from rag.ingest.tables import with_tables

CHAR = 5.0  # every character of the fake page is 5 pt wide


class FakeTextPage:
    """A PDFium text page stand-in: lines of (x, text) cells, each character CHAR wide, CR LF between lines."""

    def __init__(self, lines: list[list[tuple[float, str]]]) -> None:
        self.text, self.boxes = "", []
        for number, cells in enumerate(lines):
            y = 700.0 - 12 * number
            for x, cell in cells:
                if self.text and not self.text.endswith("\n"):
                    self._add(" ", self.boxes[-1][2], y)
                for i, ch in enumerate(cell):
                    self._add(ch, x + i * CHAR, y)
            self._add("\r", 0, y)
            self._add("\n", 0, y)
        self.text, self.boxes = self.text[:-2], self.boxes[:-2]

    def _add(self, ch: str, x: float, y: float) -> None:
        self.text += ch
        self.boxes.append((x, y, x + CHAR, y + 8))

    def count_chars(self) -> int:
        return len(self.text)

    def get_text_range(self, index: int = 0, count: int = -1) -> str:
        return self.text[index:] if count < 0 else self.text[index : index + count]

    def get_charbox(self, index: int) -> tuple[float, float, float, float]:
        return self.boxes[index]


def right(x_end: float, text: str) -> tuple[float, str]:
    """A right-aligned figure ending at `x_end`."""
    return (x_end - CHAR * len(text), text)


INCOME = [
    [(100, "CONDENSED STATEMENTS OF INCOME")],
    [(120, "(In millions, except per share data)")],
    [(322, "Three Months Ended"), (442, "Nine Months Ended")],  # each centred over its two columns
    [right(350, "Oct 30,"), right(410, "Oct 31,"), right(470, "Oct 30,"), right(530, "Oct 31,")],
    [right(350, "2022"), right(410, "2021"), right(470, "2022"), right(530, "2021")],
    [(20, "Revenue"), (300, "$"), right(350, "5,931"), (360, "$"), right(410, "7,103"), right(470, "20,923"), right(530, "19,271")],
    [(20, "Operating expenses")],
    [(30, "Research and development"), right(350, "1,945"), right(410, "1,403"), right(470, "5,387"), right(530, "3,802")],
    [(30, "Total operating expenses"), right(350, "2,576"), right(410, "1,960"), right(470, "8,555"), right(530, "5,405")],
    [(20, "Interest expense"), right(355, "(65)"), right(415, "(62)"), right(475, "(198)"), right(535, "(175)")],
    [(20, "Net income per share:")],
    [(30, "Basic"), right(350, "$0.27"), right(410, "$0.99"), right(470, "$1.18"), right(530, "$2.71")],
    [(20, "See accompanying Notes.")],
]


def rewritten(lines: list[list[tuple[float, str]]]) -> list[str]:
    page = FakeTextPage(lines)
    return with_tables(page, page.get_text_range()).splitlines()


def test_each_row_names_its_column_headers_and_unit():
    out = rewritten(INCOME)
    assert out[0] == "CONDENSED STATEMENTS OF INCOME"  # the title and caption stay as they were
    assert out[1] == "(In millions, except per share data)"
    assert out[2] == (
        "Revenue: Three Months Ended Oct 30, 2022: $5,931; Oct 31, 2021: $7,103; "
        "Nine Months Ended Oct 30, 2022: 20,923; Oct 31, 2021: 19,271 (in millions)."
    )
    assert out[-1] == "See accompanying Notes."


def test_section_headings_prefix_the_rows_indented_under_them():
    out = rewritten(INCOME)
    assert out[3].startswith("Operating expenses — Research and development: Three Months Ended Oct 30, 2022: 1,945;")
    assert out[4].startswith("Operating expenses — Total operating expenses:")
    assert out[5].startswith("Interest expense: Three Months Ended Oct 30, 2022: (65);")  # section ended at Total


def test_per_share_rows_do_not_say_millions():
    basic = rewritten(INCOME)[6]
    assert basic.startswith("Net income per share — Basic: Three Months Ended Oct 30, 2022: $0.27;")
    assert "millions" not in basic


def test_prose_with_numbers_is_not_a_table():
    lines = [
        [(20, "Revenue was $5,931 million in the quarter, up from 7,103 a year ago.")],
        [(20, "We had 2,483 employees and 12 offices at the end of 2022.")],
    ]
    assert rewritten(lines) == [
        "Revenue was $5,931 million in the quarter, up from 7,103 a year ago.",
        "We had 2,483 employees and 12 offices at the end of 2022.",
    ]


def test_a_headerless_table_below_inherits_the_headers_above_it():
    lines = [
        [right(350, "Oct 30, 2022"), right(420, "Jan 30, 2022")],
        [(20, "Cash"), right(350, "2,800"), right(420, "1,990")],
        [(20, "Total assets"), right(350, "40,488"), right(420, "44,187")],
        [(20, "LIABILITIES")],
        [(20, "Current liabilities:")],
        [(30, "Accounts payable"), right(350, "1,491"), right(420, "1,783")],
        [(30, "Short-term debt"), right(350, "1,249"), right(420, "—")],
    ]
    out = rewritten(lines)
    assert out[0] == "Cash: Oct 30, 2022: 2,800; Jan 30, 2022: 1,990."
    assert "Current liabilities — Accounts payable: Oct 30, 2022: 1,491; Jan 30, 2022: 1,783." in out
    assert out[-1] == "Current liabilities — Short-term debt: Oct 30, 2022: 1,249; Jan 30, 2022: —."


def test_a_wrapped_label_is_joined_not_taken_for_a_section():
    lines = [
        [right(350, "2022"), right(420, "2021")],
        [(20, "Net income"), right(350, "680"), right(420, "2,464")],
        [(20, "Reclassification adjustments included in")],
        [(30, "net income"), right(350, "(1)"), right(420, "(17)")],
    ]
    assert rewritten(lines)[-1] == "Reclassification adjustments included in net income: 2022: (1); 2021: (17)."


def test_a_real_10q_income_statement(shared_dir):
    """NVIDIA's quarter revenue is $5,931M and the nine months' $20,923M: the row must say which is which."""
    from rag.config import Settings
    from rag.ingest.pdf import load_pdf

    path = shared_dir / "eval/docugami_sec10q/docs/2022 Q3 NVDA.pdf"
    pages, _ = load_pdf(path.read_bytes(), path.name, Settings())
    revenue = next(line for line in pages[2].text.splitlines() if line.startswith("Revenue:"))
    assert "Three Months Ended October 30, 2022: $5,931" in revenue
    assert "Nine Months Ended October 30, 2022: $20,923" in revenue
    plain, _ = load_pdf(path.read_bytes(), path.name, Settings(pdf_tables=False))
    assert "Revenue $ 5,931 $ 7,103 $ 20,923 $ 19,271" in plain[2].text  # RAG_PDF_TABLES=0: as printed


def test_a_table_row_is_highlighted_by_its_figures_on_the_page_picture(shared_dir):
    """The stored row names headers the page prints elsewhere; the picture marks the row's figures."""
    import pypdfium2 as pdfium

    from rag.pages import _span_rects

    path = shared_dir / "eval/docugami_sec10q/docs/2022 Q3 NVDA.pdf"
    row = "Revenue: Three Months Ended October 30, 2022: $5,931; Nine Months Ended October 30, 2022: $20,923 (in millions)."
    document = pdfium.PdfDocument(str(path))
    try:
        rects = _span_rects(document[2], row)
        height = max(top for *_, top in rects) - min(bottom for _, bottom, *_ in rects)
        lefts = sorted(left for left, _, _, _ in rects)
    finally:
        document.close()
    assert len(rects) == len("5,931") + len("20,923")  # one box per character of the two figures
    assert height < 12  # both on the Revenue line
    assert lefts[0] > 300  # in the figure columns, not the label


def test_a_caption_between_the_headers_and_the_rows_is_passed_over():
    lines = [
        [right(350, "2022"), right(420, "2021")],
        [(330, "(In millions)")],
        [(20, "Revenue:")],
        [(30, "Gaming"), right(350, "1,574"), right(420, "3,221")],
        [(30, "Automotive"), right(350, "251"), right(420, "135")],
    ]
    assert rewritten(lines) == [
        "Revenue — Gaming: 2022: 1,574; 2021: 3,221 (in millions).",
        "Revenue — Automotive: 2022: 251; 2021: 135 (in millions).",
    ]


def test_a_diagram_with_numbered_labels_is_not_a_table():
    """Solana's Merkle-tree figure: "Transaction 1  Transaction 2" / "Block Header 1" stays as printed."""
    lines = [
        [(196, "Transaction"), (230, "1"), (242, "Transaction"), (276, "2")],
        [(302, "Block Header"), (341, "1")],
        [(196, "Transaction"), (230, "3"), (242, "Transaction"), (276, "4")],
    ]
    assert rewritten(lines) == ["Transaction 1 Transaction 2", "Block Header 1", "Transaction 3 Transaction 4"]


# NVIDIA's summary table (2022 Q3 10-Q, page 28): "Three Months Ended" sits over three columns but is narrower than
# them, so by position it heads only the middle one; the change columns have their own headers.
SUMMARY = [
    [(18, "Third Quarter of Fiscal Year 2023 Summary")],
    [(254, "Three Months Ended")],
    [(200, "October 30,"), (271, "July 31,"), (348, "October 31,")],
    [(215, "2022"), (307, "2022"), (363, "2021"), (428, "Q/Q Change"), (520, "Y/Y Change")],
    [(20, "Revenue"), right(246, "$5,931"), right(321, "$6,704"), right(395, "$7,103"), right(498, "(12)%"), right(591, "(17)%")],
    [(20, "Operating expenses"), right(246, "$2,576"), right(321, "$2,416"), right(395, "$1,960"), right(498, "7%"), right(591, "31%")],
]  # fmt: skip


def test_a_period_header_narrower_than_its_columns_heads_all_its_dated_columns():
    """The model answered NVIDIA's quarter revenue with the middle column's $6,704 (the quarter before)."""
    revenue = next(line for line in rewritten(SUMMARY) if line.startswith("Revenue:"))
    assert revenue.startswith("Revenue: Three Months Ended October 30, 2022: $5,931; July 31, 2022: $6,704; "
                              "October 31, 2021: $7,103; Q/Q Change: (12)%")  # fmt: skip


def test_period_headers_spread_within_their_group_and_not_when_it_is_unclear():
    from rag.ingest.table_periods import spread_periods

    def spread(headers):
        columns = [list(h) for h in headers]
        spread_periods(columns)
        return [" ".join(c) for c in columns]

    # the years repeat in groups of two: each group's own period (Microsoft's cash flows)
    assert spread([["2022"], ["Three Months Ended", "2021"], ["2022"], ["Six Months Ended", "2021"]]) == [
        "Three Months Ended 2022", "Three Months Ended 2021", "Six Months Ended 2022", "Six Months Ended 2021"]
    # a column without a date ("Change") ends the group (Apple's net sales by category)
    assert spread([["June 25, 2022"], ["Three Months Ended", "June 26, 2021"], ["Change"], ["June 25, 2022"],
                   ["Nine Months Ended", "June 26, 2021"]]) == [
        "Three Months Ended June 25, 2022", "Three Months Ended June 26, 2021", "Change",
        "Nine Months Ended June 25, 2022", "Nine Months Ended June 26, 2021"]
    # between two periods with no pattern of years to tell: left as it was (Amazon's commitments)
    assert spread([["Nine Months Ended December 31,", "2023"], ["2024"], ["Year Ended December 31,", "2025"],
                   ["2026"], ["Thereafter"]]) == [
        "Nine Months Ended December 31, 2023", "2024", "Year Ended December 31, 2025",
        "Year Ended December 31, 2026", "Thereafter"]
    # a title over the table stays first; the period goes before the date
    assert spread([["SUMMARY", "2023"], ["SUMMARY", "Three Months Ended", "March 31, 2022"]])[0] == (
        "SUMMARY Three Months Ended 2023")
    assert spread([["December 31, 2022"], ["December 31, 2021"]]) == ["December 31, 2022", "December 31, 2021"]


def test_nvidias_summary_table_says_which_column_is_the_quarter(shared_dir):
    from rag.config import Settings
    from rag.ingest.pdf import load_pdf

    path = shared_dir / "eval/docugami_sec10q/docs/2022 Q3 NVDA.pdf"
    pages, _ = load_pdf(path.read_bytes(), path.name, Settings())
    revenue = next(line for line in pages[27].text.splitlines() if line.startswith("Revenue:"))
    assert revenue.startswith("Revenue: Three Months Ended October 30, 2022: $5,931; July 31, 2022: $6,704")


def test_the_rows_written_into_the_page_are_read_back_with_their_sections_and_periods():
    from rag.ingest.table_rows import table_rows

    text = "\n".join(rewritten(INCOME))
    rows = {row.label: row for row in table_rows(text)}
    assert list(rows) == [
        "Revenue",
        "Research and development",
        "Total operating expenses",
        "Interest expense",
        "Basic",
    ]
    revenue = rows["Revenue"]
    assert [(c.figure, c.period) for c in revenue.cells] == [
        ("$5,931", "three"), ("$7,103", "three"), ("20,923", "nine"), ("19,271", "nine")
    ]  # fmt: skip
    assert revenue.cells[1].header == "Oct 31, 2021"  # the period is carried over from the header before it
    assert rows["Research and development"].section == "Operating expenses"
    assert text[revenue.start : revenue.end].startswith("Revenue: Three Months Ended")
    prose = "Revenue was $5,931 million: up 3%; costs: 7,103 in total.\nNote: 5 (in millions)."
    assert table_rows(prose) == []  # a colon and a semicolon do not make a row; nor does one figure
