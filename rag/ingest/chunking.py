"""Split a `Document` into passages sized in the embedder's own tokens, structure first.

    chunker = Chunker(tokenizer_file, size_tokens=240, overlap_tokens=48)     # or chunker_for(settings)
    chunks = chunker.split(document)   # every chunk: page.text[c.start:c.end] == c.text, <= 240 tokens

The splitting itself is semantic-text-splitter's (Rust): it cuts at the largest unit that fits
(Markdown: headings, then blocks; plain text: blank lines, lines, sentences, words) and only goes below
a word for a "word" that alone is over the limit. Its offsets are Python `str` (character) offsets.
For PDF and plain text it sees each page with soft line wraps as spaces (`unwrap_lines`, same length),
so it can cut at sentence ends instead of printed line ends.

One deviation, for speed: we hand it a Python token counter instead of `from_huggingface_tokenizer`.
The native sizer re-tokenizes every candidate span (~200 chunks/s on an SEC filing, a fifth of the
embedder's time again). WordPiece (BERT) always splits at whitespace and never merges across it, so the
token count of a span is the sum of the counts of its whitespace-separated words (for text that went
through `loaders.clean_text`); we count each distinct word once and cache it: identical chunks, ~14x
faster. Every chunk is then re-checked with the real tokenizer; one still over the limit (it should not
happen) is cut at token boundaries rather than passed on too long. Measured on the 20 SEC 10-Qs:
~1,700 chunks per CPU-second including that check (the embedder does ~40/s).

The capacity is a single number, not a range: chunks fill up to it (median 132 of 160 tokens on the
SEC filings, 47% ending a sentence); a range stops as soon as a chunk reaches its lower end.

Counts exclude [CLS]/[SEP]: all-MiniLM-L6-v2 reads 256 tokens including them, so size_tokens <= 254.
Heading paths come from `#` lines (Markdown, and HTML/DOCX, whose loaders write headings that way);
PDF and plain text chunks have no heading path.

Each chunk also gets a `context` header of at most 24 tokens (file name, document title, heading path) that
is embedded and BM25-indexed with it but is not part of its text (`Chunk.indexed_text`). A 240-token passage
plus its header fits the embedder's 256-token window except for at most a few tail tokens, which the next
passage's overlap repeats.
"""

from __future__ import annotations

import bisect
import hashlib
import re
from pathlib import Path

from rag.types import Chunk, Document, Page

MARKDOWN_KINDS = {"md", "html", "docx"}
CONTEXT_TOKENS = 24  # the passage header's share of the embedder's window (see the module docstring)
_WORD_CACHE_LIMIT = 500_000  # distinct words remembered across documents before the cache is reset

_ATX = re.compile(r"^ {0,3}(#{1,6})[ \t]+(.+?)[ \t]*#*[ \t]*$|^ {0,3}(#{1,6})[ \t]*$", re.MULTILINE)
_FENCE = re.compile(r"^ {0,3}(```|~~~)", re.MULTILINE)
_SETEXT = re.compile(r"^(?P<title>[^\n]*\S[^\n]*)\n {0,3}(?P<bar>=+|-+)[ \t]*$", re.MULTILINE)


