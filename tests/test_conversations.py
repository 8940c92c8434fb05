"""Conversations kept with the library (`rag.conversations`): turns stored whole, listed, searched, renamed,
deleted, and read back as equal Answers (so the sources panel and the footnoted export come back too)."""

from __future__ import annotations

import time

import pytest

from rag.conversations import ConversationNotFoundError, Conversations, answer_from_record, answer_record
from rag.errors import RagError
from rag.export import conversation_markdown
from rag.types import Answer, Chunk, Citation, Hit


def answer(question: str, page: int = 3) -> Answer:
    chunk = Chunk("c1", "d" * 64, "solana.pdf", page, 10, 60, "Solana orders transactions with Proof of History.",
                  ("Intro", "Clock"), 4, "solana.pdf")  # fmt: skip
    citation = Citation(1, chunk, 0.8, 10, 59, ((10, 30), (31, 59)))
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


def test_a_turn_saved_before_citations_had_several_spans_reads_back_with_its_one_span():
    record = answer_record(answer("How does Solana order transactions?"))
    for c in record["citations"]:
        del c["spans"]
    (citation,) = answer_from_record(record).citations
    assert citation.highlights == ((10, 59),)


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
    store.add_turn(b, answer("Second?"))
    store.drop_last(b)  # Retry / Undo took the answer back
    assert [x.question for x in store.answers(b)] == ["What is LoRA?"]


def test_retry_takes_back_only_the_answer_that_was_saved(tmp_path):
    from types import SimpleNamespace

    from tests.browser import make_engine
    from ui.conversations import ConversationHandlers

    engine = make_engine(tmp_path, sample_dir=None)
    handlers = ConversationHandlers(engine)
    handlers.record("s", answer("Q1"))
    handlers.take_back("s", "Q2")  # Q2 was stopped before its end: never saved, nothing to take back
    handlers.record("s", answer("Q2"))
    handlers.take_back("s", "Q2")  # retried: its saved answer goes
    request = SimpleNamespace(session_hash="s")
    (saved,) = handlers.store("s").listing()
    assert [a.question for a in handlers.store("s").answers(saved.id)] == ["Q1"]
    assert str(engine.library("s").settings.data_dir) in str(handlers.store("s").data_dir)
    assert handlers.export(request)["value"].endswith("Q1.md")
    engine.close()


def test_public_mode_keeps_conversations_with_the_visitor_and_drops_them_with_the_session(tmp_path):
    from tests.browser import make_engine
    from ui.conversations import ConversationHandlers

    engine = make_engine(tmp_path, public=True, sample_dir=None)
    handlers = ConversationHandlers(engine)
    handlers.record("alice", answer("Alice's question"))
    folder = handlers.store("alice").data_dir
    assert handlers.store("bob").listing() == [] and [c.title for c in handlers.store("alice").listing()] == [
        "Alice's question"
    ]
    engine.release("alice")
    assert not folder.exists()
    engine.close()
