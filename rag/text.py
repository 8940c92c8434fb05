"""The text toolkit every stage shares: words and terms, sentences, `[n]` citation markers, stopwords.

One definition per concept, so the prompt packer, the citation checker, the abstain gate, the re-ranker and the
page agree on what a word, a sentence and a marker are:

    words("NVIDIA's Q3 revenue")        -> ["NVIDIA's", "Q3", "revenue"]
    terms("The banks' loans")           -> ["the", "bank", "loan"]            (lower-cased, plurals folded)
    content_terms("What are the fees?") -> {"fee"}                            (no stopwords)
    sentence_spans("One. Two.")         -> [Span(0, 4, "One."), Span(5, 9, "Two.")]
    clauses("Fees: 5; tax\n3")       -> ["Fees:", "5;", "tax", "3"]            (the re-ranker's finer unit)
    parse_markers("as shown [1, 3]")    -> [1, 3];  strip_markers("Fees rose [2].") -> "Fees rose."

The numbers and names a claim rests on are `rag.entities`; BM25's tokens (stemmed, bm25s's stopwords) are the
index's own business: `rag.index.lexical.tokenize`.
"""

from __future__ import annotations

import re
from collections import Counter
from dataclasses import dataclass

# A word: letters/digits, joined by inner hyphens or apostrophes ("2019-nCoV", "don't"); "_" is not a letter.
WORD = re.compile(r"[^\W_]+(?:[-'][^\W_]+)*")
# Letter/digit runs only, for matching text across PDF extractors that differ in hyphens and spacing.
ALNUM = re.compile(r"[a-z0-9]+")

STOPWORDS = frozenset(
    """a about above after again all also am an and any are as at be because been before being below between both
    but by can could did do does doing down during each few for from further had has have having he her here hers
    him his how i if in into is it its itself just me more most my no nor not now of off on once only or other our
    out over own same she should so some such than that the their them then there these they this those through to
    too under until up very was we were what when where which while who whom why will with would you your yours
    tell explain describe mentioned according document documents passage passages""".split()  # noqa: SIM905
)

# A citation marker: "[3]", "[1, 2]", "[2-4]", "[2–4]", with the space before it. Only digits, commas and
# dashes may appear inside, so "[2.5]" or "[2019/2020]" in a sentence are text, not markers.
MARKER = re.compile(r"\s*\[(\d+(?:\s*[,\-–]\s*\d+)*)\]")
MAX_MARKER_RANGE = 20  # "[1-999]" is not 999 citations
_MARKERS = r"\[\d+(?:\s*[,\-–]\s*\d+)*\](?:\s*(?:,|and|&)?\s*(?:passages?\s*)?\[\d+(?:\s*[,\-–]\s*\d+)*\])*"
# A run of markers with the words that only point at it: "according to passage [2]," or "in passages [1] and [2]".
_NOUN = r"(?:the\s+)?(?:passages?|sources?|documents?)\s*"
_LEAD_IN = (
    r"\b(?:[Aa]ccording to|[Aa]s (?:stated|mentioned|described|shown|noted|explained|given) in|[Bb]ased on|"
    r"[Aa]s per|[Ss]ee|[Ff]rom|[Ii]n)\s+"
)
_CITATION_PHRASE = re.compile(
    rf"{_LEAD_IN}(?:{_NOUN})?{_MARKERS}(?:\s*,(?=\s))?"  # a lead-in takes its comma along
    rf"|\s*(?:{_NOUN})?{_MARKERS}"  # a bare run of markers keeps the punctuation after it
)
# A marker as the subject of a reporting verb says nothing itself: "[1] explains that asking…" → "Asking…".
REPORTING = r"(?:also\s+)?(?:explains|states|says|mentions|notes|shows|indicates|reports|describes|confirms|adds)\s+that\b"
_REPORTED = re.compile(
    rf"(?:(?<=^)|(?<=[.!?]\s)|(?<=\n))(?:[Tt]he\s+)?(?:[Pp]assages?\s*|[Ss]ources?\s*|[Dd]ocuments?\s*)?{_MARKERS}\s+"
    rf"{REPORTING}\s*"
)
# A clause that only says where the words came from, written without a marker: "… was $5,931, which is from the
# passage." (NVIDIA's 10-Q, session 18). The check adds the marker itself.
_POINTER_TAIL = re.compile(
    r",?\s+(?:which\s+is\s+|as\s+)?(?:(?:stated|mentioned|found|given|shown|described|provided)\s+)?"
    r"(?:in|from|according\s+to)\s+(?:the\s+)?(?:passages?|sources?)(?=\s*(?:[.!?]|$))",  # markers: _CITATION_PHRASE
    re.IGNORECASE,
)
_EMPTY_BRACKETS = re.compile(r"\s*\(\s*\)")
_ORPHAN_COMMA = re.compile(r",\s*(?=[.!?;:])")  # "Solana uses PoH, as stated in [2]." lost all after its comma
_SPACE_BEFORE_PUNCT = re.compile(r"\s+([.,;:!?)])")
_LEADING_PUNCT = re.compile(r"^[\s,;:]+")
# a word's first letter, unless the word is written with a capital inside ("iPhone", "mRNA", "eBay" stay)
_SENTENCE_START = re.compile(r"(^|[.!?]\s+)([a-z])(?![a-z0-9'-]*[A-Z])")

