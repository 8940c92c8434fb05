"""A person's answer instructions reach the real default model and are followed (slow set), while the answer
stays grounded: language, length, a bullet list, a formal opening, quoting the document."""

from __future__ import annotations

import re

import pytest

from rag.config import Settings
from rag.generate.pipeline import answer
from rag.library import Library
from rag.text import sentence_spans, strip_markers
from ui.config import SAMPLE_DIR

QUESTION = "How does LoRA reduce the number of trained parameters?"
FRENCH = {"le", "la", "les", "des", "est", "une", "un", "et", "du", "en", "de", "qui", "pour", "avec"}


@pytest.fixture(scope="module")
def sample(tmp_path_factory, real_embedder):
    # A small prompt budget keeps the five real answers to ~8 s each; the instructions are what is tested.
    settings = Settings(
        data_dir=tmp_path_factory.mktemp("instructions"), max_new_tokens=120, temperature=0.0, prompt_budget=300
    )
    library = Library.open(settings, real_embedder)
    assert all(o.ok for o in library.ingest(sorted(SAMPLE_DIR.iterdir())))
    from rag.generate.registry import load_generator

    yield settings, library, load_generator(settings)
    library.close()


def ask(sample, instructions: str):
    settings, library, generator = sample
    settings = settings.replace(system_prompt=instructions)
    result = list(answer(QUESTION, library, generator, settings=settings))[-1].answer
    # The raw reply, before the checks: the instruction is about what the model writes.
    return result, strip_markers(result.text)


def _words(text: str) -> list[str]:
    return re.findall(r"[a-zà-ÿ]+", text.lower())


# Measured limits of the default qwen2.5-1.5b (session 6): with English passages it answers in English whatever the
# instruction says (tried in the rules, before the question, after it, and at the end of the system message), and
# it copies the passage's words without quotation marks. strict: the day a model or prompt fixes it, this says so.
@pytest.mark.slow
@pytest.mark.xfail(strict=True, reason="the default 1.5B model answers English passages in English")
def test_answer_in_french(sample):
    result, text = ask(sample, "Answer in French.")
    words = _words(text)
    assert sum(w in FRENCH for w in words) >= 3 and words.count("the") <= 1, result.text


@pytest.mark.slow
def test_answer_in_one_sentence(sample):
    result, text = ask(sample, "Answer in exactly one short sentence.")
    assert not result.abstained and len(sentence_spans(text)) == 1, result.text


@pytest.mark.slow
def test_answer_as_a_bullet_list(sample):
    result, _ = ask(sample, "Answer as a bullet list of two or three points, each line starting with '- '.")
    bullets = [line for line in result.text.splitlines() if re.match(r"\s*[-*•]\s+\S", line)]
    assert len(bullets) >= 2, result.text


@pytest.mark.slow
def test_a_formal_opening(sample):
    result, text = ask(sample, "Write formally and begin your answer with the words 'Dear colleague,'.")
    assert text.lower().startswith("dear colleague"), result.text


@pytest.mark.slow
@pytest.mark.xfail(strict=True, reason="the default 1.5B model copies the words but adds no quotation marks")
def test_quote_the_document(sample):
    result, text = ask(sample, "Quote the exact words of the passage you use, inside double quotes.")
    quotes = re.findall(r'["“]([^"”]{15,})["”]', text)
    passages = " ".join(" ".join(h.chunk.text.split()) for h in result.sources)
    assert any(" ".join(q.split()).rstrip(".,") in passages for q in quotes), result.text
