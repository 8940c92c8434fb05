"""int8 embedding on ONNX Runtime: which precision RAG_EMBED_DTYPE picks, the cached ONNX file (reused, rebuilt
when damaged, never half-written), which models qualify, and (slow) the real MiniLM exported once per session:
vectors close to float32's, the same pipeline around the network, and a Library ingest + search on it."""

from __future__ import annotations

import json
import logging
from pathlib import Path

import numpy as np
import pytest

from rag import embedding, onnx_export
from rag.config import Settings
from rag.embedding import choose_dtype, load_embedder, planned_dtype
from rag.errors import ModelLoadError
from rag.onnx_embedder import unsupported_reason
from rag.onnx_export import ensure_onnx, is_intact

SENTENCES = [
    "Solana orders transactions with a verifiable delay function called Proof of History.",
    "Bitcoin miners compete to solve a hash puzzle; the winner appends the next block.",
    "Revenue for the quarter rose twelve percent, driven by cloud services.",
    "The cat slept.",
    "Practical Byzantine Fault Tolerance reaches consensus while up to a third of nodes are faulty.",
    "How does LoRA reduce the number of trained parameters?",
    "Low-rank adaptation freezes the pretrained weights and trains two small matrices per layer.",
    "Net income was $1,234 million for the three months ended October 30, 2022.",
    "The court granted the motion to dismiss without prejudice.",
    "Coronaviruses are enveloped RNA viruses that infect birds and mammals.",
    "Patients with severe pneumonia were admitted to the intensive care unit.",
    "The vaccine elicited neutralising antibodies in all participants after the second dose.",
    "Retrieval-augmented generation grounds a language model's answer in retrieved passages.",
    "BM25 ranks documents by term frequency, saturated, and inverse document frequency.",
    "Paris is the capital of France.",
    "Shares outstanding decreased due to repurchases under the buyback program.",
    "Gradient descent updates the parameters in the direction that lowers the loss.",
    "The boundary layer thickens downstream of the leading edge of a flat plate.",
    "Information retrieval systems are judged by precision and recall.",
    "Tesseract reads scanned pages by recognising characters line by line.",
]


# ---- which precision ------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("setting", "bf16", "ort", "expected"),
    [
        ("auto", True, True, "bfloat16"),
        ("auto", False, True, "float32"),  # int8 is opt-in: SEC doc hit@5 -0.010, over the 0.005 bar
        ("auto", False, False, "float32"),
        ("auto", True, False, "bfloat16"),
        ("bfloat16", False, True, "float32"),  # emulated bf16 is slower than float32: never used
        ("bfloat16", True, False, "bfloat16"),
        ("float32", True, True, "float32"),
        ("int8", True, True, "int8"),  # explicit values are honoured, even where bf16 is native
    ],
)
def test_the_precision_follows_the_cpu_and_onnxruntime(monkeypatch, setting, bf16, ort, expected):
    monkeypatch.setattr(embedding, "cpu_has_bf16", lambda: bf16)
    monkeypatch.setattr(embedding, "onnxruntime_installed", lambda: ort)
    assert planned_dtype(setting) == expected == choose_dtype(setting)


def test_auto_says_why_it_chose_float32_and_how_to_go_faster(monkeypatch, caplog):
    monkeypatch.setattr(embedding, "cpu_has_bf16", lambda: False)
    monkeypatch.setattr(embedding, "onnxruntime_installed", lambda: True)
    with caplog.at_level(logging.INFO, logger="rag.embedding"):
        assert choose_dtype("auto") == "float32"
    assert "no native bfloat16 (avx512_bf16/amx_bf16): embedding in float32 (RAG_EMBED_DTYPE=int8" in caplog.text


def test_int8_without_onnxruntime_is_refused_with_the_command(monkeypatch):
    monkeypatch.setattr(embedding, "onnxruntime_installed", lambda: False)
    with pytest.raises(ModelLoadError, match=r"needs ONNX Runtime.*pip install onnx==1.20.0 onnxruntime==1.32.0"):
        load_embedder(Settings(embed_dtype="int8"))


