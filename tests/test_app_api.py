"""Every named API endpoint through `gradio_client`, against the served app on fake models."""

from __future__ import annotations

import threading
import time

import pytest
from gradio_client import Client, handle_file
from gradio_client.exceptions import AuthenticationError

from tests.browser import make_engine, serve
from tests.fakes import FakeEmbedder, FakeGenerator

BROKEN_PDF = b"%PDF-1.4\n1 0 obj << /Type /Catalog /Pages 2 0 R >> endobj\ntrailer << /Root 1 0 R >>\n%%EOF garbage"


@pytest.fixture(scope="module")
def local_app(tmp_path_factory):
    """One served app for the local-mode tests (starting one costs ~3 s); each test cleans up what it adds."""
    generator = FakeGenerator(heartbeats=1)  # one "still reading the prompt" beat before each reply
    with serve(make_engine(tmp_path_factory.mktemp("local"), generator=generator)) as url:
        yield url


@pytest.fixture
def public_app(tmp_path):
    with serve(make_engine(tmp_path, public=True, max_session_files=8)) as url:
        yield url


def test_api_lists_exactly_the_named_endpoints(local_app):
    endpoints = Client(local_app, verbose=False).view_api(return_format="dict", print_info=False)["named_endpoints"]
    assert sorted(endpoints) == ["/ask", "/delete", "/list", "/search", "/upload"]


def test_upload_list_search_delete(local_app, tmp_path):
    client = Client(local_app, verbose=False)
    good = tmp_path / "castle.txt"
    good.write_text("The secret code of the castle gate is 4711. The moat is full of eels.")
    broken = tmp_path / "broken.pdf"
    broken.write_bytes(BROKEN_PDF)
    outcomes = client.predict([handle_file(str(good)), handle_file(str(broken))], api_name="/upload")
    by_name = {o["name"]: o for o in outcomes}
    assert by_name["castle.txt"]["status"] == "indexed" and by_name["castle.txt"]["chunks"] == 1
    assert by_name["broken.pdf"]["status"] == "failed" and "broken.pdf" in by_name["broken.pdf"]["message"]

    names = [d["name"] for d in client.predict(api_name="/list")]
    assert "castle.txt" in names and "broken.pdf" not in names and "agents-primer.pdf" in names

    hits = client.predict("secret code castle gate", 3, ["castle.txt"], api_name="/search")
    assert hits[0]["document"] == "castle.txt" and "4711" in hits[0]["text"] and hits[0]["page"] == 1

    removed = client.predict("castle.txt", api_name="/delete")
    assert removed["name"] == "castle.txt"
    assert "castle.txt" not in [d["name"] for d in client.predict(api_name="/list")]


def test_ask_streams_sources_first_then_tokens_then_the_cited_answer(local_app):
    client = Client(local_app, verbose=False)
    job = client.submit("How does multi-head attention work?", api_name="/ask")
    parts = list(job)
    final = job.result()
    statuses = [p["status"] for p in parts]
    assert statuses[0] == "retrieved" and "streaming" in statuses and statuses[-1] == "done"
    assert statuses.index("evidence") < statuses.index("streaming")  # the documents' own words come first
    assert statuses.index("evidence") < statuses.index("waiting") < statuses.index("streaming")
    assert parts[statuses.index("waiting")]["waited_s"] >= 0 and parts[statuses.index("waiting")]["answer"] == ""
    assert parts[0]["sources"] and parts[0]["answer"] == ""
    quote = parts[statuses.index("evidence")]["evidence"][0]
    assert quote["document"] == "01-transformers.md" and quote["text"] and {"n", "page"} <= set(quote)
    assert final["evidence"] and final["evidence"][0]["text"] == quote["text"]
    assert final["abstained"] is False
    assert final["citations"][0]["document"] == "01-transformers.md" and final["citations"][0]["page"] == 1
    assert "[1]" in final["answer"]
    assert "[^1]" in final["markdown"] and "[^1]: 01-transformers.md, page 1:" in final["markdown"]
    assert {"retrieve", "total"} <= set(final["timings"])


def test_ask_abstains_and_reports_bad_questions(local_app):
    client = Client(local_app, verbose=False)
    final = client.predict("Which volcano erupted in Iceland?", api_name="/ask")
    assert final["abstained"] is True and final["citations"] == []
    named = client.predict("How does Microsoft use the ReAct prompting pattern in agents?", api_name="/ask")
    assert named["abstained"] is True and "No passage mentions Microsoft." in named["answer"]
    with pytest.raises(Exception, match="empty"):
        client.predict("   ", api_name="/ask")


