"""Re-ranking: the offline "embed" re-ranker on hand-made cases, its features, and the CrossEncoder loader."""

from __future__ import annotations

import numpy as np
import pytest

from rag.errors import ModelLoadError
from rag.index.local import LocalIndex
from rag.index.store import Store
from rag.search.options import Query, RetrievalOptions, Sources
from rag.search.rerank import load_cross_encoder, rerank, sentence_pieces, word_coverage
from rag.types import Chunk, Hit
from tests.fakes import FakeEmbedder
from tests.test_store import put

GENERIC = "Kestrel notes. Kestrel kestrel kestrel pages list many birds and many places in the wild."
ANSWER = "Birds of prey are common here. The wild kestrel has a brown colour with dark spots."
OTHER = "Owls hunt at night and sleep during the day in old barns."


@pytest.fixture
def sources(tmp_path):
    embedder = FakeEmbedder(dim=256)
    store = Store.open(tmp_path / "idx", embedder.name, embedder.dim)
    put(store, embedder, "birds.txt", [[GENERIC, ANSWER, OTHER]])
    yield Sources(LocalIndex(store), embedder)
    store.close()


def first_stage(sources: Sources) -> list[Hit]:
    """The order a keyword-heavy first stage gives: the generic passage (word repeated) above the answer."""
    by_text = {c.text: c for c in sources.index.store.chunks(list(range(1, 4)))}
    return [Hit(by_text[GENERIC], 1.0, "hybrid"), Hit(by_text[ANSWER], 0.9, "hybrid"), Hit(by_text[OTHER], 0.0)]


@pytest.mark.parametrize("weights", [None, (0.6, 0.1, 0.3, 0.0)], ids=["default", "without-sentences"])
def test_embed_reranker_moves_the_answering_passage_up(sources, monkeypatch, weights):
    if weights is not None:  # prior, chunk, coverage, sentence
        for name, value in zip(("W_PRIOR", "W_CHUNK", "W_COVERAGE", "W_SENTENCE"), weights, strict=True):
            monkeypatch.setattr(f"rag.search.rerank.{name}", value)
    query = "what colour is the wild kestrel"
    hits = first_stage(sources)
    reranked = rerank(Query(query, sources.embedder.vector(query)), hits, sources, RetrievalOptions(reranker="embed"))
    assert [h.chunk.text for h in reranked] == [ANSWER, GENERIC, OTHER]
    assert {h.method for h in reranked} == {"rerank"} and reranked[0].score > reranked[1].score


def test_rerank_depth_leaves_the_tail_in_place(sources):
    query = "what colour is the wild kestrel"
    hits = first_stage(sources)
    options = RetrievalOptions(reranker="embed", rerank_depth=1)
    assert rerank(Query(query, sources.embedder.vector(query)), hits, sources, options)[1:] == hits[1:]


def coverage(query: str, texts: list[str]) -> np.ndarray:
    """Whole-passage coverage of passages without a context header."""
    return word_coverage(query, [passage(t) for t in texts])[0]


def sentence_coverage(query: str, passages: list[Chunk]) -> np.ndarray:
    return word_coverage(query, passages)[1]


def test_coverage_weighs_rare_query_words_more():
    texts = ["the kestrel is brown", "the colour of the sky", "a brown owl", "brown bread"]
    # stems wanted: colour, kestrel (brown is not in the query); idf over 4 texts: both df 1 → equal weight
    assert coverage("kestrel colour", texts).tolist() == pytest.approx([0.5, 0.5, 0.0, 0.0])
    # "brown" occurs in 3 of 4 texts: it counts less than "kestrel" (df 1)
    scores = coverage("brown kestrel", texts)
    assert scores[0] == pytest.approx(1.0) and 0 < scores[2] < 0.5


