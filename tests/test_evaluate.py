"""`rag.evaluate`: benchmark readers, judging, ir-measures scoring and the eval command.

Fast tests use `KeywordIndex`, a fake index whose rankings can be worked out by hand; reader tests run on the
real benchmark files in ../shared (skipped when absent).
"""

from __future__ import annotations

import argparse
import json
import math
from pathlib import Path

import pytest

from rag.config import Settings
from rag.errors import ConfigError
from rag.evaluate import command
from rag.evaluate.datasets import read_dataset
from rag.evaluate.index import pages_reader, write_sources
from rag.evaluate.judging import covers, locate_reference, ranked_units
from rag.evaluate.metrics import score
from rag.evaluate.records import AnswerSpan, DatasetError, EvalQuery
from rag.evaluate.runner import RunConfig, evaluate, parse_configs, prepare_gold
from rag.types import Chunk, FileOutcome, Hit, Page


class KeywordIndex:
    """One chunk per file; search ranks files by how many distinct query words they contain.

    Ties go by file name: ascending in mode "dense", descending in mode "bm25" (so the two modes differ in a
    way the tests can predict). Files with no query word are not returned. State lives in the data dir so a
    second `open` of the same dir sees what the first ingested, like the real Library.
    """

    ingests = 0

    def __init__(self, settings: Settings) -> None:
        self.file = settings.data_dir / "fake-index.json"

    def ingest(self, paths, on_progress=None, names=None) -> list[FileOutcome]:
        KeywordIndex.ingests += 1
        names = names or [Path(p).name for p in paths]
        self.file.parent.mkdir(parents=True, exist_ok=True)
        self.file.write_text(json.dumps({n: Path(p).read_text() for n, p in zip(names, paths, strict=True)}))
        return [FileOutcome(str(p), n, "indexed", "ok", 1, 1) for n, p in zip(names, paths, strict=True)]

    def describe_search(self, settings=None) -> str:
        return "files ranked by shared words"

    def search(self, query, k=None, documents=None, mode=None, settings=None) -> list[Hit]:
        texts = json.loads(self.file.read_text())
        words = set(query.lower().split())
        scored = [(len(words & set(t.lower().split())), n, t) for n, t in texts.items()]
        scored = sorted((s for s in scored if s[0] > 0), key=lambda s: s[1], reverse=mode == "bm25")
        scored.sort(key=lambda s: -s[0])  # stable: keeps the tie order chosen above
        return [Hit(Chunk(n, n, n, 1, 0, len(t), t), float(s), mode or "dense") for s, n, t in scored[:k]]


def write_beir(root: Path) -> Path:
    """A four-document BEIR folder; the query words decide the rankings worked out in the tests."""
    (root / "qrels").mkdir(parents=True)
    corpus = {
        "d1": "apples are red",
        "d2": "bananas are yellow",
        "d3": "red apples and green apples",
        "d4": "cherries are red",
    }
    lines = [json.dumps({"_id": i, "title": "", "text": t}) for i, t in corpus.items()]
    (root / "corpus.jsonl").write_text("\n".join(lines) + "\n")
    queries = {"q1": "red apples", "q2": "yellow bananas", "q3": "green cherries"}
    (root / "queries.jsonl").write_text("\n".join(json.dumps({"_id": i, "text": t}) for i, t in queries.items()))
    (root / "qrels" / "test.tsv").write_text(
        "query-id\tcorpus-id\tscore\r\nq1\td1\t1\r\nq1\td3\t2\r\nq2\td2\t1\r\nq3\td4\t1\r\n"
    )
    return root


def _metrics(result, config: str) -> dict[str, float]:
    row = next(c for c in result.configs if c.config == config)
    return {m.name: m.value for m in row.metrics}


def test_beir_metrics_match_hand_computation(tmp_path):
    evalset = read_dataset(f"beir:{write_beir(tmp_path / 'tiny')}")
    configs = [RunConfig("dense", "dense"), RunConfig("bm25", "bm25")]
    result = evaluate(evalset, Settings(data_dir=tmp_path / "unused"), configs, (1, 5), KeywordIndex, "fake")
    dense = _metrics(result, "dense")
    # dense (ties by name): q1 → d1(1), d3(2), d4; q2 → d2(1); q3 → d3, d4(1).
    # q1: DCG = 1/log2(2) + 2/log2(3); ideal = 2/log2(2) + 1/log2(3). q2: 1. q3: (1/log2(3)) / 1.
    q1 = (1 + 2 / math.log2(3)) / (2 + 1 / math.log2(3))
    assert dense["doc nDCG@10"] == pytest.approx((q1 + 1 + 1 / math.log2(3)) / 3, abs=1e-6)
    assert dense["doc MRR@10"] == pytest.approx((1 + 1 + 0.5) / 3)
    assert dense["doc recall@1"] == pytest.approx((0.5 + 1 + 0) / 3)  # q1 finds d1 of {d1, d3} at rank 1
    # bm25 (ties reversed): q1 → d3(2), d1(1), d4 is ideal; q3 → d4 first: every query is perfect.
    assert _metrics(result, "bm25")["doc nDCG@10"] == pytest.approx(1.0)
    assert result.queries == 3 and not result.index.cached


