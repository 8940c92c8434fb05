"""Session 17's probe: bench/yesno.py with the pre-gate (retrieval confidence below which the model is not asked)
set to --gate instead of rag.generate.gate.PRE_GATE; every other argument goes to bench/yesno.py.

    RAG_TEMPERATURE=0 RAG_LLM_PROMPT_CACHE=0 RAG_THREADS=2 python \
        bench/results/2026-12-06-session17/yesno_pregate_probe.py --gate 0.20 --shared ../shared \
        --work /tmp/yn-main --leave-out --out yesno-leaveout-gate020-main.json
"""

import argparse
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[3]))

import rag.generate.pipeline as pipeline  # noqa: E402
from bench import yesno  # noqa: E402

if __name__ == "__main__":
    parser = argparse.ArgumentParser(add_help=False)
    parser.add_argument("--gate", type=float, required=True)
    known, rest = parser.parse_known_args()
    pipeline.PRE_GATE = known.gate  # read by pipeline.answer at each call
    raise SystemExit(yesno.main(rest))
