"""The BM25 weight per library: measured from the library's own passages, stored with the index, used by search."""

from __future__ import annotations

import json

import pytest
from fakes import FakeEmbedder

from rag.config import Settings
from rag.library import Library
from rag.search import calibration
from rag.search.calibration import FusionCalibration, weight_for

BOILERPLATE = [
    "The company files this quarterly report under the rules of the exchange and its auditors review it.",
    "Revenue is recognised when control of the goods passes to the customer under the contract terms.",
    "Risk factors include changes in demand, supply chain delays, currency rates and new regulation abroad.",
    "Management believes the cash on hand will fund operations and planned investments for twelve months.",
]
TOPICS = ["volcanoes", "glaciers", "orchids", "beetles", "comets", "lichens", "tides", "dunes", "geysers", "corals"]


def write_library(folder, look_alike: bool, count: int = 30):
    folder.mkdir()
    for i in range(count):
        topic = TOPICS[i % len(TOPICS)]
        if look_alike:  # every filing repeats the same paragraphs; only its name differs
            text = f"Filing {i}.\n\n" + "\n\n".join(BOILERPLATE)
        else:
            text = "\n\n".join(
                f"Note {i} on {topic}: observation {j} records how {topic} number {i * 7 + j} changed in season {j}, "
                f"measured by team {i} with instrument {j * 11 + i} over several long weeks of careful field work."
                for j in range(4)
            )
        (folder / f"doc{i:02d}.txt").write_text(text)
    return folder


def test_the_weight_follows_findability_between_the_bounds():
    assert weight_for(0.95) == 0.5 and weight_for(0.8) == 0.5
    assert weight_for(0.52) == 0.3 and weight_for(0.6) == 0.3
    assert weight_for(0.7) == 0.4


@pytest.mark.parametrize(("look_alike", "weight"), [(True, 0.3), (False, 0.5)])
def test_a_library_of_look_alike_documents_gets_less_bm25(tmp_path, look_alike, weight):
    folder = write_library(tmp_path / "docs", look_alike)
    with Library.open(Settings(data_dir=tmp_path / "data"), FakeEmbedder(dim=64)) as library:
        library.ingest([folder])
        found = library.fusion.current()
        assert found is not None and found.weight == weight, found
        assert library.options().bm25_weight == weight
        assert f"BM25 weight {weight:.2f}, calibrated on this library" in library.describe_search()
        assert json.loads(library.index.note("fusion"))["weight"] == weight  # stored with the index


def test_the_stored_weight_is_read_back_not_measured_again(tmp_path, monkeypatch):
    folder = write_library(tmp_path / "docs", look_alike=True)
    settings = Settings(data_dir=tmp_path / "data")
    with Library.open(settings, FakeEmbedder(dim=64)) as library:
        library.ingest([folder])
        assert library.fusion.current().weight == 0.3

    def never(*args, **kwargs):
        raise AssertionError("measured again although nothing changed")

    monkeypatch.setattr(calibration, "calibrate", never)
    with Library.open(settings, FakeEmbedder(dim=64)) as again:
        assert again.options().bm25_weight == 0.3


def test_the_weight_is_measured_again_when_the_library_grows(tmp_path):
    settings = Settings(data_dir=tmp_path / "data")
    with Library.open(settings, FakeEmbedder(dim=64)) as library:
        library.ingest([write_library(tmp_path / "first", look_alike=False)])
        assert library.fusion.current().weight == 0.5
        library.ingest([write_library(tmp_path / "second", look_alike=True, count=60)])  # 3x the passages
        found = library.fusion.current()
        assert found.chunks == sum(d.chunks for d in library.documents()) and found.findability < 0.8


def test_a_small_library_keeps_the_default_and_says_so(tmp_path):
    note = tmp_path / "one.txt"
    note.write_text("A single short note about tides.")
    with Library.open(Settings(data_dir=tmp_path / "data"), FakeEmbedder(dim=64)) as library:
        library.ingest([note])
        assert library.fusion.current() is None and library.options().bm25_weight == 0.5
        assert "too few passages to calibrate" in library.describe_search()


def test_a_weight_set_in_the_settings_wins_and_is_named(tmp_path):
    settings = Settings(data_dir=tmp_path / "data", bm25_weight=0.7)
    with Library.open(settings, FakeEmbedder(dim=64)) as library:
        library.ingest([write_library(tmp_path / "docs", look_alike=True)])
        assert library.options().bm25_weight == 0.7
        assert "BM25 weight 0.70, set by RAG_BM25_WEIGHT" in library.describe_search()
    assert Settings.from_env({"RAG_BM25_WEIGHT": "auto"}).bm25_weight is None


def test_a_note_from_another_version_is_measured_again(tmp_path):
    settings = Settings(data_dir=tmp_path / "data")
    with Library.open(settings, FakeEmbedder(dim=64)) as library:
        library.ingest([write_library(tmp_path / "docs", look_alike=True)])
        library.index.write_note("fusion", '{"weight": "heavy"}')
    with Library.open(settings, FakeEmbedder(dim=64)) as again:
        assert again.fusion.current() == FusionCalibration.from_note(json.loads(again.index.note("fusion")))
        assert again.fusion.current().weight == 0.3