def test_cache_dir_reuses_a_complete_index(tmp_path):
    evalset = read_dataset(f"beir:{write_beir(tmp_path / 'tiny')}")
    settings, before = Settings(data_dir=tmp_path / "unused"), KeywordIndex.ingests
    first = evaluate(evalset, settings, parse_configs("dense"), (5,), KeywordIndex, "fake", tmp_path / "cache")
    second = evaluate(evalset, settings, parse_configs("dense"), (5,), KeywordIndex, "fake", tmp_path / "cache")
    assert KeywordIndex.ingests == before + 1
    assert (first.index.cached, second.index.cached) == (False, True)
    assert _metrics(first, "dense") == _metrics(second, "dense")
    other = evaluate(
        evalset, settings, parse_configs("dense"), (5,), KeywordIndex, "other-embedder", tmp_path / "cache"
    )
    assert not other.index.cached  # another embedder must not reuse the index
    chosen = evaluate(evalset, settings, parse_configs("dense"), (5,), KeywordIndex, "x", Path(first.index.data_dir))
    assert chosen.index.cached and chosen.index.data_dir == first.index.data_dir  # an index picked by hand


def _chunk(document: str, page: int, start: int, end: int, chunk_id: str = "") -> Chunk:
    return Chunk(chunk_id or f"{document}:{page}:{start}", "id", document, page, start, end, "x" * (end - start))


def test_covers_means_overlapping_the_answer_on_its_page():
    span = AnswerSpan("a.txt", 1, 100, 140, "forty characters of answer text.........")
    assert covers(_chunk("a.txt", 1, 0, 101), span)  # holds the answer's first character
    assert not covers(_chunk("a.txt", 1, 0, 100), span)  # [0, 100) ends where the answer starts
    assert not covers(_chunk("a.txt", 1, 140, 200), span)
    assert covers(_chunk("a.txt", 1, 110, 120), span)  # a short chunk wholly inside the answer
    assert not covers(_chunk("a.txt", 2, 100, 140), span)  # right offsets, wrong page
    assert not covers(_chunk("b.txt", 1, 100, 140), span)


def test_per_chunk_cutoffs_count_chunks_not_documents():
    hits = [Hit(_chunk("A", 1, 0, 9), 0.9), Hit(_chunk("A", 2, 0, 9), 0.8), Hit(_chunk("B", 1, 0, 9), 0.7)]
    query = EvalQuery("q", "question", documents=(("B", 1),))
    per_chunk = ranked_units(hits, query, "document", per_chunk=True)
    per_doc = ranked_units(hits, query, "document", per_chunk=False)
    assert per_chunk == ["A", "A:2:0", "B"] and per_doc == ["A", "B"]
    qrels = {"q": {"B": 1}}
    assert score({"q": per_chunk}, qrels, ["Success@2"], "document")[0].value == 0.0
    assert score({"q": per_doc}, qrels, ["Success@2"], "document")[0].value == 1.0


def test_query_without_results_counts_as_zero():
    values = score({"q1": ["d1"]}, {"q1": {"d1": 1}, "q2": {"d2": 1}}, ["Success@5"], "document")
    assert values[0].value == pytest.approx(0.5) and values[0].name == "doc hit@5"


def test_spans_follow_the_loaders_whitespace_clean_up(tmp_path):
    context = "Title\r\n\r\n\r\nIntro   text.  The answer  is   forty-two.\nEnd."
    answer = "The answer  is   forty-two."
    data = {"data": [{"paragraphs": [{"document_id": 7, "context": context, "qas": [
        {"id": 1, "question": "what is it?", "answers": [{"text": answer, "answer_start": context.index(answer)}]}
    ]}]}]}  # fmt: skip
    (tmp_path / "qa.json").write_text(json.dumps(data))
    evalset = read_dataset(f"squad:{tmp_path / 'qa.json'}")
    paths = write_sources(evalset.sources, tmp_path)
    prepared = prepare_gold(evalset, pages_reader(paths, Settings()))
    span = prepared.queries[0].spans[0]
    page = pages_reader(paths, Settings())(evalset.sources[0])[0]
    assert page.text != context and page.text[span.start : span.end] == "The answer is forty-two."


def test_locate_reference_picks_the_page_holding_most_of_the_passage():
    pages = [("a.pdf", Page(1, "blocks are chained by hashes")), ("a.pdf", Page(2, "proof of history orders events"))]
    found = locate_reference("Proof of his tory orders events cheaply", pages)
    assert found is not None and found.page.page == 2 and found.recall == pytest.approx(4 / 7)
    assert locate_reference("nothing in common at all", pages) is None


