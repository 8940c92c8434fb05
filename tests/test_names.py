"""A question about a name its passages' documents never mention is refused before the model is asked.

The SEC case: "What was Microsoft's gross margin?" asked of a library without Microsoft's filings found Intel's
passages, and the model answered with Intel's figures without naming a company (session 11: 8 of 30 answered).
"""

from __future__ import annotations

import pytest

from rag.config import Settings
from rag.entities import Name, mentions_loosely, name_phrases, names
from rag.generate.gate import unmentioned_names
from rag.generate.pipeline import Done, Quoted, answer
from rag.generate.prompting import NOT_FOUND
from rag.types import Chunk, Hit
from tests.fakes import FakeGenerator, FakeLibrary

INTEL = [
    ("2023 Q1 INTC.pdf", 31, "Gross margin was 34.2% of revenue in the quarter, down from 50.4% a year earlier."),
    ("2023 Q1 INTC.pdf", 32, "Gross margin fell on lower revenue and higher unit costs in the quarter."),
]


def hits(*texts: str, document: str = "d.pdf", context: str = "") -> list[Hit]:
    return [
        Hit(Chunk(f"c{i}", document, document, 1, 0, len(t), t, ordinal=i, context=context), 1.0, "hybrid")
        for i, t in enumerate(texts)
    ]


def test_a_sentence_start_is_not_a_name_but_a_capitalised_run_is_one():
    question = "How does Solana scale? Provide examples. Compare the TPS (Transactions Per Second) of Proof of Stake."
    assert names(question) == {"Solana", "TPS", "Transactions", "Per", "Second", "Proof", "Stake"}  # not "Provide"
    assert name_phrases(question) == [
        Name("Solana", ("Solana",)),
        Name("TPS", ("TPS",)),
        Name("Transactions Per Second", ("Transactions", "Per", "Second")),
        Name("Proof of Stake", ("Proof", "Stake")),
    ]
    assert [n.written for n in name_phrases("Microsoft's Bank of the West, Bitcoin and Ethereum")] == [
        "Microsoft", "Bank of the West", "Bitcoin", "Ethereum"
    ]  # fmt: skip
    assert names("Apple's revenue? Revenue of Apple") == {"Apple"}  # a possessive may start the question


@pytest.mark.parametrize(
    ("text", "name", "found"),
    [
        ("NVIDIA CORPORATION Form 10-Q", "Nvidia", True),  # how a person types it
        ("demand for our GPUs rose", "GPU", True),  # plural
        ("an RT PCR assay", "RT-PCR", True),  # hyphen or space
        ("large language models decode one token at a time", "LLM", True),  # spelled out
        ("Influenza like illness", "Influenze", True),  # one letter wrong, from six letters
        ("who knows", "WHO", False),  # a short acronym keeps its case
        ("Microsoftian", "Microsoft", False),  # whole words only
        ("Intel's gross margin", "Apple", False),
    ],
)
def test_a_name_is_matched_the_way_people_write_it(text, name, found):
    assert mentions_loosely(text, name) is found


def test_the_names_no_passage_mentions_are_returned_once():
    question = "In California, where are cases reported under the California Code of Regulations?"
    assert unmentioned_names(question, hits("Cases are reported to the county health officer.")) == (
        "California Code of Regulations",
    )
    assert unmentioned_names("What was Apple's gross margin?", hits(INTEL[0][2], document="2023 Q1 INTC.pdf")) == (
        "Apple",
    )
    # the file name and the context header count as what a passage states
    assert unmentioned_names("What was Intel's gross margin?", hits(INTEL[0][2], document="intel-10q.pdf")) == ()
    assert unmentioned_names("Intel's margin?", hits("Margin was 34.2%.", context="INTEL CORPORATION Form 10-Q")) == ()
    # names with digits are left to the confidence score: a filing writes "first quarter" for "Q1"
    assert unmentioned_names("What was the margin in Q1 of the 10-Q?", hits(INTEL[0][2])) == ()


def test_the_passages_pages_are_read_before_refusing():
    passages = hits("A language model decodes one token at a time, limited by memory bandwidth.")
    question = "Is LLM decoding limited by compute?"
    assert unmentioned_names(question, passages) == ("LLM",)
    read: list[tuple[str, int]] = []

    def page_text(doc_id: str, page: int) -> str:
        read.append((doc_id, page))
        return "LLMs are large. " + passages[0].chunk.text

    assert unmentioned_names(question, passages, page_text) == ()
    assert read == [("d.pdf", 1)]  # each page once, and only when the passages lack a name


def test_a_name_elsewhere_in_the_document_is_not_on_the_passages_pages():
    margin = [
        ("intc.pdf", 31, "Gross margin was 34.2% of revenue in the quarter."),
        ("intc.pdf", 58, "In November 2019, Intel, along with Apple Inc., filed a complaint against Fortress."),
    ]
    generator = FakeGenerator("Gross margin was 34.2% of revenue in the quarter [1].")
    library = FakeLibrary(margin, settings=Settings(top_k=1))
    result = list(answer("What was Apple's gross margin in the quarter?", library, generator))[-1].answer
    assert generator.calls == [] and result.abstained and "No passage mentions Apple." in result.text