# A clause ends after . ! ? ; : or at any line break (a PDF's printed line, a table row): finer than a sentence.
_CLAUSE_END = re.compile(r"(?<=[.!?;:])\s+|\n+")
# A sentence ends at . ! ? (not after an initial, "e.g.", "i.e.", "al." or "Fig."), before a capital or a digit;
# blank lines and bullets end one too ("•"; in documents also "-", "*", "+" opening a line as in Markdown).
_SENTENCE_END = re.compile(
    r"(?<=[.!?])(?<!\s[A-Z]\.)(?<!e\.g\.)(?<!i\.e\.)(?<!\bal\.)(?<!\bFig\.)[\"')\]]*\s+(?=[\"'(\[]?[A-Z0-9])|\n\s*\n|\s*[•▪●]\s+"
)
_DOCUMENT_SENTENCE_END = re.compile(_SENTENCE_END.pattern + r"|\s*\n[ \t]*[-*+][ \t]+(?=\S)")
# Words no finished sentence ends on: "… BCV-AKS-01, which is [2]." ran into its marker before saying what it was.
DANGLING = frozenset(
    ["is", "are", "was", "were", "be", "been", "of", "to", "the", "a", "an", "and", "or", "which", "with", "by", "from",
     "than", "approximately"]
)  # fmt: skip
_CLAUSE_BREAK = re.compile(r"\s*[,;]\s+|\s+[—–-]\s+")
_TRAILING_CLAUSE = frozenset(["which", "that", "who", "whose", "where", "when", "while", "including"])
MIN_CLAUSE_WORDS = 4  # what is left after cutting the unfinished clause must say something
# A Markdown heading line alone ("## LoRA: low-rank adaptation"), in the files read as Markdown: HTML and Word
# headings are written as "#" lines by `rag.ingest.loaders` (its KINDS; a test keeps the two in step).
_HEADING = re.compile(r"#{1,6}[ \t]+\S[^\n]*")
MARKDOWN_SUFFIXES = (".md", ".markdown", ".html", ".htm", ".docx")


@dataclass(frozen=True)
class Span:
    """A piece of a text with its character offsets: `text == whole[start:end]`."""

    start: int
    end: int
    text: str


def words(text: str) -> list[str]:
    """Return the words of `text` as written (see `WORD`)."""
    return WORD.findall(text)


def terms(text: str) -> list[str]:
    """Return lower-cased words with a light plural/possessive folding ("banks'" → "bank", "NVIDIA's" → "nvidia")."""
    return [_fold(word) for word in WORD.findall(text.lower())]


def _fold(word: str) -> str:
    word = word.removesuffix("'s")
    return word[:-1] if len(word) > 3 and word.endswith("s") and not word.endswith("ss") else word


