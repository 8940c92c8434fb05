"""Generators of hostile files for the reliability tests: each writes one file quickly and returns its path.

Nothing here is stored in the repo: every file is made under a test's `tmp_path` in well under a second
(the decompression bomb, the slowest, takes about 1 s: one deflated block repeated).
`tiny_pdf` is a hand-written PDF writer (no fpdf/reportlab), so page counts and streams are exact.
"""

from __future__ import annotations

import os
import random
import zlib
from collections.abc import Sequence
from pathlib import Path

MiB = 1024 * 1024

# What a person would paste to try cross-site scripting through a file's text or its name.
XSS_PAYLOADS = (
    "<script>window.__pwned = 1; document.title = 'PWNED'</script>",
    "<img src=x onerror=\"window.__pwned = 2; document.title = 'PWNED'\">",
)
# Upload names a hostile browser can send: path traversal, terminal escapes, NULs, newlines, HTML.
HOSTILE_NAMES = (
    "../../../../etc/passwd.txt",
    "..\\..\\windows\\system32.txt",
    "evil\x00name.txt",
    "\x1b[31mred\x1b[0m\r\nfake: line.txt",
    "/absolute/path.txt",
    "<img src=x onerror=alert(1)>.txt",
)


def pdf_bytes(pages: Sequence[bytes], extra_objects: Sequence[bytes] = ()) -> bytes:
    """Return a valid PDF whose pages have these raw (uncompressed) content streams, Helvetica on each.

    `extra_objects` are complete `<< ... >> stream ... endstream` bodies appended as objects 4.. and
    referenced by nothing (use `pdf_with_streams` to put a stream on a page).
    """
    return _pdf([_plain_stream(content) for content in pages], extra_objects)


def _plain_stream(content: bytes) -> bytes:
    return b"<< /Length %d >>\nstream\n%s\nendstream" % (len(content), content)


def _pdf(content_objects: Sequence[bytes], extra_objects: Sequence[bytes] = ()) -> bytes:
    """Objects: 1 catalog, 2 pages, 3 font, then per page (page, content), then extras."""
    n = len(content_objects)
    first_page = 4
    kids = b" ".join(b"%d 0 R" % (first_page + 2 * i) for i in range(n))
    objects: list[bytes] = [
        b"<< /Type /Catalog /Pages 2 0 R >>",
        b"<< /Type /Pages /Kids [%s] /Count %d >>" % (kids, n),
        b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>",
    ]
    for i, content in enumerate(content_objects):
        page_id, content_id = first_page + 2 * i, first_page + 2 * i + 1
        assert len(objects) + 1 == page_id
        objects.append(
            b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 200 200] /Resources << /Font << /F1 3 0 R >> >> "
            b"/Contents %d 0 R >>" % content_id
        )
        objects.append(content)
    objects.extend(extra_objects)
    out = bytearray(b"%PDF-1.4\n%\xe2\xe3\xcf\xd3\n")
    offsets = []
    for number, body in enumerate(objects, start=1):
        offsets.append(len(out))
        out += b"%d 0 obj\n%s\nendobj\n" % (number, body)
    xref = len(out)
    out += b"xref\n0 %d\n0000000000 65535 f \n" % (len(objects) + 1)
    out += b"".join(b"%010d 00000 n \n" % offset for offset in offsets)
    out += b"trailer\n<< /Size %d /Root 1 0 R >>\nstartxref\n%d\n%%%%EOF\n" % (len(objects) + 1, xref)
    return bytes(out)


def text_op(text: str) -> bytes:
    """A content stream that shows one line of (ASCII) text."""
    safe = text.replace("\\", "\\\\").replace("(", "\\(").replace(")", "\\)")
    return b"BT /F1 9 Tf 10 100 Td (%s) Tj ET" % safe.encode("latin-1")


def tiny_pdf(path: Path, text: str = "Hello from a tiny PDF page.") -> Path:
    path.write_bytes(pdf_bytes([text_op(text)]))
    return path


def many_pages_pdf(path: Path, count: int) -> Path:
    """`count` pages, each with one short line of text (numbered, so no two pages are alike)."""
    path.write_bytes(pdf_bytes([text_op(f"Tiny page {i} of {count} about herons.") for i in range(1, count + 1)]))
    return path


