"""SMART test collections (Cranfield, CISI, MED, …): `python -m rag eval --dataset smart:DIR`.

DIR holds three files, found by name (case ignored):
    *.all*   documents: records opened by ".I <id>", fields ".T" title, ".W" text (".A", ".B", ".X" … ignored)
    *.qry    queries in the same layout (".W" is the question)
    qrels    "*qrel*" — Cranfield: "query doc grade", grade 1 (complete answer) … 4 (minimal interest), −1 none;
             "*.rel"  — CISI: "query doc 0 0.0", every listed pair relevant.
Each document becomes "<id>.md" with its title as a heading, as BEIR entries do (`rag.evaluate.datasets.read_beir`), and is
scored like BEIR: graded documents, nDCG@10 and recall over distinct documents.

Trap the reader handles: Cranfield's qrels number queries 1..225 by their position in cran.qry, whose ".I"
numbers skip (001, 002, 004, …). When some qrels query id is not a ".I" of the query file, ids are positions.
"""

from __future__ import annotations

import fnmatch
import re
from pathlib import Path

from rag.evaluate.records import DatasetError, EvalQuery, EvalSet, Source, file_name

_FIELD = re.compile(r"^\.([A-Z])\b ?(.*)$")


def read_smart(root: Path) -> EvalSet:
    """Return the collection in `root` as an EvalSet of graded documents (see the module docstring)."""
    docs_file, queries_file, qrels_file = _find(root, "*.all*"), _find(root, "*.qry"), _qrels_file(root)
    documents = read_records(docs_file)
    sources = tuple(Source(file_name(doc_id, ".md"), text=_markdown(fields)) for doc_id, fields in documents)
    questions = [(qid, " ".join(fields.get("W", "").split())) for qid, fields in read_records(queries_file)]
    qrels, notes = read_qrels(qrels_file, [qid for qid, _ in questions])
    known = {doc_id for doc_id, _ in documents}
    queries = []
    for qid, text in questions:
        gold = {file_name(d, ".md"): g for d, g in qrels.get(qid, {}).items() if d in known and g > 0}
        if gold and text:
            queries.append(EvalQuery(qid, text, documents=tuple(sorted(gold.items()))))
    unjudged = len(questions) - len(queries)
    if unjudged:
        notes.append(f"{unjudged} of {len(questions)} queries have no relevant document in the qrels: skipped")
    return EvalSet(
        f"smart:{root.name}", "smart", root, sources, tuple(queries), ("document",), tuple(notes), per_chunk=False
    )


def read_records(path: Path) -> list[tuple[str, dict[str, str]]]:
    """Parse a SMART file into (id, {field letter: text}) in file order; raises DatasetError if it has no ".I"."""
    records: list[tuple[str, dict[str, str]]] = []
    field = ""
    for number, line in enumerate(path.read_text(encoding="utf-8", errors="replace").splitlines(), 1):
        marker = _FIELD.match(line.rstrip())
        if marker and marker.group(1) == "I":
            if not marker.group(2).split() or not marker.group(2).split()[0].isdigit():
                raise DatasetError(f"{path}:{number}: expected '.I <number>', found {line.strip()!r}")
            records.append((str(int(marker.group(2).split()[0])), {}))
            field = ""
        elif marker and records:
            field = marker.group(1)
            records[-1][1][field] = marker.group(2).strip()
        elif records and field:
            fields = records[-1][1]
            fields[field] = (fields[field] + "\n" + line.rstrip()).strip("\n")
    if not records:
        raise DatasetError(f"{path}: no '.I <id>' records: expected a SMART-format file")
    return records


def read_qrels(path: Path, query_ids: list[str]) -> tuple[dict[str, dict[str, int]], list[str]]:
    """Return {query id: {doc id: grade}} (higher grade = more relevant) and notes on what was mapped."""
    cleverdon = "qrel" in path.name.lower()  # Cranfield: 1 = best … 4, −1 = not relevant
    pairs: list[tuple[str, str, int]] = []
    for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
        parts = line.split()
        if not parts:
            continue
        numbers = parts[:3] if cleverdon else parts[:2]
        if len(numbers) < (3 if cleverdon else 2) or not all(p.lstrip("-").isdigit() for p in numbers):
            raise DatasetError(f"{path}:{number}: expected 'query-id doc-id{' grade' if cleverdon else ''}'")
        grade = (5 - int(parts[2]) if 1 <= int(parts[2]) <= 4 else 0) if cleverdon else 1
        pairs.append((str(int(parts[0])), str(int(parts[1])), grade))
    notes = ["Cleverdon grades 1–4 scored as relevance 4–1; grade −1 skipped"] if cleverdon else []
    known_ids = set(query_ids)
    if any(qid not in known_ids for qid, _, _ in pairs):
        ordinal = {str(i): qid for i, qid in enumerate(query_ids, 1)}
        pairs = [(ordinal[q], d, g) for q, d, g in pairs if q in ordinal]
        notes.append("qrels number queries by their position in the query file, not by '.I'")
    qrels: dict[str, dict[str, int]] = {}
    for qid, doc_id, grade in pairs:
        qrels.setdefault(qid, {})[doc_id] = max(grade, qrels.get(qid, {}).get(doc_id, 0))
    return qrels, notes


def _markdown(fields: dict[str, str]) -> str:
    """A document as Markdown: "# title" over the text (SMART titles wrap over lines; ".W" may repeat it)."""
    title = " ".join(fields.get("T", "").split())
    return (f"# {title}\n\n" if title else "") + fields.get("W", "")


def _find(root: Path, pattern: str) -> Path:
    matches = sorted(p for p in root.iterdir() if p.is_file() and fnmatch.fnmatch(p.name.lower(), pattern))
    if len(matches) != 1:
        found = ", ".join(p.name for p in matches) or "none"
        raise DatasetError(f"{root}: expected one SMART file matching {pattern} (found {found})")
    return matches[0]


def _qrels_file(root: Path) -> Path:
    matches = sorted(p for p in root.iterdir() if p.is_file() and re.fullmatch(r".*qrel|.*\.rel", p.name, re.I))
    if len(matches) != 1:
        found = ", ".join(p.name for p in matches) or "none"
        raise DatasetError(f"{root}: expected one qrels file named *qrel or *.rel (found {found})")
    return matches[0]
