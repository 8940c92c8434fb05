"""How fast llama.cpp reads a prompt and writes an answer with its repacked weight layouts on and off
(`RAG_LLM_REPACK_WEIGHTS`). The default model, greedy, every prompt read afresh (no reuse), runs interleaved.

    python bench/llm_layout.py                    # 3 runs of each layout, 5 prompts a run, 2 threads
    python bench/llm_layout.py --runs 5 --threads 1

Each prompt is ~300 tokens of the sample library (an answer's size at the default prompt budget) and a question;
each answer is up to 48 tokens. Prints llama.cpp's own rates (prompt tokens/s, generated tokens/s), the median of
each run and over all runs, and writes them as JSON. Record `lscpu` flags beside the figures.

Session 16 (AVX-512 BF16 EPYC; xllamacpp's CPU build uses its AVX2 kernels): repacked 64 / 23 tokens/s,
plain 70 / 17 — reading the prompt is what the first word waits for, so the default is plain (docs/speed.md).
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from rag.config import Settings  # noqa: E402
from rag.generate.generator import Message  # noqa: E402
from rag.generate.registry import create_generator  # noqa: E402

KB = Path(__file__).resolve().parent.parent / "assets" / "kb"
SYSTEM = "Answer only from the passages below and cite them as [1].\n\nPassages:\n\n"


def prompts(count: int) -> list[list[Message]]:
    """`count` prompts of ~220 words each from the sample library, no two sharing a beginning after the rules."""
    words = " ".join(p.read_text() for p in sorted(KB.glob("*.md"))).split()
    out = []
    for i in range(count):
        passage = " ".join(words[i * 260 : i * 260 + 220])
        out.append([Message("system", SYSTEM + f"[1] {passage}"), Message("user", f"Question {i}: what does it say?")])
    return out


def one_run(repack: bool, threads: int, asked: list[list[Message]]) -> dict:
    """Load the model with the layout, answer every prompt once; return the rates llama.cpp reported."""
    settings = Settings.from_env().replace(llm_repack_weights=repack, threads=threads, llm_prompt_cache=False)
    generator = create_generator(settings)
    reading, writing = [], []
    try:
        for messages in asked:
            "".join(generator.stream(messages, max_tokens=48, temperature=0.0))
            timings = generator.last_timings
            reading.append(timings["prompt_per_second"])
            writing.append(timings["predicted_per_second"])
    finally:
        generator.close()
    return {"repack": repack, "prompt_tokens_s": statistics.median(reading), "answer_tokens_s": statistics.median(writing)}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--prompts", type=int, default=5)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--out", type=Path, default=Path("bench/results/llm-layout.json"))
    args = parser.parse_args(argv)
    asked = prompts(args.prompts)
    runs = []
    for i in range(args.runs):
        for repack in (True, False):  # interleaved: a drift in the box's speed hits both alike
            runs.append(one_run(repack, args.threads, asked))
            r = runs[-1]
            print(f"run {i + 1} repack={int(repack)}: prompt {r['prompt_tokens_s']:.1f} tok/s, "
                  f"answer {r['answer_tokens_s']:.1f} tok/s", flush=True)  # fmt: skip
    summary = {}
    for repack in (True, False):
        mine = [r for r in runs if r["repack"] == repack]
        medians = {key: round(statistics.median(r[key] for r in mine), 1) for key in ("prompt_tokens_s", "answer_tokens_s")}
        summary[f"repack={int(repack)}"] = medians
        print(f"repack={int(repack)}: median prompt {medians['prompt_tokens_s']} tok/s, "
              f"answer {medians['answer_tokens_s']} tok/s")  # fmt: skip
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps({"threads": args.threads, "summary": summary, "runs": runs}, indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
