"""How often the name check fires (`rag.generate.gate.unmentioned_names`): a question about a name that neither
its passages nor their documents mention is refused before the model. Retrieval and prompt packing only, no model
run, so it is quick; prints each set's count and the questions it fired on, and writes JSON.

    python bench/name_check.py --shared ../shared --work /tmp/name-check             # every group
    python bench/name_check.py --shared ../shared --work /tmp/name-check --groups heldout

Groups (the SEC ones ingest the 20 filings once into --work):
- dev: bench/answers.py's sets — solana, covid, sec answerable (should not fire); covid-intopic, sec-removed,
  covid-unans (should).
- yesno: the three hand-written yes/no sets, each in its own library as bench/yesno.py builds it (should not).
- heldout: questions no rule was designed on — the 135 SEC questions bench/answers.py does not use, over all
  filings (should not) and with every filing of the companies they name left out (should); 150 COVID-QA questions
  of the articles after the bench's, in a library of those articles (should not) and with the answering article
  left out (should).
"""

from __future__ import annotations

import argparse
import csv
import json
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.answers import build_sets, open_library, sec_questions  # noqa: E402
from bench.common import SEC_DOCS, packed_prompt, prompt_models, shared_dir  # noqa: E402
from bench.yesno import documents as yesno_documents  # noqa: E402
from rag.config import Settings  # noqa: E402
from rag.generate.gate import unmentioned_names  # noqa: E402
from rag.generate.pipeline import find_passages  # noqa: E402

REPO = Path(__file__).resolve().parent.parent
YESNO_SETS = ("yesno.jsonl", "yesno_heldout.jsonl", "yesno_fresh.jsonl")
Case = tuple[str, list[str] | None]  # a question and the documents it may search (None: all)


def fired_on(cases: list[Case], library, settings: Settings, embedder, generator) -> list[dict]:
    """The cases the check refuses, each with the names it found missing."""
    out = []
    for question, documents in cases:
        hits = find_passages(question, question, library, settings, documents)  # as answer() does
        prompt = packed_prompt(question, hits, settings, embedder, generator)
        missing = unmentioned_names(question, prompt.sources, library.page_text)
        if missing:
            out.append({"question": question, "missing": list(missing)})
    return out


def dev_sets(args, base, embedder) -> dict[str, tuple]:
    sets = build_sets(argparse.Namespace(shared=args.shared, work=args.work / "answers", covid=50, sec=True), base,
                      embedder)  # fmt: skip
    return {name: ([(q.question, list(q.documents) if q.documents is not None else None) for q in qs], lib, st,
                   name in ("solana", "covid", "sec")) for name, (qs, lib, st) in sets.items()}  # fmt: skip


def yesno_sets(args, base, embedder) -> dict[str, tuple]:
    out = {}
    for name in YESNO_SETS:
        rows = [json.loads(line) for line in (REPO / "bench/data" / name).read_text().splitlines() if line.strip()]
        work = args.work / name.removesuffix(".jsonl")
        settings = base.replace(data_dir=work / "library")
        library = open_library(settings, embedder, yesno_documents(rows, args.shared, work))
        out[name] = ([(r["question"], None) for r in rows], library, settings, True)
    return out


def heldout_sets(args, base, embedder) -> dict[str, tuple]:
    settings = base.replace(data_dir=args.work / "answers" / "sec")
    library = open_library(settings, embedder, sorted((args.shared / SEC_DOCS).glob("*.pdf")))
    used = {q.question for q in sec_questions(args.shared)}
    csv_path = args.shared / "eval/docugami_sec10q/qna_data.csv"
    rows = [r for r in csv.DictReader(csv_path.open(encoding="utf-8-sig")) if r["Question"] not in used]
    names = [d.name for d in library.documents()]
    removed = []
    for r in rows:
        tickers = {t.strip().strip("*").split()[-1] for t in r["Source Docs"].split(",")}
        removed.append((r["Question"], [n for n in names if not any(t in n for t in tickers)]))
    sets = {"sec-heldout": ([(r["Question"], None) for r in rows], library, settings, True),
            "sec-heldout-removed": (removed, library, settings, False)}  # fmt: skip
    return sets | _covid_heldout(args, base, embedder)


def _covid_heldout(args, base, embedder) -> dict[str, tuple]:
    """150 questions of the articles after the 50 questions bench/answers.py uses (shortest articles first)."""
    data = json.loads((args.shared / "eval/covid_qa/200423_covidQA.json").read_text())["data"]
    articles = sorted((a["paragraphs"][0] for a in data), key=lambda p: len(p["context"]))
    seen, chosen = 0, []
    for article in articles:
        if seen < 50:
            seen += len(article["qas"])
            continue
        chosen.append(article)
        if sum(len(a["qas"]) for a in chosen) >= 150:
            break
    folder = args.work / "covid_heldout_articles"
    folder.mkdir(parents=True, exist_ok=True)
    for article in chosen:
        (folder / f"covid_{article['document_id']}.txt").write_text(article["context"])
    settings = base.replace(data_dir=args.work / "covid_heldout")
    library = open_library(settings, embedder, sorted(folder.glob("*.txt")))
    names = [d.name for d in library.documents()]
    asked = [(qa["question"], f"covid_{a['document_id']}.txt") for a in chosen for qa in a["qas"]]
    return {
        "covid-heldout": ([(q, None) for q, _ in asked], library, settings, True),
        "covid-heldout-intopic": ([(q, [n for n in names if n != source]) for q, source in asked], library, settings,
                                  False),
    }  # fmt: skip


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--shared", type=Path, default=REPO.parent / "shared")
    parser.add_argument("--work", type=Path, default=Path("/tmp/name-check"), help="libraries, built once")
    parser.add_argument("--groups", default="dev,yesno,heldout")
    parser.add_argument("--out", type=Path, default=Path("bench/results/name-check.json"))
    args = parser.parse_args(argv)
    shared_dir(args.shared)
    base, embedder, generator = prompt_models()
    builders = {"dev": dev_sets, "yesno": yesno_sets, "heldout": heldout_sets}
    report = {}
    for group in args.groups.split(","):
        for name, (cases, library, settings, answerable) in builders[group](args, base, embedder).items():
            fired = fired_on(cases, library, settings, embedder, generator)
            report[name] = {"n": len(cases), "fired": len(fired), "should_fire": not answerable, "questions": fired}
            print(f"{name:24s} fired {len(fired):3d} / {len(cases):3d}   ({'should' if not answerable else 'should not'})")
            for item in fired if answerable else []:
                print(f"    {item['question'][:100]!r} -> {', '.join(item['missing'])}")
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(report, indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
