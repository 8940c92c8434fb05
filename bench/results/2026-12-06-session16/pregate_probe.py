"""Session 16's probe: the questions whose retrieval confidence was 0.20-0.25 in session 15's full runs (the
pre-gate refuses them), asked with the pre-gate at 0.20. Writes pregate-0.20.json beside itself.

    RAG_TEMPERATURE=0 RAG_LLM_PROMPT_CACHE=0 RAG_THREADS=2 python bench/results/2026-12-06-session16/pregate_probe.py \
        --shared ../shared --work /tmp/answers-bench
"""

import argparse
import json
import sys
from dataclasses import asdict
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parents[2]))

import rag.generate.pipeline as pipeline  # noqa: E402
from bench import answers  # noqa: E402
from rag.config import Settings  # noqa: E402
from rag.embedding import load_embedder  # noqa: E402
from rag.generate.registry import load_generator  # noqa: E402

EARLIER = HERE.parent / "2026-12-06-session15"


def band_questions() -> dict[str, set[str]]:
    """{set: questions with confidence in [0.20, 0.25)} from session 15's full runs."""
    band: dict[str, set[str]] = {}
    for name in ("answers-all-packing-gain.json", "answers-sec-final.json"):
        for set_name, rows in json.loads((EARLIER / name).read_text())["rows"].items():
            band.setdefault(set_name, set()).update(r["question"] for r in rows if 0.20 <= r["confidence"] < 0.25)
    return band


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--shared", type=Path, default=HERE.parents[3] / "shared")
    parser.add_argument("--work", type=Path, default=Path("/tmp/answers-bench"))
    args = parser.parse_args()
    band = band_questions()
    pipeline.PRE_GATE = 0.20
    base = Settings.from_env()
    embedder = load_embedder(base)
    sets = answers.build_sets(argparse.Namespace(shared=args.shared, work=args.work, covid=50, sec=True), base, embedder)
    generator = load_generator(base)
    out = {}
    for name in ("sec", "sec-removed", "covid-intopic"):
        questions, library, settings = sets[name]
        chosen = [q for q in questions if q.question in band.get(name, ())]
        rows = answers.run_set(chosen, library, generator, settings, embedder, False, HERE / "pregate.rows.jsonl")
        out[name] = [asdict(r) for r in rows]
    (HERE / "pregate-0.20.json").write_text(json.dumps(out, indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
