"""SEC 10-Q questions, retrieval with and without table rows that keep their headers (RAG_PDF_TABLES).

    python bench/sec_tables.py --work /tmp/sec-tables [--out results.json]

Ingests the 20 filings twice (tables on / off, each into its own data dir under --work, reused on later runs)
and asks every question of ../shared/eval/docugami_sec10q/qna_data.csv whose reference answer states figures
(≥ 100, years left out). Per question, over the app's default search (top 5):
- doc hit@5:    a passage from a filing the question names;
- figure hit@5: a passage from such a filing that states one of the reference's figures (the page that answers).
Reported for the `Table` and `Text` questions (the set's `Source Chunk Type`) separately, with ingest time.
"""

from __future__ import annotations

import csv
import fnmatch
import sys
import time
from dataclasses import dataclass
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.common import SEC_DOCS, base_parser, load_avg, shared_dir, write_json  # noqa: E402
from rag.config import Settings  # noqa: E402
from rag.entities import numbers  # noqa: E402

QNA = Path("eval/docugami_sec10q/qna_data.csv")


@dataclass(frozen=True)
class Question:
    text: str
    globs: tuple[str, ...]  # file-name globs of the filings that answer it
    figures: frozenset[str]
    kind: str  # "Table" or "Text"


def questions(shared: Path) -> list[Question]:
    out = []
    for row in csv.DictReader((shared / QNA).open(encoding="utf-8-sig")):
        figures = frozenset(n for n in numbers(row["Answer"]) if float(n) >= 100 and not 1990 <= float(n) <= 2030)
        if figures:
            globs = tuple(g.strip() for g in row["Source Docs"].split(",") if g.strip())
            out.append(Question(row["Question"], globs, figures, row["Source Chunk Type"]))
    return out


def score(library, question: Question) -> tuple[bool, bool]:
    hits = library.search(question.text, k=5)
    right = [h for h in hits if any(fnmatch.fnmatch(h.document, g) for g in question.globs)]
    return bool(right), any(question.figures & set(numbers(h.chunk.text)) for h in right)


def run(shared: Path, work: Path, tables: bool, embedder) -> dict:
    from rag.library import Library

    settings = Settings.from_env().replace(data_dir=work / ("tables" if tables else "plain"), pdf_tables=tables)
    library = Library.open(settings, embedder)
    started = time.perf_counter()
    outcomes = list(library.ingest(sorted((shared / SEC_DOCS).glob("*.pdf"))))
    ingest_s = time.perf_counter() - started
    failed = [o.message for o in outcomes if not o.ok]
    result: dict = {"tables": tables, "ingest_s": round(ingest_s, 1), "failed": failed,
                    "chunks": sum(d.chunks for d in library.documents())}
    for kind in ("Table", "Text"):
        asked = [q for q in questions(shared) if q.kind == kind]
        scores = [score(library, q) for q in asked]
        result[kind] = {"n": len(asked), "doc_hit@5": round(sum(d for d, _ in scores) / len(asked), 3),
                        "figure_hit@5": round(sum(f for _, f in scores) / len(asked), 3)}
    library.close()
    return result


def main() -> None:
    parser = base_parser(__doc__.splitlines()[0])
    parser.add_argument("--work", type=Path, required=True, help="data dirs for the two libraries (kept)")
    parser.add_argument("--tables", default="off,on", help="which libraries to measure: off, on or both")
    args = parser.parse_args()
    shared = shared_dir(args.shared, QNA, SEC_DOCS)
    from rag.embedding import load_embedder

    embedder = load_embedder(Settings.from_env())
    results = [run(shared, args.work, choice == "on", embedder) for choice in args.tables.split(",")]
    print("| tables | chunks | ingest s | Table q: doc@5 / figure@5 | Text q: doc@5 / figure@5 |")
    print("|---|---:|---:|---|---|")
    for r in results:
        print(f"| {'on' if r['tables'] else 'off'} | {r['chunks']} | {r['ingest_s']} | "
              f"{r['Table']['doc_hit@5']} / {r['Table']['figure_hit@5']} (n={r['Table']['n']}) | "
              f"{r['Text']['doc_hit@5']} / {r['Text']['figure_hit@5']} (n={r['Text']['n']}) |")
    if args.out:
        write_json(args.out, {"results": results, "load_avg": load_avg()})


if __name__ == "__main__":
    main()
