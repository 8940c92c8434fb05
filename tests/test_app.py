"""The UI's logic without a browser: rendering and escaping, settings, chat turns, uploads and sessions."""

from __future__ import annotations

import argparse
import os
from pathlib import Path

import pytest

from rag.errors import ConfigError, ModelLoadError
from rag.generate.generator import Message
from rag.generate.pipeline import ABSTAIN_TEXT
from rag.generate.prompting import INSTRUCTIONS
from rag.types import Answer, Chunk, Citation, Hit, IngestProgress
from tests.browser import ROOT, make_engine
from tests.fakes import FakeGenerator
from ui.api import answer_json as api_answer_json
from ui.chat import ChatOptions, last_question, respond, to_turns
from ui.config import SAMPLE_DIR, AppSettings, parse_auth
from ui.render import (
    NOT_FOUND,
    answer_markdown,
    chat_markdown,
    documents_html,
    outcomes_html,
    sources_html,
    split_evidence,
)
from ui.sessions import SessionLibraries
from ui.uploads import Upload, check_limits, describe, fraction
from ui.views import SourceView, view_from_citation, views_from_answer

PAYLOAD = '<script>alert(1)</script><img src=x onerror="alert(2)">'
SAMPLE_PDF = SAMPLE_DIR / "agents-primer.pdf"


def chunk(text: str = "alpha beta gamma delta", start: int = 100, document: str = "a.pdf", page: int = 3) -> Chunk:
    return Chunk("c1", "d1", document, page, start, start + len(text), text)


# ---- rendering ---------------------------------------------------------------------------------------------
def test_sources_panel_escapes_text_and_names_and_marks_the_span():
    text = f"before {PAYLOAD} after"
    view = SourceView(1, "d1", f"{PAYLOAD}.pdf", 2, 0.5, text, ((7, 7 + len(PAYLOAD)),), True)
    html = sources_html([view])
    assert "<script>" not in html and "<img" not in html
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html
    assert html.count("<mark>") == 1
    assert "<mark>&lt;script&gt;" in html
    assert "page 2" in html and "score 0.500" in html


def test_sources_panel_puts_the_selected_source_first():
    views = [SourceView(n, "d", f"doc{n}.txt", 1, 0.1, f"text {n}") for n in (1, 2, 3)]
    html = sources_html(views, selected=3)
    assert html.index("doc3.txt") < html.index("doc1.txt") < html.index("doc2.txt")
    assert 'fn-selected" data-n="3"' in html


@pytest.mark.parametrize(
    "render",
    [
        lambda p: documents_html([_info(p)]),
        lambda p: outcomes_html([(p, "failed", p)]),
        lambda p: chat_markdown(p),
    ],
)
def test_every_renderer_escapes_html(render):
    out = render(PAYLOAD)
    assert "<script" not in out and "<img" not in out
    assert "&lt;img src=x onerror=" in out and "alert(2)" in out


def test_error_messages_are_escaped_for_the_page():
    from rag.errors import DocumentNotFoundError
    from ui.errors import user_error

    error = user_error(DocumentNotFoundError(f"no document named {PAYLOAD!r}"))
    assert "<script>" not in error.message and "&lt;script&gt;" in error.message


def test_chat_markdown_cannot_make_links_or_images():
    out = chat_markdown("see ![x](http://evil.example/a.png) and [here](http://evil.example)")
    assert "](" not in out


def test_chat_markdown_keeps_apostrophes_readable_and_tags_inert():
    out = chat_markdown("NVIDIA's revenue <b>grew</b> \"fast\"")
    assert "NVIDIA's" in out and "&#x27;" not in out and '"fast"' in out
    assert "<b>" not in out and "&lt;b&gt;" in out


