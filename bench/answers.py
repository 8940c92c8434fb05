"""Answer quality and speed of `rag.answer` on real benchmark data; prints a table and writes JSON.

    python bench/answers.py --shared ../shared --work /tmp/answers-bench --limit 10
    python bench/answers.py --retrieval-only          # abstention calibration without the LLM (fast)

Sets (all third-party, read from --shared; nothing is copied into the repo):
- solana:      58 blockchain_solana questions over BlockchainSolana.pdf (answerable; AI-written references,
               gold page = the page with the highest token recall of the reference context).
- covid:       50 COVID-QA questions from the shortest articles, those articles ingested as .txt (answerable;
               extractive reference spans; a citation is right when its passage contains the answer span).
- covid-unans: the same 50 questions asked against the Solana library only (their documents are not
               ingested, so the right behaviour is to abstain): off-topic, the easy case.
- covid-intopic: the same 50 questions asked of the COVID-QA library with the article that answers each one
               left out of the search: topical passages that lack the answer (should abstain).
- sec:         SEC 10-Q single-document questions whose reference states figures (Table and Text), over the
               20 filings (answerable; right when the answer states one of the reference's figures).
- sec-removed: the same questions with the named company's filings left out of the search (should abstain).
Metrics: token F1 and containment of the reference, citation precision, abstention rate, median time to
first token, median decode tokens/s. `--limit N` runs the first N questions of each set (say so when reporting).
Two runs compared answer by answer need `RAG_TEMPERATURE=0 RAG_LLM_PROMPT_CACHE=0 RAG_THREADS=2`: with llama.cpp's
prompt reuse on, a greedy answer also depends on the question asked before it, and the thread count changes the
numbers of a long prompt (docs/answer-quality.md, "Reproducible runs"; `python bench/llm_repeat.py`).
"""

from __future__ import annotations

import argparse
import csv
import dataclasses
import json
import re
import statistics
import string
import sys
import time
from collections import Counter
from dataclasses import asdict, dataclass, field
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.common import SEC_DOCS  # noqa: E402
from rag.config import Settings  # noqa: E402
from rag.entities import numbers  # noqa: E402
from rag.generate.evidence import select_evidence  # noqa: E402
from rag.generate.pipeline import Done, Token, answer, measure  # noqa: E402
from rag.types import Answer  # noqa: E402

ANSWERABLE = ("solana", "covid", "sec")


@dataclass(frozen=True)
class Question:
    set: str
    question: str
    reference: str
    gold_pages: tuple[int, ...] = ()  # solana: pages that hold the reference context
    answerable: bool = True
    source: str = ""  # the document that answers it (covid: the article file; sec: the filing glob)
    documents: tuple[str, ...] | None = None  # search only these (None = the whole library)
    figures: tuple[str, ...] = ()  # sec: the reference's figures (normalised); one in the answer = right
    chunk_type: str = ""  # sec: where the reference is, "Table" or "Text"


@dataclass
class Row:
    set: str
    question: str
    answer: str = ""
    abstained: bool = False
    f1: float = 0.0
    contains: bool = False
    cited: int = 0
    cited_right: int = 0
    confidence: float = 0.0
    evidence_top: float = 0.0  # the best quoted sentence's score (rag.generate.evidence)
    logprob_mean: float = 0.0  # the answer tokens' mean log-probability (llama.cpp), when the model ran
    logprob_min: float = 0.0
    timings: dict = field(default_factory=dict)
    model: str = ""  # what the model wrote before the checks ("" when it was not asked: refused before it)


def normalize(text: str) -> list[str]:
    """SQuAD normalisation: lower case, no punctuation, no articles; returns the tokens."""
    text = "".join(ch for ch in text.lower() if ch not in string.punctuation)
    return [t for t in text.split() if t not in ("a", "an", "the")]


def token_f1(prediction: str, reference: str) -> float:
    """Return SQuAD token F1 between two texts."""
    pred, ref = normalize(re.sub(r"\[\d+\]", "", prediction)), normalize(reference)
    common = sum((Counter(pred) & Counter(ref)).values())
    if not common:
        return 0.0
    precision, recall = common / len(pred), common / len(ref)
    return 2 * precision * recall / (precision + recall)


