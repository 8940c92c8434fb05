"""Session 17's probe: torch's embedder with 1 and 2 threads beside 0-2 processes spinning on the CPU (bench
passages of ~200 words, and 80 sentences of 25 words like the evidence step's). Prints medians of 3.

    python bench/results/2026-12-06-session17/embed_threads.py
"""

import statistics
import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parents[2]))

import torch  # noqa: E402

from rag.config import Settings  # noqa: E402
from rag.embedding import load_embedder  # noqa: E402

KB = HERE.parents[2] / "assets" / "kb"
words = " ".join(p.read_text() for p in sorted(KB.glob("*.md"))).split()
passages = [" ".join(words[i*200:(i+1)*200]) for i in range(64)]
sentences = [" ".join(words[i*25:(i+1)*25]) for i in range(80)]
emb = load_embedder(Settings.from_env().replace(threads=2))
emb.encode(passages[:8])
SPIN = [sys.executable, "-c", "while True: pass"]
for count in (0, 1, 2):
    spin = [subprocess.Popen(SPIN) for _ in range(count)]
    time.sleep(0.5)
    for t in (1, 2):
        torch.set_num_threads(t)
        big, small = [], []
        for _ in range(3):
            started = time.perf_counter()
            emb.encode(passages)
            big.append(time.perf_counter() - started)
            started = time.perf_counter()
            emb.encode(sentences)
            small.append(time.perf_counter() - started)
        print(f"{count} spinners {t} threads: 64 passages {statistics.median(big):.2f} s "
              f"{[round(x, 2) for x in big]}; 80 sentences {statistics.median(small):.3f} s", flush=True)
    for process in spin:
        process.kill()
