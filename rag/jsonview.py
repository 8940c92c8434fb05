"""The JSON shapes of Footnote's records, shared by the CLI's `--json` output and the app's API endpoints.

One definition per record, so `python -m rag search --json` and the `/search` endpoint cannot drift apart.
No object carries a "path" key: gradio_client would take such a dict for a file and try to download it.
"""

from __future__ import annotations

from typing import Any

from rag.types import Answer, Citation, DocumentInfo, FileOutcome, Hit


def hit_json(hit: Hit) -> dict[str, Any]:
    """Return one search result: document, page, score, text, offsets and ids."""
    chunk = hit.chunk
    return {
        "document": chunk.document,
        "page": chunk.page,
        "score": round(float(hit.score), 6),
        "text": chunk.text,
        "start": chunk.start,
        "end": chunk.end,
        "chunk_id": chunk.chunk_id,
        "doc_id": chunk.doc_id,
        "method": hit.method,
    }


def document_json(info: DocumentInfo) -> dict[str, Any]:
    """Return one indexed document: name, pages, passages (chunks), kind, id, warnings, when added."""
    return {
        "name": info.name,
        "pages": info.pages,
        "chunks": info.chunks,
        "kind": info.kind,
        "doc_id": info.doc_id,
        "warnings": list(info.warnings),
        "added_at": info.added_at,
    }


def outcome_json(outcome: FileOutcome) -> dict[str, Any]:
    """Return how ingesting one file ended."""
    return {
        "name": outcome.name,
        "status": outcome.status,
        "message": outcome.message,
        "pages": outcome.pages,
        "chunks": outcome.chunks,
        "doc_id": outcome.doc_id,
        "warnings": list(outcome.warnings),
    }


def answer_json(result: Answer) -> dict[str, Any]:
    """Return a finished answer (the `ask --json` contract in docs/architecture.md)."""
    return {
        "question": result.question,
        "query": result.query,
        "answer": result.text,
        "abstained": result.abstained,
        "citations": [citation_json(c) for c in result.citations],
        "unsupported": list(result.unsupported),
        "evidence": [evidence_json(q) for q in result.evidence],
        "sources": [_source_json(n, h) for n, h in enumerate(result.sources, start=1)],
        "timings": {k: round(float(v), 4) for k, v in result.timings.items()},
    }


def citation_json(c: Citation) -> dict[str, Any]:
    """Return one citation: the evidence fields (`text` is the best-supported claim's sentence), `passage` (the whole
    chunk) and `spans`, the sentence of every claim citing it."""
    spans = [{"span_start": start, "span_end": end, "text": _page_text(c, start, end)} for start, end in c.highlights]
    return {**evidence_json(c), "passage": c.chunk.text, "spans": spans}


def evidence_json(q: Citation) -> dict[str, Any]:
    """Return one quoted span: [n], document, page, the sentence, its score and page offsets."""
    return {
        "n": q.n,
        "document": q.document,
        "page": q.page,
        "text": supporting_text(q),
        "score": round(float(q.score), 4),
        "span_start": q.span_start,
        "span_end": q.span_end,
    }


def supporting_text(c: Citation) -> str:
    """Return the supporting sentence: the citation's page span, cut out of the chunk's text."""
    return _page_text(c, c.span_start, c.span_end) or c.chunk.text


def supporting_texts(c: Citation) -> tuple[str, ...]:
    """Return the sentence of every claim citing `c`, in page order."""
    return tuple(text for start, end in c.highlights if (text := _page_text(c, start, end))) or (c.chunk.text,)


def _page_text(c: Citation, start: int, end: int) -> str:
    """The text between page offsets `start` and `end`, within the citation's chunk."""
    return c.chunk.text[max(start - c.chunk.start, 0) : max(end - c.chunk.start, 0)]


def _source_json(n: int, hit: Hit) -> dict[str, Any]:
    return {"n": n, "document": hit.document, "page": hit.page, "score": round(hit.score, 4), "text": hit.chunk.text}
