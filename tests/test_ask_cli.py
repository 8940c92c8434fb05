"""`python -m rag ask`: JSON and streaming output with fakes, then end to end with the default Qwen model."""

from __future__ import annotations

import json

import pytest
from fakes import FakeGenerator, FakeLibrary, registered_fake

from rag.cli import ask as ask_command
from rag.cli.main import main
from rag.config import Settings
from rag.generate.pipeline import Done, answer

SOLANA_PDF = "eval/blockchain_solana/source_files/BlockchainSolana.pdf"


@pytest.fixture
def fake_stack(monkeypatch):
    """Route `ask` to the fake library (no embedder loads) and the fake generator, named as a user names a model."""
    library = FakeLibrary()
    generator = FakeGenerator("Solana orders transactions with Proof of History [1]. Cats purr [3].")
    monkeypatch.setattr(ask_command, "open_library", lambda settings: library)
    monkeypatch.setenv("RAG_GENERATOR", "fake")
    with registered_fake(generator):
        yield library, generator


def test_ask_json_has_the_contract_fields(fake_stack, capsys, tmp_path):
    code = main(["ask", "How does Solana order transactions?", "--json", "--k", "2", "--data-dir", str(tmp_path)])
    assert code == 0
    out = json.loads(capsys.readouterr().out)
    assert out["abstained"] is False
    assert out["answer"] == "Solana orders transactions with Proof of History [1]. Cats purr."
    assert out["query"] == "How does Solana order transactions?"
    (citation,) = out["citations"]
    assert {k: citation[k] for k in ("n", "document", "page")} == {"n": 1, "document": "sol.pdf", "page": 4}
    assert citation["text"].startswith("Solana orders transactions") and 0 < citation["score"] <= 1
    assert [span["text"] for span in citation["spans"]] == [citation["text"]]  # one claim cites it
    assert out["unsupported"] == ["Cats purr."]
    assert {"retrieve", "evidence", "first_token", "total"} <= set(out["timings"])
    assert fake_stack[0].searches[0][1] == 2  # --k reached the library
    best = out["evidence"][0]
    assert {k: best[k] for k in ("n", "document", "page")} == {"n": 1, "document": "sol.pdf", "page": 4}
    assert best["text"] == "Solana orders transactions with Proof of History, a verifiable clock."


def test_ask_streams_tokens_then_lists_sources(fake_stack, capsys, tmp_path):
    assert main(["ask", "How does Solana order transactions?", "--data-dir", str(tmp_path)]) == 0
    out = capsys.readouterr().out
    assert out.startswith('From your documents:\n  [1] sol.pdf, page 4: "Solana orders transactions with Proof of')
    assert "\nAnswer:\nSolana orders transactions with Proof of History [1]. Cats purr [3]." in out
    # "[3]" names no passage listed below: the checked text follows the stream, then the sources it numbers
    checked = "\nChecked against the passages:\nSolana orders transactions with Proof of History [1]. Cats purr.\n"
    assert checked in out and out.index(checked) < out.index("Sources:\n  [1] sol.pdf, page 4:")
    assert 'not supported by the passages: "Cats purr."' in out


def test_ask_prints_no_checked_text_when_the_check_changed_nothing(monkeypatch, capsys, tmp_path):
    passages = [("sol.pdf", 4, "Solana orders transactions with Proof of History, a verifiable clock.")]
    reply = "Solana orders transactions with Proof of History [1]."
    out, _, _ = _ask_text_and_json(monkeypatch, capsys, tmp_path, passages, reply, "How does Solana order them?")
    assert f"\nAnswer:\n{reply}" in out and "Checked against the passages" not in out  # the check kept it whole


def test_ask_lists_every_sentence_the_answer_cites_from_a_passage(monkeypatch, capsys, tmp_path):
    passages = [("sol.pdf", 4, "Solana orders transactions with Proof of History. Validators vote on the blocks.")]
    reply = "Solana orders transactions with Proof of History [1]. Validators vote on the blocks [1]."
    out, data, _ = _ask_text_and_json(monkeypatch, capsys, tmp_path, passages, reply, "How does Solana order transactions, and do validators vote on the blocks?")
    assert 'Sources:\n  [1] sol.pdf, page 4: "Solana orders transactions with Proof of History. … Validators vote' in out


def test_ask_markdown_prints_real_footnotes(fake_stack, capsys, tmp_path):
    assert main(["ask", "How does Solana order transactions?", "--markdown", "--data-dir", str(tmp_path)]) == 0
    out = capsys.readouterr().out
    assert out.startswith("## How does Solana order transactions?\n\nSolana orders transactions with Proof of History[^1].")
    assert '\n[^1]: sol.pdf, page 4: "Solana orders transactions with Proof of History' in out
    assert "> ⚠ Not supported by the cited passages: Cats purr." in out and "From your documents" not in out


def _ask_text_and_json(monkeypatch, capsys, tmp_path, passages, reply: str, question: str):
    """`ask QUESTION` and `ask QUESTION --json` over a FakeLibrary of `passages`; returns (text, json, generator)."""
    library, generator = FakeLibrary(passages), FakeGenerator(reply)
    monkeypatch.setattr(ask_command, "open_library", lambda settings: library)
    monkeypatch.setenv("RAG_GENERATOR", "fake")
    with registered_fake(generator):
        assert main(["ask", question, "--data-dir", str(tmp_path)]) == 0
        out = capsys.readouterr().out
        assert main(["ask", question, "--json", "--data-dir", str(tmp_path)]) == 0
        data = json.loads(capsys.readouterr().out)
    return out, data, generator


