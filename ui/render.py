"""Turn engine records into the HTML and Markdown the page shows.

Everything that came from a document or a file name is escaped here, so a file called `<img onerror=...>.pdf`
or a page containing `<script>` is shown as text. Markdown for the chat also has its link and image syntax
neutralised: a document must not make the browser fetch anything.
"""

from __future__ import annotations

import html
import re
from collections.abc import Sequence

from rag.generate.prompting import NOT_FOUND
from rag.jsonview import supporting_text
from rag.text import MARKER
from rag.types import Answer, Citation, DocumentInfo, FileOutcome, Hit

from .views import SourceView

EVIDENCE_TITLE = "From your documents"
CLOSEST_TITLE = "Closest sentences in your documents"
EVIDENCE_END = "\n\n---\n\n"  # a rule between the quotes and the answer; `split_evidence` cuts there
STATUS_ICONS = {"indexed": "✅", "replaced": "♻️", "unchanged": "➖", "failed": "❌"}
_MD_SPECIAL = re.compile(r"([\\`*_{}\[\]()#+!|~>])")


def escape(text: str) -> str:
    """Return `text` safe to put inside HTML (quotes too, so it is also safe in attributes)."""
    return html.escape(text, quote=True)


def escape_md(text: str) -> str:
    """Return `text` for Markdown: HTML escaped and every Markdown control character backslash-escaped.

    Quotes stay as they are ("NVIDIA's", not "NVIDIA&#x27;s"): this text is never inside an attribute.
    """
    return _MD_SPECIAL.sub(r"\\\1", html.escape(text, quote=False))


def chat_markdown(text: str) -> str:
    """Return model output for the chat: HTML escaped, links and images disabled, `[n]` markers kept readable.

    Model output keeps its own light formatting (lists, bold) but `](` can no longer form a link or image.
    Quotes stay as written: with `<` and `>` escaped no tag, and so no attribute, can form.
    """
    return html.escape(text, quote=False).replace("](", "]\\(")


def evidence_markdown(quotes: Sequence[Citation], closest: bool = False) -> str:
    """Return the verbatim sentences shown before the answer, each with its [n], file and page; "" for none."""
    if not quotes:
        return ""
    lines = [f"**{CLOSEST_TITLE if closest else EVIDENCE_TITLE}**", ""]
    for quote in quotes:
        text = " ".join(supporting_text(quote).split())
        where = f"[{quote.n}] {quote.document}, p. {quote.page}"
        lines.append(f"> {escape_md(text)}  \n> — *{escape_md(where)}*\n")
    return "\n".join(lines).rstrip() + EVIDENCE_END


def split_evidence(text: str) -> tuple[str, str]:
    """Return (evidence block, answer) of a reply written by `evidence_markdown(...) + answer`."""
    if text.startswith((f"**{EVIDENCE_TITLE}**", f"**{CLOSEST_TITLE}**")) and EVIDENCE_END in text:
        head, rest = text.split(EVIDENCE_END, 1)
        return head + EVIDENCE_END, rest
    return "", text


def answer_markdown(answer: Answer) -> str:
    """Return the final answer: text with unsupported sentences flagged, or the abstention notice."""
    if answer.abstained:  # the notice once, in bold, then what else the abstention says
        detail = answer.text.strip().removeprefix(NOT_FOUND).strip()
        return f"**{escape_md(NOT_FOUND)}**" + (" " + chat_markdown(detail) if detail else "")
    text, flagged = flag_unsupported(answer.text, answer.unsupported)
    body = chat_markdown(text)
    if flagged:
        body += "\n\n*⚠️ marks a sentence that no passage supports — check it before relying on it.*"
    return body


def flag_unsupported(text: str, sentences: Sequence[str]) -> tuple[str, int]:
    """Return (text with " ⚠️" after each unsupported sentence, how many were flagged).

    The checker reports sentences without their [n] markers, so a sentence is found by its opening and
    followed through the text skipping markers. Fragments of under three words (e.g. a list number "2.")
    are not flagged: they carry no claim.
    """
    flagged = 0
    for sentence in sentences:
        words = sentence.split()
        if len(words) < 3:
            continue
        start = text.find(" ".join(words[: min(6, len(words) - 1)]))  # the last word may end in a marker
        end = _follow(text, start, sentence) if start >= 0 else -1
        if end > 0:
            text = text[:end] + " ⚠️" + text[end:]
            flagged += 1
    return text, flagged


def _follow(text: str, start: int, sentence: str) -> int:
    """Return where `sentence` ends in `text` from `start` (markers skipped), or -1 if it diverges."""
    i, j = start, 0
    while j < len(sentence) and i < len(text):
        marker = MARKER.match(text, i)
        if text[i] == sentence[j]:
            i, j = i + 1, j + 1
        elif marker:
            i = marker.end()
        elif text[i].isspace() or sentence[j].isspace():
            i, j = i + text[i].isspace(), j + sentence[j].isspace()
        else:
            return -1
    while (marker := MARKER.match(text, i)) is not None:
        i = marker.end()
    return i if j == len(sentence) else -1