def solana_questions(shared: Path, page_texts: dict[int, str]) -> list[Question]:
    """Return the 58 Solana questions with their gold pages (highest token recall of the reference context)."""
    data = json.loads((shared / "eval/blockchain_solana/rag_dataset.json").read_text())
    out = []
    page_tokens = {p: set(normalize(t)) for p, t in page_texts.items()}
    for example in data["examples"]:
        context = set(normalize(example["reference_contexts"][0]))
        recall = {p: len(context & toks) / max(len(context), 1) for p, toks in page_tokens.items()}
        best = max(recall.values())
        gold = tuple(sorted(p for p, r in recall.items() if r >= best - 0.05))
        out.append(Question("solana", example["query"], example["reference_answer"], gold))
    return out


def covid_questions(shared: Path, n: int, folder: Path) -> list[Question]:
    """Return `n` COVID-QA questions from the shortest articles, writing those articles as .txt into `folder`."""
    data = json.loads((shared / "eval/covid_qa/200423_covidQA.json").read_text())["data"]
    articles = sorted((a["paragraphs"][0] for a in data), key=lambda p: len(p["context"]))
    folder.mkdir(parents=True, exist_ok=True)
    out: list[Question] = []
    for article in articles:
        if len(out) >= n:
            break
        (folder / f"covid_{article['document_id']}.txt").write_text(article["context"])
        for qa in article["qas"][: n - len(out)]:
            name = f"covid_{article['document_id']}.txt"
            out.append(Question("covid", qa["question"], qa["answers"][0]["text"], source=name))
    return out


def sec_questions(shared: Path) -> list[Question]:
    """Return the SEC 10-Q single-document questions whose reference answer states figures (≥ 100, not years)."""
    rows = csv.DictReader((shared / "eval/docugami_sec10q/qna_data.csv").open(encoding="utf-8-sig"))
    out = []
    for row in rows:
        figures = tuple(sorted(n for n in numbers(row["Answer"]) if float(n) >= 100 and not _is_year(n)))
        if row["Question Type"].startswith("Single-Doc") and figures:
            glob = row["Source Docs"].strip("*")
            kind = row["Source Chunk Type"]
            out.append(Question("sec", row["Question"], row["Answer"], source=glob, figures=figures, chunk_type=kind))
    return out


def _is_year(n: str) -> bool:
    return n.isdigit() and 1990 <= int(n) <= 2030


def leave_out(questions: list[Question], names: list[str], name: str, company: bool = False) -> list[Question]:
    """Return unanswerable copies of `questions`: each searches every document but the one(s) that answer it."""
    out = []
    for q in questions:
        key = q.source.split()[-1] if company else q.source  # "2023 Q3 NVDA" → every NVDA filing
        kept = tuple(n for n in names if key not in n)
        out.append(dataclasses.replace(q, set=name, answerable=False, documents=kept))
    return out


def open_library(settings: Settings, embedder, paths: list[Path]):
    """Return a Library in settings.data_dir holding `paths` (ingested once; later runs reuse it)."""
    from rag.library import Library

    library = Library.open(settings, embedder)
    for outcome in library.ingest(paths):
        if not outcome.ok:
            raise SystemExit(f"ingest failed: {outcome.message}")
    return library


def score(question: Question, result: Answer) -> Row:
    """Return the row for one answered question."""
    row = Row(question.set, question.question, result.text, result.abstained, timings=dict(result.timings))
    row.confidence = result.timings.get("confidence", 0.0)
    row.evidence_top = result.evidence[0].score if result.evidence else 0.0
    if question.answerable and not result.abstained and question.figures:
        row.contains = bool(set(question.figures) & set(numbers(result.text)))
        row.cited = len(result.citations)
        row.cited_right = sum(question.source in c.document for c in result.citations)
    elif question.answerable and not result.abstained:
        row.f1 = token_f1(result.text, question.reference)
        row.contains = " ".join(normalize(question.reference)) in " ".join(normalize(result.text))
        row.cited = len(result.citations)
        for c in result.citations:
            if question.gold_pages:
                row.cited_right += c.page in question.gold_pages
            else:  # extractive: the cited passage must hold (most of) the answer span
                ref, passage = set(normalize(question.reference)), set(normalize(c.chunk.text))
                row.cited_right += len(ref & passage) >= 0.8 * max(len(ref), 1)
    return row


