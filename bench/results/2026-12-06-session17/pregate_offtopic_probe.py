"""Session 17's probe: the off-topic set (COVID-QA questions asked of the solana PDF) — which questions have a
retrieval confidence in 0.20-0.25, and what happens to them with the pre-gate at 0.20. Writes
pregate-offtopic-0.20.json beside itself.

    RAG_TEMPERATURE=0 RAG_LLM_PROMPT_CACHE=0 RAG_THREADS=2 python \
        bench/results/2026-12-06-session17/pregate_offtopic_probe.py --shared ../shared --work /tmp/answers-bench
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


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--shared", type=Path, default=HERE.parents[3] / "shared")
    parser.add_argument("--work", type=Path, default=Path("/tmp/answers-bench"))
    args = parser.parse_args()
    base = Settings.from_env()
    embedder = load_embedder(base)
    sets = answers.build_sets(argparse.Namespace(shared=args.shared, work=args.work, covid=50, sec=False), base, embedder)
    questions, library, settings = sets["covid-unans"]
    generator = load_generator(base)
    log = HERE / "pregate-offtopic.rows.jsonl"
    scored = answers.run_set(questions, library, generator, settings, embedder, True, log)
    band = [q for q, r in zip(questions, scored, strict=True) if 0.20 <= r.confidence < 0.25]
    pipeline.PRE_GATE = 0.20
    rows = answers.run_set(band, library, generator, settings, embedder, False, log)
    out = {"confidences": [r.confidence for r in scored], "band_at_0.20": [asdict(r) for r in rows]}
    (HERE / "pregate-offtopic-0.20.json").write_text(json.dumps(out, indent=2))
    log.unlink()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