def test_onnxruntime_is_installed_here():
    assert embedding.onnxruntime_installed()  # requirements.txt pins it: RAG_EMBED_DTYPE=int8 works out of the box


def test_settings_accept_the_four_choices():
    assert Settings().embed_dtype == "auto"
    assert Settings.from_env({"RAG_EMBED_DTYPE": "int8"}).embed_dtype == "int8"


# ---- which models qualify --------------------------------------------------------------------------------------


def model_folder(tmp_path: Path, model_type: str = "bert", pooling: str = "mean_tokens", lower: bool = False) -> Path:
    """A folder with the files `unsupported_reason` reads (weights are a few bytes: only their hash matters)."""
    folder = tmp_path / "model"
    (folder / "1_Pooling").mkdir(parents=True)
    (folder / "model.safetensors").write_bytes(b"weights")
    (folder / "tokenizer.json").write_text("{}")
    (folder / "config.json").write_text(json.dumps({"model_type": model_type, "hidden_size": 8}))
    (folder / "sentence_bert_config.json").write_text(json.dumps({"max_seq_length": 16, "do_lower_case": lower}))
    modes = {f"pooling_mode_{m}": m == pooling for m in ("cls_token", "mean_tokens", "max_tokens")}
    (folder / "1_Pooling" / "config.json").write_text(json.dumps(modes))
    return folder


def test_bert_with_mean_pooling_qualifies_and_others_say_why(tmp_path):
    assert unsupported_reason(model_folder(tmp_path / "a")) is None
    assert "only BERT-like" in unsupported_reason(model_folder(tmp_path / "b", model_type="mpnet"))
    assert "only mean pooling" in unsupported_reason(model_folder(tmp_path / "c", pooling="cls_token"))
    assert "do_lower_case" in unsupported_reason(model_folder(tmp_path / "d", lower=True))
    assert unsupported_reason("sentence-transformers/some-hub-id") == "not a local model folder"
    folder = model_folder(tmp_path / "e")
    (folder / "sentence_bert_config.json").unlink()
    assert unsupported_reason(folder) == "it has no sentence_bert_config.json"


def test_int8_on_a_model_it_cannot_export_falls_back_to_float32(monkeypatch, tmp_path, caplog):
    folder = model_folder(tmp_path, model_type="mpnet")
    loaded = []
    monkeypatch.setattr(embedding, "_load_sentence_transformer", lambda path, name, dtype, s: loaded.append(dtype))
    with caplog.at_level(logging.INFO, logger="rag.embedding"):
        load_embedder(Settings(embedder=str(folder), embed_dtype="int8"))
    assert loaded == ["float32"]
    assert "int8 embedding is not available for model (model_type 'mpnet'" in caplog.text


# ---- the cached file --------------------------------------------------------------------------------------------


@pytest.fixture
def fake_export(monkeypatch):
    """Export and quantisation replaced by writes of known bytes; returns the list of builds made."""
    builds: list[str] = []

    def export(folder: Path, out: Path) -> None:
        out.write_bytes(b"float model")

    def quantise(source: Path, out: Path, variant: str) -> None:
        builds.append(variant)
        out.write_bytes(b"int8 model " + variant.encode())

    monkeypatch.setattr(onnx_export, "_export_float", export)
    monkeypatch.setattr(onnx_export, "_quantise", quantise)
    return builds


def test_the_file_is_built_once_and_reused(tmp_path, fake_export):
    folder = model_folder(tmp_path)
    first = ensure_onnx(folder, "org/tiny", tmp_path / "cache")
    mtime = first.stat().st_mtime_ns
    second = ensure_onnx(folder, "org/tiny", tmp_path / "cache")
    assert first == second and second.stat().st_mtime_ns == mtime and fake_export == ["s7"]
    assert first.parent == tmp_path / "cache" / "onnx" and first.name.startswith("org_tiny-")
    assert [p.name for p in first.parent.iterdir() if p.name.endswith(".part")] == []  # no temp left behind