@pytest.mark.parametrize(
    ("spec", "message"),
    [("csv:/tmp", "KIND:PATH"), ("beir", "KIND:PATH"), ("beir:/nonexistent/dir", "does not exist")],
)
def test_bad_dataset_spec_says_what_is_expected(spec, message):
    with pytest.raises(DatasetError, match=message):
        read_dataset(spec)


def test_missing_beir_file_is_named(tmp_path):
    root = write_beir(tmp_path / "tiny")
    (root / "qrels" / "test.tsv").unlink()
    with pytest.raises(DatasetError, match=r"test\.tsv.*query-id"):
        read_dataset(f"beir:{root}")


def test_pages_reader_rejects_a_document_not_in_docs(tmp_path):
    (tmp_path / "docs").mkdir()
    (tmp_path / "docs" / "a.txt").write_text("hello")
    (tmp_path / "gold.jsonl").write_text(json.dumps({"question": "q?", "document": "b.pdf", "pages": [2]}) + "\n")
    with pytest.raises(DatasetError, match=r"gold\.jsonl:1: document 'b\.pdf'"):
        read_dataset(f"pages:{tmp_path / 'gold.jsonl'}", docs=tmp_path / "docs")


def test_bad_k_and_mode_are_config_errors():
    with pytest.raises(ConfigError, match="--k"):
        command.parse_ks("5,x")
    with pytest.raises(ConfigError, match="--mode 'sparse'"):
        parse_configs("dense,sparse")


def test_command_prints_json_with_timings(tmp_path, monkeypatch, capsys):
    class FakeEmbedder:
        name = "fake"

    monkeypatch.setattr(command, "load_embedder", lambda settings: FakeEmbedder())
    monkeypatch.setattr(command, "open_library", lambda settings, embedder: KeywordIndex(settings))
    parser = argparse.ArgumentParser()
    command.register(parser.add_subparsers())
    markdown = tmp_path / "out.md"
    root = write_beir(tmp_path / "tiny")
    args = parser.parse_args(
        ["eval", "--dataset", f"beir:{root}", "--mode", "bm25", "--json", "--markdown", str(markdown)]
    )
    assert args.func(args) == 0
    result = json.loads(capsys.readouterr().out)["results"][0]
    assert result["configs"][0]["metrics"]["doc nDCG@10"] == 1.0
    assert result["configs"][0]["latency_p95_ms"] >= 0 and result["index"]["build_seconds"] >= 0
    assert "| bm25 | 1.000 |" in markdown.read_text()
    assert "default: files ranked by shared words" in markdown.read_text()  # how the default row searched


# --- the real benchmark files (../shared) ---


def test_scifact_reader(shared_dir):
    evalset = read_dataset(f"beir:{shared_dir / 'eval' / 'beir_scifact'}")
    names = {s.name for s in evalset.sources}
    assert len(evalset.sources) == 5183 and len(evalset.queries) == 300 and not evalset.per_chunk
    assert all(name in names for q in evalset.queries for name, _ in q.documents)
    first = evalset.queries[0]
    assert first.qid == "1" and first.documents == (("31715818.md", 1),)
    text = next(s.text for s in evalset.sources if s.name == "31715818.md")
    assert text.startswith("# New opportunities: the use of nanotechnologies") and "\n\n" in text  # title as heading


def test_covid_qa_reader_spans_point_at_the_answers(shared_dir):
    evalset = read_dataset(f"squad:{shared_dir / 'eval' / 'covid_qa' / '200423_covidQA.json'}")
    texts = {s.name: s.text for s in evalset.sources}
    assert len(texts) == 98 and len(evalset.queries) == 1380
    for query in evalset.queries:
        span = query.spans[0]
        assert texts[span.document][span.start : span.end] == span.text


def test_solana_references_land_on_pages(shared_dir):
    evalset = read_dataset(f"llamaindex:{shared_dir / 'eval' / 'blockchain_solana'}", limit=6)
    prepared = prepare_gold(evalset, pages_reader({s.name: s.path for s in evalset.sources}, Settings()))
    assert len(prepared.queries) == 6 and not prepared.notes
    # the first reference context is the paper's title page with its abstract
    assert prepared.queries[0].pages[0].document == "BlockchainSolana.pdf" and prepared.queries[0].pages[0].page == 1


def test_docugami_globs_expand_to_files(shared_dir):
    evalset = read_dataset(f"docugami:{shared_dir / 'eval' / 'docugami_sec10q'}")
    assert len(evalset.queries) == 195 and len(evalset.sources) == 20
    first = evalset.queries[0]  # "*AAPL*": all four Apple filings
    assert [name for name, _ in first.documents] == [
        "2022 Q3 AAPL.pdf", "2023 Q1 AAPL.pdf", "2023 Q2 AAPL.pdf", "2023 Q3 AAPL.pdf"
    ]  # fmt: skip


