"""Conversations kept with the library (`rag.conversations`): turns stored whole, listed, searched, renamed,
deleted, and read back as equal Answers (so the sources panel and the footnoted export come back too)."""

from __future__ import annotations

import time

import pytest

from rag.conversations import ConversationNotFoundError, Conversations
from rag.errors import RagError
from rag.export import conversation_markdown
from rag.types import Answer, Chunk, Citation, Hit


def answer(question: str, page: int = 3) -> Answer:
    chunk = Chunk("c1", "d" * 64, "solana.pdf", page, 10, 60, "Solana orders transactions with Proof of History.",
                  ("Intro", "Clock"), 4, "solana.pdf")  # fmt: skip
    citation = Citation(1, chunk, 0.8, 10, 59)
    return Answer(question, question + " (query)", "By Proof of History [1].", (citation,), (Hit(chunk, 0.8, "hybrid"),),
                  unsupported=("x",), evidence=(citation,), timings={"total": 1.5})  # fmt: skip


def test_turns_come_back_equal_and_in_order(tmp_path):
    store = Conversations(tmp_path)
    first = store.add_turn(None, answer("How does Solana order transactions?"))
    assert store.add_turn(first, answer("And validators?", page=5)) == first
    assert store.answers(first) == [answer("How does Solana order transactions?"), answer("And validators?", page=5)]
    (info,) = store.listing()
    assert (info.title, info.turns) == ("How does Solana order transactions?", 2)
    assert "[^1]: solana.pdf, page 3" in conversation_markdown(store.answers(first), info.title)


def test_list_search_rename_delete(tmp_path):
    store = Conversations(tmp_path)
    assert store.listing() == []
    a = store.add_turn(None, answer("Solana clocks?"))
    time.sleep(0.01)
    b = store.add_turn(None, answer("What is LoRA?"))
    assert [c.id for c in store.listing()] == [b, a]  # most recent first
    assert [c.id for c in store.listing("lora")] == [b]
    store.rename(a, "  My   Solana notes ")
    assert store.title(a) == "My Solana notes" and [c.id for c in store.listing("notes")] == [a]
    with pytest.raises(RagError, match="title"):
        store.rename(a, "   ")
    store.delete(a)
    assert [c.id for c in store.listing()] == [b]
    with pytest.raises(ConversationNotFoundError):
        store.answers(a)
    assert store.add_turn(a, answer("again?")) != a  # a deleted conversation is not written into: a new one