def test_ask_prints_a_no_the_passages_figures_give_without_the_model(monkeypatch, capsys, tmp_path):
    passages = [("sol.pdf", 18, "In the Solana system there are two kinds of nodes: Leader and Verifier.")]
    question = "Are there three kinds of nodes in the Solana system?"
    out, data, generator = _ask_text_and_json(monkeypatch, capsys, tmp_path, passages, "Yes [1].", question)
    assert generator.calls == []
    assert "\nAnswer:\nNo — the passages state two, not three: “In the Solana system there are two kinds of nodes" in out
    assert 'Sources:\n  [1] sol.pdf, page 18: "In the Solana system there are two kinds of nodes' in out
    assert data["answer"].startswith("No — the passages state two, not three") and not data["abstained"]
    assert [c["page"] for c in data["citations"]] == [18]


def test_ask_refuses_a_company_no_document_mentions_and_says_which(monkeypatch, capsys, tmp_path):
    passages = [("2023 Q1 INTC.pdf", 31, "Gross margin was 34.2% of revenue in the quarter.")]
    question = "What was Apple's gross margin in the quarter?"
    out, data, generator = _ask_text_and_json(monkeypatch, capsys, tmp_path, passages, "Gross margin was 34.2% [1].",
                                              question)  # fmt: skip
    assert generator.calls == []
    assert "No passage mentions Apple. The closest passages are listed as sources." in out
    assert "2023 Q1 INTC.pdf, page 31" in out
    assert data["abstained"] and "No passage mentions Apple." in data["answer"] and data["citations"] == []


def test_ask_without_question_is_a_usage_error(capsys):
    with pytest.raises(SystemExit) as info:
        main(["ask"])
    assert info.value.code == 2


def test_ask_empty_question_exits_1_with_a_message(fake_stack, capsys, tmp_path):
    assert main(["ask", "  ", "--data-dir", str(tmp_path)]) == 1
    assert "question is empty" in capsys.readouterr().err


# ---- end to end with the real embedder, the real library and the default Qwen model ------------------------


@pytest.fixture(scope="module")
def solana(shared_dir, tmp_path_factory, real_embedder):
    """The Solana survey ingested once into a temp data dir; yields (settings, library)."""
    from rag.library import Library

    # Greedy: at the default temperature (0.1) one run in a few refused "two types of membership in Corda".
    settings = Settings(
        data_dir=tmp_path_factory.mktemp("solana"), threads=1, max_new_tokens=80, prompt_budget=500, temperature=0.0
    )
    library = Library.open(settings, real_embedder)
    (outcome,) = library.ingest([shared_dir / SOLANA_PDF])
    assert outcome.ok, outcome.message
    yield settings, library
    library.close()


def ask(question, solana, history=()):
    from rag.generate.registry import load_generator

    settings, library = solana
    events = list(answer(question, library, load_generator(settings), history=history, settings=settings))
    assert isinstance(events[-1], Done)
    return events[-1].answer


@pytest.mark.slow
def test_e2e_answer_cites_the_right_page(solana):
    result = ask("What are the two types of membership in Corda?", solana)
    assert not result.abstained, result.text
    assert "notary" in result.text.lower()
    assert any(c.document == "BlockchainSolana.pdf" and c.page in (16, 17) for c in result.citations)
    assert result.timings["first_token"] < result.timings["total"]


@pytest.mark.slow
def test_e2e_unanswerable_question_abstains_and_still_shows_sources(solana):
    result = ask("What is the incubation period of the novel coronavirus in humans?", solana)
    assert result.abstained and "could not find" in result.text
    assert result.sources and not result.citations


@pytest.mark.slow
def test_e2e_followup_is_rewritten_and_answered(solana):
    first = ask("What are the two types of membership in Corda?", solana)
    followup = ask("What does the notary do in it?", solana, history=[first])
    assert "corda" in followup.query.lower() and followup.query != followup.question
    assert not followup.abstained, followup.text
    assert any(c.page in (16, 17) for c in followup.citations)


@pytest.mark.slow
def test_e2e_cli_json(solana, capsys, monkeypatch):
    settings, _ = solana
    monkeypatch.setattr(ask_command, "settings_for", lambda args: settings)
    assert main(["ask", "What are the two types of membership in Corda?", "--json"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert out["abstained"] is False and out["citations"] and out["timings"]["first_token"] > 0


def test_ask_shows_a_looping_reply_once_and_answers_json_without_the_repeat(monkeypatch, capsys, tmp_path):
    said = "Solana orders transactions with Proof of History [1]."
    library, generator = FakeLibrary(), FakeGenerator(" ".join([said] * 20), " ".join([said] * 20))
    monkeypatch.setattr(ask_command, "open_library", lambda settings: library)
    monkeypatch.setenv("RAG_GENERATOR", "fake")
    question = "How does Solana order transactions?"
    with registered_fake(generator):
        assert main(["ask", question, "--data-dir", str(tmp_path)]) == 0
        out = capsys.readouterr().out
        assert main(["ask", question, "--json", "--data-dir", str(tmp_path)]) == 0
        data = json.loads(capsys.readouterr().out)
    # the terminal cannot take back the streamed repeat: the checked answer follows it, said once
    assert f"\nChecked against the passages:\n{said}\n" in out and out.count(said) == 3  # 2 streamed, 1 checked
    assert data["answer"] == said and data["timings"]["repeat_stopped"] == 1.0 and generator.stopped_early == 2
