"""`select_evidence`: the passages' own sentences that best answer the question, verbatim, with [n] and page."""

from __future__ import annotations

from fakes import FakeEmbedder

from rag.generate.evidence import MAX_CHARS, W_NEW, SentenceScores, score_sentences, select_evidence
from rag.jsonview import supporting_text
from rag.text import sentence_spans
from rag.types import Chunk, Hit

PAGE_OFFSET = 500  # each passage starts 500 characters into its page


def hits(*texts: str) -> list[Hit]:
    return [
        Hit(Chunk(f"c{i}", f"d{i}", f"doc{i}.pdf", i + 2, PAGE_OFFSET, PAGE_OFFSET + len(t), t), 1.0, "hybrid")
        for i, t in enumerate(texts)
    ]


def test_the_answering_sentence_comes_first_with_its_passage_number_page_and_exact_offsets():
    sources = hits(
        "Penguins live in the southern hemisphere. They cannot fly at all.",
        "Bananas are yellow when ripe. Solana orders transactions with Proof of History timestamps.",
    )
    quotes = select_evidence("How does Solana order transactions?", sources, FakeEmbedder(64))
    best = quotes[0]
    assert supporting_text(best) == "Solana orders transactions with Proof of History timestamps."
    assert (best.n, best.document, best.page) == (2, "doc1.pdf", 3)
    text = sources[1].chunk.text
    assert text[best.span_start - PAGE_OFFSET : best.span_end - PAGE_OFFSET] == supporting_text(best)


def test_at_most_limit_quotes_and_a_sentence_repeated_by_overlapping_chunks_only_once():
    same = "Solana orders transactions with Proof of History timestamps."
    sources = hits(same + " Validators vote on blocks.", "Leaders rotate every few slots. " + same)
    quotes = select_evidence("How does Solana order transactions?", sources, FakeEmbedder(64), limit=2)
    assert len(quotes) == 2
    assert [supporting_text(q) for q in quotes].count(same) == 1


def test_running_headers_short_fragments_and_empty_input_are_not_evidence():
    sources = hits("Apple Inc. | Q1 2023 Form 10-Q | 5\n\nTable 3.\n\nApple revenue grew in the quarter.")
    quotes = select_evidence("Apple Inc. Q1 2023 revenue", sources, FakeEmbedder(64))
    assert [supporting_text(q) for q in quotes] == ["Apple revenue grew in the quarter."]
    assert select_evidence("anything", [], FakeEmbedder(64)) == ()


def test_a_run_on_table_line_is_cut_at_a_word_boundary_with_matching_offsets():
    row = "Total net sales were " + " ".join(f"${n},000 in period {n}" for n in range(100, 160))
    quote = select_evidence("total net sales", hits(row), FakeEmbedder(64))[0]
    shown = supporting_text(quote)
    assert len(shown) <= MAX_CHARS and row.startswith(shown) and not shown.endswith(" ")
    assert quote.span_end - quote.span_start == len(shown)


def _sentence_scores(question: str, sources: list[Hit], figure: float) -> list[float]:
    from rag.generate import evidence

    evidence.W_FIGURE, saved = figure, evidence.W_FIGURE
    try:
        scores = evidence.score_sentences(question, sources, FakeEmbedder(64))
    finally:
        evidence.W_FIGURE = saved
    return [scores.get(h, s) for h in sources for s in evidence.sentence_spans(h.chunk.text)]


def test_a_question_asking_for_an_amount_ranks_the_row_that_states_one_higher():
    sources = hits(
        "Gaming revenue grew on strong demand for our gaming GPUs in the quarter.",
        "Revenue — Gaming: Three Months Ended October 29, 2023: 2,856; October 30, 2022: 1,574.",
    )
    amount = "What was gaming revenue in the quarter?"
    prose, row = _sentence_scores(amount, sources, 0.0)
    assert _sentence_scores(amount, sources, 0.1) == [prose, row + 0.1]  # only the row that states 2,856 gains
    who = "Who designs the gaming GPUs?"  # asks for no amount: no bonus
    assert _sentence_scores(who, sources, 0.1) == _sentence_scores(who, sources, 0.0)