def run_set(questions, library, generator, settings, embedder, retrieval_only: bool, log: Path) -> list[Row]:
    """Answer (or, retrieval-only, just score the evidence of) each question; print and append each row to `log`."""
    rows = []
    for i, q in enumerate(questions, 1):
        documents = list(q.documents) if q.documents is not None else None
        if retrieval_only:
            hits = library.search(q.question, k=settings.top_k, documents=documents)
            quotes = select_evidence(q.question, hits, embedder)
            row = Row(q.set, q.question, confidence=measure(q.question, hits, embedder).confidence)
            row.evidence_top = quotes[0].score if quotes else 0.0
        else:
            events = list(answer(q.question, library, generator, settings=settings, documents=documents))
            row = score(q, next(e for e in events if isinstance(e, Done)).answer)
            row.model = "".join(e.text for e in events if isinstance(e, Token))
            _model_stats(row, generator)
        rows.append(row)
        with log.open("a") as f:  # partial results survive an interrupted run
            f.write(json.dumps(asdict(row)) + "\n")
        print(
            f"  {q.set} {i}/{len(questions)} conf={row.confidence:.2f} ev={row.evidence_top:.2f} abstained={row.abstained} f1={row.f1:.2f} "
            f"cited={row.cited_right}/{row.cited} ttft={row.timings.get('first_token', 0):.1f}s",
            flush=True,
        )
    return rows


def _model_stats(row: Row, generator) -> None:
    """Add llama.cpp's own numbers for the request that produced `row` (when the model ran)."""
    if "prompt_tokens" not in row.timings or "first_token" not in row.timings:
        return
    logprobs = getattr(generator, "last_logprobs", [])
    if logprobs:
        row.logprob_mean, row.logprob_min = statistics.mean(logprobs), min(logprobs)
    for key in ("prompt_n", "cache_n", "prompt_ms"):
        if key in getattr(generator, "last_timings", {}):
            row.timings["llm_" + key] = generator.last_timings[key]


def summarize(rows: list[Row]) -> dict:
    """Return the per-set metrics."""
    answered = [r for r in rows if not r.abstained]
    # Only questions that reached the model: a pre-generation abstention has no prefill to time.
    ttft = [r.timings["first_token"] for r in rows if "prompt_tokens" in r.timings]
    tps = [r.timings["tokens_per_s"] for r in rows if r.timings.get("tokens_per_s")]
    cited = sum(r.cited for r in answered)
    return {
        "n": len(rows),
        "abstain_rate": sum(r.abstained for r in rows) / len(rows) if rows else 0.0,
        "f1_answered": statistics.mean(r.f1 for r in answered) if answered else 0.0,
        "contains_answered": statistics.mean(r.contains for r in answered) if answered else 0.0,
        "citation_precision": sum(r.cited_right for r in answered) / cited if cited else 0.0,
        "median_ttft_s": statistics.median(ttft) if ttft else None,
        "median_tokens_per_s": statistics.median(tps) if tps else None,
    }


def calibration(answerable: list[Row], unanswerable: list[Row]) -> list[dict]:
    """Return the pre-generation gate trade-off: for each threshold, how many of each kind would abstain."""
    table = []
    for t in [x / 20 for x in range(2, 15)]:
        table.append(
            {
                "threshold": t,
                "answerable_abstained": sum(r.confidence < t for r in answerable) / max(len(answerable), 1),
                "unanswerable_abstained": sum(r.confidence < t for r in unanswerable) / max(len(unanswerable), 1),
            }
        )
    return table


