"""How often the evidence shown before the answer holds the reference; no LLM, a few minutes on 2 cores.

    python bench/evidence.py --shared ../shared --work /tmp/answers-bench [--sweep]

For each question: the passages `answer()` reads (`find_passages`: the library's search at the app's default
settings, moved toward the company and the filing the question names, with neighbours; `--plain-search`: the
search's top_k alone, as before session 12), then `select_evidence` (top 3 sentences). A question counts as held when
- covid  (50 COVID-QA questions, shortest articles): a quote contains the extractive answer span (normalised);
- solana (58 questions): a quote lies inside the reference context (≥ 80 % of its content terms are there);
- sec    (SEC 10-Q single-document questions, Table and Text apart): a quote states one of the reference
  answer's figures (numbers ≥ 100 that are not years).
`--sweep` also scores other weightings of the sentence score (picked on covid + solana, confirmed on sec) and
two baselines: the first sentence of each of the top 3 passages, and dense cosine alone, and the default
without the bonus for sentences stating an amount (W_FIGURE). Every run also scores the default without the
coverage gain (W_NEW: later quotes favour question terms the earlier ones lack) and counts the questions whose
quotes it changed. "bound: any passage"
is how often a retrieved passage holds the reference at all: no choice of sentences can beat it.
"""

from __future__ import annotations

import json
import statistics
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.answers import covid_questions, normalize, open_library, sec_questions  # noqa: E402
from bench.common import base_parser  # noqa: E402
from rag.config import Settings  # noqa: E402
from rag.entities import numbers  # noqa: E402
from rag.generate import evidence as ev  # noqa: E402
from rag.generate.pipeline import find_passages  # noqa: E402
from rag.jsonview import supporting_text  # noqa: E402
from rag.text import content_terms, sentence_spans  # noqa: E402
from rag.types import Citation, Hit  # noqa: E402

NO_GAIN = "default, no coverage gain"  # the quotes by score alone, as before session 15
WEIGHTINGS = {  # (dense, terms); session 6 also tried a passage-rank prior (results/2026-12-05-session6)
    "default": (ev.W_DENSE, ev.W_TERMS),
    "dense only": (1.0, 0.0),
    "terms only": (0.0, 1.0),
    "dense-heavy": (0.7, 0.3),
}


@dataclass(frozen=True)
class Case:
    set: str
    question: str
    held: Callable[[str], bool]  # does this quote hold the reference?


def covid_cases(shared: Path, work: Path) -> tuple[list[Case], list[Path]]:
    questions = covid_questions(shared, 50, work / "covid_articles")
    cases = [Case("covid", q.question, _span_check(q.reference)) for q in questions]
    return cases, sorted((work / "covid_articles").glob("*.txt"))


def _span_check(span: str) -> Callable[[str], bool]:
    wanted = " ".join(normalize(span))
    return lambda quote: wanted in " ".join(normalize(quote))


def solana_cases(shared: Path) -> list[Case]:
    data = json.loads((shared / "eval/blockchain_solana/rag_dataset.json").read_text())
    return [Case("solana", e["query"], _inside(e["reference_contexts"][0])) for e in data["examples"]]


def _inside(context: str) -> Callable[[str], bool]:
    have = content_terms(context)

    def check(quote: str) -> bool:
        terms = content_terms(quote)
        return bool(terms) and len(terms & have) >= 0.8 * len(terms)

    return check


def sec_cases(shared: Path) -> list[Case]:
    return [
        Case("sec-table" if q.chunk_type == "Table" else "sec-text", q.question, _states_any(set(q.figures)))
        for q in sec_questions(shared)
    ]


def _states_any(figures: set[str]) -> Callable[[str], bool]:
    return lambda quote: bool(figures & set(numbers(quote)))


def first_sentences(query: str, sources: Sequence[Hit], embedder, limit: int = 3) -> tuple[Citation, ...]:
    """Baseline: the first sentence (of ≥ 4 words) of each of the top passages."""
    out = []
    for n, hit in enumerate(sources[:limit], start=1):
        spans = [s for s in sentence_spans(hit.chunk.text) if len(s.text.split()) >= ev.MIN_WORDS]
        if spans:
            s = spans[0]
            out.append(Citation(n, hit.chunk, 0.0, hit.chunk.start + s.start, hit.chunk.start + s.end))
    return tuple(out)


