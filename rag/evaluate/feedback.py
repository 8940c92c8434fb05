"""`feedback:DATA_DIR`: the 👍-rated answers of a library (`rag.feedback`) as an eval set, a regression check built
from the user's own documents. Each liked answer's question is asked again; its gold is the pages of the passages
it cited. The documents are the library's kept originals (data_dir/files), so the whole library is searched, not
only the cited files; 👎 ratings are kept for people to read, not scored (a disliked answer has no gold).
"""

from __future__ import annotations

from pathlib import Path

from rag.evaluate.records import DatasetError, EvalQuery, EvalSet, PageRef, Source
from rag.feedback import FILE_NAME, ratings


def read_feedback(data_dir: Path) -> EvalSet:
    """The liked answers in `data_dir` as questions with page gold over the library's kept files."""
    if not (data_dir / FILE_NAME).exists():
        raise DatasetError(f"feedback:{data_dir}: no ratings there yet (rate answers with 👍/👎 in the app first)")
    files = data_dir / "files"
    names: dict[str, str] = {}  # kept file -> the document name people saw
    queries, notes = [], []
    for rating in ratings(data_dir):
        if not rating.liked:
            continue
        kept = [p for p in rating.passages if p.file and (files / p.file).is_file()]
        if not kept:
            notes.append(f"rating {rating.id} skipped: its cited documents are no longer kept in {files}")
            continue
        names.update({p.file: p.document for p in kept})
        pages = tuple(dict.fromkeys(PageRef(p.document, p.page) for p in kept))
        documents = tuple(dict.fromkeys((p.document, 1) for p in kept))
        queries.append(EvalQuery(str(rating.id), rating.question, documents=documents, pages=pages))
    if not queries:
        raise DatasetError(f"feedback:{data_dir}: no 👍 rating whose cited documents are still kept")
    others = sorted(p for p in files.iterdir() if p.is_file() and p.name not in names and not p.name.startswith("."))
    sources = [Source(document, path=files / file) for file, document in sorted(names.items())]
    sources += [Source(p.name, path=p) for p in others]  # the rest of the library: searched, never gold
    return EvalSet(f"feedback:{data_dir.name}", "feedback", data_dir, tuple(sources), tuple(queries),
                   ("page",), tuple(notes))  # fmt: skip
