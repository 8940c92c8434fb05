"""Session 19's new-user pass (session 18's script with Apple's 2023 Q3 10-Q added): four libraries (the Attention paper,
NVIDIA's 2022 Q3 10-Q, Apple's 2023 Q3 10-Q, the sample library),
each ingested once through the Python API as the README shows, and every question of a TSV file (library, question)
answered at the app's defaults; one JSON line per answer on stdout.

    python bench/results/2026-12-06-session19/new_user_pass.py QUESTIONS.tsv DATA_DIR [--shared ../shared]
"""

import argparse
import json
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parents[2]))

import rag  # noqa: E402
from rag.generate.pipeline import Done  # noqa: E402


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("questions", type=Path)
    parser.add_argument("data", type=Path)
    parser.add_argument("--shared", type=Path, default=HERE.parents[3] / "shared")
    args = parser.parse_args()
    libraries = {
        "att": [args.shared / "pdfs/real_world/attention_is_all_you_need_1706.03762.pdf"],
        "nvda": [args.shared / "eval/docugami_sec10q/docs/2022 Q3 NVDA.pdf"],
        "aapl": [args.shared / "eval/docugami_sec10q/docs/2023 Q3 AAPL.pdf"],
        "kb": sorted((HERE.parents[2] / "assets/kb").iterdir()),
    }
    asked = [line.split("\t", 1) for line in args.questions.read_text().splitlines() if line.strip()]
    settings = rag.Settings.from_env()
    embedder, generator = rag.load_embedder(settings), rag.load_generator(settings)
    for name, files in libraries.items():
        library = rag.Library.open(settings.replace(data_dir=args.data / name), embedder)
        if not library.documents():
            for _ in library.ingest(files):
                pass
        for question in (q.strip() for lib, q in asked if lib == name):
            started = time.perf_counter()
            result = next(e for e in rag.answer(question, library, generator) if isinstance(e, Done)).answer
            row = {"lib": name, "q": question, "abstained": result.abstained, "text": result.text,
                   "unsupported": list(result.unsupported),
                   "cites": [(c.n, c.document, c.page) for c in result.citations],
                   "first_token": round(result.timings.get("first_token", 0.0), 2),
                   "s": round(time.perf_counter() - started, 1)}  # fmt: skip
            print(json.dumps(row, ensure_ascii=False), flush=True)
        library.close()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
