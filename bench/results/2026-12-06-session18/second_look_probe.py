"""Session 18's probe: the questions whose checked answer was refused after the model wrote one (those that get a
second look, `rag.generate.second_look`), asked again on the current code with each question's first reply replayed
from earlier runs (the second look's prompt goes to the model). Prints each question's replies and the sets'
summaries with these rows substituted into the full run given as `--full`.

    RAG_TEMPERATURE=0 RAG_LLM_PROMPT_CACHE=0 RAG_THREADS=2 python \
        bench/results/2026-12-06-session18/second_look_probe.py --shared ../shared --work /tmp/answers-bench \
        --replay REPLIES.jsonl --full RUN.json --out OUT.json
"""

import argparse
import json
import sys
from dataclasses import asdict
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parents[2]))

from bench import answers  # noqa: E402
from rag.config import Settings  # noqa: E402
from rag.embedding import load_embedder  # noqa: E402
from rag.generate.registry import load_generator  # noqa: E402

SETS = ("solana", "covid", "covid-intopic", "sec", "sec-removed")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--shared", type=Path, default=HERE.parents[3] / "shared")
    parser.add_argument("--work", type=Path, default=Path("/tmp/answers-bench"))
    parser.add_argument("--replay", type=Path, nargs="+", required=True)
    parser.add_argument("--full", type=Path, required=True, help="a full run whose second-look rows are asked again")
    parser.add_argument("--out", type=Path, required=True)
    args = parser.parse_args()
    full = json.loads(args.full.read_text())["rows"]
    base = Settings.from_env()
    embedder = load_embedder(base)
    sets = answers.build_sets(argparse.Namespace(shared=args.shared, work=args.work, covid=50, sec=True), base, embedder)
    generator = answers.Replayed(load_generator(base), [row for run in args.replay for row in answers.load_rows(run)])
    merged, asked = {}, {}
    for name in SETS:
        questions, library, settings = sets[name]
        again = {r["question"] for r in full[name] if r.get("model_again")}
        generator.current = name
        log = args.out.with_suffix(".rows.jsonl")
        rows = answers.run_set([q for q in questions if q.question in again], library, generator, settings, embedder,
                               False, log)  # fmt: skip
        new = {r.question: asdict(r) for r in rows}
        asked[name] = list(new.values())
        merged[name] = [answers.Row(**new.get(r["question"], r)) for r in full[name]]
    report = answers.make_report(base, argparse.Namespace(limit=0, sec=True, retrieval_only=False), merged, 0.0)
    args.out.write_text(json.dumps({"asked": asked, "summary": report["summary"]}, indent=2))
    for name, rows in asked.items():
        for r in rows:
            print(f"\n{name} abstained={r['abstained']} contains={r['contains']} f1={r['f1']:.2f} cited={r['cited_right']}/{r['cited']}"
                  f"\n  Q: {r['question'][:110]}\n  1st: {r['model'][:160]!r}\n  2nd: {r['model_again'][:220]!r}")  # fmt: skip
    answers.print_table(report)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
