"""Yes/no questions the passages answer No in words: what the question asks about is what a passage says is absent
("Does the Transformer use recurrence?" — "… dispensing with recurrence and convolutions entirely")."""

from __future__ import annotations

import pytest

from rag.generate.pipeline import Done, answer
from rag.generate.privative import privation
from rag.types import Chunk, Hit
from tests.fakes import FakeGenerator, FakeLibrary

TRANSFORMER = (
    "We propose a new simple network architecture, the Transformer, based solely on attention mechanisms, "
    "dispensing with recurrence and convolutions entirely. Experiments on two translation tasks show it is better."
)
HEADS = "Instead of computing attention once, a transformer runs several attention heads in parallel."
LORA = "Instead of learning a full update for a weight matrix W of size d by k, LoRA learns two thin matrices."
RAG = (
    "Retrieval-augmented generation combines a search system with a language model. Instead of relying only on "
    "what the model memorised during training, the application retrieves passages."
)
HYPER = "Parameters differ from hyperparameters, which are settings chosen by people rather than learned."


def hits(*texts: str) -> list[Hit]:
    return [Hit(Chunk(f"c{i}", "d.md", "d.md", 1, 0, len(t), t, ordinal=i), 1.0, "hybrid") for i, t in enumerate(texts)]


@pytest.mark.parametrize(
    ("question", "passage"),
    [
        ("Does the Transformer use recurrence?", TRANSFORMER),
        ("Does a transformer compute attention once?", HEADS),
        ("Does LoRA learn a full update for the weight matrix?", LORA),  # "… for a weight matrix" is cut at "for"
        ("Does retrieval augmented generation rely only on what the model memorised?", RAG),
        ("Are hyperparameters learned?", HYPER),
    ],
)
def test_a_question_about_what_a_passage_says_is_absent_is_answered_no(question, passage):
    found = privation(question, hits("Unrelated: the shop opens at nine.", passage))
    assert found is not None and found.n == 2
    assert found.text.startswith("No — the passages say: “") and found.text.endswith("” [2].")


@pytest.mark.parametrize(
    ("question", "passage"),
    [
        ("Does the Transformer use attention?", TRANSFORMER),  # what it keeps, not what it dispenses with
        ("Does the Transformer rely entirely on attention mechanisms?", TRANSFORMER),
        ("Does a transformer compute attention?", HEADS),  # "instead of computing attention ONCE"
        ("Does retrieval augmented generation rely on what the model memorised?", RAG),  # "only" is what is denied
        ("Are hyperparameters chosen by people?", HYPER),
        ("Do RNNs use recurrence?", TRANSFORMER),  # the question's subject is not in the passage
        ("Does the Transformer work without recurrence?", TRANSFORMER),  # the question asks about the absence
        ("What does the Transformer dispense with?", TRANSFORMER),  # not a yes/no question
    ],
)
def test_no_privation_when_the_question_asks_about_something_else(question, passage):
    assert privation(question, hits(passage)) is None


def test_the_pipeline_answers_no_from_the_sentence_without_asking_the_model():
    library = FakeLibrary([("attention.pdf", 2, TRANSFORMER)])
    generator = FakeGenerator("Yes, the Transformer uses recurrence [1].")
    events = list(answer("Does the Transformer use recurrence?", library, generator))
    result = next(e for e in events if isinstance(e, Done)).answer
    assert generator.calls == [] and not result.abstained
    assert result.text.startswith("No — the passages say: “We propose a new simple network architecture")
    (citation,) = result.citations
    assert "dispensing with recurrence" in citation.chunk.text[citation.span_start : citation.span_end]
