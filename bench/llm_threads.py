"""How many threads llama.cpp should use when other processes keep cores busy: the first token with 1 thread and
with every core, beside 0, 1, 2 … processes spinning on the CPU.

    python bench/llm_threads.py                          # beside 0-3 spinners, 3 prompts each
    python bench/llm_threads.py --spinners 0,1 --questions 5

Each prompt is ~300 tokens of the sample library (an answer's size at the default prompt budget), read afresh (no
reuse), greedy, 24 tokens an answer; the model is loaded once per (spinners, threads). Prints the median first token
of each and writes them as JSON. Record `lscpu` flags beside the figures.

Session 17 (2-core AMD EPYC, quiet otherwise): 1 / 2 threads beside 0 spinners 7.39 / 4.14 s, 1: 7.72 / 7.81,
2: 12.11 / 10.53, 3: 15.23 / 13.22 — two threads never lost, so llama.cpp now takes every usable core whatever
the load when it starts (it used to take the cores free at that moment: 1 for a whole session after a busy one).
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from llm_layout import prompts  # noqa: E402

from rag.config import Settings, usable_cores  # noqa: E402
from rag.generate.registry import create_generator  # noqa: E402

SPIN = [sys.executable, "-c", "while True: pass"]  # one process keeping one core busy


def first_tokens(threads: int, questions: int) -> list[float]:
    """Load the model with `threads`, answer `questions` prompts; each one's seconds to its first token."""
    generator = create_generator(Settings.from_env().replace(threads=threads, llm_prompt_cache=False))
    firsts = []
    try:
        for messages in prompts(questions):
            started, first = time.perf_counter(), None
            for piece in generator.stream(messages, max_tokens=24, temperature=0.0):
                if piece and first is None:
                    first = time.perf_counter() - started
            firsts.append(round(first or 0.0, 2))
    finally:
        generator.close()
    return firsts


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--spinners", default="0,1,2,3", help="how many spinning processes, comma-separated")
    parser.add_argument("--questions", type=int, default=3)
    parser.add_argument("--out", type=Path, default=Path("llm_threads.json"))
    args = parser.parse_args(argv)
    results = []
    for count in (int(c) for c in args.spinners.split(",")):
        spinning = [subprocess.Popen(SPIN) for _ in range(count)]
        try:
            time.sleep(0.5)  # they are running before the model loads
            for threads in sorted({1, usable_cores()}):
                firsts = first_tokens(threads, args.questions)
                median = statistics.median(firsts)
                results.append({"spinners": count, "threads": threads, "first_token_s": firsts, "median_s": median})
                print(f"{count} spinners, {threads} threads: first token median {median:.2f} s {firsts}", flush=True)
        finally:
            for process in spinning:
                process.kill()
    args.out.write_text(json.dumps(results, indent=1))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
