"""Markdown export with real footnotes (`rag.export`): markers become [^k] numbered through the conversation, each
footnote gives file, page and the quoted supporting sentence; abstentions and unsupported sentences say so."""

from __future__ import annotations

from rag.export import answer_markdown, conversation_markdown
from rag.types import Answer, Chunk, Citation, Hit

PAGE = "Solana orders transactions with Proof of History. Validators vote on forks."


def chunk(doc: str, page: int, text: str = PAGE) -> Chunk:
    return Chunk(f"{doc}{page}", "d" * 64, doc, page, 0, len(text), text)


def cited(question: str, text: str, *spans: tuple[int, Chunk, int, int]) -> Answer:
    citations = tuple(Citation(n, c, 0.9, start, end) for n, c, start, end in spans)
    sources = tuple(Hit(c, 0.9) for _, c, _, _ in spans)
    return Answer(question, question, text, citations, sources)


def test_markers_become_footnotes_with_file_page_and_the_quoted_sentence():
    first = chunk("solana.pdf", 4)
    answer = cited("How are transactions ordered?", "By Proof of History [1]. Validators vote [2].",
                   (1, first, 0, 49), (2, chunk("solana.pdf", 7), 50, 75))  # fmt: skip
    text = answer_markdown(answer)
    assert "By Proof of History[^1]. Validators vote[^2]." in text
    assert '[^1]: solana.pdf, page 4: "Solana orders transactions with Proof of History."' in text
    assert '[^2]: solana.pdf, page 7: "Validators vote on forks."' in text
    assert text.startswith("## How are transactions ordered?")


def test_a_footnote_quotes_every_sentence_the_answer_cites_from_its_passage():
    page = chunk("solana.pdf", 4)
    citation = Citation(1, page, 0.9, 50, 75, ((0, 49), (50, 75)))
    answer = Answer("q", "q", "By Proof of History [1]. Validators vote [1].", (citation,), (Hit(page, 0.9),))
    expected = '[^1]: solana.pdf, page 4: "Solana orders transactions with Proof of History. … Validators vote on forks."'
    assert expected in answer_markdown(answer)


def test_footnotes_run_through_the_conversation_and_odd_markers_are_handled():
    one = cited("q1", "A [1][2].", (1, chunk("a.pdf", 1), 0, 49), (2, chunk("b.pdf", 2), 0, 49))
    two = cited("q2", "B [1, 3] and C [9].", (1, chunk("c.pdf", 3), 50, 75))  # [3] and [9] were not cited
    text = conversation_markdown([one, two], title="Notes")
    assert text.startswith("# Notes\n\n## q1")
    assert "A[^1][^2]." in text and "B[^3] and C." in text
    assert "[^3]: c.pdf, page 3" in text and "[^4]" not in text
    assert text.index("## q2") < text.index("[^1]: a.pdf")  # footnotes at the end


def test_abstentions_and_unsupported_sentences_are_marked():
    refused = Answer("q", "q", "Your documents do not say.", (), (), abstained=True)
    assert "Not found in the documents" in answer_markdown(refused) and "[^" not in answer_markdown(refused)
    shaky = Answer("q", "q", "It costs $14,000 per day.", (), (), unsupported=("It costs $14,000 per day.",))
    assert "> ⚠ Not supported by the cited passages: It costs $14,000 per day." in answer_markdown(shaky)
