"""Loaders: every format round-trips its text and pages; bad files give a clear DocumentLoadError."""

from __future__ import annotations

import hashlib
import os

import pytest
from fixtures.docs import make_docx, make_pdf, nested_html

from rag.config import Settings
from rag.errors import DocumentLoadError, EncryptedFileError, FileTooLargeError, NoTextError, UnsupportedFileError
from rag.ingest.loaders import clean_text, load_document

SETTINGS = Settings()


def write(tmp_path, name: str, data: bytes | str):
    path = tmp_path / name
    path.write_bytes(data.encode() if isinstance(data, str) else data)
    return path


def test_text_file_is_one_page_with_sha256_id(tmp_path):
    path = write(tmp_path, "notes.txt", "First line.\n\nSecond paragraph.\n")
    doc = load_document(path, SETTINGS)
    assert (doc.kind, doc.name, doc.page_count) == ("txt", "notes.txt", 1)
    assert doc.pages[0].number == 1
    assert doc.pages[0].text == "First line.\n\nSecond paragraph."
    assert doc.doc_id == hashlib.sha256(path.read_bytes()).hexdigest()


@pytest.mark.parametrize(
    "encoding", ["utf-16", "utf-8-sig", "utf-32", "latin-1", "cp1252"], ids=lambda e: e.replace("-", "")
)
def test_text_encodings_are_detected(tmp_path, encoding):
    text = "Café crème brûlée costs 5 euros. Naïve façade, señor.\n" * 20
    doc = load_document(write(tmp_path, "menu.txt", text.encode(encoding)), SETTINGS)
    assert "Café crème brûlée" in doc.pages[0].text
    assert "señor" in doc.pages[0].text


def test_random_bytes_never_crash(tmp_path):
    noise = os.urandom(20_000)
    for name in ("noise.txt", "noise.pdf", "noise.docx", "noise.md"):
        with pytest.raises(DocumentLoadError, match=name):
            load_document(write(tmp_path, name, noise), SETTINGS)


def test_random_bytes_named_pdf_say_what_to_do(tmp_path):
    with pytest.raises(DocumentLoadError, match=r"noise\.pdf: is not a readable PDF \(.*\); re-export or repair it"):
        load_document(write(tmp_path, "noise.pdf", os.urandom(5000)), SETTINGS)


def test_zero_byte_file_is_a_clear_error(tmp_path):
    for name in ("empty.pdf", "empty.txt"):
        with pytest.raises(DocumentLoadError, match=rf"{name}: is empty \(0 bytes\)"):
            load_document(write(tmp_path, name, b""), SETTINGS)


def test_whitespace_only_text_has_no_text(tmp_path):
    with pytest.raises(NoTextError, match="blank.txt"):
        load_document(write(tmp_path, "blank.txt", " \n\t\n "), SETTINGS)


def test_unsupported_type_lists_supported_ones(tmp_path):
    with pytest.raises(UnsupportedFileError, match=r"'\.xlsx' files are not supported; supported types: \.pdf, \.txt"):
        load_document(write(tmp_path, "sheet.xlsx", b"PK.."), SETTINGS)


def test_markdown_keeps_raw_text_with_headings(tmp_path):
    text = "# Title\n\nIntro.\n\n## Part A\n\n- item one\n- item two\n"
    doc = load_document(write(tmp_path, "guide.md", text), SETTINGS)
    assert doc.kind == "md"
    assert doc.pages[0].text == text.strip()


def test_html_keeps_main_text_and_headings(tmp_path):
    html = """<html><head><title>T</title><style>.x{color:red}</style><script>alert('no')</script></head>
    <body><nav><a href="/">Home</a> <a href="/about">About</a></nav>
    <main><h1>Travel policy</h1><p>Book   flights
    two weeks ahead.</p><h2>Hotels</h2><ul><li>Max 150 EUR</li><li>Breakfast included</li></ul>
    <table><tr><th>City</th><th>Limit</th></tr><tr><td>Paris</td><td>200</td></tr></table></main>
    <footer>Copyright 2024</footer></body></html>"""
    doc = load_document(write(tmp_path, "policy.html", html), SETTINGS)
    text = doc.pages[0].text
    assert "# Travel policy\n" in text and "\n## Hotels\n" in text
    assert "Book flights two weeks ahead." in text
    assert "- Max 150 EUR" in text and "City | Limit" in text and "Paris | 200" in text
    for boilerplate in ("alert", "color:red", "Home", "About", "Copyright"):
        assert boilerplate not in text


def test_deeply_nested_html_does_not_recurse(tmp_path):
    doc = load_document(write(tmp_path, "deep.htm", nested_html(100_000)), SETTINGS)
    text = doc.pages[0].text
    assert "## Deep heading" in text and "deep text" in text and "after the divs" in text
    assert "secret" not in text and "color" not in text and "Home" not in text


def test_docx_headings_become_markdown_and_tables_rows(tmp_path):
    doc = load_document(make_docx(tmp_path / "handbook.docx"), SETTINGS)
    assert doc.kind == "docx" and doc.page_count == 1
    text = doc.pages[0].text
    assert text.startswith("# Employee Handbook\n")
    assert "## Leave\n" in text and "Staff get 25 vacation days per year." in text
    assert "Grade | Days\nSenior | 30" in text
    assert text.index("Senior | 30") < text.index("## Expenses")


def test_pdf_pages_keep_numbers_and_text(tmp_path):
    pages = ["Page one says hello.", "Page two: (parentheses) and more.", "Third and last page."]
    doc = load_document(write(tmp_path, "three.pdf", make_pdf(pages)), SETTINGS)
    assert doc.kind == "pdf"
    assert [p.number for p in doc.pages] == [1, 2, 3]
    assert [p.text for p in doc.pages] == pages
    assert doc.warnings == ()