def content_terms(text: str, split_hyphens: bool = False) -> set[str]:
    """Return the distinct non-stopword terms of `text` (single letters dropped, numbers kept).

    A stopword is recognised before folding: "this" and "does" are stopwords, not the terms "thi" and "doe".
    `split_hyphens` adds the parts of hyphenated words, so "rank 8" meets "rank-8" and "SARS CoV 2" "SARS-CoV-2".
    """
    if split_hyphens:
        return content_terms(text) | content_terms(text.replace("-", " "))
    return {
        _fold(word)
        for word in WORD.findall(text.lower())
        if word not in STOPWORDS and _fold(word) not in STOPWORDS and (len(word) > 1 or word.isdigit())
    }


# Words a question uses about asking or about the user's files ("What details does the library give about …",
# "What do the documents say …"): the sentence that answers holds none of them, so scoring sentences by them
# refused such questions on the sample library (best sentence 0.38 against the evidence gate's 0.40).
_ASKING = ("library libraries detail details say says said tell tells told give gives given information info file "
           "files pdf pdfs describe describes described explain explains explained mention mentions mentioned")
ASKING_WORDS = frozenset(_fold(word) for word in _ASKING.split())


def asked_terms(question: str) -> set[str]:
    """The question's content terms an answering sentence could hold: without the asking words (all of them when
    the question has nothing else), hyphenated words also split."""
    terms = content_terms(question, split_hyphens=True)
    return (terms - ASKING_WORDS) or terms


def alnum_counts(text: str) -> Counter[str]:
    """Return the multiset of lower-cased letter/digit runs ("Time -consuming" → {time: 1, consuming: 1})."""
    return Counter(ALNUM.findall(text.lower()))


def sentence_spans(text: str, markdown_bullets: bool = True) -> list[Span]:
    """Return the sentences of `text` (also split at blank lines and bullets), whitespace-trimmed, with offsets.

    `markdown_bullets=False` keeps a "- " list in one piece: an answer's layout, which `citations.cite` rejoins.
    """
    spans: list[Span] = []
    start = 0
    for match in [*(_DOCUMENT_SENTENCE_END if markdown_bullets else _SENTENCE_END).finditer(text), None]:
        end = match.start() if match else len(text)
        piece = text[start:end]
        lead = len(piece) - len(piece.lstrip())
        body = piece.strip()
        if body:
            spans.append(Span(start + lead, start + lead + len(body), body))
        start = match.end() if match else len(text)
    return spans


REPEAT_MIN_CHARS = 20  # a sentence this short may be said twice ("Yes.", "See [2].")


def repeated_sentence_start(text: str, last_is_complete: bool = False) -> int | None:
    """Return where the first sentence of `text` that says an earlier one again begins (markers, case, spacing and
    end punctuation aside), or None. The last sentence counts only when `last_is_complete` (a reply still streaming
    may stop mid-sentence). Sentences under REPEAT_MIN_CHARS ("Yes.") may repeat.

    Example: "Solana uses Proof of History [1]. It orders events. Solana uses Proof of History [2]. So" -> 52, where
    the second "Solana uses …" begins.
    """
    spans = sentence_spans(text, markdown_bullets=False)
    seen: set[str] = set()
    for span in spans if last_is_complete else spans[:-1]:
        said = " ".join(strip_markers(span.text).lower().split()).rstrip(".!?;: ")
        if len(said) < REPEAT_MIN_CHARS:
            continue
        if said in seen:
            return span.start
        seen.add(said)
    return None


def is_heading(sentence: str, document: str) -> bool:
    """True for a sentence of `document` (its file name) that is a Markdown heading line: it names a section and
    states nothing, so it is never quoted as evidence, packed for its own sake or highlighted as a claim's support
    (its words still count, as the passage's context header). In a PDF or a text file "# …" is a footnote or a
    number sign ("# In accordance with Item 601…" in a 10-Q), so only files read as Markdown have headings."""
    return document.lower().endswith(MARKDOWN_SUFFIXES) and _HEADING.fullmatch(sentence.strip()) is not None


