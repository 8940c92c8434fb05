"""Two answer-checking ideas of issue 14, measured on bench/answers.py's questions against the shipped pipeline.

    python bench/prompt_study.py --shared ../shared --sets solana,covid,covid-intopic --limit 20 --out study.json

For every question the shipped `answer()` runs once; then, on the same question:
- **verify**: a second, short model call over just the answer's first claim and the sentences it cites
  ("Is the claim stated by the passage? Yes or No"); "No" turns the answer into a refusal.
- **quote** (`--quote`): the answer instructions ask the model to copy the passage sentence it relies on, in
  double quotes with its [n], before "Answer:"; a quote not found verbatim in the passages turns the answer into
  a refusal. Scored on the part after "Answer:".
Both are scored like bench/answers.py (token F1, containment, citation precision, refused) so the table reads
against the direct answer on the same questions. Times: the verify call's seconds; the quote's extra tokens.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import re
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.answers import Row, build_sets, score, summarize  # noqa: E402
from rag.config import Settings  # noqa: E402
from rag.generate.citations import is_refusal  # noqa: E402
from rag.generate.generator import Message, complete  # noqa: E402
from rag.generate.pipeline import Done, answer  # noqa: E402
from rag.jsonview import supporting_text  # noqa: E402
from rag.text import sentence_spans, strip_markers  # noqa: E402
from rag.types import Answer  # noqa: E402

QUOTE_RULE = (
    'First copy, in double quotes, the one sentence of the passages that answers the question, followed by its '
    'number like [1]. Then write "Answer:" and answer in one or two sentences, citing the passage.'
)
VERIFY_SYSTEM = "You check a claim against a passage. Reply with one word: Yes or No."


def verify(generator, result: Answer) -> tuple[bool, float]:
    """Return (the claim is stated by its cited sentences, seconds); True when there is nothing to check."""
    claims = [s.text for s in sentence_spans(result.text) if not is_refusal(s.text)]
    if result.abstained or not claims or not result.citations:
        return True, 0.0
    passage = " ".join(supporting_text(c) for c in result.citations)
    question = f"Passage: {passage}\n\nClaim: {strip_markers(claims[0])}\n\nIs the claim stated by the passage?"
    started = time.perf_counter()
    reply = complete(generator, [Message("system", VERIFY_SYSTEM), Message("user", question)], max_tokens=3)
    return not reply.strip().lower().startswith("no"), time.perf_counter() - started


def quoted_answer(result: Answer) -> tuple[str, bool]:
    """Split a quote-first reply into (the answer part, whether its quote is verbatim in the passages)."""
    text = result.text
    head, _, tail = text.partition("Answer:")
    quote = re.search(r"[\"“](.+?)[\"”]", head, re.DOTALL)
    if not quote:
        return (tail or text).strip(), False
    wanted = " ".join(strip_markers(quote.group(1)).split()).lower().rstrip(".")
    passages = [" ".join(h.chunk.text.split()).lower() for h in result.sources]
    return (tail or text).strip(), any(wanted and wanted in p for p in passages)


def refused_row(row: Row) -> Row:
    return dataclasses.replace(row, abstained=True, f1=0.0, contains=False, cited=0, cited_right=0)


def run(args: argparse.Namespace) -> dict:
    from rag.embedding import load_embedder
    from rag.generate.registry import load_generator

    base = Settings.from_env()
    embedder = load_embedder(base)
    sets = build_sets(args, base, embedder)
    generator = load_generator(base)
    report: dict = {"settings": {"quote": args.quote, **base.to_dict()}, "summary": {}, "rows": {}}
    for name in args.sets.split(","):
        questions, library, settings = sets[name]
        if args.quote:
            settings = settings.replace(system_prompt=QUOTE_RULE)
        rows: dict[str, list[Row]] = {"direct": [], "checked": []}
        seconds: list[float] = []
        for i, q in enumerate(questions[: args.limit] if args.limit else questions, 1):
            documents = list(q.documents) if q.documents is not None else None
            result = [e for e in answer(q.question, library, generator, settings=settings, documents=documents)
                      if isinstance(e, Done)][0].answer  # fmt: skip
            if args.quote:
                text, verbatim = quoted_answer(result)
                result = dataclasses.replace(result, text=text)
                ok = verbatim or result.abstained
            else:
                ok, spent = verify(generator, result)
                if spent:
                    seconds.append(spent)
            direct = score(q, result)
            rows["direct"].append(direct)
            rows["checked"].append(direct if ok else refused_row(direct))
            print(f"  {name} {i} abstained={direct.abstained} ok={ok} f1={direct.f1:.2f} | {result.text[:80]!r}",
                  flush=True)  # fmt: skip
        report["summary"][name] = {kind: summarize(r) for kind, r in rows.items()}
        report["summary"][name]["verify_median_s"] = statistics.median(seconds) if seconds else None
        report["rows"][name] = {kind: [dataclasses.asdict(r) for r in r_] for kind, r_ in rows.items()}
    return report


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--shared", type=Path, default=Path(__file__).resolve().parents[2] / "shared")
    parser.add_argument("--work", type=Path, default=Path("/tmp/answers-bench"))
    parser.add_argument("--sets", default="solana,covid,covid-intopic")
    parser.add_argument("--limit", type=int, default=20)
    parser.add_argument("--covid", type=int, default=50)
    parser.add_argument("--sec", action="store_true")
    parser.add_argument("--quote", action="store_true", help="study quote-then-answer instead of the verify pass")
    parser.add_argument("--out", type=Path, default=Path("bench/results/prompt-study.json"))
    args = parser.parse_args(argv)
    report = run(args)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(report, indent=1))
    for name, kinds in report["summary"].items():
        for kind in ("direct", "checked"):
            s = kinds[kind]
            print(f"{name:<14}{kind:<9} refused {s['abstain_rate']:.2f}  F1 {s['f1_answered']:.2f}  "
                  f"contains {s['contains_answered']:.2f}  cite-prec {s['citation_precision']:.2f}")  # fmt: skip
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