def test_answer_markdown_flags_unsupported_sentences_and_abstentions():
    answer = Answer("q", "q", "Paris is big [1]. The moon is cheese.", (), (), unsupported=("The moon is cheese.",))
    out = answer_markdown(answer)
    assert "The moon is cheese. ⚠️" in out and "Paris is big [1]. ⚠️" not in out
    listed = Answer(
        "q",
        "q",
        "Steps: 1. Think hard [1]. 2. Act on the world now [2].",
        (),
        (),
        unsupported=("2.", "Act on the world now."),
    )
    assert answer_markdown(listed).startswith("Steps: 1. Think hard [1]. 2. Act on the world now [2]. ⚠️")
    abstained = Answer("q", "q", ABSTAIN_TEXT, (), (), abstained=True)
    shown = answer_markdown(abstained)
    assert shown.count(NOT_FOUND) == 1 and "closest passages" in shown  # one notice (there used to be two texts)
    assert api_answer_json(abstained)["answer"] == ABSTAIN_TEXT


def test_citation_span_becomes_offsets_into_the_passage():
    c = chunk("alpha beta gamma delta", start=100)
    view = view_from_citation(Citation(2, c, 0.9, 106, 116))  # "beta gamma" in page offsets
    assert view.marked == ("beta gamma",)
    assert (view.n, view.document, view.page, view.cited) == (2, "a.pdf", 3, True)
    clamped = view_from_citation(Citation(1, c, 0.9, 50, 5000))
    assert clamped.marked == (c.text,)


def test_every_claim_citing_a_passage_is_marked_once_in_order():
    c = chunk("alpha beta gamma delta epsilon", start=100)
    spans = ((106, 116), (100, 105), (111, 122), (200, 300))  # "beta gamma", "alpha", overlapping, past the end
    view = view_from_citation(Citation(1, c, 0.9, 106, 116, spans))
    assert view.marked == ("alpha", "beta gamma delta")  # merged where they overlap, the empty one dropped
    html = sources_html([view])
    assert html.count("<mark>") == 2
    assert "<mark>alpha</mark> <mark>beta gamma delta</mark> epsilon" in html


def test_views_from_answer_lists_cited_passages_first_then_the_rest():
    hits = tuple(Hit(chunk(f"text {i}", document=f"d{i}.txt"), 1.0 - i / 10) for i in range(1, 4))
    answer = Answer("q", "q", "x [2]", (Citation(2, hits[1].chunk, 0.8, 100, 104),), hits)
    views = views_from_answer(answer)
    assert [(v.n, v.cited) for v in views] == [(2, True), (1, False), (3, False)]


# ---- settings ----------------------------------------------------------------------------------------------
def test_app_settings_from_env():
    assert AppSettings.from_env({}).public is False
    spaces = AppSettings.from_env({"SPACE_ID": "me/footnote"})
    assert spaces.public is True and spaces.host == "0.0.0.0"
    env = {"FOOTNOTE_PORT": "9000", "FOOTNOTE_PUBLIC": "yes", "FOOTNOTE_AUTH": "ann:pw", "FOOTNOTE_SAMPLE_DIR": "none"}
    custom = AppSettings.from_env(env)
    assert (custom.port, custom.public, custom.auth, custom.sample_dir) == (9000, True, ("ann", "pw"), None)
    with pytest.raises(ConfigError, match="FOOTNOTE_PORT"):
        AppSettings.from_env({"FOOTNOTE_PORT": "many"})
    with pytest.raises(ConfigError, match="USER:PASSWORD"):
        parse_auth("nopassword")


def test_flags_override_the_environment(monkeypatch, tmp_path):
    import app

    monkeypatch.setenv("FOOTNOTE_PORT", "9000")
    args = app.parse_args(["--port", "9100", "--public", "--auth", "a:b", "--data-dir", str(tmp_path), "--no-sample"])
    settings, app_settings = app.configure(args)
    assert settings.data_dir == tmp_path
    assert (app_settings.port, app_settings.public, app_settings.auth, app_settings.sample_dir) == (
        9100,
        True,
        ("a", "b"),
        None,
    )
    assert app.configure(app.parse_args([]))[1].port == 9000
    assert isinstance(app.parse_args(["--local"]), argparse.Namespace)