def test_what_counts_as_asking_for_and_stating_an_amount():
    from rag.generate.evidence import asks_amount, states_amount

    assert asks_amount("How much did Apple spend on R&D?") and asks_amount("What percentage came from Services?")
    assert not asks_amount("Who leads the Solana validators?") and not asks_amount("What is Proof of History?")
    assert states_amount("Revenue was $5,931 million.") and states_amount("up 81% from a year ago")
    assert not states_amount("For the quarter ended July 1, 2023.") and not states_amount("Tower of History")


FINE_TUNING = (
    "# Adapting a model: fine-tuning, LoRA and adapters\n\n"
    "Adapters are small networks inserted in each block, and they add latency at inference.\n\n"
    "## LoRA: low-rank adaptation\n\n"
    "After training, LoRA can be merged into the weights, so it adds no latency."
)


def test_a_markdown_heading_names_the_subject_but_is_never_quoted_or_packed_for_itself():
    sources = [Hit(Chunk("c0", "d0", "fine-tuning.md", 1, 0, len(FINE_TUNING), FINE_TUNING), 1.0, "hybrid")]
    quotes = select_evidence("What is the difference between LoRA and adapters?", sources, FakeEmbedder(64))
    shown = [supporting_text(q) for q in quotes]
    assert shown and not any(text.startswith("#") for text in shown), shown
    scores = score_sentences("What is the difference between LoRA and adapters?", sources, FakeEmbedder(64))
    by_text = {span.text: scores.get(sources[0], span) for span in sentence_spans(FINE_TUNING)}
    assert by_text["# Adapting a model: fine-tuning, LoRA and adapters"] == 0.0
    assert by_text["After training, LoRA can be merged into the weights, so it adds no latency."] > 0


def test_in_a_pdf_a_line_opening_with_a_number_sign_is_a_sentence_like_any_other():
    footnote = "# In accordance with Item 601 of Regulation S-K, this certification is furnished to the SEC."
    (quote,) = select_evidence("Is the certification furnished in accordance with Item 601?", hits(footnote),
                               FakeEmbedder(64))  # fmt: skip
    assert supporting_text(quote) == footnote


def test_after_the_first_quote_a_sentence_on_a_subject_not_yet_quoted_comes_before_a_third_on_the_first():
    text = ("LoRA learns a low-rank update of each weight matrix. LoRA is applied to the attention projections. "
            "LoRA files can be loaded on demand. Adapters add a little latency at inference.")  # fmt: skip
    (source,) = hits(text)
    plain = {"LoRA learns": 0.60, "LoRA is applied": 0.58, "LoRA files": 0.57, "Adapters add": 0.55}
    scores = SentenceScores({(source.chunk.chunk_id, span.start): next(v for k, v in plain.items()
                             if span.text.startswith(k)) for span in sentence_spans(text)})  # fmt: skip
    quotes = select_evidence("How do LoRA and adapters differ?", [source], FakeEmbedder(64), scores=scores)
    # "Adapters add…" gains W_NEW × 1/3 (one of the question's three terms no quote holds yet): 0.60 > 0.58
    assert 0.55 + W_NEW / 3 > 0.58
    assert [supporting_text(q).split()[:2] for q in quotes] == [["LoRA", "learns"], ["Adapters", "add"], ["LoRA", "is"]]
    assert [q.score for q in quotes] == [0.6, 0.55, 0.58]  # each quote keeps its own score


class SameVectorEmbedder(FakeEmbedder):
    """Every text the same vector: a sentence's score is then its share of the question's terms, plus a constant."""

    def encode(self, texts, on_batch=None):
        import numpy as np

        return np.ones((len(texts), self.dim), dtype=np.float32) / np.sqrt(self.dim)


def test_words_about_asking_or_the_library_do_not_count_against_the_sentence_that_answers():
    """"What details does the library give about how LoRA is initialised?" was refused on the sample library: its
    best sentence scored 0.38 against the evidence gate's 0.40, "details", "library" and "give" counting as missing."""
    sources = hits("Solana orders transactions with Proof of History timestamps. Validators vote on blocks.")
    embedder = SameVectorEmbedder(64)
    plain = select_evidence("How does Solana order transactions?", sources, embedder)[0]
    asked = select_evidence("What details does the library give about how Solana orders transactions?", sources,
                            embedder)[0]  # fmt: skip
    assert supporting_text(asked) == supporting_text(plain) == sources[0].chunk.text.split(" Validators")[0]
    assert asked.score == plain.score
