"""Yes/no stance: does the answer say yes when the documents say yes, and no when they say otherwise?

    python bench/yesno.py --shared ../shared --work /tmp/yesno-bench
    python bench/yesno.py --shared ../shared --work /tmp/yesno-bench --leave-out   # should refuse

`--leave-out` asks only the COVID-QA questions, each with its article left out of the search: the other articles
are on the subject and none holds the answer, so the right reply is a refusal (in-topic unanswerable yes/no).

The set (`bench/data/yesno.jsonl`, 48 questions, 24 "yes" / 24 "no") was written by hand for this bench from
the shared documents and the sample knowledge base: each question has the verbatim sentence that decides it,
and every "no" is contradicted by its sentence (another number, entity or property), never merely unmentioned.
All its documents go into ONE library (Solana survey, the Transformer paper, four COVID-QA articles as .txt, the
sample knowledge base), so retrieval has to find the right document as a user's would.

`--first-token` also records, where the model ran (llama.cpp), the log-probabilities it gave "Yes" and "No" as its
first token, and prints how well their margin separates the right replies from the wrong: is the "yes" lean a
threshold away (contextual calibration), or does the model not know?

A reply's stance: "yes"/"no" when its first word says so; otherwise "no" when its first sentence is negated
(`rag.generate.facts.is_denial`: not, never, neither, n't…), else "yes"; a refusal is "refused" and counts as wrong. Prints accuracy overall,
per answer and per source, and writes every row to JSON.
"""

from __future__ import annotations

import argparse
import json
import re
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.answers import Replayed  # noqa: E402
from rag.config import Settings  # noqa: E402
from rag.embedding import load_embedder  # noqa: E402
from rag.generate.facts import is_denial  # noqa: E402
from rag.generate.pipeline import Done, Token, answer  # noqa: E402
from rag.generate.registry import load_generator  # noqa: E402

REPO = Path(__file__).resolve().parent.parent
SET = REPO / "bench/data/yesno.jsonl"


def stance(text: str, abstained: bool) -> str:
    """Return "yes", "no" or "refused" for a reply (module docstring)."""
    if abstained:
        return "refused"
    words = re.findall(r"[A-Za-z']+", text)
    first = words[0].lower() if words else ""
    if first in ("yes", "no"):
        return first
    sentence = re.split(r"(?<=[.!?])\s", text.strip(), maxsplit=1)[0]
    return "no" if is_denial(sentence) else "yes"


def documents(rows: list[dict], shared: Path, work: Path) -> list[Path]:
    """Every file the set's questions come from; COVID-QA articles are written out as .txt under `work`."""
    paths: set[Path] = {REPO / "assets/kb"}
    articles = {r["article"] for r in rows if "article" in r}
    for r in rows:
        if r["root"] == "shared" and "article" not in r:
            paths.add(shared / r["document"])
    if articles:
        data = json.loads((shared / "eval/covid_qa/200423_covidQA.json").read_text())["data"]
        folder = work / "covid_articles"
        folder.mkdir(parents=True, exist_ok=True)
        for item in data:
            paragraph = item["paragraphs"][0]
            if paragraph["document_id"] in articles:
                path = folder / f"covid_{paragraph['document_id']}.txt"
                path.write_text(paragraph["context"])
                paths.add(path)
    return sorted(paths)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--shared", type=Path, default=REPO.parent / "shared")
    parser.add_argument("--work", type=Path, default=Path("/tmp/yesno-bench"))
    parser.add_argument("--out", type=Path, default=Path("bench/results/yesno.json"))
    parser.add_argument(
        "--set",
        type=Path,
        default=SET,
        help="questions (JSONL); bench/data/yesno_heldout.jsonl is "
        "the held-out set, written before the figure-contradiction rule was measured",
    )
    parser.add_argument("--first-token", action="store_true", help="record the first token's Yes/No log-probabilities")
    parser.add_argument(
        "--replay",
        type=Path,
        help="an earlier run's JSON: give each question the reply the model wrote then (its `model` field) instead of "
        "asking the model, so a change to the checks is measured on the same model text, in seconds a question",
    )
    parser.add_argument(
        "--leave-out",
        action="store_true",
        help="ask each COVID-QA question with its article left out of the search (the other articles are on the "
        "subject, none holds the answer): right = refused",
    )
    args = parser.parse_args(argv)
    if not (args.shared / "eval").is_dir():
        print(f"shared data not found at {args.shared}; pass --shared PATH", file=sys.stderr)
        return 2
    from rag.library import Library

    rows = [json.loads(line) for line in args.set.read_text().splitlines() if line.strip()]
    settings = Settings.from_env().replace(data_dir=args.work / "library")
    embedder = load_embedder(settings)
    library = Library.open(settings, embedder)
    for outcome in library.ingest(documents(rows, args.shared, args.work)):
        if not outcome.ok:
            raise SystemExit(f"ingest failed: {outcome.message}")
    generator = load_generator(settings)
    if args.replay:
        generator = Replayed(generator, json.loads(args.replay.read_text())["rows"])
    first_tokens = record_first_tokens(generator) if args.first_token else None
    started, results = time.perf_counter(), []
    names = [d.name for d in library.documents()] if args.leave_out else []
    if args.leave_out:
        rows = [r for r in rows if "article" in r]
    for i, row in enumerate(rows, 1):
        kept = [n for n in names if n != f"covid_{row['article']}.txt"] if args.leave_out else None
        events = list(answer(row["question"], library, generator, documents=kept))
        final = next(e for e in events if isinstance(e, Done)).answer
        said = stance(final.text, final.abstained)
        model = "".join(e.text for e in events if isinstance(e, Token))  # what the model wrote, before the checks
        want = "refused" if args.leave_out else row["answer"]
        confidence = final.timings.get("confidence")  # retrieval's, which the pre-gate reads
        results.append({**row, "reply": final.text, "model": model, "stance": said, "right": said == want,
                        "confidence": confidence})  # fmt: skip
        if first_tokens is not None:
            results[-1]["first_token"] = first_tokens.pop(row["question"].strip(), None)
        print(f"  {i}/{len(rows)} {row['id']} want={row['answer']} said={said} | {final.text[:90]!r}", flush=True)
    wall = round(time.perf_counter() - started, 1)
    report = {"settings": settings.to_dict(), "summary": summary(results), "wall_s": wall, "rows": results}
    if first_tokens is not None:
        report["first_token_margin"] = margin_table(results)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(report, indent=1))
    print(json.dumps(report["summary"], indent=1))
    return 0


