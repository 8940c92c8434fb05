"""Generators: the seam, llama.cpp streaming (SmolLM2), an OpenAI-compatible server in a real process, transformers."""

from __future__ import annotations

import importlib.util
import subprocess
import sys
import textwrap

import pytest

from rag.config import Settings
from rag.errors import ConfigError, GenerationError, ModelLoadError
from rag.generate.generator import Generator, Message, complete
from rag.generate.models import smollm2_gguf_path
from rag.generate.registry import create_generator, load_generator

HELLO = [Message("system", "You are terse."), Message("user", "Name one colour.")]


def small(tmp_path, **changes) -> Settings:
    return Settings(data_dir=tmp_path, generator="smollm2-135m", threads=1, n_ctx=1024, **changes)


def test_unknown_generator_is_a_config_error(tmp_path):
    with pytest.raises(ConfigError, match="RAG_GENERATOR='gpt-7'"):
        create_generator(Settings(data_dir=tmp_path, generator="gpt-7"))


def test_missing_gguf_file_is_a_model_load_error(tmp_path):
    gen = create_generator(Settings(data_dir=tmp_path, generator=f"gguf:{tmp_path / 'nope.gguf'}"))
    with pytest.raises(ModelLoadError, match="nope.gguf does not exist"):
        gen.load()


def test_load_generator_is_shared_and_loads_lazily_once(tmp_path, monkeypatch):
    from rag.generate.llamacpp import LlamaCppGenerator

    loads: list[str] = []
    monkeypatch.setattr(LlamaCppGenerator, "_load", lambda self: loads.append(self.name))
    settings = small(tmp_path)
    first, second = load_generator(settings), load_generator(settings.replace(data_dir=tmp_path / "other"))
    assert first is second and loads == []
    first.load()
    first.load()
    assert loads == ["smollm2-135m"]


def test_llamacpp_sends_heartbeats_while_the_prompt_is_read_and_keeps_log_probabilities(tmp_path, monkeypatch):
    import time

    from rag.generate import llamacpp

    class SlowServer:  # llama.cpp's callback API: nothing while it prefills, then OpenAI-style chunks
        def handle_chat_completions(self, request, on_chunk):
            time.sleep(0.25)
            on_chunk({"choices": [{"delta": {"content": "Hi"}, "logprobs": {"content": [{"logprob": -0.5}]}}]})
            on_chunk({"choices": [{"delta": {}}], "timings": {"prompt_n": 12, "cache_n": 3}})

    monkeypatch.setattr(llamacpp, "HEARTBEAT_S", 0.05)
    gen = llamacpp.LlamaCppGenerator(small(tmp_path), "slow", lambda: tmp_path / "x.gguf")
    gen._server = SlowServer()
    pieces = list(gen._run({"stream": True}))
    assert pieces[0] == "" and pieces.count("") >= 2 and "".join(pieces) == "Hi" and pieces[-1] == "Hi"
    assert gen.last_logprobs == [-0.5] and gen.last_timings == {"prompt_n": 12, "cache_n": 3}


@pytest.mark.parametrize("reuse", [True, False])
def test_llamacpp_reuses_the_cached_prompt_only_when_the_setting_says_so(tmp_path, monkeypatch, reuse):
    from rag.generate import llamacpp

    requests = []

    class RecordingServer:
        def handle_chat_completions(self, request, on_chunk):
            requests.append(request)
            on_chunk({"choices": [{"delta": {"content": "Red."}}]})

    gen = llamacpp.LlamaCppGenerator(small(tmp_path, llm_prompt_cache=reuse), "rec", lambda: tmp_path / "x.gguf")
    monkeypatch.setattr(gen, "_load", lambda: setattr(gen, "_server", RecordingServer()))
    assert "".join(gen.stream(HELLO, max_tokens=5, temperature=0.0)) == "Red."
    assert requests[0]["cache_prompt"] is reuse


def test_prompt_reuse_is_part_of_which_generator_is_shared(tmp_path):
    settings = small(tmp_path)
    assert load_generator(settings) is not load_generator(settings.replace(llm_prompt_cache=False))


def test_openai_key_never_shows_in_repr(tmp_path):
    settings = Settings(data_dir=tmp_path, generator="openai", openai_api_key="sk-secret-123")
    assert "sk-secret-123" not in repr(settings)
    assert "sk-secret-123" not in repr(create_generator(settings))


