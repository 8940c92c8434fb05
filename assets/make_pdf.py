"""Build `assets/kb/agents-primer.pdf` from `assets/pdf-source/agents.md` (run once; the PDF is committed).

Each `## ` section starts a new page, so page citations in the sample library point somewhere meaningful.
Needs `fpdf2` (pip install fpdf2==2.8.9), which is not a runtime requirement of Footnote.

    python assets/make_pdf.py
"""

from __future__ import annotations

from datetime import datetime, timezone
from pathlib import Path

from fpdf import FPDF

HERE = Path(__file__).resolve().parent
SOURCE = HERE / "pdf-source" / "agents.md"
TARGET = HERE / "kb" / "agents-primer.pdf"


class PrimerPDF(FPDF):
    def footer(self) -> None:
        self.set_y(-15)
        self.set_font("Helvetica", size=9)
        self.cell(0, 10, f"Footnote sample library - page {self.page_no()}", align="C")


def sections(markdown: str) -> list[tuple[str, list[str]]]:
    """Return (heading, paragraphs) per `## ` section; the `# ` title line is kept as the first heading."""
    result: list[tuple[str, list[str]]] = []
    for block in markdown.strip().split("\n\n"):
        text = " ".join(line.strip() for line in block.splitlines())
        if text.startswith("#"):
            result.append((text.lstrip("# "), []))
        else:
            result[-1][1].append(text)
    return result


def build(source: Path = SOURCE, target: Path = TARGET) -> Path:
    """Write the PDF and return its path. The output is deterministic (fixed creation date)."""
    pdf = PrimerPDF(format="A4")
    pdf.set_title("LLM Agents: tools, memory, planning and reflection")
    pdf.set_author("Footnote sample library")
    pdf.set_creation_date(datetime(2026, 1, 1, tzinfo=timezone.utc))
    pdf.set_margins(22, 22, 22)
    parts = sections(source.read_text(encoding="utf-8"))
    title, _ = parts[0]
    for index, (heading, paragraphs) in enumerate(parts[1:]):
        pdf.add_page()
        if index == 0:
            pdf.set_font("Helvetica", style="B", size=18)
            pdf.multi_cell(0, 9, title)
            pdf.ln(4)
        pdf.set_font("Helvetica", style="B", size=14)
        pdf.multi_cell(0, 8, heading)
        pdf.ln(2)
        pdf.set_font("Helvetica", size=11)
        for paragraph in paragraphs:
            pdf.multi_cell(0, 6, paragraph)
            pdf.ln(3)
    target.parent.mkdir(parents=True, exist_ok=True)
    pdf.output(str(target))
    return target


if __name__ == "__main__":
    print(build())
