"""Session 17's probe: for each solana question, are its gold pages among the retrieved passages and the prompt's
(in which position), beside session 16's citations of it? Writes solana-gold-in-prompt.json beside itself.

    RAG_THREADS=2 python bench/results/2026-12-06-session17/gold_in_prompt.py   # ../shared, /tmp/answers-bench
"""

import argparse
import json
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parents[2]))

from bench import answers  # noqa: E402
from rag.config import Settings  # noqa: E402
from rag.embedding import load_embedder  # noqa: E402
from rag.generate.evidence import score_sentences  # noqa: E402
from rag.generate.pipeline import find_passages  # noqa: E402
from rag.generate.prompting import build_messages  # noqa: E402
from rag.generate.registry import load_generator  # noqa: E402

base = Settings.from_env()
emb = load_embedder(base)
sets = answers.build_sets(argparse.Namespace(shared=HERE.parents[3] / "shared", work=Path("/tmp/answers-bench"), covid=50, sec=False), base, emb)
questions, library, settings = sets["solana"]
gen = load_generator(base)
run = json.loads((HERE.parent / "2026-12-06-session16" / "answers-all.json").read_text())["rows"]["solana"]
byq = {r["question"]: r for r in run}
out = []
for q in questions:
    hits = find_passages(q.question, q.question, library, settings)
    scores = score_sentences(q.question, hits, library.embedder)
    prompt = build_messages(q.question, hits, (), settings, gen.count_tokens, scores)
    hit_pages = [h.chunk.page for h in hits]
    prompt_pages = [p.hit.chunk.page if hasattr(p, "hit") else None for p in prompt.passages]
    r = byq[q.question]
    out.append({"q": q.question, "gold": list(q.gold_pages), "hit_pages": hit_pages, "prompt_pages": prompt_pages,
                "cited": r["cited"], "cited_right": r["cited_right"], "abstained": r["abstained"]})  # fmt: skip
    print(q.gold_pages, hit_pages, prompt_pages, r["cited_right"], "/", r["cited"], flush=True)
(HERE / "solana-gold-in-prompt.json").write_text(json.dumps(out, indent=1))
g_hits = sum(any(p in o["gold"] for p in o["hit_pages"]) for o in out)
g_prompt = sum(any(p in o["gold"] for p in o["prompt_pages"]) for o in out)
print("gold in hits", g_hits, "in prompt", g_prompt, "of", len(out))