def test_the_pipeline_refuses_a_company_no_document_mentions_without_asking_the_model():
    generator = FakeGenerator("Gross margin was 34.2% of revenue [1].")
    events = list(answer("What was Apple's gross margin in the quarter?", FakeLibrary(INTEL), generator))
    result = events[-1].answer
    assert isinstance(events[-1], Done) and not any(isinstance(e, Quoted) for e in events)
    assert generator.calls == []
    assert result.abstained and result.citations == ()
    assert result.text == f"{NOT_FOUND} No passage mentions Apple. The closest passages are listed as sources."
    assert [h.chunk.document for h in result.sources] == ["2023 Q1 INTC.pdf", "2023 Q1 INTC.pdf"]
    assert result.evidence and result.evidence[0].chunk.page in (31, 32)  # the closest sentences, for the panel


def test_the_model_answers_when_the_company_is_named():
    generator = FakeGenerator("Gross margin was 34.2% of revenue in the quarter [1].")
    library = FakeLibrary([(d, p, "Intel: " + t) for d, p, t in INTEL])
    result = list(answer("What was Intel's gross margin in the quarter?", library, generator))[-1].answer
    assert len(generator.calls) == 1 and not result.abstained and "34.2%" in result.text


def test_dates_and_an_acronym_in_another_case_are_not_missing_names():
    passages = hits("As of 10 February 2020 there were 42,708 cases; bat SL-CoV and civet CoV share 99% identity.")
    assert unmentioned_names("How many cases were there as of Feb. 10?", passages) == ()
    assert unmentioned_names("What do bat and civet COV share?", passages) == ()
    assert unmentioned_names("What did the WHO say?", hits("Who said it is unclear.")) == ("WHO",)


FILINGS = [
    ("intel-q3.pdf", 10, "Revenue for the quarter was $14.2 billion, up 8% on the prior quarter's revenue."),
    ("intel-q3.pdf", 11, "Quarter revenue was up for the client computing group in the quarter."),
    ("intel-q3.pdf", 12, "Apple is one of our customers."),
    ("apple-q3.pdf", 5, "Apple revenue in the period was $81.8 billion."),
]


def test_a_document_titled_with_the_name_is_searched_when_the_passages_found_miss_it():
    generator = FakeGenerator("Apple revenue in the period was $81.8 billion [1].")
    library = FakeLibrary(FILINGS, settings=Settings(top_k=2))
    result = list(answer("What was Apple's revenue for the quarter?", library, generator))[-1].answer
    assert library.searches[0][2] is None and library.searches[-1][2] == ["apple-q3.pdf"]
    assert [h.chunk.document for h in result.sources] == ["apple-q3.pdf"]
    assert not result.abstained and "$81.8 billion" in result.text


def test_a_document_that_only_mentions_the_name_is_not_searched_as_its_document():
    library = FakeLibrary(FILINGS[:3], settings=Settings(top_k=2))
    list(answer("What was Apple's revenue for the quarter?", library, FakeGenerator("Revenue rose [1].")))
    assert all(documents is None for _, _, documents in library.searches)  # Intel's filing names Apple, is not Apple's


def test_passages_of_documents_that_do_not_name_the_company_are_left_out_when_others_do():
    from rag.generate.named import toward_named

    library = FakeLibrary(FILINGS, settings=Settings(top_k=3))
    found = library.search("What was Apple's revenue for the quarter?", k=3)
    assert {h.chunk.document for h in found} == {"intel-q3.pdf", "apple-q3.pdf"}
    focused = toward_named("What was Apple's revenue for the quarter?", "revenue", found, library, 3)
    assert [h.chunk.document for h in focused] == ["apple-q3.pdf"]
    # a question that names nothing, or whose names no passage has, keeps what retrieval found
    assert toward_named("What was revenue for the quarter?", "revenue", found, library, 3) == tuple(found)


def test_the_documents_naming_the_most_of_what_the_question_names_are_kept():
    from rag.generate.named import toward_named

    segments = [
        ("msft-q3.pdf", 4, "Revenue from Services and other grew 15% in the quarter."),
        ("apple-q3.pdf", 9, "Apple Services revenue in the quarter was $21.2 billion."),
        ("apple-q3.pdf", 10, "Services revenue rose on advertising and cloud services."),
    ]
    library = FakeLibrary(segments, settings=Settings(top_k=3))
    question = "What revenue did Apple's Services segment bring in the quarter?"
    found = library.search(question, k=3)
    assert {h.chunk.document for h in found} == {"msft-q3.pdf", "apple-q3.pdf"}
    focused = toward_named(question, question, found, library, 3)
    assert {h.chunk.document for h in focused} == {"apple-q3.pdf"}  # Microsoft's names "Services" only