class Chunker:
    """Token-aware, structure-first splitter. `split(doc)` is deterministic and never crosses pages."""

    def __init__(self, tokenizer_file: str | Path, size_tokens: int, overlap_tokens: int, context: bool = True) -> None:
        """Sizes have no defaults here: they come from Settings (`rag.ingest.reading.chunker_for`), the one place."""
        from semantic_text_splitter import MarkdownSplitter, TextSplitter
        from tokenizers import Tokenizer

        if size_tokens < 8:
            raise ValueError(f"size_tokens={size_tokens} is too small; use at least 8")
        if not 0 <= overlap_tokens < size_tokens:
            raise ValueError(f"overlap_tokens={overlap_tokens} must be >= 0 and smaller than size_tokens={size_tokens}")
        self.tokenizer = Tokenizer.from_file(str(tokenizer_file))
        self.tokenizer.no_truncation()
        self.tokenizer.no_padding()
        self.max_tokens = size_tokens
        self.overlap_tokens = overlap_tokens
        self.context = context
        self._word_tokens: dict[str, int] = {}
        self._text = TextSplitter.from_callback(self.count_tokens, size_tokens, overlap=overlap_tokens)
        self._markdown = MarkdownSplitter.from_callback(self.count_tokens, size_tokens, overlap=overlap_tokens)

    def count_tokens(self, text: str) -> int:
        """Tokens in `text` without [CLS]/[SEP], as the embedder's tokenizer counts them."""
        cache = self._word_tokens
        if len(cache) > _WORD_CACHE_LIMIT:
            cache.clear()
        total = 0
        for word in text.split():
            n = cache.get(word)
            if n is None:
                n = cache[word] = len(self.tokenizer.encode(word, add_special_tokens=False).ids)
            total += n
        return total

    def split(self, doc: Document) -> list[Chunk]:
        """All chunks of `doc`, in reading order, with `ordinal` numbering them from 0."""
        is_markdown = doc.kind in MARKDOWN_KINDS
        splitter = self._markdown if is_markdown else self._text
        pages = [p for p in doc.pages if p.text.strip()]
        views = [p.text if is_markdown else unwrap_lines(p.text) for p in pages]  # same length: offsets hold
        spans = [
            (page, start, start + len(text))
            for page, found in zip(pages, splitter.chunk_all_indices(views), strict=True)
            for start, text in found
            if text.strip()
        ]
        if is_markdown and self.context:
            spans = _without_lone_headings(spans)
        encodings = self.tokenizer.encode_batch([page.text[s:e] for page, s, e in spans], add_special_tokens=False)
        chunks: list[Chunk] = []
        page_headings: dict[int, list[tuple[int, tuple[str, ...]]]] = {}
        contexts: dict[tuple[str, ...], str] = {}  # one header per heading path (a PDF has just one)
        for (page, span_start, span_end), encoding in zip(spans, encodings, strict=True):
            if is_markdown and page.number not in page_headings:
                page_headings[page.number] = heading_paths(page.text)
            for start, end in self._fit(span_start, span_end, encoding.offsets):
                headings = heading_path(page_headings[page.number], start) if is_markdown else ()
                if headings not in contexts:
                    contexts[headings] = self.passage_context(doc, headings) if self.context else ""
                chunks.append(
                    Chunk(
                        chunk_id=chunk_id(doc.doc_id, page.number, start, end),
                        doc_id=doc.doc_id,
                        document=doc.name,
                        page=page.number,
                        start=start,
                        end=end,
                        text=page.text[start:end],
                        headings=headings,
                        ordinal=len(chunks),
                        context=contexts[headings],
                    )
                )
        return chunks

    def passage_context(self, doc: Document, headings: tuple[str, ...]) -> str:
        """ "<file name> — <title> — <heading path>", at most CONTEXT_TOKENS tokens; "" when there is nothing.

        A file name made only of digits and punctuation (an id) says nothing and is left out; so is a title
        the file name already contains, and an outermost heading equal to the title.
        """
        stem = " ".join(re.split(r"[_\s]+", Path(doc.name).stem)).strip()
        parts = [stem] if any(ch.isalpha() for ch in stem) else []
        title = doc.title.strip()
        if title and _words(title) not in _words(stem):
            parts = [title] if _words(stem) in _words(title) else [*parts, title]
        path = list(headings[1:] if headings and _words(headings[0]) == _words(title) else headings)
        if path:
            parts.append(" › ".join(path))
        words: list[str] = []
        budget = CONTEXT_TOKENS
        for word in " — ".join(parts).split():
            budget -= self.count_tokens(word)
            if budget < 0:
                break
            words.append(word)
        return " ".join(words)

    def _fit(self, start: int, end: int, offsets: list[tuple[int, int]]) -> list[tuple[int, int]]:
        """[(start, end)] when the span's real token count is within the limit, else token-boundary pieces."""
        if len(offsets) <= self.max_tokens:
            return [(start, end)]
        return [
            (start + offsets[i][0], start + offsets[min(i + self.max_tokens, len(offsets)) - 1][1])
            for i in range(0, len(offsets), self.max_tokens)
        ]


