"""👍/👎 on answers (`rag.feedback`), the page's like handler, and `python -m rag eval --dataset feedback:DATA_DIR`:
a liked answer's question is asked again and its cited pages must still be found."""

from __future__ import annotations

import json
from pathlib import Path
from types import SimpleNamespace

from rag.cli.main import main
from rag.config import Settings
from rag.evaluate.datasets import read_dataset
from rag.feedback import ratings, record
from rag.library import Library
from rag.types import Answer, Citation
from tests.browser import make_engine
from tests.fakes import FakeEmbedder
from ui.handlers import Handlers

SAMPLE = Path(__file__).resolve().parent.parent / "assets" / "kb"


def cited_answer(library: Library, question: str) -> Answer:
    """An answer citing the best passage for `question`, as the pipeline would make it."""
    hit = library.search(question, k=1)[0]
    citation = Citation(1, hit.chunk, hit.score, hit.chunk.start, hit.chunk.start + 40)
    return Answer(question, question, f"{hit.chunk.text[:40]} [1].", (citation,), (hit,))


def test_ratings_round_trip_with_their_passages(tmp_path):
    with Library.open(Settings(data_dir=tmp_path / "lib"), FakeEmbedder()) as library:
        library.ingest([SAMPLE / "03-fine-tuning.md"])
        answer = cited_answer(library, "What does LoRA learn?")
        files = {answer.citations[0].chunk.doc_id: library.index.document_file(answer.citations[0].chunk.doc_id)}
    first = record(tmp_path / "lib", answer, True, " clear and right ", files)
    record(tmp_path / "lib", answer, False)
    got = ratings(tmp_path / "lib")
    assert [(r.id, r.liked, r.note) for r in got] == [(first, True, "clear and right"), (first + 1, False, "")]
    (passage,) = got[0].passages
    assert (passage.document, passage.page, passage.n) == ("03-fine-tuning.md", 1, 1)
    assert passage.file.endswith(".md") and passage.quote == answer.citations[0].chunk.text[:40]
    assert ratings(tmp_path / "nothing-here") == []


def test_liked_answers_become_an_eval_set_that_the_eval_command_runs(tmp_path, monkeypatch, capsys):
    data = tmp_path / "lib"
    with Library.open(Settings(data_dir=data), FakeEmbedder()) as library:
        library.ingest(sorted(SAMPLE.iterdir()))
        for question, liked in (("What does LoRA learn?", True), ("What is a token?", True), ("Agents?", False)):
            answer = cited_answer(library, question)
            doc_id = answer.citations[0].chunk.doc_id
            record(data, answer, liked, files={doc_id: library.index.document_file(doc_id)})
    evalset = read_dataset(f"feedback:{data}")
    assert [q.text for q in evalset.queries] == ["What does LoRA learn?", "What is a token?"]  # 👎 has no gold
    assert evalset.queries[0].pages[0].document == "03-fine-tuning.md"
    assert len(evalset.sources) == len(list(SAMPLE.iterdir()))  # the whole library is searched
    monkeypatch.setattr("rag.embedding.load_embedder", lambda settings: FakeEmbedder())
    assert main(["eval", "--dataset", f"feedback:{data}", "--k", "5", "--json", "--mode", "default"]) == 0
    result = json.loads(capsys.readouterr().out)["results"][0]
    assert result["queries"] == 2 and result["configs"][0]["metrics"]["page hit@5"] == 1.0


def test_the_like_button_stores_the_rated_answer_with_the_note(tmp_path):
    engine = make_engine(tmp_path)
    handlers = Handlers(engine)
    request = SimpleNamespace(session_hash="s1")
    library = engine.library("s1")
    answer = cited_answer(library, "What does LoRA learn?")
    handlers._rated.remember("s1", 3, answer)  # what _stream does when the answer in message 3 is finished
    assert handlers.rate("cites the right page", SimpleNamespace(index=3, liked=True), request) == ""
    assert handlers.rate("", SimpleNamespace(index=2, liked=False), request) == ""  # the turn's trace line
    kept = ratings(library.settings.data_dir)
    assert [(r.question, r.liked, r.note) for r in kept] == [
        ("What does LoRA learn?", True, "cites the right page"), ("What does LoRA learn?", False, ""),
    ]  # fmt: skip
    assert kept[0].passages[0].file  # the kept original, so the eval can replay it
    engine.close()