def trace_markdown(query: str, hits: Sequence[Hit], timings: dict[str, float] | None = None, how: str = "") -> str:
    """Return "what the model saw": the search query, how passages were found, the numbered passages, timings."""
    lines = [f"**Search query:** {escape_md(query)}", ""]
    if how:
        lines += [f"**Found by:** {escape_md(how)}", ""]
    for n, hit in enumerate(hits, start=1):
        snippet = " ".join(hit.chunk.text.split())
        snippet = snippet if len(snippet) <= 300 else snippet[:300] + " …"
        lines.append(
            f"{n}. **{escape_md(hit.document)}**, p. {hit.page} · {hit.method} {hit.score:.3f} — {escape_md(snippet)}"
        )
    if not hits:
        lines.append("*No passage was retrieved.*")
    if timings:
        parts = ", ".join(f"{escape_md(k)} {v:.2f} s" for k, v in timings.items())
        lines += ["", f"**Timings:** {parts}"]
    return "\n".join(lines)


def sources_html(views: Sequence[SourceView], selected: int | None = None, note: str = "") -> str:
    """Return the sources panel: one card per passage, the selected one first, supporting span in <mark>."""
    if not views:
        message = note or "Ask a question: the passages behind the answer appear here."
        return f'<div class="fn-sources fn-empty">{escape(message)}</div>'
    chosen = next((v for v in views if v.n == selected), views[0])
    ordered = [chosen] + [v for v in views if v is not chosen]
    cards = [_card(v, v is chosen) for v in ordered]
    header = f'<p class="fn-note">{escape(note)}</p>' if note else ""
    return f'<div class="fn-sources">{header}{"".join(cards)}</div>'


def _card(view: SourceView, is_selected: bool) -> str:
    body = _marked_passage(view.text, view.marks)
    state = "cited" if view.cited else "retrieved"
    classes = f"fn-card fn-{state}" + (" fn-selected" if is_selected else "")
    return (
        f'<div class="{classes}" data-n="{view.n}">'
        f'<div class="fn-card-head"><b>[{view.n}]</b> <span class="fn-doc">{escape(view.document)}</span>'
        f" · page {view.page} · score {view.score:.3f} · {state}</div>"
        f'<div class="fn-passage">{body}</div></div>'
    )


def _marked_passage(text: str, marks: tuple[tuple[int, int], ...]) -> str:
    """Escape the passage with each (start, end) span of `marks` (in order, not overlapping) in <mark>."""
    pieces, at = [], 0
    for start, end in marks:
        pieces += [_passage(text[at:start]), f"<mark>{_passage(text[start:end])}</mark>"]
        at = end
    return "".join(pieces) + _passage(text[at:])


def _passage(text: str) -> str:
    """Escape passage text; blank lines become paragraph breaks, PDF line breaks flow as spaces."""
    return escape(text).replace("\n\n", "<br><br>")


def outcomes_html(rows: Sequence[tuple[str, str, str]]) -> str:
    """Return the upload results table from (file name, status, message) rows; status picks the icon."""
    if not rows:
        return ""
    body = "".join(
        f'<tr class="fn-{escape(status)}"><td>{STATUS_ICONS.get(status, "⏳")}</td>'
        f'<td class="fn-doc">{escape(name)}</td><td>{escape(message)}</td></tr>'
        for name, status, message in rows
    )
    return f'<table class="fn-table fn-outcomes"><tr><th></th><th>File</th><th>Result</th></tr>{body}</table>'


def outcome_rows(outcomes: Sequence[FileOutcome]) -> list[tuple[str, str, str]]:
    rows = []
    for outcome in outcomes:
        message = outcome.message + "".join(f" ⚠️ {w}" for w in outcome.warnings)
        rows.append((outcome.name, outcome.status, message))
    return rows


def documents_html(documents: Sequence[DocumentInfo]) -> str:
    """Return the document list as a table (name, kind, pages, passages)."""
    if not documents:
        return '<p class="fn-empty">No documents yet: drop some files above.</p>'
    body = "".join(
        f'<tr><td class="fn-doc">{escape(d.name)}</td><td>{d.pages}</td><td>{d.chunks}</td></tr>' for d in documents
    )
    return (
        f'<table class="fn-table fn-documents"><tr><th>Document</th><th>Pages</th><th>Passages</th></tr>{body}</table>'
    )


CSS = """
.fn-table { width: 100%; border-collapse: collapse; font-size: 0.9em; }
.fn-doc { overflow-wrap: anywhere; }
.fn-table td, .fn-table th { padding: 2px 6px; border-bottom: 1px solid var(--border-color-primary); text-align: left; }
.fn-card { border: 1px solid var(--border-color-primary); border-radius: 6px; padding: 6px 8px; margin-bottom: 8px; }
.fn-card.fn-selected { border-color: var(--color-accent); box-shadow: 0 0 0 1px var(--color-accent); }
.fn-card.fn-retrieved { opacity: 0.8; }
.fn-card-head { font-size: 0.85em; margin-bottom: 4px; }
.fn-passage { white-space: normal; font-size: 0.9em; max-height: 18em; overflow-y: auto; }
.fn-passage mark { background: #ffe066; color: black; }
.fn-empty, .fn-note { color: var(--body-text-color-subdued); }
"""
