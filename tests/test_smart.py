"""`python -m rag eval --dataset smart:DIR`: the SMART reader (Cranfield, CISI) and its scoring.

Tiny collections written here are worked out by hand; the real Cranfield and CISI files in ../shared check the
traps their manifests name (skipped when ../shared is absent, failing in CI).
"""

from __future__ import annotations

import math
from dataclasses import replace
from pathlib import Path

import pytest
from test_evaluate import KeywordIndex, _metrics

from rag.config import Settings
from rag.evaluate.datasets import read_dataset
from rag.evaluate.records import DatasetError
from rag.evaluate.runner import RunConfig, evaluate

DOCS = (
    ".I 1\n.T\nred apples\n.A\nsmith, j.\n.W\nred apples\nare sweet\n"
    ".I 2\n.T\nbananas\n.W\nyellow bananas\n"
    ".I 3\n.T\n.W\nred apples and green apples\n"
)
# Query ".I" numbers skip 3, as Cranfield's do; the qrels below number queries 1, 2, 3 by position.
QUERIES = ".I 001\n.W\nred apples\n.I 002\n.W\nyellow\nbananas\n.I 004\n.W\nblue plums .\n"


def write_cranfield(root: Path, qrels: str) -> Path:
    root.mkdir(parents=True)
    (root / "tiny.all.3").write_text(DOCS.replace("\n", "\r\n"))
    (root / "tiny.qry").write_text(QUERIES.replace("\n", "\r\n"))
    (root / "tinyqrel").write_text(qrels)
    (root / "tinyqrel.readme").write_text("grades 1..4")  # must not be taken for the qrels
    return root


def test_cranfield_layout_grades_positions_and_titles(tmp_path):
    # position 1 → ".I 1": doc 3 grade 1 (best) and doc 1 grade 4; position 2 → ".I 2": doc 2; −1 is no judgement.
    root = write_cranfield(tmp_path / "cran", "1 3 1\n1 1 4\n2 2 2\n3 1 -1\n")
    evalset = read_dataset(f"smart:{root}")
    assert [s.name for s in evalset.sources] == ["1.md", "2.md", "3.md"]
    assert evalset.sources[0].text == "# red apples\n\nred apples\nare sweet"
    assert evalset.sources[2].text == "red apples and green apples"  # an empty title gives no heading
    assert [(q.qid, q.text, q.documents) for q in evalset.queries] == [
        ("1", "red apples", (("1.md", 1), ("3.md", 4))),
        ("2", "yellow bananas", (("2.md", 3),)),
    ]
    assert not evalset.per_chunk and evalset.levels == ("document",)
    assert any("position" in note for note in evalset.notes)
    assert any("1 of 3 queries" in note for note in evalset.notes)  # ".I 4" has only a −1


def test_smart_metrics_match_hand_computation(tmp_path):
    root = write_cranfield(tmp_path / "cran", "1 3 1\n1 1 4\n2 2 2\n")
    evalset = read_dataset(f"smart:{root}")
    settings, configs = Settings(data_dir=tmp_path / "unused"), [RunConfig("dense", "dense")]
    result = evaluate(evalset, settings, configs, (5,), KeywordIndex, "fake")
    # "red apples": docs 1 and 3 hold both words (doc 1's text has its "# red apples" heading too); ties go by
    # name, so 1.md (grade 1) ranks above 3.md (grade 4). DCG = 1 + 4/log2(3); ideal = 4 + 1/log2(3).
    q1 = (1 + 4 / math.log2(3)) / (4 + 1 / math.log2(3))
    assert _metrics(result, "dense")["doc nDCG@10"] == pytest.approx((q1 + 1.0) / 2, abs=1e-6)
    assert _metrics(result, "dense")["doc MRR@10"] == pytest.approx(1.0)


def test_cisi_layout_is_binary_and_keeps_ids(tmp_path):
    root = tmp_path / "cisi"
    root.mkdir()
    (root / "CISI.ALL").write_text(DOCS + ".X\n1\t5\t1\n")
    (root / "CISI.QRY").write_text(".I 1\n.W\nred apples\n.B\nsome reference\n.I 2\n.W\nbananas\n")
    (root / "CISI.REL").write_text("     2     2\t0\t0.000000\r\n     1     3\t0\t0.000000\r\n")
    evalset = read_dataset(f"smart:{root}")
    assert [(q.qid, q.text, q.documents) for q in evalset.queries] == [
        ("1", "red apples", (("3.md", 1),)),
        ("2", "bananas", (("2.md", 1),)),
    ]
    assert not any("position" in note for note in evalset.notes)


