"""`python -m rag migrate --to local|qdrant-edge|qdrant`: copy the index to another backend, nothing re-embedded.

python -m rag migrate --to qdrant-edge                      # this data dir's local index -> Qdrant Edge beside it
RAG_QDRANT_URL=http://cluster:6333 python -m rag migrate --to qdrant   # a laptop's index -> the cluster
python -m rag migrate --from qdrant-edge --to local --to-data-dir ~/copy

The source is `--from` (default: $RAG_INDEX) in --data-dir; the target is the same data dir unless --to-data-dir
says otherwise. Interrupted? Run it again: documents already copied are skipped.
"""

from __future__ import annotations

import argparse
import sys
from contextlib import closing
from pathlib import Path

from rag import embedding
from rag.cli.common import add_data_dir, settings_for
from rag.errors import ConfigError
from rag.index.backends import BACKENDS, describe, open_index, resolve
from rag.index.migrate import MigrationStep, migrate


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser("migrate", help="copy the index to another backend (no re-embedding; resumable)")
    parser.add_argument("--to", required=True, choices=BACKENDS, help="the backend to copy into")
    parser.add_argument("--from", dest="source", choices=BACKENDS, default=None, help="default: $RAG_INDEX")
    parser.add_argument("--to-data-dir", default=None, help="the target's data folder (default: the same)")
    parser.add_argument("--quiet", action="store_true", help="no progress bar")
    add_data_dir(parser)
    parser.set_defaults(func=run_migrate)


def run_migrate(args: argparse.Namespace) -> int:
    settings = settings_for(args)
    source = resolve(settings.replace(index=args.source or settings.index))
    target = settings.replace(index=args.to)
    if args.to_data_dir:
        target = target.replace(data_dir=Path(args.to_data_dir).expanduser())
    if describe(source) == describe(target):
        raise ConfigError(f"the source and the target are the same index ({describe(source)}); pick another --to")
    embedder = embedding.load_embedder(settings)  # only its name and size: the vectors are copied, not recomputed
    with (
        closing(open_index(source, embedder.name, embedder.dim)) as src,
        closing(open_index(target, embedder.name, embedder.dim)) as dst,
    ):
        print(f"copying {describe(source)} -> {describe(target)}", file=sys.stderr)
        with _Bar(args.quiet, len(src.documents())) as bar:
            report = migrate(src, dst, bar.step)
    print(f"migrated: {report.copied} documents copied ({report.chunks} passages), {report.skipped} already there")
    return 0


class _Bar:
    """A tqdm bar on stderr counting documents."""

    def __init__(self, disabled: bool, total: int) -> None:
        from tqdm import tqdm

        self.bar = tqdm(total=total, unit="doc", file=sys.stderr, disable=disabled)

    def __enter__(self) -> _Bar:
        return self

    def __exit__(self, *exc: object) -> None:
        self.bar.close()

    def step(self, step: MigrationStep) -> None:
        self.bar.set_description_str(f"{step.name[:30]} {step.status}", refresh=False)
        self.bar.update(1)
