"""Many users at once in public mode: nobody sees another user's documents, and idle sessions are cleaned up.

Each of SESSIONS threads is its own `gradio_client.Client` (its own Gradio session, so its own private library)
on the served app (FakeEmbedder + FakeGenerator, loopback only). Each uploads a document holding a unique secret
phrase, asks about it, searches and lists, all at the same time as the others. No request may fail, every
answer must find its own secret, and no output of one session may contain another session's secret.
bench/load_test.py does the same with the real models and reports latency percentiles.
"""

from __future__ import annotations

import ctypes
import gc
import json
import secrets
import statistics
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from gradio_client import Client, handle_file

from tests.browser import make_engine, serve
from tests.fakes import FakeEmbedder
from ui.sessions import SessionLibraries

SESSIONS = 10
ROUNDS = 1  # questions per session (each user also uploads, searches and lists)


@dataclass
class Session:
    """What one simulated user sent and everything the app returned to it."""

    index: int
    secret: str
    document: Path
    outputs: list[object] = field(default_factory=list)
    answers: list[str] = field(default_factory=list)
    latencies: list[float] = field(default_factory=list)
    error: str = ""


def make_session(index: int, folder: Path) -> Session:
    secret = f"{secrets.token_hex(4)}-{['heron', 'otter', 'lynx', 'ibex'][index % 4]}-{secrets.token_hex(4)}"
    document = folder / f"notes-{index}.txt"
    document.write_text(
        f"The secret phrase of vault {index} is {secret}. "
        f"Vault {index} stands behind the old mill. Only its keeper knows the phrase {secret}."
    )
    return Session(index, secret, document)


def rss_mb() -> float:
    """This process's resident memory now (the server runs in-process)."""
    with open("/proc/self/status") as status:
        for line in status:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    raise RuntimeError("no VmRSS in /proc/self/status")


def user(url: str, session: Session, start: threading.Barrier) -> None:
    """One user's whole visit; any exception is recorded, never raised in the thread."""
    try:
        client = Client(url, verbose=False)
        start.wait(timeout=120)  # every user hits the server at the same moment
        uploaded = client.predict([handle_file(str(session.document))], api_name="/upload")
        session.outputs.append(uploaded)
        assert uploaded[0]["status"] == "indexed", uploaded
        for round_ in range(ROUNDS):
            began = time.monotonic()
            job = client.submit(f"What is the secret phrase of vault {session.index}?", api_name="/ask")
            parts = list(job)
            final = job.result()
            session.latencies.append(time.monotonic() - began)
            session.outputs.extend([parts, final])
            session.answers.append(final["answer"])
            session.outputs.append(client.predict(f"secret phrase vault {session.index} keeper", 5, api_name="/search"))
            if round_ == 0:
                session.outputs.append(client.predict(api_name="/list"))
    except Exception as exc:  # the test asserts on it; a thread must not die silently
        session.error = f"{type(exc).__name__}: {exc}"


def run_wave(url: str, folder: Path, first: int) -> tuple[list[Session], float]:
    """SESSIONS users at once, numbered from `first`; returns them and the wall time."""
    sessions = [make_session(first + i, folder) for i in range(SESSIONS)]
    barrier = threading.Barrier(SESSIONS)
    threads = [threading.Thread(target=user, args=(url, s, barrier)) for s in sessions]
    started = time.monotonic()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=600)
    assert not any(t.is_alive() for t in threads)
    return sessions, time.monotonic() - started


def settle(pool: SessionLibraries) -> tuple[list[str], float]:
    """Release every idle library (the sweeper's job, run now), then return what was swept and the live RSS."""
    ttl, pool.ttl_s = pool.ttl_s, 0.0
    swept = pool.sweep()
    pool.ttl_s = ttl
    gc.collect()
    ctypes.CDLL("libc.so.6").malloc_trim(0)  # give freed heap back to the OS so RSS shows live memory only
    return swept, rss_mb()


def check_privacy(sessions: list[Session]) -> None:
    errors = [f"session {s.index}: {s.error}" for s in sessions if s.error]
    assert errors == []
    for s in sessions:
        assert all(s.secret in answer for answer in s.answers), (s.index, s.answers)
        listed = next(o for o in s.outputs if isinstance(o, list) and o and "added_at" in o[0])
        assert [d["name"] for d in listed] == [s.document.name]  # its own library: only its own upload
        seen = json.dumps(s.outputs)
        leaked = [o.index for o in sessions if o is not s and o.secret in seen]
        assert leaked == [], f"session {s.index} saw the secrets of sessions {leaked}"


