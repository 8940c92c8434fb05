"""Benchmark readers: each turns a dataset on disk into an `EvalSet` (what to index + questions with gold).

    beir:DIR          corpus.jsonl, queries.jsonl, qrels/<split>.tsv      → graded documents
    squad:FILE        SQuAD v1 JSON, one long context per article          → answer spans (+ their document)
    llamaindex:DIR    rag_dataset.json + source_files/                     → reference passages (pages found later)
    docugami:DIR      qna_data.csv + docs/*.pdf, gold = file-name globs    → documents
    pages:FILE        JSONL {"question", "document", "pages"} + --docs DIR → pages
    smart:DIR         SMART collection (Cranfield, CISI): *.all*, *.qry, qrels → graded documents (smart.py)

Gold is expressed in terms of the file names the index will show (`Hit.chunk.document`), so the runner can
judge a hit without knowing the format it came from.
"""

from __future__ import annotations

import csv
import fnmatch
import json
import re
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path

from rag.evaluate.feedback import read_feedback
from rag.evaluate.records import (
    AnswerSpan,
    DatasetError,
    EvalQuery,
    EvalSet,
    PageRef,
    Source,
    file_name,
)
from rag.evaluate.smart import read_smart

KINDS = ("beir", "squad", "llamaindex", "docugami", "pages", "smart", "feedback")


def read_dataset(spec: str, docs: Path | None = None, limit: int | None = None, split: str = "test") -> EvalSet:
    """Parse "KIND:PATH" and return its EvalSet, keeping the first `limit` questions when given."""
    kind, sep, raw_path = spec.partition(":")
    if not sep or kind not in KINDS or not raw_path:
        raise DatasetError(f"--dataset {spec!r}: expected KIND:PATH with KIND one of {', '.join(KINDS)}")
    path = Path(raw_path).expanduser()
    if not path.exists():
        raise DatasetError(f"--dataset {spec!r}: {path} does not exist")
    if kind == "pages" and docs is None:
        raise DatasetError("pages:FILE needs --docs DIR (the folder holding the documents the JSONL names)")
    readers = {
        "beir": lambda: read_beir(path, split),
        "squad": lambda: read_squad(path),
        "llamaindex": lambda: read_llamaindex(path),
        "docugami": lambda: read_docugami(path),
        "pages": lambda: read_pages(path, docs or path.parent),
        "smart": lambda: read_smart(path),
        "feedback": lambda: read_feedback(path),
    }
    evalset = readers[kind]()
    if limit is not None:
        evalset = _replace(evalset, queries=evalset.queries[:limit])
    if not evalset.queries:
        raise DatasetError(f"{spec}: no questions with gold found")
    return evalset


def _replace(evalset: EvalSet, **changes: object) -> EvalSet:
    return replace(evalset, **changes)


def _need(path: Path, what: str) -> Path:
    """Return `path`, or raise a DatasetError saying which file is missing and what it should hold."""
    if not path.exists():
        raise DatasetError(f"missing {path}: expected {what}")
    return path


def _jsonl(path: Path) -> Iterator[dict]:
    """Yield one object per non-empty line; a bad line is reported with its number."""
    with path.open(encoding="utf-8") as handle:
        for number, line in enumerate(handle, 1):
            if not line.strip():
                continue
            try:
                yield json.loads(line)
            except json.JSONDecodeError as exc:
                raise DatasetError(f"{path}:{number}: not valid JSON ({exc.msg})") from exc


def read_beir(root: Path, split: str = "test") -> EvalSet:
    """BEIR: every corpus entry becomes "<id>.md", its title as the heading; gold = graded qrels of `split`.

    Markdown because that is how the title reaches the engine as a title: each passage of a long entry is then
    indexed with it in its context header (`rag.ingest.titles`), as the passages of a user's titled file are.
    """
    corpus = _need(root / "corpus.jsonl", 'BEIR corpus, one {"_id", "title", "text"} per line')
    queries_file = _need(root / "queries.jsonl", 'BEIR queries, one {"_id", "text"} per line')
    qrels_file = _need(root / "qrels" / f"{split}.tsv", "tab-separated query-id, corpus-id, score with a header")
    sources = []
    for row in _jsonl(corpus):
        title, text = (row.get("title") or "").strip(), row.get("text") or ""
        heading = "# " + title.replace("\n", " ") + "\n\n" if title else ""
        sources.append(Source(file_name(str(row["_id"]), ".md"), text=heading + text))
    qrels: dict[str, dict[str, int]] = {}
    with qrels_file.open(encoding="utf-8", newline="") as handle:
        for number, line in enumerate(handle, 1):
            parts = line.strip().split("\t")
            if number == 1 and not parts[-1].lstrip("-").isdigit():
                continue  # header
            if len(parts) != 3:
                raise DatasetError(f"{qrels_file}:{number}: expected query-id<TAB>corpus-id<TAB>score")
            qrels.setdefault(parts[0], {})[file_name(parts[1], ".md")] = int(parts[2])
    texts = {str(row["_id"]): row["text"] for row in _jsonl(queries_file)}
    queries = [
        EvalQuery(qid, texts[qid], documents=tuple(sorted(gold.items())))
        for qid, gold in qrels.items()
        if qid in texts and any(grade > 0 for grade in gold.values())
    ]
    notes = (
        [f"{len(qrels) - len(queries)} qrels queries missing from queries.jsonl"] if len(queries) < len(qrels) else []
    )
    return EvalSet(
        f"beir:{root.name}", "beir", root, tuple(sources), tuple(queries), ("document",), tuple(notes), per_chunk=False
    )


