"""bench/yesno.py with the privative rule off (`rag.generate.pipeline.privation` → None): records what the model
itself answers every question, for a replay with the rule on. Same arguments as bench/yesno.py.

    RAG_TEMPERATURE=0 RAG_LLM_PROMPT_CACHE=0 RAG_THREADS=2 python \
        bench/results/2026-12-06-session19/yesno_without_privation.py --shared ../shared --work W --set S --out F
"""

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[3]))

import rag.generate.pipeline as pipeline  # noqa: E402
from bench.yesno import main  # noqa: E402

pipeline.privation = lambda question, sources: None

if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