def record_first_tokens(generator) -> dict[str, dict[str, float]]:
    """Ask llama.cpp for the 20 likeliest first tokens; return {question: {"yes": logprob, "no": logprob}}, filled
    as the questions are asked (keyed by the question, which begins the prompt's last message)."""
    from rag.generate import llamacpp

    if not isinstance(generator, llamacpp.LlamaCppGenerator):
        raise SystemExit(f"--first-token reads llama.cpp's log-probabilities; {generator.name} is another backend")
    found: dict[str, dict[str, float]] = {}
    run, read = generator._run, llamacpp._logprobs

    def run_with_top(request: dict):
        question = request["messages"][-1]["content"].split("\n\n", 1)[0].strip()
        state = {"question": question, "seen": False}

        def read_and_record(chunk: object) -> list[float]:
            _record_first(chunk, state, found)
            return read(chunk)

        llamacpp._logprobs = read_and_record  # the backend's reader of each streamed chunk, for this request
        return run({**request, "top_logprobs": 20})

    generator._run = run_with_top
    return found


def _record_first(chunk: object, state: dict, found: dict) -> None:
    """Store the Yes/No log-probabilities of the first token in `chunk`, once per request."""
    content = ((chunk.get("choices") or [{}])[0].get("logprobs") or {}).get("content") if isinstance(chunk, dict) else None
    if content and not state["seen"]:
        state["seen"] = True
        best: dict[str, float] = {}
        for alt in content[0].get("top_logprobs", []):
            word = alt["token"].strip().lower()
            if word in ("yes", "no"):
                best[word] = max(best.get(word, -99.0), float(alt["logprob"]))
        found[state["question"]] = {w: best.get(w, -99.0) for w in ("yes", "no")}


def margin_table(results: list[dict]) -> list[dict]:
    """Accuracy over the rows whose reply began with the model's Yes/No, if "No" were said whenever
    logprob(No) − logprob(Yes) exceeds each threshold (0 = the model's own choice)."""
    rows = [r for r in results if r.get("first_token") and r["stance"] in ("yes", "no")]
    table = []
    for threshold in (-4, -3, -2, -1.5, -1, -0.5, 0, 0.5, 1):
        right = [
            r["answer"] == ("no" if r["first_token"]["no"] - r["first_token"]["yes"] > threshold else "yes") for r in rows
        ]
        table.append({"threshold": threshold, "n": len(rows), "accuracy": round(statistics.mean(right), 3) if rows else 0})
    print("first-token margin (say No when logp(No) − logp(Yes) > t):", table, flush=True)
    return table


def summary(results: list[dict]) -> dict:
    """Accuracy overall, by the right answer and by source; refusal and explicit yes/no shares."""

    def accuracy(group: list[dict]) -> float:
        return round(statistics.mean(r["right"] for r in group), 3) if group else 0.0

    sources = sorted({r["id"].split("-")[0] for r in results})
    return {
        "n": len(results),
        "accuracy": accuracy(results),
        "accuracy_yes": accuracy([r for r in results if r["answer"] == "yes"]),
        "accuracy_no": accuracy([r for r in results if r["answer"] == "no"]),
        "refused": round(statistics.mean(r["stance"] == "refused" for r in results), 3),
        "by_source": {s: accuracy([r for r in results if r["id"].startswith(s + "-")]) for s in sources},
        "by_kind": {
            k: accuracy([r for r in results if r.get("kind") == k])
            for k in sorted({r.get("kind") for r in results} - {None})
        },
    }


if __name__ == "__main__":
    raise SystemExit(main())
