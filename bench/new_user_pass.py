"""A new-user pass: questions asked of small libraries through the Python API as the README shows, at the app's
defaults, one JSON line per answer on stdout (what was shown, what is flagged, the citations, the first token).

    python bench/new_user_pass.py QUESTIONS.tsv DATA_DIR [--shared ../shared]

QUESTIONS.tsv holds "library<TAB>question" lines; the libraries: `att` (the Attention paper), `nvda` (NVIDIA's 2022
Q3 10-Q), `aapl` (Apple's 2023 Q3 10-Q), `kb` (the sample library). Each library a file names is ingested once
into DATA_DIR/<library> and kept for later runs. The question sets and their runs are under bench/results/
(sessions 18 and 19).
"""

import argparse
import json
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

import rag  # noqa: E402
from rag.generate.pipeline import Done  # noqa: E402


def libraries(shared: Path) -> dict[str, list[Path]]:
    """The files of each library a question file may name."""
    sec = shared / "eval/docugami_sec10q/docs"
    return {
        "att": [shared / "pdfs/real_world/attention_is_all_you_need_1706.03762.pdf"],
        "nvda": [sec / "2022 Q3 NVDA.pdf"],
        "aapl": [sec / "2023 Q3 AAPL.pdf"],
        "kb": sorted((REPO / "assets/kb").iterdir()),
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("questions", type=Path)
    parser.add_argument("data", type=Path)
    parser.add_argument("--shared", type=Path, default=REPO.parent / "shared")
    args = parser.parse_args()
    asked = [line.split("\t", 1) for line in args.questions.read_text().splitlines() if line.strip()]
    settings = rag.Settings.from_env()
    embedder, generator = rag.load_embedder(settings), rag.load_generator(settings)
    for name, files in libraries(args.shared).items():
        questions = [q.strip() for lib, q in asked if lib == name]
        if not questions:
            continue
        library = rag.Library.open(settings.replace(data_dir=args.data / name), embedder)
        if not library.documents():
            for _ in library.ingest(files):
                pass
        for question in questions:
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