def test_other_weights_or_another_variant_never_reuse_the_file(tmp_path, fake_export):
    folder = model_folder(tmp_path)
    first = ensure_onnx(folder, "org/tiny", tmp_path / "cache")
    (folder / "model.safetensors").write_bytes(b"other weights, same name")
    assert ensure_onnx(folder, "org/tiny", tmp_path / "cache") != first
    assert ensure_onnx(folder, "org/tiny", tmp_path / "cache", "u8") != first
    assert fake_export == ["s7", "s7", "u8"]


@pytest.mark.parametrize("damage", ["flip a byte", "truncate", "no record", "bad record"])
def test_a_damaged_or_unrecorded_file_is_rebuilt_not_run(tmp_path, fake_export, caplog, damage):
    folder = model_folder(tmp_path)
    onnx_file = ensure_onnx(folder, "org/tiny", tmp_path / "cache")
    record = onnx_file.with_name(onnx_file.name + ".json")
    if damage == "flip a byte":
        onnx_file.write_bytes(b"INT8 model s7")
    elif damage == "truncate":
        onnx_file.write_bytes(onnx_file.read_bytes()[:5])
    elif damage == "no record":  # a crash between the file's rename and its record's
        record.unlink()
    else:
        record.write_text("{not json")
    assert not is_intact(onnx_file)
    with caplog.at_level(logging.WARNING, logger="rag.onnx_export"):
        assert ensure_onnx(folder, "org/tiny", tmp_path / "cache") == onnx_file
    assert "does not match its record" in caplog.text
    assert fake_export == ["s7", "s7"] and is_intact(onnx_file)
    assert onnx_file.read_bytes() == b"int8 model s7"


def test_a_failed_export_leaves_nothing_that_would_be_trusted(tmp_path, monkeypatch):
    def broken(source: Path, out: Path, variant: str) -> None:
        out.write_bytes(b"half a fi")
        raise RuntimeError("quantiser refused a node")

    monkeypatch.setattr(onnx_export, "_export_float", lambda folder, out: out.write_bytes(b"float"))
    monkeypatch.setattr(onnx_export, "_quantise", broken)
    with pytest.raises(ModelLoadError, match=r"cannot export .* to int8 ONNX \(quantiser refused a node\); set "):
        ensure_onnx(model_folder(tmp_path), "org/tiny", tmp_path / "cache")
    assert list((tmp_path / "cache" / "onnx").iterdir()) == []


def test_an_unwritable_cache_says_which_setting_moves_it(tmp_path, fake_export):
    blocker = tmp_path / "cache"
    blocker.write_text("a file where the cache folder should be")
    with pytest.raises(ModelLoadError, match="cannot write the model cache .* set RAG_MODEL_CACHE_DIR"):
        ensure_onnx(model_folder(tmp_path), "org/tiny", blocker)


# ---- the real MiniLM (slow: the export takes ~10 s, paid once per session) ---------------------------------


@pytest.fixture(scope="session")
def int8_cache(tmp_path_factory) -> Path:
    """A model cache of this session's own, holding the real MiniLM's int8 file (exported here, once)."""
    cache = tmp_path_factory.mktemp("onnx-cache")
    load_embedder(Settings(threads=1, embed_dtype="int8", model_cache_dir=cache))
    return cache


@pytest.fixture(scope="session")
def int8_embedder(int8_cache):
    return load_embedder(Settings(threads=1, embed_dtype="int8", model_cache_dir=int8_cache))


@pytest.fixture(scope="session")
def fp32_embedder():
    return load_embedder(Settings(threads=1, embed_dtype="float32"))


@pytest.mark.slow
def test_int8_vectors_are_close_to_float32(int8_embedder, fp32_embedder):
    cosines = np.sum(int8_embedder.encode(SENTENCES) * fp32_embedder.encode(SENTENCES), axis=1)
    assert cosines.min() >= 0.98 and cosines.mean() >= 0.99, cosines
    related = int8_embedder.encode(["How does Solana order transactions?"])[0] @ int8_embedder.encode(SENTENCES).T
    assert int(np.argmax(related)) == 0


