"""Replay citation rules on a finished bench/answers.py run: would citing differently raise citation precision?

    RAG_EMBED_DTYPE=float32 python bench/citation_replay.py \
        bench/results/2026-12-05-session7/answers-B-sentences350.json [SHARED]   # with the run's settings

For each answered solana / COVID-QA row, the same passages are retrieved and packed again (deterministic), the
answer's sentences are scored against them (`rag.generate.citations._support_matrix`) and each rule's kept
citations are scored like bench/answers.py: as shipped (None), only the cited passages within 0.0 of the best
cited one, the best-supporting passage of all ("argmax"), or that one only when it beats the cited by 0.05;
"rank-tie0.02" / "rank-tie0.05" (session 17): the best-ranked passage (lowest [n]) whose support is within 0.02 /
0.05 of the best cited one's (two passages that say the same thing: cite the one retrieval put first).
Also prints how often a gold passage was in the prompt at all (the bound a repointing rule could reach).
"""

import argparse
import sys
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.answers import build_sets, load_rows, normalize  # noqa: E402
from rag.config import Settings  # noqa: E402
from rag.embedding import load_embedder  # noqa: E402
from rag.generate.citations import _support_matrix, parse_markers  # noqa: E402
from rag.generate.evidence import score_sentences  # noqa: E402
from rag.generate.pipeline import find_passages  # noqa: E402
from rag.generate.prompting import build_messages  # noqa: E402
from rag.generate.registry import load_generator  # noqa: E402
from rag.text import sentence_spans, strip_markers  # noqa: E402

RULES: list[Any] = [None, 0.0, "argmax", "argmax-margin0.05", "rank-tie0.02", "rank-tie0.05"]


def is_right(question, hit) -> bool:
    """bench/answers.py's rule: a gold page (solana), or a passage holding 80 % of the reference span (COVID-QA)."""
    if question.gold_pages:
        return hit.page in question.gold_pages
    ref, passage = set(normalize(question.reference)), set(normalize(hit.chunk.text))
    return len(ref & passage) >= 0.8 * max(len(ref), 1)


def kept_citations(rule: Any, cited: list[int], scores: list[Any]) -> set[int]:
    """The passages one answer sentence keeps under `rule` (see the module docstring)."""
    best = max(scores[n - 1].score for n in cited)
    top = max(range(len(scores)), key=lambda p: scores[p].score) + 1
    if rule == "argmax":
        return {top}
    if isinstance(rule, str) and rule.startswith("rank-tie"):
        tie = float(rule.removeprefix("rank-tie"))
        return {min(p + 1 for p in range(len(scores)) if scores[p].score >= best - tie)}
    if rule == "argmax-margin0.05":
        return {top} if scores[top - 1].score - best >= 0.05 else {n for n in cited if scores[n - 1].score >= best}
    return {n for n in cited if rule is None or scores[n - 1].score >= best - rule}


def sources_for(question, library, settings, embedder, generator) -> tuple:
    """The passages the pipeline numbered for `question`: retrieved and packed again (both deterministic)."""
    documents = list(question.documents) if question.documents is not None else None
    hits = find_passages(question.question, question.question, library, settings, documents)  # as `answer` does
    scores = score_sentences(question.question, hits, embedder)
    return build_messages(question.question, hits, [], settings, generator.count_tokens, scores).sources


def main() -> None:
    rows = load_rows(Path(sys.argv[1]))
    shared = Path(sys.argv[2]) if len(sys.argv) > 2 else Path(__file__).resolve().parents[2] / "shared"
    base = Settings.from_env()
    embedder = load_embedder(base)
    sets = build_sets(argparse.Namespace(shared=shared, work=Path("/tmp/answers-bench"), covid=50, sec=False), base,
                      embedder)  # fmt: skip
    generator = load_generator(base)
    totals = {rule: [0, 0] for rule in RULES}
    gold_in_prompt: list[bool] = []
    for row in rows:
        if row["set"] not in ("solana", "covid") or row["abstained"]:
            continue
        questions, library, settings = sets[row["set"]]
        question = next(q for q in questions if q.question == row["question"])
        sources = sources_for(question, library, settings, embedder, generator)
        gold_in_prompt.append(any(is_right(question, h) for h in sources))
        spans = sentence_spans(row["answer"])
        matrix = _support_matrix([strip_markers(s.text) for s in spans], [sentence_spans(h.chunk.text) for h in sources],
                                 embedder)  # fmt: skip
        for rule in RULES:
            kept: set[int] = set()
            for i, span in enumerate(spans):
                cited = [n for n in parse_markers(span.text) if 1 <= n <= len(sources)]
                kept |= kept_citations(rule, cited, matrix[i]) if cited else set()
            totals[rule][0] += sum(is_right(question, sources[n - 1]) for n in kept)
            totals[rule][1] += len(kept)
    print({str(rule): (right, n, round(right / max(n, 1), 3)) for rule, (right, n) in totals.items()})
    print("gold passage in the prompt:", sum(gold_in_prompt), "of", len(gold_in_prompt), "answered questions")


if __name__ == "__main__":
    main()
