"""The filing the question dates (`rag.generate.periods`): "Q1 2023", "the latest 10-Q" over quarterly files."""

from __future__ import annotations

from rag.config import Settings
from rag.generate.periods import LATEST, Period, asked_period, dated, toward_period
from rag.generate.pipeline import Done, answer
from rag.types import DocumentInfo
from tests.fakes import FakeGenerator, FakeLibrary

ROW = "Apple research and development expense for the three months ended was {} million."
FILINGS = [
    ("2022 Q3 AAPL.pdf", 30, ROW.format("6,797")),
    ("2023 Q1 AAPL.pdf", 28, ROW.format("7,709")),
    ("2023 Q3 AAPL.pdf", 27, ROW.format("7,442")),
    ("2023 Q1 MSFT.pdf", 12, "Microsoft research and development expense for the three months was 6,984 million."),
]


def info(name: str) -> DocumentInfo:
    return DocumentInfo(name, name, "pdf", 1, 1, 0.0)


def test_the_period_a_question_asks_about():
    assert asked_period("What was Apple's R&D spend in Q1 2023?") == Period(2023, 1)
    assert asked_period("In the 2023 Q3 filing, what was revenue?") == Period(2023, 3)
    assert asked_period("In the third quarter of 2023, how much was spent?") == Period(2023, 3)
    assert asked_period("Revenue in Q3 of 2023?") == asked_period("Revenue in Q3 '23?") == Period(2023, 3)
    assert asked_period("What did 3Q23 bring?") == Period(2023, 3)
    assert asked_period("Margin in 2Q 2023?") == Period(2023, 2)
    assert asked_period("Did the 10-Q for Q3 2022 restate 2Q items?") == Period(2022, 3)  # "2Q" has no year
    assert asked_period("What was NVIDIA's net income in the second fiscal quarter of 2023?") == Period(2023, 2)
    assert asked_period("What was the gross margin in the latest 10-Q report?") == LATEST
    assert asked_period("What was the gross margin as stated in the most recent 10-Q?") == LATEST
    assert asked_period("For the latest quarter, what was iPhone revenue?") == LATEST
    assert asked_period("How has revenue changed over the reported quarters?") is None
    assert asked_period("What was revenue in Q3?") is None  # which year: no filing to prefer
    assert asked_period("Which version is the latest?") is None
    assert asked_period("How does R&D in the most recent quarter compare to previous quarters?") is None
    assert asked_period("How has revenue in Q3 2023 changed over time?") is None


def test_a_file_name_gives_its_period_and_its_series():
    assert dated(info("2023 Q3 AAPL.pdf")).period == Period(2023, 3)
    assert dated(info("2023 Q3 AAPL.pdf")).series == dated(info("2022 Q3 AAPL.pdf")).series == "aapl"
    assert dated(info("aapl_Q1-2023_10q.pdf")).series == "aapl 10q"
    assert dated(info("notes.md")) is None and dated(info("model-v2023.pdf")) is None


def test_a_dated_question_reads_the_filing_of_its_quarter():
    library = FakeLibrary(FILINGS, settings=Settings(top_k=3))
    question = "What was Apple research and development expense in Q1 2023?"
    hits = library.search(question, k=3)
    assert {h.chunk.document for h in hits} != {"2023 Q1 AAPL.pdf"}  # the search alone mixes quarters
    moved = toward_period(question, question, hits, library, 3)
    assert {h.chunk.document for h in moved} == {"2023 Q1 AAPL.pdf"}
    latest = toward_period("What was Apple research and development expense in the latest 10-Q?", question, hits,
                           library, 3)  # fmt: skip
    assert {h.chunk.document for h in latest} == {"2023 Q3 AAPL.pdf"}


def test_nothing_moves_without_a_filing_of_that_period_or_outside_the_picked_documents():
    library = FakeLibrary(FILINGS, settings=Settings(top_k=3))
    question = "What was Apple research and development expense in Q2 2023?"  # no 2023 Q2 file
    hits = tuple(library.search(question, k=3))
    assert toward_period(question, question, hits, library, 3) == hits
    picked = ["2022 Q3 AAPL.pdf", "2023 Q3 AAPL.pdf"]
    q1 = "What was Apple research and development expense in Q1 2023?"
    hits = tuple(library.search(q1, k=3, documents=picked))
    assert toward_period(q1, q1, hits, library, 3, picked) == hits  # the person left Q1 out: not brought back
    undated = "What was research and development expense over the reported quarters?"
    assert toward_period(undated, undated, hits, library, 3) == hits


def test_passages_of_undated_documents_keep_half_the_places():
    notes = ("analyst-notes.md", 1, "Research and development expense rose, analysts noted, for three months.")
    library = FakeLibrary([notes, *FILINGS[:3]], settings=Settings(top_k=4))
    question = "What was Apple research and development expense in Q1 2023?"
    moved = toward_period(question, question, library.search(question, k=4), library, 4)
    assert [h.chunk.document for h in moved] == ["2023 Q1 AAPL.pdf", "analyst-notes.md"]


def test_the_answer_cites_the_quarter_asked_about():
    library = FakeLibrary(FILINGS, settings=Settings(top_k=3, neighbours=0))
    generator = FakeGenerator()
    events = list(answer("How much was Apple research and development expense in Q1 2023?", library, generator))
    done = events[-1]
    assert isinstance(done, Done) and not done.answer.abstained
    assert "7,709" in done.answer.text and "6,797" not in generator.calls[0].messages[0].content
    assert {c.document for c in done.answer.citations} == {"2023 Q1 AAPL.pdf"}


def test_the_periods_bench_splits_sec_questions_into_the_answers_benchs_and_held_out_ones(shared_dir):
    import sys
    from pathlib import Path

    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))  # `bench` is a folder beside `rag`
    from bench.periods import cases

    groups = cases(shared_dir)
    assert (len(groups["dev"]), len(groups["heldout"])) == (60, 70)
    assert not {q for q, _, _ in groups["dev"]} & {q for q, _, _ in groups["heldout"]}
    assert all(figures for _, _, figures in groups["dev"]) and all(" " in source for _, source, _ in groups["heldout"])