def test_chat_options_become_engine_settings(tmp_path):
    engine = make_engine(tmp_path, sample_dir=None)
    options = ChatOptions("bm25", 3, True, True, "", 0.7, 128, "Answer in French.")
    settings = options.apply(engine.settings)
    assert (settings.retrieval, settings.top_k, settings.reranker, settings.expansion) == ("bm25", 3, "embed", "prf")
    assert (settings.temperature, settings.max_new_tokens, settings.system_prompt) == (0.7, 128, "Answer in French.")
    assert settings.generator == engine.settings.generator
    assert ChatOptions.defaults(engine.settings).apply(engine.settings) == engine.settings


# ---- chat turns --------------------------------------------------------------------------------------------
def test_sources_arrive_before_the_first_token_and_the_answer_cites_them(tmp_path):
    engine = make_engine(tmp_path)
    updates = list(respond(engine, "How does multi-head attention work?", [], None, ChatOptions(), "s"))
    first_with_sources = next(i for i, u in enumerate(updates) if u.views)
    first_quote = next(i for i, u in enumerate(updates) if "From your documents" in str(u.history[-1]["content"]))
    first_token = next(i for i, u in enumerate(updates) if u.text)
    assert first_with_sources < first_quote < first_token
    final = updates[-1]
    assert final.answer is not None and not final.answer.abstained
    assert final.answer.citations and final.answer.citations[0].document == "01-transformers.md"
    reply = final.history[-1]["content"]
    quotes, text = split_evidence(reply)
    assert quotes.startswith("**From your documents**") and "01-transformers.md, p. 1" in quotes
    assert "[1]" in text and "From your documents" not in to_turns(final.history)[-1].content
    trace = final.history[-2]
    assert trace["metadata"]["title"].startswith("What the model saw") and trace["metadata"]["status"] == "done"
    assert "Search query" in trace["content"]


def test_the_wait_for_the_first_word_is_counted_in_seconds(tmp_path):
    engine = make_engine(tmp_path, generator=FakeGenerator(heartbeats=2, heartbeat_s=0.6))
    updates = list(respond(engine, "How does multi-head attention work?", [], None, ChatOptions(), "s"))
    waiting = [u for u in updates if u.waited]
    assert len(waiting) == 2 and waiting[0].waited < waiting[1].waited and not waiting[0].text
    reply = str(waiting[1].history[-1]["content"])
    assert "From your documents" in reply and "reading the passages, 1 s" in reply
    assert updates[-1].answer is not None and not updates[-1].answer.abstained


def test_unrelated_question_abstains(tmp_path):
    engine = make_engine(tmp_path)
    final = list(respond(engine, "Which volcano erupted in Iceland?", [], None, ChatOptions(), "s"))[-1]
    assert final.answer.abstained
    assert NOT_FOUND in final.history[-1]["content"]


def test_a_no_the_passages_figures_give_is_shown_with_its_page(tmp_path):
    generator = FakeGenerator()
    engine = make_engine(tmp_path, generator=generator)
    question = "Was the ReAct prompting pattern published in 2023?"
    final = list(respond(engine, question, [], None, ChatOptions(), "s"))[-1]
    assert generator.calls == [] and not final.answer.abstained
    reply = str(final.history[-1]["content"])
    assert "No — the passages state 2022, not 2023: “" in reply and "From your documents" in reply
    (view,) = [v for v in final.views if v.cited]
    assert view.document == "agents-primer.pdf"


def test_a_company_the_documents_never_mention_is_refused_by_name(tmp_path):
    generator = FakeGenerator()
    engine = make_engine(tmp_path, generator=generator)
    question = "How does Microsoft use the ReAct prompting pattern in agents?"
    final = list(respond(engine, question, [], None, ChatOptions(), "s"))[-1]
    assert generator.calls == [] and final.answer.abstained
    assert "No passage mentions Microsoft." in str(final.history[-1]["content"])


def _ask_through_handlers(handlers, question: str):
    from types import SimpleNamespace

    o = ChatOptions()
    return handlers.ask(question, [], None, o.retrieval, o.top_k, o.rerank, o.expand, o.generator, o.temperature,
                        o.max_new_tokens, o.system_prompt, SimpleNamespace(session_hash="s"))  # fmt: skip


