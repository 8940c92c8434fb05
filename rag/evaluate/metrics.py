"""Scoring ranked units against gold with ir-measures (nDCG, R@k, RR, Success@k), not hand-rolled formulas.

Runs are handed over as rank-ordered unit lists; the scores given to ir-measures are derived from the rank so
that ties in retrieval scores (common after rank fusion) cannot reorder results inside pytrec_eval.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from rag.evaluate.records import RANKING_KINDS

# Human names for the report; "hit@k" is ir-measures' Success@k (1 if any relevant unit is in the top k).
_LABELS = {"nDCG": "nDCG", "R": "recall", "RR": "MRR", "Success": "hit"}


@dataclass(frozen=True)
class MetricValue:
    """One aggregate: `name` as shown in reports (e.g. "doc hit@5"), `measure` as ir-measures spells it."""

    name: str
    measure: str
    level: str
    value: float


def measures_for(kind: str, level: str, ks: Sequence[int]) -> list[str]:
    """The ir-measures measure strings reported for one dataset kind and gold level."""
    if kind in RANKING_KINDS:
        base = ["nDCG@10", "R@10", "R@100", "RR@10"]
        return base + [f"R@{k}" for k in ks if f"R@{k}" not in base]
    if kind == "docugami":
        return [f"Success@{k}" for k in ks] + [f"R@{k}" for k in ks] + ["RR@10"]
    return [f"Success@{k}" for k in ks] + ["RR@10"]


def label(measure: str, level: str) -> str:
    """ "Success@5" at level "span" → "span hit@5"."""
    name, _, cutoff = measure.partition("@")
    prefix = {"document": "doc", "page": "page", "span": "span"}[level]
    return f"{prefix} {_LABELS.get(name, name)}@{cutoff}" if cutoff else f"{prefix} {_LABELS.get(name, name)}"


def score(
    runs: Mapping[str, Sequence[str]],
    qrels: Mapping[str, Mapping[str, int]],
    measures: Sequence[str],
    level: str,
) -> list[MetricValue]:
    """Mean of each measure over every query that has gold; a query with no run scores 0 (not skipped)."""
    import ir_measures

    parsed = [ir_measures.parse_measure(m) for m in measures]
    gold = {qid: units for qid, units in qrels.items() if units}
    qrel_rows = [ir_measures.Qrel(qid, unit, grade) for qid, units in gold.items() for unit, grade in units.items()]
    run_rows = [
        ir_measures.ScoredDoc(qid, unit, float(len(units) - rank))
        for qid, units in runs.items()
        if qid in gold
        for rank, unit in enumerate(units)
    ]
    totals = {str(m): 0.0 for m in parsed}
    for metric in ir_measures.iter_calc(parsed, qrel_rows, run_rows):
        totals[str(metric.measure)] += metric.value
    count = max(1, len(gold))
    return [
        MetricValue(label(m, level), m, level, totals[str(p)] / count) for m, p in zip(measures, parsed, strict=True)
    ]