def test_pdf_pages_without_text_are_kept_and_reported(tmp_path):
    doc = load_document(write(tmp_path, "mixed.pdf", make_pdf(["", "Some text here.", "", ""])), SETTINGS)
    assert [p.number for p in doc.pages] == [1, 2, 3, 4]
    assert doc.pages[0].text == "" and doc.pages[1].text == "Some text here."
    assert doc.warnings == ("3 of 4 pages have no text (blank: no text and no picture to read by OCR)",)


def test_pdf_without_any_text_is_no_text_error(tmp_path):
    with pytest.raises(NoTextError, match=r"blank\.pdf: has no text on any of its 2 pages \(blank: no text and no pic"):
        load_document(write(tmp_path, "blank.pdf", make_pdf(["", ""])), SETTINGS)


def test_pdf_page_that_fails_is_skipped_with_a_warning(tmp_path, monkeypatch):
    import pypdf

    from rag.ingest import pdf

    monkeypatch.setattr(pdf, "PDF_READERS", (pdf._read_with_pypdf,))

    original = pypdf.PageObject.extract_text

    def flaky(page, *args, **kwargs):
        text = original(page, *args, **kwargs)
        if "two" in text:
            raise pypdf.errors.LimitReachedError("Reached maximum array element count.")
        return text

    monkeypatch.setattr(pypdf.PageObject, "extract_text", flaky)
    doc = load_document(write(tmp_path, "flaky.pdf", make_pdf(["one", "two", "three"])), SETTINGS)
    assert [p.text for p in doc.pages] == ["one", "", "three"]
    assert doc.warnings == ("page(s) 2 could not be read and were skipped",)


def test_encrypted_pdf_with_empty_password_opens(shared_dir):
    path = shared_dir / "pdfs/pypdf_resources/encryption/r6-empty-password.pdf"
    doc = load_document(path, SETTINGS)
    assert doc.page_count >= 1 and any(p.text.strip() for p in doc.pages)


@pytest.mark.parametrize(
    "file",
    [
        "pypdf_resources/encryption/r2-user-password.pdf",
        "pypdf_resources/encryption/r4-aes-user-password.pdf",
        "pdfjs_selection/issue6010_2.pdf",
    ],  # fmt: skip
)
def test_password_protected_pdf_says_remove_the_password(shared_dir, file):
    path = shared_dir / "pdfs" / file
    message = rf"{path.name}: is password-protected; remove the password and upload it again"
    with pytest.raises(EncryptedFileError, match=message):
        load_document(path, SETTINGS)


def test_file_size_limit_names_the_setting(tmp_path):
    path = write(tmp_path, "big.txt", "word " * 100_000)
    with pytest.raises(FileTooLargeError, match=r"big\.txt: is 0\.5 MB, over the 0\.1 MB limit \(RAG_MAX_FILE_MB\)"):
        load_document(path, SETTINGS.replace(max_file_mb=0.1))


def test_page_limit_names_the_setting(tmp_path):
    path = write(tmp_path, "long.pdf", make_pdf(["a", "b", "c"]))
    with pytest.raises(FileTooLargeError, match=r"long\.pdf: has 3 pages, over the 2 page limit \(RAG_MAX_PAGES\)"):
        load_document(path, SETTINGS.replace(max_pages=2))


def test_display_name_drops_control_characters_only(tmp_path):
    path = write(tmp_path, "x.txt", "hello")
    doc = load_document(path, SETTINGS, name="../../etc/pass\x00wd\x1b[31m.txt")
    assert doc.name == "../../etc/passwd[31m.txt"
    assert doc.path == str(path)


def test_clean_text_strips_nul_and_controls_and_squeezes_spaces():
    assert clean_text("a\x00b  c \r\n\n\n\nd\x07\te") == "ab c\n\nd e"
    assert clean_text("lone \ud800 surrogate") == "lone surrogate"


def test_a_pipe_or_folder_is_refused_without_reading_it(tmp_path):
    os.mkfifo(tmp_path / "pipe.txt")
    (tmp_path / "folder.md").mkdir()
    for name in ("pipe.txt", "folder.md"):
        with pytest.raises(DocumentLoadError, match=rf"{name}: is not a regular file"):
            load_document(tmp_path / name, SETTINGS)


def test_scanned_pages_with_only_a_header_line_are_reported_when_ocr_is_off(shared_dir):
    path = shared_dir / "pdfs/real_world/llama_agents/court_orders/dr_a_order.pdf"  # 5 scans, an ECF line each
    doc = load_document(path, SETTINGS.replace(ocr="off"))
    assert doc.pages[0].text.startswith("Case 1:21-cv-01009")
    assert doc.warnings == ("5 of 5 pages have little or no text — scanned? OCR is off (RAG_OCR=off)",)


def test_pdf_that_pypdf_cannot_parse_loads(shared_dir):
    doc = load_document(shared_dir / "pdfs/pdfminer_samples/simple1.pdf", SETTINGS)  # pypdf: startxref not found
    assert "Hello World" in doc.pages[0].text


@pytest.mark.parametrize(
    ("file", "text"),
    [
        ("pypdf_resources/encryption/r6-user-password.pdf", "pdf encryption test"),  # PDFium: "password"
        ("pypdf_resources/imagemagick-images.pdf", "Background"),  # PDFium: no text
    ],
)
def test_what_pdfium_refuses_or_misses_pypdf_gets_a_second_look(shared_dir, file, text):
    doc = load_document(shared_dir / "pdfs" / file, SETTINGS)
    assert text in "\n".join(p.text for p in doc.pages)