def clauses(text: str) -> list[str]:
    """Return the clauses of `text`, whitespace-trimmed: split after . ! ? ; : and at every line break.

    The re-ranker scores a passage by its best clause. Scoring by `sentence_spans` instead was measured on the six
    dev sets (session 5): SEC +0.010, CISI +0.005, but solana −0.018 and Cranfield −0.010 (a table row or a
    printed line is a unit there), so the finer split stays for that one use.
    Example: "Revenue: $5.9B; up 3%\nNext" -> ["Revenue:", "$5.9B;", "up 3%", "Next"]
    """
    return [piece.strip() for piece in _CLAUSE_END.split(text) if piece.strip()]


def parse_markers(text: str) -> list[int]:
    """Return the passage numbers in `text`'s markers: "[1, 3]" → [1, 3], "[2-4]" → [2, 3, 4]."""
    numbers: list[int] = []
    for group in MARKER.findall(text):
        for part in re.split(r"\s*,\s*", group):
            bounds = [int(x) for x in re.split(r"\s*[\-–]\s*", part)]
            low, high = bounds[0], max(bounds[-1], bounds[0])
            numbers.extend(range(low, min(high, low + MAX_MARKER_RANGE) + 1))
    return numbers


def finished_part(sentence: str) -> str | None:
    """`sentence` (markers and all) when it ends as a sentence does; cut back to before its last clause break when
    only a trailing clause is unfinished ("…the strain BCV-AKS-01, which is [2]." → "…the strain BCV-AKS-01 [2]."), or
    without a last "and"/"or"; None when the sentence itself never finished ("The gross margin … is [1].")."""
    bare = strip_markers(sentence).strip()
    body = bare.rstrip(".!?:;, ")
    last = WORD.findall(body.lower())[-1:]
    if not last or last[0] not in DANGLING:
        return sentence
    breaks = list(_CLAUSE_BREAK.finditer(body))
    tail = WORD.findall(body[breaks[-1].end() :].lower()) if breaks else []  # the last clause's words
    if last[0] in ("and", "or"):  # "… 5000 lamports and" (cut off): the list so far stands
        head = body[: len(body) - len(last[0])].rstrip(" ,;")
    elif tail and tail[0] in _TRAILING_CLAUSE:
        head = body[: breaks[-1].start()].rstrip()  # ", which is [2]": what it added was never said
    else:  # "Compared with X, the advantages of Fabric are [1].": the sentence itself is unfinished
        return None
    if len(WORD.findall(head)) < MIN_CLAUSE_WORDS or finished_part(head) != head:
        return None
    markers = "".join(f"[{n}]" for n in dict.fromkeys(parse_markers(sentence)))
    return f"{head} {markers}{bare[-1] if bare[-1] in '.!?' else '.'}" if markers else head + "."


def strip_markers(text: str) -> str:
    """Return `text` without its `[n]` markers, keeping sentences whole.

    A marker the sentence leans on goes with its words: "According to passage [2], revenue rose." becomes
    "Revenue rose.", "found in passages [1] and [2]." becomes "found.", "rose [1], costs fell" becomes
    "rose, costs fell", "[1] explains that asking helps." becomes "Asking helps.". Brackets that are not markers ("[2.5]", "[2019/2020]") stay.
    """
    text = _EMPTY_BRACKETS.sub("", _CITATION_PHRASE.sub("", _REPORTED.sub("", _POINTER_TAIL.sub("", text))))
    text = _ORPHAN_COMMA.sub("", _SPACE_BEFORE_PUNCT.sub(r"\1", text))
    text = _LEADING_PUNCT.sub("", text)
    return _capitalise_sentences(re.sub(r"[ \t]{2,}", " ", text))


def _capitalise_sentences(text: str) -> str:
    """Upper-case a first letter that removal left in lower case ("According to [1], the…" → "The…")."""
    return _SENTENCE_START.sub(lambda m: m.group(1) + m.group(2).upper(), text)