def test_stop_ends_the_answer_from_our_side_and_closes_the_models_stream(tmp_path):
    from types import SimpleNamespace

    from ui.handlers import Handlers

    generator = FakeGenerator()
    handlers = Handlers(make_engine(tmp_path, generator=generator))
    request = SimpleNamespace(session_hash="s")
    handlers.stop(request)  # pressed while nothing runs: must not stop the next answer
    stream = _ask_through_handlers(handlers, "How does multi-head attention work?")
    outputs = []
    for output in stream:
        outputs.append(output)
        if "[1]" not in str(output[1][-1]["content"]) and len(output[1]) == 3 and generator.calls:
            handlers.stop(request)  # the model has started: Stop now
    history, panel = outputs[-1][1], outputs[-1][2]
    assert generator.stopped_early == 1 and "[1]" not in str(history[-1]["content"])  # ended before its last word
    assert history[1]["metadata"]["status"] == "done" and "Stopped before the end" in panel
    assert handlers.conversations.store("s").listing() == []  # an unfinished answer is not saved
    final = list(_ask_through_handlers(handlers, "How does multi-head attention work?"))[-1]
    assert "[1]" in str(final[1][-1]["content"]) and generator.stopped_early == 1  # the next answer runs whole


def test_follow_up_passes_the_conversation_to_the_generator(tmp_path):
    generator = FakeGenerator()
    engine = make_engine(tmp_path, generator=generator)
    first = list(respond(engine, "What is LoRA low-rank adaptation?", [], None, ChatOptions(), "s"))[-1]
    list(respond(engine, "Which projections is it applied to?", first.history, None, ChatOptions(), "s"))
    sent = generator.calls[-1].messages
    assert any(m.role == "user" and "LoRA" in m.content for m in sent[1:-1])


def test_restricting_to_documents_limits_the_sources(tmp_path):
    engine = make_engine(tmp_path)
    doc = next(d for d in engine.library("s").documents() if d.name == "agents-primer.pdf")
    final = list(respond(engine, "What is attention?", [], [doc.doc_id], ChatOptions(), "s"))[-1]
    assert final.views and {v.document for v in final.views} == {"agents-primer.pdf"}


def test_history_conversion_handles_gradio6_parts_and_skips_traces():
    history = [
        {"role": "user", "content": [{"type": "text", "text": "What is RAG?"}]},
        {"role": "assistant", "content": "trace", "metadata": {"title": "What the model saw"}},
        {
            "role": "assistant",
            "content": [{"type": "text", "text": "It retrieves &amp; generates [1]."}],
            "metadata": None,
        },
    ]
    assert to_turns(history) == [Message("user", "What is RAG?"), Message("assistant", "It retrieves & generates [1].")]
    before, question = last_question(history, 2)
    assert (before, question) == ([], "What is RAG?")


# ---- uploads -----------------------------------------------------------------------------------------------
def test_progress_descriptions_and_fractions():
    p = IngestProgress("a.pdf", "embedding", 1, 2, 26, 52)
    assert describe(p) == "embedding 26/52 passages"
    assert fraction(p) == pytest.approx((1 + 0.35 + 0.55 * 0.5) / 2)
    assert fraction(IngestProgress("a.pdf", "done", 1, 2, 1, 1)) == 1.0
    scan = IngestProgress("scan.pdf", "ocr", 0, 1, 3, 5)  # a scanned PDF's pages, read one by one
    assert describe(scan) == "reading scanned pages by OCR: 3/5"
    assert fraction(scan) == pytest.approx(0.25 * 3 / 5)


def test_public_mode_limits_size_and_count(tmp_path):
    small, big = tmp_path / "small.txt", tmp_path / "big.txt"
    small.write_text("hello")
    big.write_bytes(b"x" * 3_000_000)
    app = AppSettings(public=True, max_upload_mb=2, max_session_files=3)
    uploads = [Upload(big, "big.txt"), Upload(small, "one.txt"), Upload(small, "two.txt")]
    accepted, refused = check_limits(uploads, held=2, app=app)
    assert [u.name for u in accepted] == ["one.txt"]
    assert [r[0] for r in refused] == ["big.txt", "two.txt"]
    assert "2 MB" in refused[0][2] and "at most 3 documents" in refused[1][2]
    assert check_limits(uploads, held=99, app=app.replace(public=False))[0] == uploads


