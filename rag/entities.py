"""The numbers and names a claim rests on, as the fact check, the abstain gate and the evidence finder read them.

    numbers("cost $14,000 in 2020")   -> {"14000": "14,000", "2020": "2020"}   (normalised → as written)
    percentages("up 34.0%, 2 percent") -> {"34", "2"}
    figures("three layers")           -> {"3": "three"}                       (number words two to twenty too)
    names("Apple's R&D rose in Q3")   -> {"Apple", "Q3"}
    name_phrases("by Proof of History") -> [Name("Proof of History", ("Proof", "History"))]
    mentions("QLoRA cuts memory", "QLora") -> True;  mentions("who", "WHO") -> False

Words and sentences are `rag.text`'s.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass

from rag.text import ALNUM, STOPWORDS, WORD

_NAME_JOINERS = frozenset(["of", "the", "for", "de", "du", "von", "van"])  # "Bank of England" is one name
# A number glued to letters ("10-Q", "20kb", "COVID-19") is part of a name and is checked as one (`names`).
# possessive: no "1" of "10-Q"; a capital K, M or B right after is the number's scale ("36M sentences", "$5.9B"),
# compared without it as "36 million" is
_NUMBER = re.compile(r"(?<![\w.])(?<!\w-)(\d[\d,]*+(?:\.\d+)?+)(?:[KMB](?![\w-]))?(?!-?[A-Za-z])")
_YEAR = re.compile(r"1[89]\d\d|20\d\d")
# a number and what makes it a percentage: "%" (after a table's closing bracket too, "(1)%"), "percent", "per cent"
_PERCENT = re.compile(r"(?<![\w.])(\d[\d,]*(?:\.\d+)?)\)?\s?(?:%|percent\b|per\s+cent\b)", re.IGNORECASE)
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
    return len(parts) == 1 and len(wanted) >= 6 and any(_one_edit(wanted, w) for w in set(ALNUM.findall(text.lower())))


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
    return {_normal_number(m.group(1)): m.group().rstrip(".,") for m in _NUMBER.finditer(text)}


def percentages(text: str) -> set[str]:
    """The normalised numbers `text` writes as percentages: "34.0%", "(1)%", "5 percent", "2 per cent" → "34", "1",
    "5", "2"."""
    return {_normal_number(m.group(1)) for m in _PERCENT.finditer(text)}


def is_year(written: str) -> bool:
    """Whether a number as written is a year (1800-2099): it dates what is said rather than counting anything."""
    return bool(_YEAR.fullmatch(written))


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
