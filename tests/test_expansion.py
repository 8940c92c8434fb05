"""Query expansion: PRF terms on a hand-made pool, Rocchio on 2-d vectors, and a second hop that finds a
passage reachable only through the first."""

from __future__ import annotations

import numpy as np
import pytest

from rag.index.local import LocalIndex
from rag.index.store import Store
from rag.search.expansion import expand_bm25_query, expand_dense_vector, feedback_terms
from rag.search.options import RetrievalOptions, Sources
from rag.search.retrieve import retrieve
from rag.types import Chunk, Hit
from tests.fakes import FakeEmbedder
from tests.test_store import put


def hit(text: str, score: float = 1.0) -> Hit:
    return Hit(Chunk(text[:12], "d", "doc.txt", 1, 0, len(text), text), score, "bm25")


FEEDBACK = [
    hit("Solar panels use photovoltaic cells; photovoltaic output falls in the heat."),
    hit("A photovoltaic module converts sunlight. Panels need inverters."),
    hit("Rooftop solar panels and inverters: photovoltaic systems at home."),
]
REST = [hit("Solar panels are priced per watt."), hit("Panels ship on pallets."), hit("Solar news of the week.")]


def test_prf_adds_the_words_the_top_hits_share_and_the_rest_lack():
    expanded = expand_bm25_query("solar panels", FEEDBACK + REST, docs=3, terms=2)
    # photovoltaic: in all 3 feedback passages, none of the rest; inverters: in 2 of 3. "solar"/"panels" are
    # already in the query; words in only one feedback passage ("sunlight") are not added.
    assert expanded == "solar panels photovoltaic inverters"


def test_prf_leaves_a_short_result_list_alone():
    assert expand_bm25_query("solar panels", FEEDBACK[:2]) == "solar panels"


def test_feedback_terms_skip_query_words_in_any_inflection():
    terms = feedback_terms("inverter", FEEDBACK[1:2], REST, n=5)
    assert "inverters" not in terms and "photovoltaic" in terms


def test_rocchio_pulls_the_query_towards_the_feedback_centroid():
    query = np.array([1.0, 0.0], dtype=np.float32)
    vectors = np.array([[0.0, 1.0], [0.0, 1.0], [0.0, 1.0], [1.0, 0.0]], dtype=np.float32)
    moved = expand_dense_vector(query, vectors, docs=3)
    # (1, 0) + 0.5 · (0, 1) = (1, 0.5) → unit (0.894, 0.447); the 4th vector is not feedback
    assert moved.tolist() == pytest.approx([2 / 5**0.5, 1 / 5**0.5], abs=1e-6)


@pytest.fixture
def sources(tmp_path):
    embedder = FakeEmbedder(dim=64)
    store = Store.open(tmp_path / "idx", embedder.name, embedder.dim)
    pages = [
        "The Zorblat is made by Quuxcorp.",
        "Quuxcorp was established by Ada Smith in Oslo.",
        "Toasters brown bread quickly.",
        "Ada Lovelace wrote the first program.",
        "Oslo is the capital of Norway.",
    ]
    put(store, embedder, "facts.txt", [pages])
    yield Sources(LocalIndex(store), embedder)
    store.close()


def test_multi_hop_reaches_the_passage_named_by_the_first(sources):
    query = "Who founded Zorblat maker?"
    first, second = "The Zorblat is made by Quuxcorp.", "Quuxcorp was established by Ada Smith in Oslo."
    # one hop: the founding passage shares no word with the question, so keyword search cannot find it
    plain = [h.chunk.text for h in retrieve(query, sources, RetrievalOptions(mode="bm25", k=5))]
    assert plain == [first]
    hopped = retrieve(query, sources, RetrievalOptions(mode="bm25", k=2, multi_hop=True))
    assert [h.chunk.text for h in hopped] == [first, second]
    assert {h.method for h in hopped} == {"multi_hop"}


def test_multi_hop_in_hybrid_mode_moves_the_second_passage_up(sources):
    query = "Who founded Zorblat maker?"
    second = "Quuxcorp was established by Ada Smith in Oslo."
    plain = [h.chunk.text for h in retrieve(query, sources, RetrievalOptions(k=5))]
    hopped = [h.chunk.text for h in retrieve(query, sources, RetrievalOptions(k=5, multi_hop=True))]
    assert hopped[0] == plain[0] == "The Zorblat is made by Quuxcorp."
    # dense search returns every passage here (5 of them), so the second is found, but low; the hop lifts it
    assert hopped.index(second) < plain.index(second) and sorted(hopped) == sorted(plain)
