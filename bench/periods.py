"""Does retrieval read the filing the question dates? (`rag.generate.periods.toward_period`). No model run.

    python bench/periods.py --shared ../shared --work /tmp/periods-bench [--out results.json]

Over the 20 SEC 10-Q filings (four quarters of five companies, ingested once into --work), for each SEC question
that names one filing (`Source Docs` of one file), the passages `answer()` reads (`find_passages`) with and without
the move to the dated filing:
- share: the share of those passages from the filing that answers (the question's `Source Docs`);
- for the answers bench's 60 questions (their references state figures ≥ 100): whether a reference figure is in
  the passages, and in the 250-token prompt packed from them (`build_messages`, the default model's tokenizer).
The 70 single-filing questions the answers bench does not use are the held-out group: no rule was designed on them.
"""

from __future__ import annotations

import csv
import fnmatch
import json
import statistics
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.answers import open_library, sec_questions  # noqa: E402
from bench.common import SEC_DOCS, base_parser, packed_prompt, prompt_models, shared_dir  # noqa: E402
from rag.config import Settings  # noqa: E402
from rag.entities import numbers_stated  # noqa: E402
from rag.generate import pipeline  # noqa: E402
from rag.generate.facts import stated_by  # noqa: E402


def cases(shared: Path) -> dict[str, list[tuple[str, str, tuple[str, ...]]]]:
    """{group: [(question, source glob, reference figures)]}: "dev" is the answers bench's 60, "heldout" the rest."""
    dev = [(q.question, q.source, q.figures) for q in sec_questions(shared)]
    used = {q for q, _, _ in dev}
    rows = csv.DictReader((shared / "eval/docugami_sec10q/qna_data.csv").open(encoding="utf-8-sig"))
    heldout = [(r["Question"], r["Source Docs"].strip("*"), ()) for r in rows
               if r["Question Type"].startswith("Single-Doc") and r["Question"] not in used]  # fmt: skip
    return {"dev": dev, "heldout": heldout}


def measure(group: list, library, settings: Settings, embedder, generator, moved: bool) -> dict:
    real = pipeline.toward_period
    if not moved:
        pipeline.toward_period = lambda question, query, hits, *args, **kwargs: tuple(hits)
    try:
        shares, in_hits, in_prompt = [], 0, 0
        for question, source, figures in group:
            hits = pipeline.find_passages(question, question, library, settings)
            shares.append(sum(fnmatch.fnmatch(h.chunk.document, f"*{source}*") for h in hits) / max(1, len(hits)))
            if figures:
                prompt = packed_prompt(question, hits, settings, embedder, generator)
                in_hits += bool(set(figures) & numbers_stated(stated_by(hits)))
                in_prompt += bool(set(figures) & numbers_stated(stated_by(prompt.sources)))
    finally:
        pipeline.toward_period = real
    return {"n": len(group), "mean_share": round(statistics.mean(shares), 3), "all_from_source": shares.count(1.0),
            "none_from_source": shares.count(0.0), "figure_in_passages": in_hits, "figure_in_prompt": in_prompt}  # fmt: skip


def main(argv: list[str] | None = None) -> int:
    parser = base_parser(__doc__.splitlines()[0])
    parser.add_argument("--work", type=Path, default=Path("/tmp/periods-bench"), help="the library, built once")
    args = parser.parse_args(argv)
    shared_dir(args.shared, SEC_DOCS)
    base, embedder, generator = prompt_models()
    settings = base.replace(data_dir=args.work / "sec")
    library = open_library(settings, embedder, sorted((args.shared / SEC_DOCS).glob("*.pdf")))
    report = {}
    print("| group | n | moved to the dated filing | share from the answering filing | all / none from it | "
          "reference figure in passages / prompt |\n|---|---:|---|---:|---:|---:|")  # fmt: skip
    for name, group in cases(args.shared).items():
        for moved in (False, True):
            row = measure(group, library, settings, embedder, generator, moved)
            report[f"{name}{'' if moved else ' (not moved)'}"] = row
            figures = f"{row['figure_in_passages']} / {row['figure_in_prompt']}" if name == "dev" else "–"
            print(f"| {name} | {row['n']} | {'yes' if moved else 'no'} | {row['mean_share']:.3f} | "
                  f"{row['all_from_source']} / {row['none_from_source']} | {figures} |", flush=True)  # fmt: skip
    library.close()
    if args.out:
        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.write_text(json.dumps(report, indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