@pytest.fixture(scope="module")
def llama() -> Generator:
    gen = create_generator(Settings(generator="smollm2-135m", threads=1, n_ctx=1024))
    yield gen
    gen.close()


@pytest.mark.slow  # SmolLM2: a real model, installed by scripts/test only
def test_llamacpp_streams_pieces_and_counts_tokens(llama):
    pieces = list(llama.stream(HELLO, max_tokens=12, temperature=0.0))
    assert len(pieces) >= 2 and "".join(pieces).strip()
    assert 1 <= len(pieces) <= 12
    assert llama.count_tokens("Hello world") < llama.count_tokens("Hello world, and many more words here")


@pytest.mark.slow  # SmolLM2: a real model, installed by scripts/test only
def test_llamacpp_greedy_is_repeatable_and_honours_stop(llama):
    a = complete(llama, HELLO, max_tokens=10)
    assert a == complete(llama, HELLO, max_tokens=10)
    first_word = a.split()[0]
    assert first_word not in complete(llama, HELLO, max_tokens=10, stop=[first_word])


@pytest.mark.slow  # SmolLM2: a real model, installed by scripts/test only
@pytest.mark.parametrize("reuse", [True, False])
def test_llamacpp_reads_a_repeated_prompt_afresh_when_prompt_reuse_is_off(tmp_path, reuse):
    """llama.cpp's own count of reused tokens (cache_n): with reuse off a repeated prompt is prefilled in full."""
    gen = create_generator(small(tmp_path, llm_prompt_cache=reuse))
    try:
        for _ in range(2):
            complete(gen, HELLO, max_tokens=4)
        assert (gen.last_timings["cache_n"] > 0) is reuse
    finally:
        gen.close()


@pytest.mark.slow  # SmolLM2: a real model, installed by scripts/test only
def test_llamacpp_closing_the_stream_stops_generation(llama):
    """Counted in chunks, not seconds: llama.cpp stops at the first chunk after the close, however busy the CPU."""
    stream = llama.stream([Message("user", "Count from 1 to 500, one number per line.")], max_tokens=400, temperature=0)
    next(stream)
    stream.close()  # joins the worker: llama.cpp has returned
    assert llama.last_chunks < 50 and not llama.last_timings  # stopped, not finished (a finished one reports timings)
    assert complete(llama, HELLO, max_tokens=5)  # the server is free for the next request
    assert llama.last_timings["predicted_n"] <= 5 and "cache_n" in llama.last_timings


SERVER = textwrap.dedent(
    """
    import sys, time, xllamacpp
    p = xllamacpp.CommonParams()
    p.model.path = sys.argv[1]
    p.n_ctx = 1024
    p.cpuparams.n_threads = 1
    p.cpuparams_batch.n_threads = 1
    p.port = 0
    p.verbosity = -1
    p.api_keys = ["test-key-42"]
    server = xllamacpp.Server(p)
    print(server.listening_address, flush=True)
    while True:
        time.sleep(1)
    """
)


@pytest.fixture(scope="module")
def openai_server():
    """A real llama.cpp OpenAI-compatible HTTP server (SmolLM2) in its own process; yields its base URL."""
    proc = subprocess.Popen([sys.executable, "-c", SERVER, str(smollm2_gguf_path())], stdout=subprocess.PIPE, text=True)
    try:
        address = proc.stdout.readline().strip()
        assert address.startswith("http://127.0.0.1:"), f"server did not start: {address!r}"
        yield address + "/v1"
    finally:
        proc.kill()
        proc.wait(timeout=30)


@pytest.mark.slow  # SmolLM2: a real model, installed by scripts/test only
def test_openai_backend_streams_from_a_real_server(openai_server, tmp_path):
    settings = Settings(
        data_dir=tmp_path, generator="openai", openai_base_url=openai_server, openai_api_key="test-key-42"
    )
    gen = create_generator(settings)
    pieces = list(gen.stream(HELLO, max_tokens=12, temperature=0.0))
    assert len(pieces) >= 2 and "".join(pieces).strip()
    gen.close()


@pytest.mark.slow  # SmolLM2: a real model, installed by scripts/test only
def test_openai_backend_reports_a_rejected_key_without_echoing_it(openai_server, tmp_path):
    settings = Settings(
        data_dir=tmp_path, generator="openai", openai_base_url=openai_server, openai_api_key="wrong-key"
    )
    with pytest.raises(GenerationError, match="HTTP 401") as info:
        list(create_generator(settings).stream(HELLO, max_tokens=4, temperature=0))
    assert "wrong-key" not in str(info.value)