def score_set(cases: list[Case], library, settings: Settings, embedder, variants: dict,
              plain: bool = False) -> dict[str, dict]:  # fmt: skip
    """Return {variant: {held, per-question timings}} for one set."""
    held = {name: [] for name in variants} | {"bound: any passage": []}
    shown: dict[str, list[tuple[str, ...]]] = {name: [] for name in variants}
    times: list[float] = []
    for case in cases:
        if plain:
            sources = tuple(library.search(case.question, k=settings.top_k))
        else:
            sources = find_passages(case.question, case.question, library, settings)
        held["bound: any passage"].append(any(case.held(h.chunk.text) for h in sources))
        for name, select in variants.items():
            started = time.perf_counter()
            quotes = select(case.question, sources, embedder)
            if name == "default":
                times.append(time.perf_counter() - started)
            held[name].append(any(case.held(supporting_text(q)) for q in quotes))
            shown[name].append(tuple(supporting_text(q) for q in quotes))
    changed = sum(a != b for a, b in zip(shown["default"], shown.get(NO_GAIN, shown["default"]), strict=True))
    return {
        name: {"n": len(v), "held_top3": round(sum(v) / len(v), 3) if v else 0.0} for name, v in held.items()
    } | {"_median_select_s": round(statistics.median(times), 4) if times else None, "_quotes_changed": changed}


def variants(sweep: bool) -> dict:
    def weighted(weights, figure=ev.W_FIGURE, new=ev.W_NEW):
        def select(query, sources, embedder):
            saved = ev.W_DENSE, ev.W_TERMS, ev.W_FIGURE, ev.W_NEW
            (ev.W_DENSE, ev.W_TERMS), ev.W_FIGURE, ev.W_NEW = weights, figure, new
            try:
                return ev.select_evidence(query, sources, embedder)
            finally:
                ev.W_DENSE, ev.W_TERMS, ev.W_FIGURE, ev.W_NEW = saved

        return select

    # "_quotes_changed" in the report: questions whose quotes the coverage gain (W_NEW, session 15) changed
    chosen = {"default": weighted(WEIGHTINGS["default"]), NO_GAIN: weighted(WEIGHTINGS["default"], new=0.0)}
    if sweep:
        chosen |= {name: weighted(w) for name, w in WEIGHTINGS.items() if name != "default"}
        chosen["default, no amount bonus"] = weighted(WEIGHTINGS["default"], 0.0)
        chosen["first sentences"] = first_sentences
    return chosen


def main(argv: list[str] | None = None) -> int:
    parser = base_parser(__doc__.splitlines()[0])
    parser.add_argument("--work", type=Path, default=Path("/tmp/answers-bench"))
    parser.add_argument("--sweep", action="store_true")
    parser.add_argument("--plain-search", action="store_true", help="the search's top_k alone (before session 12)")
    args = parser.parse_args(argv)
    from rag.embedding import load_embedder

    base = Settings.from_env()
    embedder = load_embedder(base)
    covid, covid_files = covid_cases(args.shared, args.work)
    sec_docs = sorted((args.shared / "eval/docugami_sec10q/docs").glob("*.pdf"))
    sets = {
        "covid": (covid, base.replace(data_dir=args.work / "covid"), covid_files),
        "solana": (solana_cases(args.shared), base.replace(data_dir=args.work / "solana"),
                   [args.shared / "eval/blockchain_solana/source_files/BlockchainSolana.pdf"]),
        "sec": (sec_cases(args.shared), base.replace(data_dir=args.work / "sec"), sec_docs),
    }  # fmt: skip
    report = {}
    for cases, settings, files in sets.values():
        library = open_library(settings, embedder, files)
        kinds = sorted({c.set for c in cases})
        for kind in kinds:
            chosen = [c for c in cases if c.set == kind]
            report[kind] = score_set(chosen, library, settings, embedder, variants(args.sweep), args.plain_search)
            print(kind, json.dumps(report[kind]), flush=True)
        library.close()
    print_table(report)
    if args.out:
        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.write_text(json.dumps(report, indent=2))
    return 0


def print_table(report: dict) -> None:
    names = [n for n in next(iter(report.values())) if not n.startswith("_")]
    print("\n| variant | " + " | ".join(f"{k} (n={report[k][names[0]]['n']})" for k in report) + " |")
    print("|---|" + "---|" * len(report))
    for name in names:
        print(f"| {name} | " + " | ".join(f"{report[k][name]['held_top3']:.2f}" for k in report) + " |")
    print("| median select (s) | " + " | ".join(str(report[k]["_median_select_s"]) for k in report) + " |")
    print("| questions whose quotes W_NEW changed | " + " | ".join(str(report[k]["_quotes_changed"]) for k in report) + " |")


if __name__ == "__main__":
    raise SystemExit(main())
