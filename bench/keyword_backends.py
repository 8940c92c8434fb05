"""Keyword (BM25) search on the Qdrant backends, measured: which scoring engine should they use?

    python bench/keyword_backends.py                       # SciFact, Cranfield, CISI from ../shared/eval
    python bench/keyword_backends.py --sets cisi --json    # one JSON object instead of the table

Four retrievers over the same whole documents (title + text, no chunking) and the same queries:
    bm25s         the local backend: `rag.index.lexical.tokenize` tokens, `bm25s.BM25()` (Lucene, k1=1.5, b=0.75)
    edge-sparse   the Qdrant backends today: `rag.index.sparse` term weights (fixed average length 100) as sparse
                  vectors with Qdrant's IDF modifier, in a Qdrant Edge shard
    edge-sparse-avg   the same with the corpus's true average token count instead of 100
    edge-text     Qdrant Edge's own full-text index (word tokenizer, English stopwords, English Snowball stemmer,
                  BM25 scoring), ranked with a TextQuery (k=1.5, b=0.75 to match bm25s)
Reported: nDCG@10 and recall@10 (ir_measures, through `rag.evaluate.metrics.score`), the build time (tokenizing +
indexing, from the texts), and the median single-query latency (tokenizing the query included). Edge shards are
not optimized after loading, as the product's are not. Data is read from --shared and never copied.
"""

from __future__ import annotations

import argparse
import json
import logging
import statistics
import tempfile
import time
from collections import Counter
from collections.abc import Callable
from pathlib import Path
from typing import Any
from unittest import mock

from common import DEFAULT_SHARED, load_avg, table

from rag.evaluate.datasets import read_dataset
from rag.evaluate.metrics import score
from rag.index import sparse
from rag.index.lexical import tokenize

SETS = {
    "scifact": ("beir", "beir_scifact"),
    "cranfield": ("smart", "cranfield"),
    "cisi": ("smart", "cisi"),
}  # reader, folder
MEASURES = ["nDCG@10", "R@10"]
K1, B = sparse.K1, sparse.B
BATCH = 256


class Bm25s:
    """What `rag.index.lexical.Bm25Index` does, without the store around it."""

    name = "bm25s"

    def build(self, texts: list[str]) -> None:
        import bm25s

        logging.getLogger("bm25s").setLevel(logging.WARNING)
        self.size = len(texts)
        self.retriever = bm25s.BM25()
        self.retriever.index(tokenize(texts), show_progress=False)

    def search(self, query: str, k: int) -> list[int]:
        tokens = tokenize([query])
        if not tokens[0]:
            return []
        found, scores = self.retriever.retrieve(tokens, k=min(k, self.size), show_progress=False, n_threads=1)
        return [int(i) for i, s in zip(found[0], scores[0], strict=True) if s > 0]


class Edge:
    """One Qdrant Edge shard in a temp folder, created as `rag.index.qdrant_edge.EdgeEngine` creates one."""

    def __init__(self) -> None:
        import qdrant_edge as q

        self.q = q
        self.folder = tempfile.TemporaryDirectory(prefix="kwbench-")
        config = q.EdgeConfig(sparse_vectors={"bm25": q.EdgeSparseVectorParams(modifier=q.Modifier.Idf)})
        self.shard = q.EdgeShard.create(self.folder.name, config)

    def upsert(self, points: list[Any]) -> None:
        for start in range(0, len(points), BATCH):
            self.shard.update(self.q.UpdateOperation.upsert_points(points[start : start + BATCH]))

    def query(self, query: Any, k: int) -> list[int]:
        request = self.q.QueryRequest(limit=k, query=query, with_payload=False)
        return [int(p.id) - 1 for p in self.shard.query(request)]

    def close(self) -> None:
        self.shard.close()
        self.folder.cleanup()


class EdgeSparse(Edge):
    """`rag.index.sparse` vectors; with `true_average`, the length norm uses this corpus's mean token count."""

    def __init__(self, true_average: bool = False) -> None:
        super().__init__()
        self.name = "edge-sparse-avg" if true_average else "edge-sparse"
        self.true_average = true_average
        self.average = sparse.AVERAGE_TOKENS

    def build(self, texts: list[str]) -> None:
        if self.true_average:
            tokens = tokenize(texts)
            self.average = sum(map(len, tokens)) / max(1, len(tokens))
            with mock.patch.object(sparse, "AVERAGE_TOKENS", self.average):
                terms = [sparse._weights(Counter(t), len(t)) for t in tokens]
        else:
            terms = sparse.passage_terms(texts)
        self.upsert([self.q.Point(id=i + 1, vector=self._vector(t), payload={}) for i, t in enumerate(terms)])

    def _vector(self, terms: sparse.SparseTerms) -> dict[str, Any]:
        return {"bm25": self.q.SparseVector(indices=list(terms.indices), values=list(terms.values))} if terms else {}

    def search(self, query: str, k: int) -> list[int]:
        terms = sparse.query_terms(query)
        if not terms:
            return []
        vector = self.q.SparseVector(indices=list(terms.indices), values=list(terms.values))
        return self.query(self.q.Query.Nearest(vector, using="bm25"), k)