# ---- libraries and sessions --------------------------------------------------------------------------------
def test_local_mode_loads_the_sample_once(tmp_path):
    engine = make_engine(tmp_path)
    names = {d.name for d in engine.library("x").documents()}
    assert names == {p.name for p in SAMPLE_DIR.iterdir()}
    engine.library("x").delete("agents-primer.pdf")
    engine.close()
    again = make_engine(tmp_path)  # not empty: the sample is not put back
    assert "agents-primer.pdf" not in {d.name for d in again.library("y").documents()}
    again.close()


def test_public_sessions_are_private_and_removed(tmp_path):
    engine = make_engine(tmp_path, public=True)
    pool = engine.wait()
    assert isinstance(pool, SessionLibraries)
    note = tmp_path / "mine.txt"
    note.write_text("Only session A may see this sentence about zebras.")
    engine.library("A").ingest([note])
    assert "mine.txt" in {d.name for d in engine.library("A").documents()}
    assert "mine.txt" not in {d.name for d in engine.library("B").documents()}
    assert "agents-primer.pdf" in {d.name for d in engine.library("B").documents()}
    folders = {p.name for p in pool.root.iterdir()}
    engine.release("A")
    assert len({p.name for p in pool.root.iterdir()}) == len(folders) - 1
    pool.ttl_s = 0.0
    assert len(pool.sweep()) == 1 and pool.sessions() == []
    root = pool.root
    engine.close()
    assert not root.exists()


def test_start_up_errors_reach_the_handlers(tmp_path):
    from tests.fakes import FakeEmbedder
    from ui.engine import Engine

    engine = Engine(make_settings(tmp_path), AppSettings(sample_dir=None), embedder=FakeEmbedder(dim=8))
    engine.pool = None

    def broken() -> None:
        raise ModelLoadError("the model file is missing; reinstall it")

    engine._make_pool = broken  # type: ignore[method-assign]
    engine.start(background=False)
    assert "model file is missing" in engine.status
    with pytest.raises(ModelLoadError, match="missing"):
        engine.library("s")


def test_a_model_re_ranker_is_loaded_at_start_not_on_the_first_search(tmp_path, monkeypatch):
    from tests.fakes import FakeEmbedder
    from ui import engine as engine_module

    loaded: list[str] = []
    monkeypatch.setattr(engine_module, "load_reranker", lambda settings: loaded.append(settings.reranker))
    for reranker in ("embed", "all-mpnet-base-v2"):
        settings = make_settings(tmp_path).replace(reranker=reranker)
        engine = engine_module.Engine(settings, AppSettings(sample_dir=None), embedder=FakeEmbedder(dim=8),
                                      warm_generator=False)
        engine.start(background=False)
        engine.close()
    assert loaded == ["all-mpnet-base-v2"]  # "embed" needs no model


def make_settings(tmp_path: Path):
    from rag.config import Settings

    return Settings(data_dir=tmp_path / "data", threads=1)


def _info(name: str):
    from rag.types import DocumentInfo

    return DocumentInfo("id", name, "txt", 1, 2, 0.0)


def test_a_busy_session_library_is_neither_swept_nor_released_until_its_call_ends(tmp_path):
    import threading
    import time

    from tests.fakes import FakeEmbedder

    class Gated(FakeEmbedder):
        def __init__(self) -> None:
            super().__init__(dim=16)
            self.inside, self.gate = threading.Event(), threading.Event()

        def encode(self, texts, on_batch=None):
            if any("GATE" in t for t in texts):
                self.inside.set()
                assert self.gate.wait(30)
            return super().encode(texts, on_batch)

    embedder = Gated()
    engine = make_engine(tmp_path, public=True, sample_dir=None, embedder=embedder, session_ttl_s=0.3)
    pool = engine.wait()
    note = tmp_path / "long.txt"
    note.write_text("GATE a long upload about capybaras.")
    result: list = []
    worker = threading.Thread(target=lambda: result.extend(engine.library("busy").ingest([note])))
    worker.start()
    assert embedder.inside.wait(30)
    time.sleep(0.5)  # longer than the time-to-live
    assert pool.sweep() == [] and pool.sessions() != []
    engine.release("busy")  # the tab closed mid-upload: removal waits for the upload
    assert pool.sessions() != []
    embedder.gate.set()
    worker.join(30)
    assert result[0].status == "indexed"
    assert pool.sessions() == []
    engine.close()


