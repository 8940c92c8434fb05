"""CLI: ingest/search/list/delete exit codes and JSON shapes via `rag.cli.main`, plus real `python -m rag` runs."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from rag.cli.main import main
from tests.fakes import FakeEmbedder

ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture(autouse=True)
def fake_embedder(monkeypatch):
    """The commands load the embedder through rag.embedding.load_embedder; hand them the fake one."""
    monkeypatch.setattr("rag.embedding.load_embedder", lambda settings: FakeEmbedder())


@pytest.fixture
def docs(tmp_path) -> Path:
    folder = tmp_path / "docs"
    folder.mkdir()
    (folder / "fruit.txt").write_text("Apples are red.\n\nBananas are yellow and sweet.\n")
    (folder / "space.md").write_text("# Space\n\nRockets fly to the moon.\n")
    return folder


def run(capsys, *argv: str) -> tuple[int, str, str]:
    code = main(list(argv))
    out = capsys.readouterr()
    return code, out.out, out.err


def test_ingest_then_list_search_delete(capsys, docs, tmp_path):
    data = str(tmp_path / "data")
    code, out, _ = run(capsys, "ingest", str(docs), "--data-dir", data, "--quiet")
    assert code == 0
    assert out.splitlines() == ["fruit.txt: indexed 1 page, 1 passage", "space.md: indexed 1 page, 1 passage"]

    code, out, _ = run(capsys, "list", "--json", "--data-dir", data)
    listed = json.loads(out)
    assert code == 0 and [d["name"] for d in listed] == ["fruit.txt", "space.md"]
    assert {"name", "pages", "chunks", "kind", "doc_id", "warnings"} <= set(listed[0])
    assert (listed[1]["pages"], listed[1]["chunks"], listed[1]["kind"]) == (1, 1, "md")

    code, out, _ = run(capsys, "search", "rockets moon", "--k", "1", "--json", "--data-dir", data)
    [hit] = json.loads(out)
    assert code == 0 and hit["document"] == "space.md" and hit["page"] == 1
    assert {"score", "text", "start", "end", "chunk_id"} <= set(hit) and "Rockets" in hit["text"]

    code, out, _ = run(capsys, "search", "rockets", "--mode", "bm25", "--data-dir", data)
    assert code == 0 and out.startswith("[1] space.md p.1")

    code, out, _ = run(capsys, "delete", "space.md", "--data-dir", data)
    assert code == 0 and out.startswith("deleted space.md")
    code, out, _ = run(capsys, "list", "--data-dir", data)
    assert "space.md" not in out and "fruit.txt" in out
    assert "search: dense + keyword (BM25) search" in out and "too few passages to calibrate" in out


def test_ingest_exit_1_when_some_files_fail_but_the_rest_is_indexed(capsys, docs, tmp_path):
    (docs / "scan.pdf").write_bytes(b"%PDF-1.4 garbage")
    data = str(tmp_path / "data")
    code, out, _ = run(capsys, "ingest", str(docs / "scan.pdf"), str(docs / "fruit.txt"), "--data-dir", data, "--quiet")
    assert code == 1
    assert out.splitlines()[0].startswith("FAILED scan.pdf:")
    assert "fruit.txt: indexed" in out
    code, out, _ = run(capsys, "ingest", str(docs / "fruit.txt"), "--data-dir", data, "--quiet")
    assert code == 0 and "unchanged" in out


def test_usage_errors_exit_2(capsys, tmp_path):
    code, _, err = run(capsys, "ingest", str(tmp_path / "missing.pdf"), "--data-dir", str(tmp_path / "d"))
    assert code == 2 and "missing.pdf" in err
    with pytest.raises(SystemExit) as exc:
        main(["search", "x", "--mode", "psychic"])
    assert exc.value.code == 2


def test_rag_errors_exit_1_with_a_message(capsys, tmp_path):
    data = str(tmp_path / "data")
    code, _, err = run(capsys, "delete", "nothing.pdf", "--data-dir", data)
    assert code == 1 and err.startswith("error: no document named 'nothing.pdf'")
    code, _, err = run(capsys, "search", "  ", "--data-dir", data)
    assert code == 1 and "empty" in err


def test_progress_bar_goes_to_stderr(capsys, docs, tmp_path):
    code, out, err = run(capsys, "ingest", str(docs), "--data-dir", str(tmp_path / "data"))
    assert code == 0 and "file" in err and "done" in err and "file/s" not in out


def _python_m_rag(*argv: str, env_extra: dict[str, str]) -> subprocess.CompletedProcess:
    env = {**os.environ, "PYTHONPATH": str(ROOT), **env_extra}
    return subprocess.run([sys.executable, "-m", "rag", *argv], capture_output=True, text=True, env=env, timeout=300)


def test_python_m_rag_usage_error_in_a_real_process(tmp_path):
    result = _python_m_rag("ingest", str(tmp_path / "nope"), env_extra={"RAG_DATA_DIR": str(tmp_path / "d")})
    assert result.returncode == 2 and "no such file or folder" in result.stderr


@pytest.mark.slow
def test_python_m_rag_end_to_end_with_the_real_embedder(tmp_path, docs):
    env = {"RAG_DATA_DIR": str(tmp_path / "data"), "RAG_THREADS": "1"}
    assert _python_m_rag("ingest", str(docs), "--quiet", env_extra=env).returncode == 0
    result = _python_m_rag("search", "what colour are bananas", "--json", "--k", "1", env_extra=env)
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout)[0]["document"] == "fruit.txt"