def locate_answer(context: str, answer: str, answer_start: int) -> int:
    """Return the answer's real start in `context` (-1 if absent).

    COVID-QA has answer_start off by one for 234 answers, so search from a little before the given offset.
    """
    if context.startswith(answer, answer_start):
        return answer_start
    found = context.find(answer, max(0, answer_start - 5))
    return found if found >= 0 else context.find(answer)


def read_squad(path: Path) -> EvalSet:
    """SQuAD v1: each article's context becomes one "<document_id>.txt"; gold = the answer spans in it."""
    try:
        articles = json.loads(path.read_text(encoding="utf-8"))["data"]
    except (json.JSONDecodeError, KeyError, TypeError) as exc:
        raise DatasetError(f"{path}: expected SQuAD JSON {{'data': [{{'paragraphs': [...]}}]}}") from exc
    sources, queries, missing = [], [], 0
    for a_index, article in enumerate(articles):
        for p_index, para in enumerate(article["paragraphs"]):
            raw_id = str(para.get("document_id", f"{a_index}-{p_index}"))
            name = file_name(raw_id)
            sources.append(Source(name, text=para["context"]))
            for qa in para["qas"]:
                spans = []
                for answer in qa.get("answers", []):
                    start = locate_answer(para["context"], answer["text"], int(answer["answer_start"]))
                    if start >= 0:
                        spans.append(AnswerSpan(name, 1, start, start + len(answer["text"]), answer["text"]))
                if not spans:
                    missing += 1
                    continue
                queries.append(EvalQuery(str(qa["id"]), qa["question"], documents=((name, 1),), spans=tuple(spans)))
    notes = (f"{missing} questions skipped: answer text not found in its context",) if missing else ()
    return EvalSet(f"squad:{path.stem}", "squad", path, tuple(sources), tuple(queries), ("span", "document"), notes)


def read_llamaindex(root: Path) -> EvalSet:
    """LlamaIndex LabelledRagDataset: gold = the page holding each reference context (found after loading)."""
    data_file = _need(root / "rag_dataset.json", 'LlamaIndex {"examples": [{"query", "reference_contexts"}]}')
    files_dir = _need(root / "source_files", "the documents the questions are about")
    try:
        examples = json.loads(data_file.read_text(encoding="utf-8"))["examples"]
    except (json.JSONDecodeError, KeyError) as exc:
        raise DatasetError(f"{data_file}: expected {{'examples': [...]}}") from exc
    sources = tuple(Source(p.name, path=p) for p in sorted(files_dir.iterdir()) if p.is_file())
    queries = tuple(
        EvalQuery(str(i), ex["query"], reference="\n".join(ex.get("reference_contexts") or []))
        for i, ex in enumerate(examples)
    )
    return EvalSet(f"llamaindex:{root.name}", "llamaindex", root, sources, queries, ("page",))


def read_docugami(root: Path) -> EvalSet:
    """Docugami KG-RAG: gold = the files matching the "Source Docs" globs (comma- or newline-separated)."""
    csv_file = _need(root / "qna_data.csv", "columns Question, Source Docs (file-name globs), ...")
    docs_dir = _need(root / "docs", "the PDFs the questions are about")
    files = sorted(p for p in docs_dir.iterdir() if p.is_file())
    names = [p.name for p in files]
    queries, unmatched = [], 0
    with csv_file.open(encoding="utf-8-sig", newline="") as handle:
        for number, row in enumerate(csv.DictReader(handle)):
            if "Question" not in row or "Source Docs" not in row:
                raise DatasetError(f"{csv_file}: needs the columns 'Question' and 'Source Docs'")
            globs = [g.strip() for g in re.split(r"[,\n]", row["Source Docs"] or "") if g.strip()]
            gold = sorted({n for n in names for g in globs if fnmatch.fnmatch(n, g)})
            if not gold:
                unmatched += 1
                continue
            queries.append(EvalQuery(str(number), row["Question"], documents=tuple((n, 1) for n in gold)))
    notes = (f"{unmatched} questions skipped: their Source Docs match no file in docs/",) if unmatched else ()
    sources = tuple(Source(p.name, path=p) for p in files)
    return EvalSet(f"docugami:{root.name}", "docugami", root, sources, tuple(queries), ("document",), notes)


def read_pages(path: Path, docs_dir: Path) -> EvalSet:
    """Generic page gold: every file in `docs_dir` is indexed; a hit is a chunk of the named document on a gold page."""
    if not docs_dir.is_dir():
        raise DatasetError(f"--docs {docs_dir}: not a folder")
    files = sorted(p for p in docs_dir.iterdir() if p.is_file())
    names = {p.name for p in files}
    queries = []
    for number, row in enumerate(_jsonl(path), 1):
        try:
            question, document, pages = row["question"], row["document"], [int(p) for p in row["pages"]]
        except (KeyError, TypeError, ValueError) as exc:
            raise DatasetError(
                f'{path}:{number}: expected {{"question", "document", "pages": [1-based ints]}}'
            ) from exc
        if document not in names:
            raise DatasetError(f"{path}:{number}: document {document!r} is not a file in {docs_dir}")
        refs = tuple(PageRef(document, p) for p in pages)
        queries.append(EvalQuery(str(row.get("id", number)), question, documents=((document, 1),), pages=refs))
    sources = tuple(Source(p.name, path=p) for p in files)
    return EvalSet(f"pages:{path.stem}", "pages", path, sources, tuple(queries), ("page",))