def test_the_sessions_temperature_and_length_reach_the_generator(tmp_path):
    """The Settings accordion's temperature used to stop at the pipeline (the generator kept its own)."""
    generator = FakeGenerator()
    engine = make_engine(tmp_path, generator=generator)
    options = ChatOptions(temperature=0.7, max_new_tokens=96, system_prompt="Answer in French.")
    list(respond(engine, "How does multi-head attention work?", [], None, options, "s"))
    call = generator.calls[-1]
    assert (call.temperature, call.max_tokens) == (0.7, 96)
    system, question = call.messages[0].content, call.messages[-1].content
    assert system.startswith(INSTRUCTIONS) and "Answer in French." in system  # added to the rules, not instead
    assert "(Answer in French. Only from passages" in question  # and said again beside the question
    list(respond(engine, "How does multi-head attention work?", [], None, ChatOptions(temperature=0.0), "s"))
    assert generator.calls[-1].temperature == 0.0  # one shared generator, each session's own temperature


def test_removing_with_nothing_picked_is_a_message_not_a_traceback(tmp_path):
    import gradio as gr

    from ui.handlers import Handlers

    with pytest.raises(gr.Error, match="Pick a document to remove first") as caught:
        Handlers(make_engine(tmp_path, sample_dir=None)).remove(None, [], None)
    assert caught.value.print_exception is False


@pytest.mark.slow
def test_the_terminal_says_what_the_app_is_doing_in_our_words(tmp_path):
    """`python app.py` prints each start-up step and where to open the page, never Gradio's `share=True` hint."""
    import subprocess
    import sys

    from tests.browser import free_port

    env = {**os.environ, "RAG_GENERATOR": "smollm2-135m", "RAG_DATA_DIR": str(tmp_path / "data")}
    args = [sys.executable, "app.py", "--no-sample", "--port", str(free_port())]
    proc = subprocess.Popen(args, cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    lines: list[str] = []
    try:
        for line in proc.stdout:  # the two lines come in either order: the page is served while models load
            lines.append(line.rstrip())
            if any("Footnote: open http" in x for x in lines) and "Footnote: Ready" in lines:
                break
    finally:
        proc.terminate()
        output = "\n".join(lines) + proc.communicate(timeout=60)[0]
    assert "Footnote: Loading the embedding model…" in output and "Footnote: Ready" in output, output
    assert "share=True" not in output and "Traceback" not in output, output


def test_freed_heap_is_given_back_after_work():
    """glibc's malloc_trim where there is one (this machine's Linux); a no-op elsewhere, never an error."""
    import ctypes.util

    from ui.memory import release_freed_memory

    big = [bytearray(1 << 16) for _ in range(2000)]  # 128 MB in small blocks that stay in the heap once freed
    del big
    released = release_freed_memory()
    assert isinstance(released, bool)
    if ctypes.util.find_library("c") and "glibc" in " ".join(__import__("platform").libc_ver()):
        assert released


def test_what_the_model_saw_says_how_the_passages_were_found(tmp_path):
    engine = make_engine(tmp_path)
    options = ChatOptions.defaults(engine.settings)  # the page's own defaults: re-ranking on
    final = list(respond(engine, "How does multi-head attention work?", [], None, options, "s"))[-1]
    trace = next(m for m in final.history if (m.get("metadata") or {}).get("title"))["content"]
    assert "**Found by:** dense \\+ keyword \\(BM25\\) search" in trace  # escaped for Markdown
    assert "BM25 weight 0.50" in trace and "re-ranked" in trace