def test_public_sessions_do_not_see_each_other(public_app, tmp_path):
    alice, bob = Client(public_app, verbose=False), Client(public_app, verbose=False)
    secret = tmp_path / "alice-diary.txt"
    secret.write_text("Alice keeps her spare key under the blue flowerpot.")
    assert alice.predict([handle_file(str(secret))], api_name="/upload")[0]["status"] == "indexed"
    assert "alice-diary.txt" in [d["name"] for d in alice.predict(api_name="/list")]
    bob_docs = [d["name"] for d in bob.predict(api_name="/list")]
    assert "alice-diary.txt" not in bob_docs and "agents-primer.pdf" in bob_docs
    assert all(
        h["document"] != "alice-diary.txt" for h in bob.predict("spare key flowerpot", 5, None, api_name="/search")
    )
    with pytest.raises(Exception, match="alice-diary"):
        bob.predict("alice-diary.txt", api_name="/delete")


def test_public_mode_refuses_files_over_the_count_limit(public_app, tmp_path):
    client = Client(public_app, verbose=False)
    held = len(client.predict(api_name="/list"))
    files = []
    for i in range(10 - held):
        path = tmp_path / f"note{i}.txt"
        path.write_text(f"Note number {i} is about topic {i * 7}.")
        files.append(handle_file(str(path)))
    outcomes = client.predict(files, api_name="/upload")
    refused = [o for o in outcomes if o["status"] == "failed"]
    assert len(refused) == 10 - 8 and "at most 8 documents" in refused[0]["message"]
    assert len(client.predict(api_name="/list")) == 8


def test_share_offline_warns_and_keeps_serving(tmp_path, caplog):
    import logging

    import app

    caplog.set_level(logging.WARNING, logger="footnote")
    engine = make_engine(tmp_path, sample_dir=None)
    demo = app.build_demo(engine)
    from tests.browser import free_port

    started = time.monotonic()
    url = app.launch(demo, engine.app.replace(port=free_port(), share=True), block=False)
    try:
        assert time.monotonic() - started < 60
        assert Client(url, verbose=False).predict(api_name="/list") == []
        assert "no public share link" in caplog.text
    finally:
        demo.close()
        engine.close()


class GatedEmbedder(FakeEmbedder):
    """Blocks while embedding any text containing GATE until `gate` is set: a long upload on demand."""

    def __init__(self) -> None:
        super().__init__(dim=64)
        self.gate = threading.Event()
        self.waiting = threading.Event()

    def encode(self, texts, on_batch=None):
        if any("GATE" in t for t in texts):
            self.waiting.set()
            assert self.gate.wait(60), "the test never opened the gate"
        return super().encode(texts, on_batch)


def test_chat_answers_while_an_upload_is_still_indexing(tmp_path):
    embedder = GatedEmbedder()
    engine = make_engine(tmp_path, embedder=embedder)
    slow = tmp_path / "slow.txt"
    slow.write_text("GATE This file takes as long to index as the test wants.")
    with serve(engine) as url:
        uploader, asker = Client(url, verbose=False), Client(url, verbose=False)
        upload = uploader.submit([handle_file(str(slow))], api_name="/upload")
        assert embedder.waiting.wait(30), "the upload never reached the embedder"
        answer = asker.predict("How does multi-head attention work?", api_name="/ask")
        assert answer["citations"] and not upload.done()
        embedder.gate.set()
        assert upload.result(timeout=60)[0]["status"] == "indexed"


def test_auth_protects_the_app(tmp_path):
    engine = make_engine(tmp_path, sample_dir=None, auth=("ann", "s3cret"))
    with serve(engine) as url:
        assert Client(url, auth=("ann", "s3cret"), verbose=False).predict(api_name="/list") == []
        with pytest.raises(AuthenticationError, match="credentials were not provided"):
            Client(url, verbose=False)


class CountingEmbedder(FakeEmbedder):
    """Records how many `encode` calls run at once; each takes `seconds`."""

    def __init__(self, seconds: float) -> None:
        super().__init__(dim=64)
        self.seconds, self.running, self.most = seconds, 0, 0
        self.lock = threading.Lock()

    def encode(self, texts, on_batch=None):
        with self.lock:
            self.running += 1
            self.most = max(self.most, self.running)
        try:
            time.sleep(self.seconds)
            return super().encode(texts, on_batch)
        finally:
            with self.lock:
                self.running -= 1


def test_searches_share_a_concurrency_limit(tmp_path):
    """A burst of /search calls may not run the embedder on every core at once (it was unlimited)."""
    embedder = CountingEmbedder(0.5)
    engine = make_engine(tmp_path, embedder=embedder, search_concurrency=2)
    with serve(engine) as url:
        clients = [Client(url, verbose=False) for _ in range(6)]
        embedder.most = 0
        jobs = [c.submit(f"attention heads {i}", 3, None, api_name="/search") for i, c in enumerate(clients)]
        assert all(job.result(timeout=120) for job in jobs)
    assert embedder.most <= 2


def test_a_bad_search_is_one_line_for_the_person_and_no_traceback(local_app, capfd):
    client = Client(local_app, verbose=False)
    with pytest.raises(Exception, match="the question is empty"):
        client.predict("   ", 5, None, api_name="/search")
    assert "Traceback" not in capfd.readouterr().err