class EdgeText(Edge):
    """Qdrant Edge's full-text index on the payload field "text", BM25-scored."""

    name = "edge-text"

    def __init__(self) -> None:
        super().__init__()
        q = self.q
        params = q.TextIndexParams(
            tokenizer=q.TokenizerType.Word,
            lowercase=True,
            stopwords=q.Language.English,
            stemmer=q.SnowballParams(q.SnowballLanguage.English),
            scoring=q.TextScoringParams(q.TextScoringType.Bm25),
        )
        self.shard.update(q.UpdateOperation.create_field_index("text", params))

    def build(self, texts: list[str]) -> None:
        self.upsert([self.q.Point(id=i + 1, vector={}, payload={"text": t}) for i, t in enumerate(texts)])

    def search(self, query: str, k: int) -> list[int]:
        return self.query(self.q.TextQuery("text", query, scoring=self.q.Bm25Params(k=K1, b=B)), k)


RETRIEVERS: dict[str, Callable[[], Any]] = {
    "bm25s": Bm25s,
    "edge-sparse": EdgeSparse,
    "edge-sparse-avg": lambda: EdgeSparse(true_average=True),
    "edge-text": EdgeText,
}


def run_set(spec: str, retrievers: list[str], k: int) -> dict[str, Any]:
    """Index one data set with every retriever and score its queries."""
    evalset = read_dataset(spec)
    names = [s.name for s in evalset.sources]
    texts = [s.text or "" for s in evalset.sources]
    qrels = {q.qid: dict(q.documents) for q in evalset.queries}
    lengths = [len(t) for t in tokenize(texts)]
    result: dict[str, Any] = {
        "docs": len(texts),
        "queries": len(evalset.queries),
        "average_tokens": round(sum(lengths) / len(lengths), 1),
        "retrievers": {},
    }
    for key in retrievers:
        retriever = RETRIEVERS[key]()
        try:
            start = time.perf_counter()
            retriever.build(texts)
            build_s = time.perf_counter() - start
            runs, latencies = {}, []
            for query in evalset.queries:
                start = time.perf_counter()
                found = retriever.search(query.text, k)
                latencies.append(time.perf_counter() - start)
                runs[query.qid] = [names[i] for i in found]
        finally:
            if isinstance(retriever, Edge):
                retriever.close()
        metrics = {m.measure: round(m.value, 4) for m in score(runs, qrels, MEASURES, "document")}
        result["retrievers"][key] = {
            "ndcg@10": metrics["nDCG@10"],
            "recall@10": metrics["R@10"],
            "build_s": round(build_s, 3),
            "query_ms_median": round(1000 * statistics.median(latencies), 3),
        }
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--eval", type=Path, default=DEFAULT_SHARED / "eval", help="folder holding the data sets")
    for name in SETS:
        parser.add_argument(f"--{name}", type=Path, help=f"the {name} folder (default EVAL/{SETS[name][1]})")
    parser.add_argument("--sets", default=",".join(SETS), help="comma-separated, from: " + ", ".join(SETS))
    parser.add_argument("--retrievers", default=",".join(RETRIEVERS), help="from: " + ", ".join(RETRIEVERS))
    parser.add_argument("--k", type=int, default=10, help="results per query (the metrics are @10)")
    parser.add_argument("--json", action="store_true", help="print one JSON object instead of the table")
    args = parser.parse_args()
    sets = [s for s in args.sets.split(",") if s]
    retrievers = [r for r in args.retrievers.split(",") if r]
    unknown = [s for s in sets if s not in SETS] + [r for r in retrievers if r not in RETRIEVERS]
    if unknown:
        parser.error(f"unknown set or retriever: {', '.join(unknown)}")
    out: dict[str, Any] = {"load_avg_before": load_avg(), "k1": K1, "b": B, "sets": {}}
    for name in sets:
        kind, folder = SETS[name]
        out["sets"][name] = run_set(f"{kind}:{getattr(args, name) or args.eval / folder}", retrievers, args.k)
    out["load_avg_after"] = load_avg()
    if args.json:
        print(json.dumps(out))
        return
    rows = [
        [name, f"{r['docs']}/{r['queries']}", r["average_tokens"], key, v["ndcg@10"], v["recall@10"],
         v["build_s"], v["query_ms_median"]]
        for name, r in out["sets"].items()
        for key, v in r["retrievers"].items()
    ]  # fmt: skip
    headers = ["set", "docs/queries", "avg tokens", "retriever", "nDCG@10", "R@10", "build s", "query ms (median)"]
    print(table(headers, rows))
    print(f"load average before {out['load_avg_before']}, after {out['load_avg_after']}")


if __name__ == "__main__":
    main()
