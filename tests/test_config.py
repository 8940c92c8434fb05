"""Environment parsing shared by the engine's `Settings.from_env` and the app's `AppSettings.from_env`."""

from __future__ import annotations

from pathlib import Path

import pytest

from rag.config import Settings, parse_env_value
from rag.errors import ConfigError
from ui.config import AppSettings


@pytest.mark.parametrize(
    ("raw", "kind", "value"),
    [
        ("3", "int", 3),
        ("0.25", "float", 0.25),
        ("Yes", "bool", True),
        ("off", "bool", False),
        ("dense", "str", "dense"),
    ],
)
def test_values_are_converted_to_the_field_type(raw, kind, value):
    assert parse_env_value("RAG_X", raw, kind) == value


def test_paths_expand_the_home_folder():
    assert parse_env_value("RAG_DATA_DIR", "~/notes", "Path | None") == Path.home() / "notes"


@pytest.mark.parametrize(("raw", "kind"), [("three", "int"), ("1,5", "float"), ("maybe", "bool")])
def test_a_bad_value_names_the_variable(raw, kind):
    with pytest.raises(ConfigError, match=rf"^RAG_X={raw!r} is not a valid {kind}; unset it or fix its value$"):
        parse_env_value("RAG_X", raw, kind)


def test_both_settings_read_the_environment_alike():
    engine = Settings.from_env({"RAG_TOP_K": "3", "RAG_MULTI_HOP": "on", "RAG_DATA_DIR": "~/fn"})
    assert (engine.top_k, engine.multi_hop, engine.data_dir) == (3, True, Path.home() / "fn")
    app = AppSettings.from_env({"FOOTNOTE_PORT": "9000", "FOOTNOTE_SHARE": "on", "FOOTNOTE_SAMPLE_DIR": "~/kb"})
    assert (app.port, app.share, app.sample_dir) == (9000, True, Path.home() / "kb")
    with pytest.raises(ConfigError, match=r"^RAG_TOP_K='many' is not a valid int"):
        Settings.from_env({"RAG_TOP_K": "many"})
    with pytest.raises(ConfigError, match=r"^FOOTNOTE_SHARE='maybe' is not a valid bool"):
        AppSettings.from_env({"FOOTNOTE_SHARE": "maybe"})


def test_busy_cores_count_other_processes_not_this_one():
    """From two readings of (all jiffies, busy jiffies, this process's jiffies): hand-checkable, load-proof."""
    from rag.config import busy_between

    # 200 jiffies over 2 CPUs; 150 busy, 50 of them ours -> 100 / 200 * 2 = 1 core kept busy by others
    assert busy_between((1000, 400, 10), (1200, 550, 60), cpus=2) == pytest.approx(1.0)
    # only this process worked: nothing elsewhere
    assert busy_between((1000, 400, 10), (1200, 500, 110), cpus=2) == 0.0
    assert busy_between((1000, 400, 10), (1000, 400, 10), cpus=2) == 0.0  # no time passed


def test_default_threads_leave_the_busy_cores_alone(monkeypatch):
    from rag import config

    monkeypatch.setattr(config.os, "sched_getaffinity", lambda _pid: {0, 1}, raising=False)
    monkeypatch.setattr(config, "busy_cores_elsewhere", lambda: 1.2)
    assert config.default_threads() == 1
    monkeypatch.setattr(config, "busy_cores_elsewhere", lambda: 0.3)
    assert config.default_threads() == 2
    monkeypatch.setattr(config, "busy_cores_elsewhere", lambda: 5.0)
    assert config.default_threads() == 1  # never below one


@pytest.mark.parametrize(
    ("variable", "value", "message"),
    [
        ("RAG_QUERY_REWRITE", "LLM", r"^RAG_QUERY_REWRITE='LLM' is not a choice; use one of heuristic, llm$"),
        ("RAG_RETRIEVAL", "sparse", r"^RAG_RETRIEVAL='sparse' is not a choice; use one of dense, bm25, hybrid$"),
        ("RAG_EMBED_DTYPE", "int4", r"^RAG_EMBED_DTYPE='int4' is not a choice"),
        ("RAG_TOP_K", "0", r"^RAG_TOP_K=0 is out of range; use a value at least 1$"),
        ("RAG_BM25_WEIGHT", "1.5", r"^RAG_BM25_WEIGHT=1.5 is out of range; use a value between 0 and 1$"),
        ("RAG_CHUNK_TOKENS", "400", r"^RAG_CHUNK_TOKENS=400 is out of range; use a value between 8 and 254$"),
        ("RAG_CHUNK_OVERLAP", "240", r"^RAG_CHUNK_OVERLAP=240 must be smaller than RAG_CHUNK_TOKENS=240$"),
        ("RAG_RERANKER", " ", r"may not be empty"),
    ],
)
def test_settings_are_checked_when_they_are_made(variable, value, message):
    with pytest.raises(ConfigError, match=message):
        Settings.from_env({variable: value})


def test_an_unknown_variable_is_warned_about_with_the_likely_one(caplog):
    with caplog.at_level("WARNING", logger="rag.config"):
        Settings.from_env({"RAG_TOPK": "3", "RAG_REQUIRE_SHARED": "1"})
        AppSettings.from_env({"FOOTNOTE_PROT": "8000", "FOOTNOTE_TEST_NETWORK": "1"})
    assert [r.getMessage() for r in caplog.records] == [
        "RAG_TOPK is not a setting and is ignored (did you mean RAG_TOP_K?)",
        "FOOTNOTE_PROT is not a setting and is ignored (did you mean FOOTNOTE_PORT?)",
    ]


def test_settings_travel_to_a_worker_as_plain_data_without_secrets():
    import json

    settings = Settings(data_dir=Path("/tmp/x"), openai_api_key="sk-secret", top_k=3)
    plain = json.loads(json.dumps(settings.to_dict()))
    assert "sk-secret" not in json.dumps(plain)
    assert Settings.from_dict(plain) == settings.replace(openai_api_key="")


def test_the_app_settings_never_show_the_password():
    app = AppSettings.from_env({"FOOTNOTE_AUTH": "me:hunter2"})
    assert app.auth == ("me", "hunter2")
    assert "hunter2" not in repr(app) and "hunter2" not in str(app)