def test_concurrent_public_sessions_never_see_each_others_documents(tmp_path):
    engine = make_engine(tmp_path, public=True, sample_dir=None, session_ttl_s=3600.0, chat_concurrency=2)
    pool = engine.wait()
    assert isinstance(pool, SessionLibraries)
    folder = tmp_path / "docs"
    folder.mkdir()
    with serve(engine) as url:
        warm = Client(url, verbose=False)  # first requests pay gradio's lazy imports; keep them out of the baseline
        warm.predict(api_name="/list")
        _, baseline = settle(pool)
        first, elapsed = run_wave(url, folder, 0)
        peak = rss_mb()
        swept1, after1 = settle(pool)
        second, _ = run_wave(url, folder, SESSIONS)  # a second wave: memory must not keep growing
        swept2, after2 = settle(pool)
        folders = sorted(p.name for p in pool.root.iterdir())

    latencies = sorted(x for s in first + second for x in s.latencies)
    print(
        f"\n2 waves of {SESSIONS} concurrent sessions x {ROUNDS} questions (wave 1: {elapsed:.1f} s); ask latency "
        f"p50 {statistics.median(latencies):.2f} s, p95 {latencies[int(0.95 * (len(latencies) - 1))]:.2f} s, max "
        f"{latencies[-1]:.2f} s; RSS baseline {baseline:.0f} MB, peak {peak:.0f} MB, after wave 1 {after1:.0f} MB, "
        f"after wave 2 {after2:.0f} MB; swept {len(swept1)}+{len(swept2)} idle libraries; folders left {folders}"
    )
    check_privacy(first + second)
    assert folders == ["template"]  # every session's folder (and its uploads) is gone
    assert after2 - after1 < 40, (after1, after2)  # no per-session leak: wave 2 costs what wave 1 did
    assert after1 - baseline < 120, (baseline, after1)


def test_the_background_sweeper_removes_idle_sessions(tmp_path):
    engine = make_engine(tmp_path, public=True, sample_dir=None, session_ttl_s=1.0)  # the sweeper wakes every 1 s
    pool = engine.wait()
    note = tmp_path / "idle.txt"
    note.write_text("An idle visitor's note about marmots.")
    pool.ttl_s = 3600.0  # not while ingesting: see test_a_library_in_use_is_not_swept
    engine.library("visitor").ingest([note])
    pool.ttl_s = 1.0
    folder = next(p for p in pool.root.iterdir() if p.name != "template")
    assert (folder / "files").is_dir()
    deadline = time.monotonic() + 30
    # The library leaves the pool first and its folder a moment later (outside the pool's lock): wait for both.
    while (pool.sessions() or folder.exists()) and time.monotonic() < deadline:
        time.sleep(0.2)
    assert pool.sessions() == [] and not folder.exists()  # its uploaded file went with it
    engine.close()


class SlowEmbedder(FakeEmbedder):
    """Takes `delay_s` per encode call, like the real embedder on a long file."""

    def __init__(self, delay_s: float) -> None:
        super().__init__(dim=64)
        self.delay_s = delay_s

    def encode(self, texts, on_batch=None):  # type: ignore[no-untyped-def]
        time.sleep(self.delay_s)
        return super().encode(texts, on_batch)


# The sweeper used to close a library whose ingest outlasted the TTL (the ingest then died with
# sqlite3.ProgrammingError); fixed by counting calls in flight (ui/sessions.py, SessionLibrary).
def test_a_library_in_use_is_not_swept(tmp_path):
    from rag.config import Settings
    from ui.config import AppSettings
    from ui.engine import Engine

    app = AppSettings(public=True, sample_dir=None, session_ttl_s=1.0)
    engine = Engine(Settings(data_dir=tmp_path / "data", threads=1), app, embedder=SlowEmbedder(4.0),
                    warm_generator=False)  # fmt: skip
    engine.start(background=False)
    note = tmp_path / "long.txt"
    note.write_text("A long upload about capybaras that takes four seconds to embed.")
    try:
        outcome = engine.library("busy").ingest([note])[0]
    finally:
        engine.close()
    assert outcome.status == "indexed"


@pytest.mark.parametrize("hostile", ["../template", "../../etc", "", "A" * 5000, "\x00\n"])
def test_session_ids_from_the_browser_cannot_reach_other_folders(tmp_path, hostile):
    """The session hash comes from the client: it is hashed into a folder name, never used as a path."""
    engine = make_engine(tmp_path, public=True, sample_dir=None)
    pool = engine.wait()
    library = engine.library(hostile)
    folder = library.settings.data_dir
    assert folder.parent == pool.root and folder.name != "template" and len(folder.name) == 21
    engine.close()


def test_public_sessions_on_qdrant_edge_are_private_and_a_shared_server_is_refused(tmp_path):
    """Each visitor's library is its own Edge shard (a copy of the template's folder); a server collection
    would be one library for everyone, so public mode refuses RAG_INDEX=qdrant with a message."""
    from rag.config import Settings
    from rag.errors import ConfigError

    sample = tmp_path / "sample.txt"
    sample.write_text("The sample library talks about llamas.\n")
    settings = Settings(data_dir=tmp_path / "unused", index="qdrant-edge", reranker="none")
    pool = SessionLibraries(settings, FakeEmbedder(), [sample], ttl_s=3600.0)
    try:
        alice, bob = pool.get("alice-session"), pool.get("bob-session")
        secret = tmp_path / "alice.txt"
        secret.write_text("Alice's secret is the blue door.\n")
        assert alice.ingest([secret])[0].status == "indexed"
        assert sorted(d.name for d in alice.documents()) == ["alice.txt", "sample.txt"]
        assert [d.name for d in bob.documents()] == ["sample.txt"]
        assert all("blue door" not in h.chunk.text for h in bob.search("secret blue door"))
        assert "llamas" in bob.search("llamas")[0].chunk.text  # the sample, seeded without copying shard files
        used = sum(f.stat().st_blocks * 512 for f in pool.root.rglob("*") if f.is_file())  # not the sparse size
        assert used < 50e6, used  # a copied shard would be ~200 MB each
    finally:
        pool.close()
    with pytest.raises(ConfigError, match="qdrant-edge for public mode"):
        SessionLibraries(settings.replace(index="qdrant", qdrant_url="http://x"), FakeEmbedder(), [], ttl_s=1.0)