def _adler32_of_repeats(byte: int, n: int) -> int:
    """adler32 of `n` copies of one byte, in closed form (looping over GBs takes seconds)."""
    a = (1 + n * byte) % 65521
    b = (n + byte * n * (n + 1) // 2) % 65521
    return (b << 16) | a


def deflate_bomb(inflated_bytes: int, block: bytes = b" " * MiB) -> bytes:
    """Return a zlib stream that inflates to `inflated_bytes` of `block` (spaces: valid, empty PDF content).

    `block` must repeat one byte. Deflating GBs takes ~40 s on a busy core, so we deflate one block and repeat it: after Z_FULL_FLUSH the
    compressor forgets its history, so every block compresses to the same bytes. The adler32 is exact.
    """
    packer = zlib.compressobj(9)
    header_and_first = packer.compress(block) + packer.flush(zlib.Z_FULL_FLUSH)
    again = zlib.compressobj(9)
    again.compress(block)
    again.flush(zlib.Z_FULL_FLUSH)
    repeat = again.compress(block) + again.flush(zlib.Z_FULL_FLUSH)  # a block after a full flush, no header
    count = inflated_bytes // len(block)
    checksum = _adler32_of_repeats(block[0], count * len(block))
    final = b"\x03\x00"  # an empty final fixed-Huffman block
    return header_and_first + repeat * (count - 1) + final + checksum.to_bytes(4, "big")


def bomb_pdf(path: Path, inflated_gb: float = 2.5) -> Path:
    """A PDF whose 2nd page's /FlateDecode content inflates to `inflated_gb` GB; page 1 is ordinary text.

    ~2.5 MB on disk. A reader that inflates it whole needs more than the worker's 2 GB memory cap.
    """
    bomb = deflate_bomb(int(inflated_gb * 1024 * MiB))
    body = b"<< /Length %d /Filter /FlateDecode >>\nstream\n%s\nendstream" % (len(bomb), bomb)
    path.write_bytes(_pdf([_plain_stream(text_op("An ordinary first page about otters.")), body]))
    return path


def sparse_file(path: Path, size: int) -> Path:
    """A file of `size` bytes that takes no disk space (a hole), made instantly."""
    with open(path, "wb") as handle:
        handle.truncate(size)
    return path


def random_bytes(path: Path, size: int = 64 * 1024, seed: int = 7) -> Path:
    path.write_bytes(random.Random(seed).randbytes(size))
    return path


def truncated_pdf(path: Path) -> Path:
    """The first 60% of a valid multi-page PDF: no xref, no trailer."""
    data = pdf_bytes([text_op(f"Page {i} about truncation.") for i in range(5)])
    path.write_bytes(data[: int(len(data) * 0.6)])
    return path


def nested_html(path: Path, depth: int = 100_000) -> Path:
    """`depth` nested <div>s around one sentence: recursive walkers hit the recursion limit."""
    path.write_text("<html><body>" + "<div>" * depth + "Deep inside lives a kingfisher." + "</div>" * depth)
    return path


def script_html(path: Path) -> Path:
    """Visible text plus scripts, handlers and styles that must never reach the index."""
    path.write_text(
        "<html><head><title>t</title><script>var stolen = document.cookie;</script>"
        "<style>body{background:url(javascript:alert(1))}</style></head><body>"
        "<h1>Puffins</h1><p onclick=\"alert('click')\">Puffins nest in burrows on cliffs.</p>"
        + "".join(XSS_PAYLOADS)
        + "<noscript>noscript text</noscript><iframe src='javascript:alert(3)'>iframe text</iframe>"
        "</body></html>"
    )
    return path


def utf16_text(path: Path, bom: bool = True) -> Path:
    text = "Crème brûlée and naïve café: UTF-16 text about lynxes.\n" * 20
    path.write_bytes(text.encode("utf-16") if bom else text.encode("utf-16-le"))
    return path


def latin1_text(path: Path) -> Path:
    path.write_bytes(("Le garçon mangea une crème brûlée à Noël près du lac. " * 20).encode("latin-1"))
    return path


def fifo(path: Path) -> Path:
    """A named pipe with a supported extension: opening it for reading blocks until someone writes."""
    os.mkfifo(path)
    return path