def test_answer_chunks_through_the_real_library(tmp_path):
    """Real loader, chunker, store and BM25 (fake embedder): each question's words occur only in its answer
    sentence, deep inside a long article, so BM25 must rank the chunk holding the answer first."""
    from rag.library import Library
    from tests.fakes import FakeEmbedder

    filler = " ".join(f"Paragraph {i} repeats common words about viruses and cells." for i in range(60))
    facts = ["Zorblat proteins fold quickly.", "Quenthal receptors bind zinc.", "Mivrex enzymes cut RNA."]
    context = filler + "\n\n" + f" {filler} ".join(facts) + " " + filler
    qas = [
        {"id": i, "question": f"How do {fact.split()[0].lower()} {fact.split()[1]} behave?",
         "answers": [{"text": fact, "answer_start": context.index(fact)}]}
        for i, fact in enumerate(facts)
    ]  # fmt: skip
    (tmp_path / "qa.json").write_text(json.dumps({"data": [{"paragraphs": [{"context": context, "qas": qas}]}]}))
    evalset = read_dataset(f"squad:{tmp_path / 'qa.json'}")
    embedder = FakeEmbedder()
    settings = Settings(data_dir=tmp_path / "unused", threads=1)
    result = evaluate(
        evalset, settings, parse_configs("bm25"), (1,), lambda s: Library.open(s, embedder), embedder.name
    )
    metrics = _metrics(result, "bm25")
    assert metrics["span hit@1"] == 1.0 and metrics["doc hit@1"] == 1.0
    assert result.index.failed == ()


def test_cached_index_with_failures_is_ingested_again(tmp_path):
    class FlakyIndex(KeywordIndex):
        """Reports the first file failed on the first ingest only (a parse timeout on a busy machine)."""

        calls = 0

        def ingest(self, paths, on_progress=None, names=None):
            outcomes = super().ingest(paths, on_progress, names)
            FlakyIndex.calls += 1
            if FlakyIndex.calls == 1:
                outcomes[0] = FileOutcome(outcomes[0].path, outcomes[0].name, "failed", "took too long")
            return outcomes

    evalset = read_dataset(f"beir:{write_beir(tmp_path / 'tiny')}")
    settings = Settings(data_dir=tmp_path / "unused")
    first = evaluate(evalset, settings, parse_configs("dense"), (5,), FlakyIndex, "fake", tmp_path / "cache")
    second = evaluate(evalset, settings, parse_configs("dense"), (5,), FlakyIndex, "fake", tmp_path / "cache")
    third = evaluate(evalset, settings, parse_configs("dense"), (5,), FlakyIndex, "fake", tmp_path / "cache")
    assert first.index.failed == ("d1.md: took too long",) and not first.index.cached
    assert second.index.failed == () and not second.index.cached
    assert third.index.cached and FlakyIndex.calls == 2


def test_the_default_rows_are_the_single_retrievers_and_exactly_what_the_app_does(tmp_path):
    """`python -m rag eval` with no --mode: dense and BM25 alone (no re-ranker), then "default", which is
    `Library.search` with the app's own settings (re-ranker, candidate depth and all)."""
    from rag.evaluate.runner import DEFAULT_MODES

    seen: list[tuple] = []

    class RecordingIndex(KeywordIndex):
        def search(self, query, k=None, documents=None, mode=None, settings=None):
            seen.append((mode, settings))
            return super().search(query, k, documents, mode, settings)

    evalset = read_dataset(f"beir:{write_beir(tmp_path / 'tiny')}")
    settings = Settings(data_dir=tmp_path / "unused", reranker="embed", candidates=100)
    result = evaluate(evalset, settings, parse_configs(DEFAULT_MODES), (5,), RecordingIndex, "fake")
    assert [c.config for c in result.configs] == ["dense", "bm25", "default"]
    singles = [s for mode, s in seen if mode is not None]
    assert {mode for mode, _ in seen} == {"dense", "bm25", None}
    assert all(s.reranker == "none" and s.candidates == 200 and s.expansion == "none" for s in singles)
    assert all(s is None for mode, s in seen if mode is None)  # the library's own settings: the app's


def test_the_cache_key_covers_every_file_of_the_index_code_and_a_missing_name_fails():
    from rag.evaluate.index import INDEX_CODE, index_code_files

    names = {p.name for p in index_code_files()}
    assert {"loaders.py", "pdf.py", "chunking.py", "store.py", "lexical.py", "reading.py", "library.py"} <= names
    with pytest.raises(RuntimeError, match="rag/loaders.py, which does not exist"):
        index_code_files((*INDEX_CODE, "loaders.py"))