def cache_check(library, generator, settings) -> dict:
    """Return time-to-first-token for a cold question, the same question again, and a follow-up.

    The repeat and the follow-up share the system message (instructions + passages) with the first,
    so llama.cpp's prompt cache should skip most of their prefill.
    """
    question = "What are the two types of membership in Corda?"
    first = _final(answer(question, library, generator, settings=settings))
    again = _final(answer(question, library, generator, settings=settings))
    follow = _final(answer("What does the notary do in it?", library, generator, history=[first], settings=settings))
    cold = first.timings["first_token"]
    return {
        "cold_ttft_s": cold,
        "repeat_ttft_s": again.timings["first_token"],
        "followup_ttft_s": follow.timings["first_token"],
        "repeat_ratio": again.timings["first_token"] / cold,
        "followup_ratio": follow.timings["first_token"] / cold,
    }


def _final(events) -> Answer:
    return [e for e in events if isinstance(e, Done)][0].answer


def build_sets(args: argparse.Namespace, base: Settings, embedder) -> dict[str, tuple]:
    """Return {set name: (questions, library, settings)}, ingesting the documents on first use."""
    solana_settings = base.replace(data_dir=args.work / "solana")
    covid_settings = base.replace(data_dir=args.work / "covid")
    pdf = args.shared / "eval/blockchain_solana/source_files/BlockchainSolana.pdf"
    solana_lib = open_library(solana_settings, embedder, [pdf])
    doc = solana_lib.documents()[0]
    pages = {p: solana_lib.page_text(doc.doc_id, p) for p in range(1, doc.pages + 1)}
    covid = covid_questions(args.shared, args.covid, args.work / "covid_articles")
    covid_lib = open_library(covid_settings, embedder, sorted((args.work / "covid_articles").glob("*.txt")))
    unanswerable = [Question("covid-unans", q.question, q.reference, answerable=False) for q in covid]
    covid_names = [d.name for d in covid_lib.documents()]
    sets = {
        "solana": (solana_questions(args.shared, pages), solana_lib, solana_settings),
        "covid": (covid, covid_lib, covid_settings),
        "covid-unans": (unanswerable, solana_lib, solana_settings),
        "covid-intopic": (leave_out(covid, covid_names, "covid-intopic"), covid_lib, covid_settings),
    }
    if args.sec:
        sec_settings = base.replace(data_dir=args.work / "sec")
        sec_lib = open_library(sec_settings, embedder, sorted((args.shared / SEC_DOCS).glob("*.pdf")))
        sec = sec_questions(args.shared)
        sec_names = [d.name for d in sec_lib.documents()]
        sets["sec"] = (sec, sec_lib, sec_settings)
        sets["sec-removed"] = (leave_out(sec, sec_names, "sec-removed", company=True), sec_lib, sec_settings)
    return sets


