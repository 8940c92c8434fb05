"""Follow-up questions ("and in 2023?", "what about its cost?") become standalone search queries.

By default a rule does it for free: a follow-up gets the earlier question's key terms appended. With
`RAG_QUERY_REWRITE=llm` the model rewrites it instead (one short greedy generation). `Answer.query` shows the
query that was searched.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

from rag.generate.generator import Generator, Message, complete
from rag.generate.prompting import HistoryItem
from rag.text import content_terms, terms, words
from rag.types import Answer

_FOLLOWUP_START = re.compile(
    r"^\s*(and|but|also|so|then|what about|how about|what else|why|how so|and what|same for|in that case)\b", re.I
)
_REFERRING = frozenset(["it", "its", "they", "them", "their", "theirs", "he", "she", "his", "her", "him", "these", "those", "former", "latter"])
_REWRITE_PROMPT = (
    "Rewrite the last question as one standalone search query, using the earlier questions only to resolve "
    "words like 'it', 'they' or 'that'. Reply with the query only."
)
CARRIED_TERMS = 8  # key terms of the earlier question a follow-up takes along


def previous_query(history: Sequence[HistoryItem]) -> str:
    """Return the last earlier question (for an Answer, its already-standalone search query), or ""."""
    for item in reversed(history):
        if isinstance(item, Answer):
            return item.query or item.question
        if item.role == "user":
            return item.content
    return ""


def is_followup(question: str) -> bool:
    """Return True when `question` leans on an earlier turn: an opener ("and…", "what about…"), a
    referring pronoun ("its cost"), or no content word of its own ("and in 2023?")."""
    own = [t for t in content_terms(question) if t.isalpha() and len(t) > 2]
    return bool(_FOLLOWUP_START.match(question) or set(terms(question)) & _REFERRING or not own)


def rewrite_query(question: str, history: Sequence[HistoryItem], generator: Generator | None = None) -> str:
    """Return a standalone search query for `question`.

    Heuristic (no `generator`): a follow-up gets the earlier question's key terms appended — numbers are not
    carried over when the follow-up brings its own ("and in 2023?"). With a `generator`, the model rewrites it.
    """
    before = previous_query(history)
    if not before or not is_followup(question):
        return question.strip()
    if generator is not None:
        return _llm_rewrite(question, before, generator)
    mine = content_terms(question)
    has_number = any(t.isdigit() for t in mine)
    carried: dict[str, str] = {}  # folded term -> the earlier question's own word, so the query stays readable
    for word in words(before):
        term = next(iter(content_terms(word)), "")
        if term and term not in mine and term not in carried and not (has_number and term.isdigit()):
            carried[term] = word.removesuffix("'s")
    return f"{question.strip()} {' '.join(list(carried.values())[:CARRIED_TERMS])}".strip()


def _llm_rewrite(question: str, before: str, generator: Generator) -> str:
    """Return the model's standalone rewrite, or the heuristic one when the model's reply is unusable."""
    messages = [
        Message("system", _REWRITE_PROMPT),
        Message("user", f"Earlier question: {before}\nLast question: {question}"),
    ]
    reply = complete(generator, messages, max_tokens=48).strip().strip('"').splitlines()
    text = reply[0].strip() if reply else ""
    return text if 3 <= len(text) <= 300 else rewrite_query(question, [Message("user", before)])
