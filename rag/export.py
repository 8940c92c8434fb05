"""Answers as Markdown with real footnotes: each `[n]` becomes `[^k]`, and the footnote gives the file, the page
and the quoted sentence that supports the claim, the product's name made literal.

    conversation_markdown([answer1, answer2], title="Solana notes")   # -> "# Solana notes\n\n## Q: ...\n..."

Footnote numbers run through the whole conversation (a second answer's [1] is [^3] if the first used two), so
a pasted export stays valid Markdown. A marker whose passage was not cited (a claim the check could not tie to
its passage) keeps no footnote; sentences no passage supports are listed under the answer with ⚠.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

from rag.jsonview import supporting_texts
from rag.text import MARKER, parse_markers
from rag.types import Answer, Citation


def conversation_markdown(answers: Sequence[Answer], title: str = "") -> str:
    """The whole conversation, question by question, with one footnote list at the end."""
    parts = [f"# {title}"] if title else []
    notes: list[str] = []
    for answer in answers:
        body, answer_notes = _answer_body(answer, len(notes))
        parts.append(body)
        notes += answer_notes
    if notes:
        parts.append("\n".join(notes))
    return "\n\n".join(parts) + "\n"


def answer_markdown(answer: Answer) -> str:
    """One answer on its own: the question, the answer with footnote marks, then its footnotes."""
    return conversation_markdown([answer])


def _answer_body(answer: Answer, notes_before: int) -> tuple[str, list[str]]:
    cited = {c.n: c for c in answer.citations}
    numbering = {n: notes_before + i for i, n in enumerate(sorted(cited), start=1)}

    def to_footnotes(match: re.Match[str]) -> str:
        marks = [f"[^{numbering[n]}]" for n in dict.fromkeys(parse_markers(match.group(0))) if n in numbering]
        return "".join(marks)

    text = MARKER.sub(to_footnotes, answer.text).strip()
    lines = [f"## {answer.question.strip()}", "", text or "(no answer)"]
    if answer.abstained:
        lines += ["", "_Not found in the documents: the answer above says so instead of guessing._"]
    for sentence in () if answer.abstained else answer.unsupported:
        lines += ["", f"> ⚠ Not supported by the cited passages: {sentence.strip()}"]
    notes = [_footnote(numbering[n], cited[n]) for n in sorted(cited)]
    return "\n".join(lines), notes


def _footnote(number: int, citation: Citation) -> str:
    quote = " … ".join(" ".join(text.split()) for text in supporting_texts(citation)).replace('"', "'")
    return f'[^{number}]: {citation.document}, page {citation.page}: "{quote}"'