def test_bad_smart_folders_name_the_file(tmp_path):
    root = write_cranfield(tmp_path / "cran", "1 3 1\nx 1\n")
    with pytest.raises(DatasetError, match=r"tinyqrel:2: expected 'query-id doc-id grade'"):
        read_dataset(f"smart:{root}")
    (root / "tinyqrel").unlink()
    with pytest.raises(DatasetError, match=r"expected one qrels file named \*qrel or \*\.rel \(found none\)"):
        read_dataset(f"smart:{root}")
    (root / "tiny.all.3").write_text("no records here\n")
    (root / "tinyqrel").write_text("1 1 1\n")
    with pytest.raises(DatasetError, match=r"tiny\.all\.3: no '\.I <id>' records"):
        read_dataset(f"smart:{root}")


@pytest.mark.parametrize(
    ("file", "text", "message"),
    [
        ("tinyqrel", "1 3 1\n1 1 high\n", r"tinyqrel:2: expected 'query-id doc-id grade'"),
        (
            "tiny.qry",
            ".I 001\n.W\nred apples\n.I\n.W\nno number\n",
            r"tiny\.qry:4: expected '\.I <number>', found '\.I'",
        ),
    ],
    ids=["grade-not-a-number", "record-without-id"],
)
def test_a_bad_line_is_a_dataset_error_naming_it(tmp_path, file, text, message):
    root = write_cranfield(tmp_path / "cran", "1 3 1\n")
    (root / file).write_text(text)
    with pytest.raises(DatasetError, match=message):
        read_dataset(f"smart:{root}")


def test_a_question_over_the_length_limit_stops_before_indexing(tmp_path):
    root = write_cranfield(tmp_path / "cran", "1 3 1\n2 2 2\n")  # "yellow bananas" has 14 characters
    evalset = read_dataset(f"smart:{root}")
    before = KeywordIndex.ingests
    settings = Settings(data_dir=tmp_path / "unused", max_query_chars=12)
    with pytest.raises(DatasetError, match=r"1 question\(s\) exceed RAG_MAX_QUERY_CHARS=12 .*'2', has 14"):
        evaluate(evalset, settings, [RunConfig("dense", "dense")], (5,), KeywordIndex, "fake")
    assert KeywordIndex.ingests == before


# --- the real collections (../shared) ---


def test_cranfield_reader(shared_dir):
    evalset = read_dataset(f"smart:{shared_dir / 'eval' / 'cranfield'}")
    assert len(evalset.sources) == 1400 and len(evalset.queries) == 225
    third = evalset.queries[2]  # qrels query 3 is the file's third query, ".I 004"
    assert third.qid == "4" and third.text.startswith("what problems of heat conduction in composite slabs")
    assert dict(third.documents) == {f"{d}.md": 2 for d in (5, 6, 90, 91, 119, 144, 181, 399)}  # grade 3; 485 is −1
    assert sum(len(q.documents) for q in evalset.queries) == 128 + 387 + 734 + 363  # the manifest's grade counts


def test_cisi_reader(shared_dir):
    evalset = read_dataset(f"smart:{shared_dir / 'eval' / 'cisi'}")
    assert len(evalset.sources) == 1460 and len(evalset.queries) == 76  # judgements exist for 76 of 111
    assert evalset.sources[0].text.startswith("# 18 Editions of the Dewey Decimal Classifications\n\n")
    assert all(grade == 1 for q in evalset.queries for _, grade in q.documents)


def test_a_file_the_library_names_in_its_error_is_named_once(tmp_path):
    class EmptyFileIndex(KeywordIndex):
        """Fails "3.md" with the Library's own wording, which starts with the file name."""

        def ingest(self, paths, on_progress=None, names=None):
            outcomes = super().ingest(paths, on_progress, names)
            return [o if o.name != "3.md" else replace(o, status="failed", message="3.md: is empty") for o in outcomes]

    evalset = read_dataset(f"smart:{write_cranfield(tmp_path / 'cran', qrels='1 1 1')}")
    settings, configs = Settings(data_dir=tmp_path / "unused"), [RunConfig("dense", "dense")]
    result = evaluate(evalset, settings, configs, (5,), EmptyFileIndex, "fake")
    assert result.index.failed == ("3.md: is empty",)
