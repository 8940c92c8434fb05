"""Is a greedy answer a function of its prompt alone? The same prompt, asked after different ones, with llama.cpp's
prompt reuse on and off (`RAG_LLM_PROMPT_CACHE`); then one long prompt (~450 tokens, the size of an answer's)
read with 1 and with 2 threads. Prints what llama.cpp reused and the answer's log-probabilities.

    python bench/llm_repeat.py                  # the default model
    python bench/llm_repeat.py --threads 1

With reuse on, the repeated prompt is restored from the cache (cache_n > 0) and its log-probabilities differ from a
fresh read: enough, now and then, to flip a word. With reuse off, every run gives the same numbers — at one thread
count: a long prompt read with 1 and with 2 threads gives other numbers (threads=0 picks the count from the cores
free at the time, so benchmark runs compared answer by answer also fix RAG_THREADS).
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from rag.config import Settings  # noqa: E402
from rag.generate.generator import Message  # noqa: E402
from rag.generate.registry import create_generator  # noqa: E402

SYSTEM = "Answer only from the numbered passages and cite them as [n]. If they do not say, answer: I don't know.\n\n"
ASKED = "[1] The Transformer uses 8 attention heads. Training the big model took 3.5 days on 8 P100 GPUs.\n[2] Dropout 0.1."
OTHER = "[1] The Transformer uses 8 attention heads. The base model was trained for 100,000 steps.\n[2] Label smoothing."
QUESTION = "How long did training the big model take, and on what hardware?"


def ask(generator, passages: str) -> dict:
    """One greedy answer and what llama.cpp reported for it."""
    messages = [Message("system", SYSTEM + passages), Message("user", QUESTION)]
    text = "".join(generator.stream(messages, max_tokens=40, temperature=0.0))
    timings = generator.last_timings
    return {"text": text.strip(), "logprob_sum": round(sum(generator.last_logprobs), 10),
            "cache_n": timings.get("cache_n"), "prompt_n": timings.get("prompt_n")}  # fmt: skip


def by_threads() -> dict:
    """The sample library's first document as passages (~450 tokens), read fresh with 1 and with 2 threads."""
    kb = sorted((Path(__file__).resolve().parent.parent / "assets/kb").glob("*.md"))[0].read_text()
    passages = "[1] " + " ".join(kb.split()[:330])
    runs = {}
    for threads in (1, 2):
        generator = create_generator(Settings(threads=threads, llm_prompt_cache=False))
        runs[threads] = ask(generator, passages)
        generator.close()
        r = runs[threads]
        print(f"{threads} thread(s), long prompt: prompt_n={r['prompt_n']} logprob_sum={r['logprob_sum']:.10f} {r['text'][:60]!r}")
    same = runs[1]["logprob_sum"] == runs[2]["logprob_sum"] and runs[1]["text"] == runs[2]["text"]
    print(f"1 vs 2 threads: identical={same}")
    return {"identical": same, "runs": runs}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--threads", type=int, default=0)
    parser.add_argument("--out", type=Path, default=None, help="also write the runs as JSON")
    args = parser.parse_args(argv)
    report = {}
    for reuse in (True, False):
        generator = create_generator(Settings(threads=args.threads, llm_prompt_cache=reuse))
        runs = []
        for before in (None, OTHER, ASKED, OTHER):  # the asked prompt first, then after other prompts
            if before is not None:
                ask(generator, before)
            runs.append(ask(generator, ASKED))
        generator.close()
        same = len({(r["text"], r["logprob_sum"]) for r in runs}) == 1
        report["reuse on" if reuse else "reuse off"] = {"identical": same, "runs": runs}
        print(f"prompt reuse {'on ' if reuse else 'off'}: identical={same}")
        for r in runs:
            print(f"  cache_n={r['cache_n']} prompt_n={r['prompt_n']} logprob_sum={r['logprob_sum']:.10f} {r['text'][:60]!r}")
    report["threads"] = by_threads()
    if args.out:
        args.out.write_text(json.dumps(report, indent=1))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
