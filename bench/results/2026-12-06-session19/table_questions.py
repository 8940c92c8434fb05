"""Session 19's held-out table questions: rows drawn at random (seed 19) from the SEC filings' tables as the
library stores them, each asked as a user would ("What was Apple's Mac net sales for the three months ended
July 1, 2023 (its 2023 Q3 10-Q)?") against the whole library at the given settings, live. Each reply is then
replayed with the row check off (`rag.generate.row_facts.misreading` → ""), so both verdicts are on the same
model text. One JSON line per question on stdout: the figure asked, both answers, whether each holds it.
`--replies` takes an earlier run's lines and replays their replies instead of asking the model (a later rule on
the same text).

    RAG_TEMPERATURE=0 RAG_LLM_PROMPT_CACHE=0 RAG_THREADS=2 python \
        bench/results/2026-12-06-session19/table_questions.py SEC_DATA_DIR [--n 40] [--replies RUN.jsonl]
"""

import argparse
import json
import random
import re
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parents[2]))

import rag  # noqa: E402
import rag.generate.facts as facts  # noqa: E402
from bench.answers import Replayed  # noqa: E402
from rag.entities import numbers  # noqa: E402
from rag.generate.pipeline import Done, Token  # noqa: E402
from rag.ingest.table_rows import table_rows  # noqa: E402
from rag.text import content_terms  # noqa: E402

COMPANIES = {"AAPL": "Apple", "MSFT": "Microsoft", "NVDA": "NVIDIA", "AMZN": "Amazon", "INTC": "Intel"}
_DATE = re.compile(r"[A-Z][a-z]+ \d{1,2}, \d{4}")


def draw(library, n: int, seed: int) -> list[dict]:
    """`n` rows (at most 3 a filing) with a label of two words or more and a dated three- or nine-month figure of at
    least 10, as questions."""
    found = []
    for doc in library.documents():
        year, quarter, ticker = Path(doc.name).stem.split()
        for page in range(1, doc.pages + 1):
            for row in table_rows(library.page_text(doc.doc_id, page)):
                for cell in row.cells:
                    date = _DATE.search(cell.header)
                    value = next(iter(numbers(cell.figure)), "")
                    named = len(content_terms(row.label)) >= 2  # not "Total", "Less", "Other"
                    if (
                        named
                        and cell.period in ("three", "nine")
                        and date
                        and value
                        and float(value) >= 10
                        and "%" not in cell.figure
                    ):
                        label = f"{row.label} ({row.section})" if row.section else row.label
                        question = (
                            f"What was {COMPANIES[ticker]}'s {label} for the {cell.period} months ended "
                            f"{date.group()} (its {year} {quarter} 10-Q)?"
                        )
                        found.append(
                            {"doc": doc.name, "page": page, "q": question, "figure": cell.figure, "value": value}
                        )
    rng = random.Random(seed)
    rng.shuffle(found)
    picked, per_doc = [], {}
    for item in found:
        if per_doc.get(item["doc"], 0) < 3 and item["q"] not in {p["q"] for p in picked}:
            picked.append(item)
            per_doc[item["doc"]] = per_doc.get(item["doc"], 0) + 1
    return picked[:n]


def ask(question: str, library, generator) -> tuple[rag.Answer, str]:
    events = list(rag.answer(question, library, generator))
    return next(e for e in events if isinstance(e, Done)).answer, "".join(
        e.text for e in events if isinstance(e, Token)
    )


def holds(answer: rag.Answer, value: str) -> bool:
    """An answer (not a refusal) that states the figure asked."""
    return not answer.abstained and value in numbers(answer.text)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("data", type=Path)
    parser.add_argument("--n", type=int, default=40)
    parser.add_argument("--seed", type=int, default=19)
    parser.add_argument("--replies", type=Path, help="an earlier run's output: replay its replies")
    args = parser.parse_args()
    settings = rag.Settings.from_env().replace(data_dir=args.data)
    embedder, generator = rag.load_embedder(settings), rag.load_generator(settings)
    if args.replies:
        runs = [json.loads(line) for line in args.replies.read_text().splitlines() if line.strip()]
        generator = Replayed(generator, [{"question": run["q"], "model": run["reply"]} for run in runs])
    library = rag.Library.open(settings, embedder)
    checking = facts.misreading
    for item in draw(library, args.n, args.seed):
        result, reply = ask(item["q"], library, generator)
        facts.misreading = lambda *a: ""  # the same reply with the row check off
        before, _ = ask(item["q"], library, Replayed(generator, [{"question": item["q"], "model": reply}]))
        facts.misreading = checking
        print(json.dumps({**item, "reply": reply, "after": result.text, "after_abstained": result.abstained,
                          "after_holds": holds(result, item["value"]), "before": before.text,
                          "before_abstained": before.abstained, "before_holds": holds(before, item["value"])},
                         ensure_ascii=False), flush=True)  # fmt: skip
    library.close()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
