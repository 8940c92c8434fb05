"""Does the sentence shown as a citation's support hold the answer? Replayed on a finished bench/answers.py run.

    RAG_EMBED_DTYPE=float32 python bench/citation_spans.py RUN.json [RUN2.json …] --shared ../shared [--sec]

A citation carries the span of its passage that supports the claim; the sources panel and the page picture
highlight it. For each answered COVID-QA, SEC or solana row the same passages are retrieved and packed again
(deterministic), the row's answer is checked again (`rag.generate.citations.cite`) and every citation whose
passage holds the reference is scored: does the highlighted sentence hold it too?
- COVID-QA: the span holds ≥ 80 % of the reference span's tokens (the passage rule of bench/answers.py);
- SEC: the span states one of the reference's figures;
- solana (long reference answers, gold pages): mean share of the reference's tokens the span holds.
"bound" counts citations where some single sentence of the passage holds it (a reference across two sentences
cannot be highlighted by one). "figure" is what a reader checks first, whatever the reference: of the citations
whose passage states a figure the answer states (and the question does not), the share whose highlighted
sentence states one. Run it at two commits to compare span rules on the same answers. Since session 15 a citation
highlights the sentence of every claim citing it: "span"/"figure" score the main (best-supported) sentence alone,
"span_all"/"figure_all" all of them; "marked"/"marked_all" is the share of the passage's characters highlighted
(a highlight of the whole passage would hold everything and help no one).
"""

import argparse
import json
import statistics
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.answers import build_sets, normalize  # noqa: E402
from bench.citation_replay import load_rows, sources_for  # noqa: E402
from rag.config import Settings  # noqa: E402
from rag.embedding import load_embedder  # noqa: E402
from rag.entities import numbers  # noqa: E402
from rag.generate.citations import cite  # noqa: E402
from rag.generate.registry import load_generator  # noqa: E402
from rag.text import sentence_spans, strip_markers  # noqa: E402

_LISTS = ("span", "span_all", "bound", "figure", "figure_all", "marked", "marked_all")


def holds(question, text: str) -> float:
    """How far `text` holds the question's reference: 1/0 for COVID-QA and SEC, a token share for solana."""
    if question.figures:
        return float(bool(set(question.figures) & set(numbers(text))))
    ref, got = set(normalize(question.reference)), set(normalize(text))
    share = len(ref & got) / max(len(ref), 1)
    return share if question.gold_pages else float(share >= 0.8)


def passage_right(question, hit) -> bool:
    """bench/answers.py's rule for a right citation."""
    if question.figures:
        return question.source.replace("*", "") in hit.document and holds(question, hit.chunk.text) > 0
    if question.gold_pages:
        return hit.page in question.gold_pages
    return holds(question, hit.chunk.text) > 0


def replay(rows: list[dict], sets: dict, embedder, generator) -> dict[str, dict]:
    """Return per set: citations on a right passage, how many spans hold the answer, and the bound."""
    out: dict[str, dict] = {}
    for row in rows:
        if row["set"] not in sets or row["abstained"]:
            continue
        questions, library, settings = sets[row["set"]]
        question = next(q for q in questions if q.question == row["question"])
        sources = sources_for(question, library, settings, embedder, generator)
        check = cite(row["answer"], sources, embedder, question=question.question)
        tally = out.setdefault(row["set"], {"citations": 0, **{k: [] for k in _LISTS}})
        claimed = set(numbers(strip_markers(row["answer"]))) - set(numbers(question.question))
        for c in check.citations:
            main, every = _shown(c, ((c.span_start, c.span_end),)), _shown(c, c.highlights)
            if claimed & set(numbers(c.chunk.text)):
                tally["figure"].append(bool(claimed & set(numbers(main))))
                tally["figure_all"].append(bool(claimed & set(numbers(every))))
            tally["marked"].append(len(main) / max(len(c.chunk.text), 1))
            tally["marked_all"].append(len(every) / max(len(c.chunk.text), 1))
            if not passage_right(question, sources[c.n - 1]):
                continue
            tally["citations"] += 1
            tally["span"].append(holds(question, main))
            tally["span_all"].append(holds(question, every))
            tally["bound"].append(max(holds(question, s.text) for s in sentence_spans(c.chunk.text) or [c.chunk]))
    return {name: _summary(t) for name, t in out.items()}


def _shown(citation, spans) -> str:
    """The highlighted text of `spans` (page offsets), joined."""
    offset = citation.chunk.start
    return " ".join(citation.chunk.text[start - offset : end - offset] for start, end in spans)


def _summary(tally: dict) -> dict:
    """Means of each list in `tally` ("…_all": every claim's sentence highlighted; otherwise the main one only)."""
    mean = lambda xs: round(statistics.mean(xs), 3) if xs else None  # noqa: E731
    lists = {key: mean(values) for key, values in tally.items() if isinstance(values, list)}
    return {"citations": tally["citations"], "figure_citations": len(tally["figure"]), **lists}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("runs", nargs="+", type=Path, help="bench/answers.py reports (.json) or row logs (.jsonl)")
    parser.add_argument("--shared", type=Path, default=Path(__file__).resolve().parents[2] / "shared")
    parser.add_argument("--work", type=Path, default=Path("/tmp/answers-bench"))
    parser.add_argument("--sec", action="store_true", help="also the SEC rows (ingests 20 filings once)")
    parser.add_argument("--out", type=Path)
    args = parser.parse_args()
    rows = [row for run in args.runs for row in load_rows(run)]
    base = Settings.from_env()
    embedder = load_embedder(base)
    sets = build_sets(argparse.Namespace(shared=args.shared, work=args.work, covid=50, sec=args.sec), base, embedder)
    result = replay(rows, {k: v for k, v in sets.items() if k in ("solana", "covid", "sec")}, embedder,
                    load_generator(base))  # fmt: skip
    print(json.dumps(result, indent=1))
    if args.out:
        args.out.write_text(json.dumps(result, indent=1) + "\n")


if __name__ == "__main__":
    main()