@pytest.mark.slow
def test_int8_keeps_the_embedder_contract(int8_embedder):
    assert isinstance(int8_embedder, embedding.Embedder)
    assert (int8_embedder.name, int8_embedder.dim, int8_embedder.max_tokens) == (
        "sentence-transformers/all-MiniLM-L6-v2",  # the same identity as bf16 / float32: one index serves all
        384,
        256,
    )
    assert int8_embedder.tokenizer_file.name == "tokenizer.json" and int8_embedder.tokenizer_file.is_file()
    long_text = " ".join(["word"] * 1000)
    assert len(int8_embedder.tokenizer.encode(long_text).ids) == 256  # cut at max_seq_length, not tokenizer.json's 128
    int8_embedder.batch_size = 2
    calls: list[tuple[int, int]] = []
    try:
        together = int8_embedder.encode(SENTENCES[:5], on_batch=lambda d, t: calls.append((d, t)))
    finally:
        int8_embedder.batch_size = 64
    alone = np.stack([int8_embedder.encode([s])[0] for s in SENTENCES[:5]])
    assert together.dtype == np.float32 and together.shape == (5, 384)
    assert np.allclose(np.linalg.norm(together, axis=1), 1.0, atol=1e-5)
    assert np.allclose(together, alone, atol=1e-6)  # one text per ONNX Runtime call: batch-mates change nothing
    assert calls == [(2, 5), (4, 5), (5, 5)]
    assert int8_embedder.encode([]).shape == (0, 384)


@pytest.mark.slow
def test_the_attention_projections_are_int8_and_the_feed_forward_block_float(int8_cache):
    import onnx

    [onnx_file] = (int8_cache / "onnx").glob("*.onnx")
    nodes = onnx.load(str(onnx_file)).graph.node
    float_matmuls = sorted(n.name for n in nodes if n.op_type == "MatMul")
    assert len([n for n in nodes if n.op_type == "MatMulInteger"]) == 6 * 4  # q, k, v, attention output
    # float: the FFN's two layers, and the two attention products (both inputs are activations)
    assert len(float_matmuls) == 6 * 4
    assert sum(bool(onnx_export.FLOAT_MATMULS.search(n)) for n in float_matmuls) == 6 * 2


@pytest.mark.slow
def test_a_second_load_reuses_the_exported_file(int8_cache, monkeypatch):
    [onnx_file] = (int8_cache / "onnx").glob("*.onnx")
    mtime = onnx_file.stat().st_mtime_ns

    def no_export(*args, **kwargs):
        raise AssertionError("exported again although the cached file is intact")

    monkeypatch.setattr(onnx_export, "build_onnx", no_export)
    again = load_embedder(Settings(threads=1, embed_dtype="int8", model_cache_dir=int8_cache))
    assert again.encode(["hello"]).shape == (1, 384) and onnx_file.stat().st_mtime_ns == mtime


@pytest.mark.slow
def test_library_ingest_and_search_on_int8(int8_embedder, tmp_path):
    from rag.library import Library

    docs = tmp_path / "docs"
    docs.mkdir()
    (docs / "solana.txt").write_text(" ".join(SENTENCES[:2]) + " Validators vote on the ledger.")
    (docs / "lora.txt").write_text(" ".join(SENTENCES[5:7]))
    (docs / "covid.txt").write_text(" ".join(SENTENCES[9:12]))
    with Library.open(Settings(data_dir=tmp_path / "data", threads=1), int8_embedder) as library:
        outcomes = library.ingest(sorted(docs.iterdir()))
        assert [o.status for o in outcomes] == ["indexed"] * 3
        for mode in ("dense", "hybrid"):
            hits = library.search("which matrices does low-rank adaptation train?", k=1, mode=mode)
            assert hits[0].document == "lora.txt", mode