def test_openai_backend_names_an_unreachable_server(tmp_path):
    settings = Settings(data_dir=tmp_path, generator="openai", openai_base_url="http://127.0.0.1:9/v1")
    with pytest.raises(ModelLoadError, match="cannot reach .*127.0.0.1:9"):
        list(create_generator(settings).stream(HELLO, max_tokens=4, temperature=0))


@pytest.mark.slow
@pytest.mark.skipif(
    importlib.util.find_spec("gguf") is None or importlib.util.find_spec("accelerate") is None,
    reason="transformers reads GGUF files only with the gguf and accelerate packages",
)
def test_transformers_backend_streams_smollm2(tmp_path):
    path = smollm2_gguf_path()
    gen = create_generator(Settings(data_dir=tmp_path, generator=f"transformers:{path.parent}::{path.name}", threads=1))
    pieces = list(gen.stream(HELLO, max_tokens=8, temperature=0.0))
    assert len(pieces) >= 2 and "".join(pieces).strip()
    assert gen.count_tokens("Hello world") == 2


@pytest.mark.slow
def test_default_qwen_model_answers_from_a_passage(tmp_path):
    gen = load_generator(Settings(data_dir=tmp_path))
    messages = [
        Message("system", "Answer only from this passage: [1] The office closes at 6 pm on Fridays."),
        Message("user", "When does the office close on Fridays?"),
    ]
    assert "6" in complete(gen, messages, max_tokens=20)


def test_llamacpp_keeps_a_bounded_prompt_cache_in_ram(tmp_path, monkeypatch):
    """llama.cpp's own default (8 GB of earlier prompts' KV state) grew the app ~20 MB per question."""
    import xllamacpp

    from rag.generate.llamacpp import LlamaCppGenerator

    seen = []

    class Server:
        listening_address = "http://127.0.0.1:9"

        def __init__(self, params) -> None:
            seen.append(params)

    monkeypatch.setattr(xllamacpp, "Server", Server)
    model = tmp_path / "tiny.gguf"
    model.write_bytes(b"GGUF")
    settings = Settings(data_dir=tmp_path, generator=f"gguf:{model}", llm_cache_mb=64)
    generator = LlamaCppGenerator(settings, model.name, lambda: model)
    generator.load()
    assert seen[0].cache_ram_mib == 64 and seen[0].n_parallel == 1
    assert seen[0].no_extra_bufts  # repacked layouts off by default: they slow the prompt's reading
    generator.close()
    LlamaCppGenerator(settings.replace(llm_repack_weights=True), model.name, lambda: model).load()
    assert not seen[1].no_extra_bufts


def test_llamacpp_uses_every_core_even_when_a_busy_moment_at_load_would_leave_it_one(tmp_path, monkeypatch):
    """llama.cpp's count is not taken from the load: a busy moment when the model loaded held a whole session to 1 of
    2 cores (session 16), and beside 1-3 spinning processes two threads were never slower than one."""
    import xllamacpp

    import rag.config
    import rag.generate.llamacpp as llamacpp

    seen = []

    class Server:
        listening_address = "http://127.0.0.1:9"

        def __init__(self, params) -> None:
            seen.append((params.cpuparams.n_threads, params.cpuparams_batch.n_threads))

    monkeypatch.setattr(xllamacpp, "Server", Server)
    monkeypatch.setattr(rag.config, "usable_cores", lambda: 2)
    monkeypatch.setattr(llamacpp, "usable_cores", lambda: 2)
    monkeypatch.setattr(rag.config, "busy_cores_elsewhere", lambda: 1.0)  # another process keeps one core busy
    model = tmp_path / "tiny.gguf"
    model.write_bytes(b"GGUF")
    settings = Settings(data_dir=tmp_path, generator=f"gguf:{model}")
    assert settings.resolved_threads == 1  # what torch would get now
    llamacpp.LlamaCppGenerator(settings, model.name, lambda: model).load()
    assert seen == [(2, 2)]
    llamacpp.LlamaCppGenerator(settings.replace(threads=1), model.name, lambda: model).load()
    assert seen == [(2, 2), (1, 1)]  # RAG_THREADS is what the user asked for