def unwrap_lines(text: str) -> str:
    """`text` with soft line wraps turned into spaces: same length, same tokens, so offsets still hold.

    PDF text breaks every printed line and the splitter ranks a line break above a sentence end, so prose
    chunks started and stopped mid-sentence (1 in 5 ended a sentence on the SEC filings and papers; about
    half with this). Table rows, headings and list items keep their breaks.
    Example: "the basic building\\nblock. Next\\nLine" -> "the basic building block. Next\\nLine"
    """
    lines = text.split("\n")
    joined = [
        line + (" " if _is_soft_wrap(line, nxt) else "\n") for line, nxt in zip(lines[:-1], lines[1:], strict=True)
    ]
    return "".join(joined) + lines[-1]


def _is_soft_wrap(line: str, nxt: str) -> bool:
    """Whether the break between two lines is a printed line wrap inside a sentence."""
    if not line or not nxt or nxt[0].isspace():
        return False  # a blank line is a paragraph break
    last, first = line[-1], nxt[0]
    if (first.islower() or first == "(") and (last.isalnum() or last in ",;-–)"):
        return True  # the sentence goes on in lower case
    return len(line) >= 60 and (last.islower() or last in ",;")  # a full printed line that stops mid-sentence


def _without_lone_headings(spans: list[tuple[Page, int, int]]) -> list[tuple[Page, int, int]]:
    """Drop a span holding only heading lines when another span of the same page follows it.

    The splitter cuts at the highest level first, so a section longer than one passage loses its heading to a
    passage of its own ("# Results"): it matches queries on the heading's words and gives the reader nothing.
    The passages after it carry the heading in their context header, which is why this applies only when
    headers are on.
    """
    kept = []
    for (page, start, end), following in zip(spans, [*spans[1:], None], strict=True):
        lone = following is not None and following[0] is page and _only_headings(page.text[start:end])
        if not lone:
            kept.append((page, start, end))
    return kept


def _only_headings(text: str) -> bool:
    """True when `text` is nothing but Markdown heading lines."""
    return not _SETEXT.sub("", _ATX.sub("", text)).strip()


def _words(text: str) -> str:
    """Lower-cased words only ("Agents-primer" → "agents primer"), to see that a title repeats a file name."""
    return " ".join(re.split(r"[\W_]+", text.lower())).strip()


def chunk_id(doc_id: str, page: int, start: int, end: int) -> str:
    """Stable id: the same file chunked the same way always gives the same ids."""
    return hashlib.sha256(f"{doc_id}:{page}:{start}:{end}".encode()).hexdigest()[:16]


def heading_paths(text: str) -> list[tuple[int, tuple[str, ...]]]:
    """(offset, heading path in force from there) for every Markdown heading in `text`, outside code fences.

    Example: "# A\\n\\ntext\\n## B" -> [(0, ("A",)), (10, ("A", "B"))]
    """
    fences = [m.start() for m in _FENCE.finditer(text)]
    found = [(m.start(), len(m.group(1) or m.group(3)), (m.group(2) or "").strip()) for m in _ATX.finditer(text)]
    found += [(m.start(), 1 if m.group("bar")[0] == "=" else 2, m.group("title").strip()) for m in _SETEXT.finditer(text)
              if not m.group("title").lstrip().startswith(("#", "-", "*", "|", ">"))]  # fmt: skip
    stack: list[tuple[int, str]] = []
    paths = []
    for start, level, title in sorted(found):
        if bisect.bisect_left(fences, start) % 2:  # odd number of fence lines before it: inside a code block
            continue
        while stack and stack[-1][0] >= level:
            stack.pop()
        stack.append((level, title))
        paths.append((start, tuple(t for _, t in stack if t)))
    return paths


def heading_path(paths: list[tuple[int, tuple[str, ...]]], offset: int) -> tuple[str, ...]:
    """The heading path (from `heading_paths`) in force at `offset`, outermost first."""
    i = bisect.bisect_right(paths, offset, key=lambda p: p[0])
    return paths[i - 1][1] if i else ()
