"""Passages about what the question names: `toward_named(question, query, hits, library, k, documents)`.

Retrieval ranks by the question's words, and a company's name is one word among many: "What was Apple's gross
margin?" over twenty 10-Q filings can find Intel's gross-margin rows first. Two corrections, both before the
prompt is packed (then `rag.generate.gate.unmentioned_names` refuses what is still about something else):
- no passage found names it, but documents titled with it are in the library ("Apple Inc. Form 10-Q" in a
  passage's context header, or the file name): search within those;
- some documents found name it and others do not: keep the passages of the documents that name the most of what
  the question names, so the prompt's few hundred tokens hold the named company's rows, not its neighbour's.
A document "names" a name when a passage of it, or the page the passage is on, mentions it.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol

from rag.entities import Name, mentions_loosely
from rag.generate.facts import stated_by
from rag.generate.gate import asked_names, mentions_name, unmentioned_names
from rag.types import Hit


class NamedLibrary(Protocol):
    """What `toward_named` needs from a library (`rag.Library`, or a session's view of it)."""

    def search(self, query: str, k: int | None = None, documents: Sequence[str] | None = None) -> list[Hit]: ...

    def page_text(self, doc_id: str, page: int) -> str: ...


def toward_named(question: str, query: str, hits: Sequence[Hit], library: NamedLibrary, k: int,
                 documents: Sequence[str] | None = None) -> tuple[Hit, ...]:  # fmt: skip
    """`hits` moved toward the documents the question names (module docstring); `hits` as given when it names
    nothing, or nothing in the library is titled with what it names."""
    hits = tuple(hits)
    asked = asked_names(question)
    if not asked or not hits:
        return hits
    said: dict[str, str] = {}  # chunk id → what its passage and page state, read once
    absent = set(unmentioned_names(question, hits))
    titled = {
        hit.chunk.doc_id
        for name in absent
        for hit in library.search(name, k=k, documents=documents)
        if mentions_loosely(f"{hit.chunk.document} {hit.chunk.context}", name)
    }
    if titled:
        others = [h for h in hits if any(_names(h, n, library, said) for n in asked if n.written not in absent)]
        steered = library.search(query, k=k, documents=sorted(titled))
        kept = others[: k // 2]  # "Apple's and Microsoft's revenue": Microsoft's passages keep half the places
        seen = {h.chunk.chunk_id for h in kept}
        hits = tuple(kept + [h for h in steered if h.chunk.chunk_id not in seen])[:k] or hits
    return _most_named(hits, asked, library, said)


def _most_named(hits: tuple[Hit, ...], asked: Sequence[Name], library: NamedLibrary,
                said: dict[str, str]) -> tuple[Hit, ...]:  # fmt: skip
    """The passages of the documents that name the most of the asked names ("Apple's Services segment": Apple's
    filing over another that names only "Services"); all of `hits` when no document names any."""
    named: dict[str, set[str]] = {}
    for hit in hits:
        found = {n.written for n in asked if _names(hit, n, library, said)}
        named.setdefault(hit.chunk.doc_id, set()).update(found)
    most = max(len(found) for found in named.values())
    return tuple(h for h in hits if len(named[h.chunk.doc_id]) == most) if most else hits


def _names(hit: Hit, name: Name, library: NamedLibrary, said: dict[str, str]) -> bool:
    """True when the passage (text, header, file name) or its page mentions `name`; `said` caches their text."""
    key = hit.chunk.chunk_id
    if key not in said:
        said[key] = stated_by([hit]) + "\n" + library.page_text(hit.chunk.doc_id, hit.chunk.page)
    return mentions_name(said[key], name)
