"""The text toolkit every stage shares: words and terms, sentences, `[n]` citation markers, stopwords.

One definition per concept, so the prompt packer, the citation checker, the abstain gate, the re-ranker and the
page agree on what a word, a sentence and a marker are:

    words("NVIDIA's Q3 revenue")        -> ["NVIDIA's", "Q3", "revenue"]
    terms("The banks' loans")           -> ["the", "bank", "loan"]            (lower-cased, plurals folded)
    content_terms("What are the fees?") -> {"fee"}                            (no stopwords)
    sentence_spans("One. Two.")         -> [Span(0, 4, "One."), Span(5, 9, "Two.")]
    clauses("Fees: 5; tax\n3")       -> ["Fees:", "5;", "tax", "3"]            (the re-ranker's finer unit)
    parse_markers("as shown [1, 3]")    -> [1, 3];  strip_markers("Fees rose [2].") -> "Fees rose."

BM25's tokens (stemmed, bm25s's stopwords) are the index's own business: `rag.index.lexical.tokenize`.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass

# A word: letters/digits, joined by inner hyphens or apostrophes ("2019-nCoV", "don't"); "_" is not a letter.
WORD = re.compile(r"[^\W_]+(?:[-'][^\W_]+)*")
# Letter/digit runs only, for matching text across PDF extractors that differ in hyphens and spacing.
_ALNUM = re.compile(r"[a-z0-9]+")
_NAME_JOINERS = frozenset(["of", "the", "for", "de", "du", "von", "van"])  # "Bank of England" is one name

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
_EMPTY_BRACKETS = re.compile(r"\s*\(\s*\)")
_SPACE_BEFORE_PUNCT = re.compile(r"\s+([.,;:!?)])")
_LEADING_PUNCT = re.compile(r"^[\s,;:]+")
_SENTENCE_START = re.compile(r"(^|[.!?]\s+)([a-z])")

# A clause ends after . ! ? ; : or at any line break (a PDF's printed line, a table row): finer than a sentence.
_CLAUSE_END = re.compile(r"(?<=[.!?;:])\s+|\n+")
# A sentence ends at . ! ? (not after an initial, "e.g.", "i.e.", "al." or "Fig."), before a capital or a digit;
# blank lines and bullets end one too ("•"; in documents also "-", "*", "+" opening a line as in Markdown).
_SENTENCE_END = re.compile(
    r"(?<=[.!?])(?<!\s[A-Z]\.)(?<!e\.g\.)(?<!i\.e\.)(?<!\bal\.)(?<!\bFig\.)[\"')\]]*\s+(?=[\"'(\[]?[A-Z0-9])|\n\s*\n|\s*[•▪●]\s+"
)
_DOCUMENT_SENTENCE_END = re.compile(_SENTENCE_END.pattern + r"|\s*\n[ \t]*[-*+][ \t]+(?=\S)")


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


def alnum_counts(text: str) -> Counter[str]:
    """Return the multiset of lower-cased letter/digit runs ("Time -consuming" → {time: 1, consuming: 1})."""
    return Counter(_ALNUM.findall(text.lower()))


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


def strip_markers(text: str) -> str:
    """Return `text` without its `[n]` markers, keeping sentences whole.

    A marker the sentence leans on goes with its words: "According to passage [2], revenue rose." becomes
    "Revenue rose.", "found in passages [1] and [2]." becomes "found.", "rose [1], costs fell" becomes
    "rose, costs fell", "[1] explains that asking helps." becomes "Asking helps.". Brackets that are not markers ("[2.5]", "[2019/2020]") stay.
    """
    text = _EMPTY_BRACKETS.sub("", _CITATION_PHRASE.sub("", _REPORTED.sub("", text)))
    text = _SPACE_BEFORE_PUNCT.sub(r"\1", text)
    text = _LEADING_PUNCT.sub("", text)
    return _capitalise_sentences(re.sub(r"[ \t]{2,}", " ", text))


def _capitalise_sentences(text: str) -> str:
    """Upper-case a first letter that removal left in lower case ("According to [1], the…" → "The…")."""
    return _SENTENCE_START.sub(lambda m: m.group(1) + m.group(2).upper(), text)


# ---- facts: the numbers and names a claim rests on ------------------------------------------------------------

# A number glued to letters ("10-Q", "20kb", "COVID-19") is part of a name and is checked as one (`names`).
_NUMBER = re.compile(r"(?<![\w.])(?<!\w-)\d[\d,]*+(?:\.\d+)?+(?!-?[A-Za-z])")  # possessive: no "1" of "10-Q"
_NUMBER_WORDS = {w: str(i) for i, w in enumerate(
    ["zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine", "ten", "eleven", "twelve", "thirteen", "fourteen", "fifteen", "sixteen", "seventeen", "eighteen", "nineteen", "twenty"]
)}  # fmt: skip


def names(text: str) -> set[str]:
    """Return the names in `text`: acronyms ("WHO"), words with digits ("2019-nCoV") and capitalised words that do
    not start a sentence ("Corda"; not "Provide" in "… scalability? Provide examples") unless possessive ("Apple's
    revenue?"); stopwords count only when written as acronyms. Possessives are dropped ("NVIDIA's" → "NVIDIA") and
    single letters are not names."""
    return {word for _, word, kind in _name_words(text) if kind}


@dataclass(frozen=True)
class Name:
    """A name as a person wrote it: one acronym or code ("WHO", "Q3"), or a run of capitalised words
    ("California Code of Regulations", words: "California", "Code", "Regulations")."""

    written: str
    words: tuple[str, ...]


def name_phrases(text: str) -> list[Name]:
    """The names of `text`, capitalised runs kept together ("Transactions Per Second" is one name, not three)."""
    found: list[Name] = []
    run: list[re.Match[str]] = []
    for match, word, kind in _name_words(text):
        joined = bool(run) and not text[run[-1].end() : match.start()].strip() and not run[-1].group().endswith("'s")
        if (kind == "proper" and (joined or not run)) or (joined and word.lower() in _NAME_JOINERS):
            run.append(match)
            continue
        found += _closed(text, run)
        run = [match] if kind == "proper" else []
        if kind and kind != "proper":
            found.append(Name(word, (word,)))
    return found + _closed(text, run)


def _closed(text: str, run: list[re.Match[str]]) -> list[Name]:
    """The capitalised run as one Name, joiners at its end dropped ("Proof of" → "Proof")."""
    while run and run[-1].group().lower() in _NAME_JOINERS:
        run = run[:-1]
    if not run:
        return []
    words = tuple(m.group().removesuffix("'s") for m in run if m.group().lower() not in _NAME_JOINERS)
    return [Name(text[run[0].start() : run[-1].end()].removesuffix("'s"), words)]


def _name_words(text: str) -> Iterator[tuple[re.Match[str], str, str | None]]:
    """Each word of `text`, possessive dropped, with its kind of name: "acronym", "code", "proper" or None."""
    for match in WORD.finditer(text):
        word = match.group().removesuffix("'s")
        before = text[: match.start()].rstrip(" \t\"'“‘([")  # names() reads questions and sentences: short
        starts = not before or before.endswith((".", "?", "!", "\n"))
        if len(word) < 2:
            yield match, word, None
        elif _capitalised_twice(word):
            yield match, word, "acronym"
        elif any(c.isdigit() for c in word) and any(c.isalpha() for c in word):
            yield match, word, "code"
        elif (not starts or match.group().endswith("'s")) and word[0].isupper() and word.lower() not in STOPWORDS:
            yield match, word, "proper"
        else:
            yield match, word, None


def mentions_loosely(text: str, name: str) -> bool:
    """`mentions`, forgiving how a person types a name: any case from four letters on ("Nvidia" = "NVIDIA"),
    hyphens and spaces alike ("RT-PCR" = "RT PCR"), a short acronym in any case it is written as one ("COV" =
    "CoV"), a plural or possessive after it ("GPU" in "GPUs"), an acronym
    spelled out ("LLM" in "large language models"), and from six letters on one letter wrong ("Influenze")."""
    parts = re.findall(r"[A-Za-z0-9]+", name)
    if not parts:
        return False
    pattern = r"(?<![A-Za-z0-9])" + r"[\W_]*".join(map(re.escape, parts)) + r"(?:e?s|'s)?(?![A-Za-z0-9])"
    # A short acronym must be written as one: "COV" is "CoV", but "WHO" is not "who" or "Who", "US" not "us".
    short_acronym = len(name) < 4 and _capitalised_twice(name)
    for found in re.finditer(pattern, text, re.IGNORECASE):
        if not short_acronym or _capitalised_twice(found.group()):
            return True
    if name.isalpha() and name.isupper() and re.search(_spelled_out(name), text, re.IGNORECASE):
        return True
    wanted = name.lower()
    return len(parts) == 1 and len(wanted) >= 6 and any(_one_edit(wanted, w) for w in set(_ALNUM.findall(text.lower())))


def _spelled_out(acronym: str) -> str:
    """A pattern for the words an acronym stands for, by their initials: "LLM" → "l… l… m…"."""
    return r"(?<![A-Za-z0-9])" + r"[\w']*[\s-]+".join(acronym.lower()) + r"\w*"


def _one_edit(a: str, b: str) -> bool:
    """True when `a` and `b` differ by one letter changed, added or removed."""
    if abs(len(a) - len(b)) > 1 or a == b:
        return a == b
    if len(a) > len(b):
        a, b = b, a
    i = next((k for k in range(len(a)) if a[k] != b[k]), len(a))
    return a[i + (len(a) == len(b)) :] == b[i + 1 :]


def mentions(text: str, name: str) -> bool:
    """Return True when `text` has `name` as a whole word; acronyms must match case ("WHO" is not "who").

    A name in mixed case ("QLora") may differ in case from the text ("QLoRA") where the text writes it with two
    capitals too: a model's spelling of a coined name, not another word."""
    pattern = r"(?<![A-Za-z0-9])" + re.escape(name) + r"(?![A-Za-z0-9])"
    if not (name.isalpha() and _capitalised_twice(name)):  # "SARS-COV-2" may be written "SARS-CoV-2"
        return re.search(pattern, text, re.IGNORECASE) is not None
    if name.isupper():
        return re.search(pattern, text) is not None
    return any(_capitalised_twice(found.group()) for found in re.finditer(pattern, text, re.IGNORECASE))


def _capitalised_twice(word: str) -> bool:
    """Written as an acronym or coined name ("WHO", "CoV", "QLoRA"), not as a word ("who", "Who")."""
    return sum(c.isupper() for c in word) >= 2


def numbers(text: str) -> dict[str, str]:
    """Return the numbers written in `text` with digits, normalised → as written: {"14000": "14,000", "1.3": "1.30"}."""
    # "in 2020, 41 cases": the list's comma is not part of what was written
    return {_normal_number(m.group()): m.group().rstrip(".,") for m in _NUMBER.finditer(text)}


def figures(text: str) -> dict[str, str]:
    """The numbers `text` gives, in digits or as the words two to twenty: normalised → as written
    ({"3": "three", "14000": "14,000"}). "one" is left out: "one of the types" is not a count."""
    return _spelled(text, skip=("zero", "one")) | numbers(text)


def numbers_stated(text: str) -> set[str]:
    """The numbers a passage states: its digits, and the number words one to twenty ("three" → "3")."""
    return set(numbers(text)) | set(_spelled(text))


def _spelled(text: str, skip: tuple[str, ...] = ()) -> dict[str, str]:
    """Number words up to twenty in `text`, as digits → as written ({"3": "three"})."""
    return {_NUMBER_WORDS[w]: w for w in WORD.findall(text.lower()) if w in _NUMBER_WORDS and w not in skip}


def _normal_number(raw: str) -> str:
    digits = raw.replace(",", "").rstrip(".")
    return digits.rstrip("0").rstrip(".") if "." in digits else digits
