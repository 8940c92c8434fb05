"""Yes/no questions whose figure the passages contradict are answered No, with the sentence that says so."""

from __future__ import annotations

import pytest

from rag.generate.pipeline import Done, answer
from rag.generate.stance import contradiction
from rag.types import Chunk, Hit
from tests.fakes import FakeGenerator, FakeLibrary

NOISE = "Unrelated: the shop sold 7 apples and 12 oranges on Monday."


def hits(*texts: str) -> list[Hit]:
    return [
        Hit(Chunk(f"c{i}", "d.pdf", "d.pdf", 1, 0, len(t), t, ordinal=i), 1.0, "hybrid") for i, t in enumerate(texts)
    ]


@pytest.mark.parametrize(
    ("question", "passage", "stated", "asked"),
    [
        ("Are there three kinds of nodes in the Solana system?",
         "In Solana system There are two kinds of nodes: Leader and Verifier.", "two", "three"),
        ("Does an EOS block need agreement from 18 of the 21 block producers to be valid?",
         "EOS uses delegated proof of stake. As long as 15 producers out of 21 reach consensus, a block is valid.",
         "15", "18"),
        ("Did the WMT 2014 English-German training set contain about 36 million sentence pairs?",
         "We trained on the standard WMT 2014 English-German dataset of about 4.5 million sentence pairs.", "4.5", "36"),
        ("Did the French bovine coronavirus sequence count 31,847 nucleotides?",
         "The French bovine coronavirus was sequenced. We obtained a sequence counting 30,847 nucleotides.",
         "30,847", "31,847"),
        ("Was the ReAct prompting pattern published in 2023?",
         "ReAct is a prompting pattern published in 2022 by Yao and colleagues.", "2022", "2023"),
    ],
)  # fmt: skip
def test_a_figure_no_passage_states_is_contradicted_by_the_one_in_its_place(question, passage, stated, asked):
    found = contradiction(question, hits(NOISE, passage))
    assert found is not None
    assert (found.n, found.stated, found.asked) == (2, (stated,), (asked,))
    assert found.text.startswith(f"No — the passages state {stated}, not {asked}: “")
    assert found.text.endswith("” [2].")
    sentence = passage[found.citation.span_start : found.citation.span_end]  # page offsets (the chunk starts at 0)
    assert stated in sentence and sentence in found.text


def test_the_figure_beside_the_same_words_is_the_one_named():
    question = "Did the Imperial College group estimate the incidence at 6000 cases?"
    passage = "The Imperial College group estimated the incidence from three importation events at 4000 cases."
    found = contradiction(question, hits(passage))
    assert found is not None and found.stated == ("4000",)  # "4000 cases", not "three importation events"


def test_a_figure_stated_about_something_else_does_not_confirm_the_question():
    passages = ["The protocol runs in three phases.", "In the Solana system there are two kinds of nodes."]
    found = contradiction("Are there three kinds of nodes in the Solana system?", hits(*passages))
    assert found is not None and found.stated == ("two",) and found.n == 2


def test_reference_numbers_neither_state_nor_contradict_a_figure():
    passages = [
        "The assays were checked by RT-PCR targeting the M gene (3), as described [3, 4].",
        "The RT-PCR assays were validated in five international laboratories.",
    ]
    found = contradiction("Were the RT-PCR assays validated in three international laboratories?", hits(*passages))
    assert found is not None and found.stated == ("five",)


def test_a_year_is_contradicted_by_a_year_not_by_a_day():
    passage = "ReAct, a prompting pattern, was posted on 6 October and published in 2022 by Yao and colleagues."
    found = contradiction("Was the ReAct prompting pattern published in 2023?", hits(passage))
    assert found is not None and found.stated == ("2022",)


@pytest.mark.parametrize(
    ("question", "passages"),
    [
        # the question's figure is stated somewhere: not for this rule to decide, even if another figure is nearby
        ("Does the encoder use a stack of 6 identical layers?",
         ["The encoder is composed of a stack of N = 6 identical layers.", "The decoder stack has 8 identical layers."]),
        # not a yes/no question
        ("How many kinds of nodes are there in Solana, three?", ["In Solana there are two kinds of nodes."]),
        # another figure, but about something else (no shared word beside it)
        ("Were the assays validated in three laboratories?", ["The assays took 40 minutes to validate in the lab."]),
        # the same slot word, but a passage about another subject
        ("Did the Paris marathon have three water stations per kilometre?", ["Our cluster has two kinds of nodes."]),
        # no figure in the question
        ("Does Solana rotate its leaders at fixed intervals?", ["Solana rotates leaders every 4 slots."]),
        # the figure is stated beside the question's words, in other words than the question's
        ("Did training take 3.5 days?", ["Training took 3.5 days on eight GPUs; the small model took 12 hours."]),
    ],
)  # fmt: skip
def test_no_contradiction_without_an_absent_figure_in_the_same_slot(question, passages):
    assert contradiction(question, hits(*passages)) is None


PASSAGES = [
    ("sol.pdf", 18, "In the Solana system there are two kinds of nodes: Leader and Verifier."),
    ("sol.pdf", 9, "The fee for one signature is 5000 lamports on Solana."),
]


def _final(question: str, generator: FakeGenerator) -> Done:
    events = list(answer(question, FakeLibrary(PASSAGES), generator))
    assert isinstance(events[-1], Done)
    return events[-1]


def test_the_pipeline_answers_no_with_the_contradicting_sentence_without_asking_the_model():
    generator = FakeGenerator("Yes, there are three kinds of nodes in the Solana system [1].")
    result = _final("Are there three kinds of nodes in the Solana system?", generator).answer
    assert generator.calls == []  # the figures decide: no prefill to wait for
    assert not result.abstained
    assert result.text.startswith("No — the passages state two, not three: “In the Solana system there are two")
    (citation,) = result.citations
    assert citation.n == 1 and citation.chunk.page == 18
    assert "two kinds of nodes" in citation.chunk.text[citation.span_start : citation.span_end]
    assert result.evidence and result.timings["first_token"] == result.timings["total"]


def test_the_model_answers_when_the_figures_do_not_decide():
    generator = FakeGenerator("Yes, there are two kinds of nodes: Leader and Verifier [1].")
    result = _final("Are there two kinds of nodes in the Solana system?", generator).answer
    assert len(generator.calls) == 1 and result.text.startswith("Yes, there are two kinds of nodes")
