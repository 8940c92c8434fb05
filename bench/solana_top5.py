"""Page hit@5 on blockchain_solana (58 questions, one 27-page PDF) for dense, bm25 and hybrid retrieval.

    python bench/solana_top5.py [--data-dir DIR] [--k 5]

The gold page of a question is the PDF page whose words best cover its reference context (the contexts were
cut by another PDF extractor, so exact matching fails; token recall ≥ 0.87 on one page for every context).
Settings come from RAG_* variables (e.g. RAG_CHUNK_TOKENS=200), so chunking choices can be compared.
"""

from __future__ import annotations

import argparse
import json
import re
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from rag.config import Settings  # noqa: E402
from rag.embedding import load_embedder  # noqa: E402
from rag.library import Library  # noqa: E402

SHARED = ROOT.parent / "shared" / "eval" / "blockchain_solana"
WORD = re.compile(r"[a-z0-9]+")


def words(text: str) -> Counter:
    return Counter(WORD.findall(text.lower().replace("-\n", "").replace(" -", "")))


def gold_page(context: str, pages: list[str]) -> int:
    """Return the 1-based page whose words cover the most of `context`'s words."""
    want = words(context)
    recall = [sum((want & words(p)).values()) / max(1, sum(want.values())) for p in pages]
    return 1 + max(range(len(pages)), key=recall.__getitem__)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--data-dir", default=None)
    parser.add_argument("--k", type=int, default=5)
    args = parser.parse_args()
    settings = Settings.from_env()
    data_dir = Path(args.data_dir) if args.data_dir else Path(tempfile.mkdtemp(prefix="solana-"))
    settings = settings.replace(data_dir=data_dir)
    library = Library.open(settings, load_embedder(settings))
    start = time.perf_counter()
    [outcome] = library.ingest([SHARED / "source_files" / "BlockchainSolana.pdf"])
    print(f"ingest: {outcome.message} ({outcome.status}) in {time.perf_counter() - start:.1f} s")
    pages = [library.page_text(outcome.doc_id, n) for n in range(1, outcome.pages + 1)]
    examples = json.loads((SHARED / "rag_dataset.json").read_text())["examples"]
    gold = [gold_page(e["reference_contexts"][0], pages) for e in examples]
    print(f"chunk_tokens={settings.chunk_tokens} overlap={settings.chunk_overlap} k={args.k}")
    print("| mode | hit@k (page) | MRR | ms/query |\n|---|---|---|---|")
    for mode in ("dense", "bm25", "hybrid"):
        found, rr, t0 = 0, 0.0, time.perf_counter()
        for example, page in zip(examples, gold, strict=True):
            ranks = [h.page for h in library.search(example["query"], k=args.k, mode=mode)]
            found += page in ranks
            rr += 1 / (ranks.index(page) + 1) if page in ranks else 0.0
        ms = 1000 * (time.perf_counter() - t0) / len(examples)
        print(
            f"| {mode} | {found / len(examples):.3f} ({found}/{len(examples)}) | {rr / len(examples):.3f} | {ms:.0f} |"
        )
    library.close()


if __name__ == "__main__":
    main()