def make_report(base: Settings, args: argparse.Namespace, results: dict[str, list[Row]], wall_s: float) -> dict:
    """Return the JSON report: settings used, per-set summary, the abstention gate trade-off and every row."""
    return {
        "settings": {
            "generator": base.generator,
            "top_k": base.top_k,
            "prompt_budget": base.prompt_budget,
            "prompt_packing": base.prompt_packing,
            "temperature": base.temperature,
            "llm_prompt_cache": base.llm_prompt_cache,
            "max_new_tokens": base.max_new_tokens,
            "threads": base.resolved_threads,
            "limit": args.limit,
            "retrieval_only": args.retrieval_only,
            "wall_s": round(wall_s, 1),
        },
        "summary": {name: summarize(rows) for name, rows in results.items()},
        "calibration": calibration(
            [r for name, rows in results.items() if name in ANSWERABLE for r in rows],
            [r for name, rows in results.items() if name not in ANSWERABLE for r in rows],
        ),
        "rows": {name: [asdict(r) for r in rows] for name, rows in results.items()},
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--shared", type=Path, default=Path(__file__).resolve().parents[2] / "shared")
    parser.add_argument("--work", type=Path, default=Path("/tmp/answers-bench"), help="indexes and article copies")
    parser.add_argument("--limit", type=int, default=0, help="first N questions of each set (0 = all)")
    parser.add_argument("--covid", type=int, default=50)
    parser.add_argument("--sec", action="store_true", help="add the SEC 10-Q sets (ingests 20 filings once)")
    parser.add_argument("--sets", default="", help="only these sets, comma-separated (default: all built)")
    parser.add_argument("--retrieval-only", action="store_true", help="calibrate abstention without the LLM")
    parser.add_argument("--cache", action="store_true", help="only measure prompt-cache reuse (3 questions)")
    parser.add_argument(
        "--replay", type=Path, nargs="+", default=[],
        help="earlier runs' JSON: each question gets the reply the model wrote then (its `model` field) instead of "
        "asking the model, so a change to the checks is measured on the same model text, in seconds a question",
    )  # fmt: skip
    parser.add_argument("--out", type=Path, default=Path("bench/results/answers.json"))
    args = parser.parse_args(argv)

    from rag.embedding import load_embedder
    from rag.generate.registry import load_generator

    base = Settings.from_env()
    embedder = load_embedder(base)
    sets = build_sets(args, base, embedder)
    solana_lib, solana_settings = sets["solana"][1], sets["solana"][2]
    generator = None if args.retrieval_only else load_generator(base)
    if args.replay:
        generator = Replayed(generator, [row for run in args.replay for row in load_rows(run)])
    if args.cache:
        print(json.dumps(cache_check(solana_lib, generator, solana_settings), indent=2))
        return 0
    results: dict[str, list[Row]] = {}
    started = time.time()
    args.out.parent.mkdir(parents=True, exist_ok=True)
    wanted = [name for name in args.sets.split(",") if name] or list(sets)
    for name, (questions, library, settings) in sets.items():
        if name not in wanted:
            continue
        chosen = questions[: args.limit] if args.limit else questions
        log = args.out.with_suffix(".rows.jsonl")
        if isinstance(generator, Replayed):
            generator.current = name
        results[name] = run_set(chosen, library, generator, settings, embedder, args.retrieval_only, log)
    report = make_report(base, args, results, time.time() - started)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(report, indent=2))
    print_table(report)
    return 0


class Replayed:
    """The model's replies from earlier runs, keyed by the set being run (`current`: sets share questions; rows
    without a set, like bench/yesno.py's, match "") and the question that begins the prompt's last message; the real
    tokenizer counts the prompt, so the same passages are packed. A question without a recorded reply gets ""."""

    def __init__(self, generator, rows: list[dict]) -> None:
        self.generator, self.name, self.current = generator, generator.name, ""
        self.replies = {(row.get("set", ""), row["question"].strip()): row.get("model", "") for row in rows}

    def load(self) -> None:
        self.generator.load()

    def count_tokens(self, text: str) -> int:
        return self.generator.count_tokens(text)

    def stream(self, messages, *, max_tokens: int, temperature: float, stop=()):
        reply = self.replies.get((self.current, messages[-1].content.split("\n\n", 1)[0].strip()), "")
        yield from [reply] if reply else []

    def close(self) -> None:
        self.generator.close()


def load_rows(path: Path) -> list[dict]:
    """Every row of a bench/answers.py run: its report (.json) or its row log (.rows.jsonl)."""
    text = path.read_text()
    if path.suffix == ".jsonl":
        return [json.loads(line) for line in text.splitlines() if line.strip()]
    return [row for group in json.loads(text)["rows"].values() for row in group]


def print_table(report: dict) -> None:
    print(f"\n{'set':<12}{'n':>4}{'abstain':>9}{'F1':>7}{'contains':>10}{'cite-prec':>11}{'TTFT s':>8}{'tok/s':>7}")
    for name, s in report["summary"].items():
        ttft = f"{s['median_ttft_s']:.1f}" if s["median_ttft_s"] is not None else "-"
        tps = f"{s['median_tokens_per_s']:.1f}" if s["median_tokens_per_s"] is not None else "-"
        print(
            f"{name:<12}{s['n']:>4}{s['abstain_rate']:>9.2f}{s['f1_answered']:>7.2f}{s['contains_answered']:>10.2f}"
            f"{s['citation_precision']:>11.2f}{ttft:>8}{tps:>7}"
        )
    print("\npre-generation gate: threshold → share abstained (answerable | unanswerable)")
    for row in report["calibration"]:
        print(f"  {row['threshold']:.2f}  {row['answerable_abstained']:.2f} | {row['unanswerable_abstained']:.2f}")


if __name__ == "__main__":
    raise SystemExit(main())
