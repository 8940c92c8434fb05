"""Environment parsing shared by the engine's `Settings.from_env` and the app's `AppSettings.from_env`."""

from __future__ import annotations

import os
import time
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
    import subprocess
    import sys
    import threading

    from rag.config import busy_cores_elsewhere, default_threads

    if busy_cores_elsewhere() is None:
        pytest.skip("no /proc on this system")
    stop = threading.Event()

    def spin() -> None:
        while not stop.is_set():
            pass

    spinner = threading.Thread(target=spin, daemon=True)
    spinner.start()  # this process keeps one core busy: that must not count against it
    try:
        own = busy_cores_elsewhere(0.5)
    finally:
        stop.set()
    other = subprocess.Popen([sys.executable, "-c", "while True: pass"])
    try:
        time.sleep(0.3)
        elsewhere = busy_cores_elsewhere(0.5)
        threads = default_threads()
    finally:
        other.kill()
    assert elsewhere >= own + 0.5  # one spinning process is ~1 core (give or take the rest of the machine)
    assert threads <= max(1, len(os.sched_getaffinity(0)) - 1)