def test_sentences_split_and_skip_fragments():
    # split after . ! ? ; : and at line breaks; pieces under 4 words ("Hello there.", "Spots:") are dropped
    text = "Hello there. The kestrel is brown. Spots: many dark ones here"
    pieces = sentence_pieces(text)
    assert [piece for piece, is_sentence in pieces if is_sentence] == ["The kestrel is brown.", "many dark ones here"]
    assert [piece for piece, _ in pieces] == ["Hello there.", "The kestrel is brown.", "Spots:", "many dark ones here"]
    assert sentence_pieces("too short") == [("too short", False)]
    # a passage with no sentence counts as one: its sentence score is its passage score
    cover, in_sentence = word_coverage("short kestrel", [passage("too short"), passage("A kestrel. Owls.")])
    assert in_sentence.tolist() == pytest.approx(cover.tolist())


def passage(text: str, context: str = "") -> Chunk:
    return Chunk("id-" + text[:8], "d1", "notes.txt", 1, 0, len(text), text, context=context)


def test_sentence_coverage_rewards_query_words_meeting_in_one_sentence():
    together = passage("Owls live in barns. The kestrel has a brown colour with spots.")
    apart = passage("The kestrel hunts by day in open fields. Its colour is brown with spots.")
    # stems wanted: kestrel, colour. Sentences (4): kestrel in 2, colour in 2 → equal idf, each half the query.
    scores = sentence_coverage("kestrel colour", [together, apart])
    assert scores.tolist() == pytest.approx([1.0, 0.5])
    # the whole-passage coverage cannot tell them apart
    assert coverage("kestrel colour", [together.text, apart.text]).tolist() == pytest.approx([1.0, 1.0])


def test_sentence_coverage_counts_the_context_header_in_every_sentence():
    intel = passage("Revenue rose to 14 billion in the quarter.", context="2023 Q2 INTC.pdf — Intel Corporation")
    amd = passage("Revenue rose to 5 billion in the quarter.", context="2023 Q2 AMD.pdf — Advanced Micro Devices")
    scores = sentence_coverage("Intel revenue", [intel, amd])
    assert scores[0] == pytest.approx(1.0) and scores[1] < 0.5
    assert sentence_coverage("", [intel]).tolist() == [0.0] and len(sentence_coverage("intel", [])) == 0
    assert coverage("", ["a kestrel"]).tolist() == [0.0]


def test_a_missing_cross_encoder_names_the_setting(tmp_path):
    with pytest.raises(ModelLoadError, match="RAG_RERANKER"):
        load_cross_encoder(str(tmp_path / "not-here"))


def tiny_cross_encoder(folder) -> str:
    """Save a randomly initialised 1-layer BERT classifier with the MiniLM tokenizer: a real CrossEncoder folder."""
    import shutil

    from transformers import BertConfig, BertForSequenceClassification

    from tests.fakes import minilm_tokenizer_file

    config = BertConfig(
        vocab_size=30522, hidden_size=16, num_hidden_layers=1, num_attention_heads=2, intermediate_size=32,
        num_labels=1,
    )  # fmt: skip
    BertForSequenceClassification(config).save_pretrained(folder)
    source = minilm_tokenizer_file().parent
    for name in ("tokenizer.json", "tokenizer_config.json", "vocab.txt", "special_tokens_map.json"):
        if (source / name).is_file():
            shutil.copy(source / name, folder / name)
    return str(folder)


def test_a_local_cross_encoder_reorders_by_its_own_scores(sources, tmp_path):
    pytest.importorskip("transformers")
    path = tiny_cross_encoder(tmp_path / "ce")
    model = load_cross_encoder(path)
    assert load_cross_encoder(path) is model  # loaded once
    query = "what colour is the wild kestrel"
    hits = first_stage(sources)
    expected = model.predict([(query, h.chunk.text) for h in hits])
    reranked = rerank(Query(query, None), hits, sources, RetrievalOptions(reranker=path))
    assert [h.chunk.text for h in reranked] == [hits[i].chunk.text for i in np.argsort(-np.asarray(expected))]
    assert {h.method for h in reranked} == {"cross_encoder"}
