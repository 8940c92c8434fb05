"""Session 17's probe: the questions whose terms change when asking words ("details", "library", "say", …) are
left out of sentence scoring (`rag.text.asked_terms`), asked of the model again; every other question's prompt is
unchanged, so its row stays as in the replay of the same model text (`answers-replay-restated.json`). Prints each
changed question and the sets' summaries with the new rows substituted; writes asking-words.json beside itself.

    RAG_TEMPERATURE=0 RAG_LLM_PROMPT_CACHE=0 RAG_THREADS=2 python \
        bench/results/2026-12-06-session17/asking_words_probe.py --shared ../shared --work /tmp/answers-bench
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
from rag.text import asked_terms, content_terms  # noqa: E402

SETS = ("solana", "covid", "covid-intopic", "sec", "sec-removed")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--shared", type=Path, default=HERE.parents[3] / "shared")
    parser.add_argument("--work", type=Path, default=Path("/tmp/answers-bench"))
    args = parser.parse_args()
    before = json.loads((HERE / "answers-replay-restated.json").read_text())["rows"]
    base = Settings.from_env()
    embedder = load_embedder(base)
    sets = answers.build_sets(argparse.Namespace(shared=args.shared, work=args.work, covid=50, sec=True), base, embedder)
    generator = load_generator(base)
    out, merged = {}, {}
    for name in SETS:
        questions, library, settings = sets[name]
        changed = [q for q in questions if asked_terms(q.question) != content_terms(q.question, split_hyphens=True)]
        rows = answers.run_set(changed, library, generator, settings, embedder, False, HERE / "asking.rows.jsonl")
        new = {r.question: asdict(r) for r in rows}
        out[name] = {"before": [r for r in before[name] if r["question"] in new], "after": list(new.values())}
        merged[name] = [answers.Row(**new[r["question"]]) if r["question"] in new else answers.Row(**r)
                        for r in before[name]]  # fmt: skip
    (HERE / "asking.rows.jsonl").unlink(missing_ok=True)
    report = answers.make_report(base, argparse.Namespace(limit=0, sec=True, retrieval_only=False), merged, 0.0)
    out["summary_after"] = report["summary"]
    (HERE / "asking-words.json").write_text(json.dumps(out, indent=2))
    answers.print_table(report)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
