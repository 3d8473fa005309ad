"""Retrieval metrics as pure functions over BEIR-style qrels and runs.

Conventions, shared by every metric:

- A run is ranked by score descending, ties broken by item id ascending, so a result never depends on dict
  order or on the retriever's tie handling (see ``rank_items``).
- An item is relevant iff its grade in the qrels is > 0; items missing from the qrels are not relevant.
- A query of the qrels with no relevant item is left out of the mean and counted in ``skipped``.
- A query of the qrels missing from the run (or with an empty ranking) scores 0.
- A query of the run missing from the qrels is ignored.
- ``mean`` is 0.0 when no query is scored (then ``per_query`` is empty).
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass

import numpy as np

Qrels = dict[str, dict[str, int]]
Run = dict[str, dict[str, float]]

# Per-query metric: (relevant item -> grade > 0, ranked items already cut to k, k) -> value.
QueryMetric = Callable[[Mapping[str, int], list[str], int], float]


@dataclass(frozen=True)
class MetricResult:
    """Mean over the scored queries, the value of each, and how many qrels queries had no relevant item."""

    mean: float
    per_query: dict[str, float]
    skipped: int


def rank_items(scores: Mapping[str, float]) -> list[str]:
    """Item ids by score descending, ties by item id ascending."""
    for item, score in scores.items():
        if math.isnan(score):
            raise ValueError(f"score of item {item!r} is NaN; a ranking needs comparable scores")
    return sorted(scores, key=lambda item: (-scores[item], item))


def collapse_to_documents(ranked_passage_doc_ids: list[tuple[str, float]]) -> dict[str, float]:
    """Collapse a best-first passage ranking to documents, each placed at its first (best) passage.

    The input order is trusted (it is not re-sorted, and the passage scores are not compared). The returned
    score of a document is ``n - position`` (n documents, position from 0), so the first document scores n and
    the last 1: strictly decreasing, so ``rank_items`` gives back exactly the first-occurrence order, with no
    ties for the id tie-break to reorder. The passage scores themselves are not kept.
    """
    order = list(dict.fromkeys(doc_id for doc_id, _score in ranked_passage_doc_ids))
    return {doc_id: float(len(order) - position) for position, doc_id in enumerate(order)}


def _ndcg(relevant: Mapping[str, int], top: list[str], k: int) -> float:
    dcg = _dcg([relevant.get(item, 0) for item in top])
    ideal = _dcg(sorted(relevant.values(), reverse=True)[:k])
    return dcg / ideal


def _dcg(gains: Sequence[int]) -> float:
    return math.fsum(gain / math.log2(rank + 1) for rank, gain in enumerate(gains, start=1))


def _recall(relevant: Mapping[str, int], top: list[str], k: int) -> float:
    return sum(item in relevant for item in top) / len(relevant)


def _precision(relevant: Mapping[str, int], top: list[str], k: int) -> float:
    # Divided by k even when fewer than k items were retrieved, as trec_eval and ranx do.
    return sum(item in relevant for item in top) / k


def _reciprocal_rank(relevant: Mapping[str, int], top: list[str], k: int) -> float:
    return next((1.0 / rank for rank, item in enumerate(top, start=1) if item in relevant), 0.0)


def _hit(relevant: Mapping[str, int], top: list[str], k: int) -> float:
    return 1.0 if any(item in relevant for item in top) else 0.0


_METRICS: dict[str, QueryMetric] = {
    "ndcg": _ndcg,
    "recall": _recall,
    "precision": _precision,
    "mrr": _reciprocal_rank,
    "hit": _hit,
    "success": _hit,
}
_METRIC_NAME = re.compile(r"([a-z]+)@(\d+)")


def _check_k(k: int) -> None:
    if isinstance(k, bool) or not isinstance(k, int) or k < 1:
        raise ValueError(f"k must be a positive integer, got {k!r}")


def _rankings(qrels: Qrels, run: Run) -> dict[str, list[str]]:
    return {qid: rank_items(run.get(qid, {})) for qid in qrels}


def _score(qrels: Qrels, rankings: Mapping[str, list[str]], k: int, metric: QueryMetric) -> MetricResult:
    _check_k(k)
    per_query: dict[str, float] = {}
    skipped = 0
    for qid, grades in qrels.items():
        relevant = {item: grade for item, grade in grades.items() if grade > 0}
        if not relevant:
            skipped += 1
            continue
        per_query[qid] = metric(relevant, rankings[qid][:k], k)
    mean = math.fsum(per_query.values()) / len(per_query) if per_query else 0.0
    return MetricResult(mean=mean, per_query=per_query, skipped=skipped)


def ndcg_at_k(qrels: Qrels, run: Run, k: int) -> MetricResult:
    """nDCG@k as trec_eval and ranx "ndcg": gain = grade, discount log2(rank + 1), ideal from the qrels."""
    return _score(qrels, _rankings(qrels, run), k, _ndcg)


def recall_at_k(qrels: Qrels, run: Run, k: int) -> MetricResult:
    """Relevant items in the top k / all relevant items of the query."""
    return _score(qrels, _rankings(qrels, run), k, _recall)


def precision_at_k(qrels: Qrels, run: Run, k: int) -> MetricResult:
    """Relevant items in the top k / k."""
    return _score(qrels, _rankings(qrels, run), k, _precision)


def mrr_at_k(qrels: Qrels, run: Run, k: int) -> MetricResult:
    """1 / rank of the first relevant item in the top k, 0 if none."""
    return _score(qrels, _rankings(qrels, run), k, _reciprocal_rank)


def hit_at_k(qrels: Qrels, run: Run, k: int) -> MetricResult:
    """1 if any relevant item is in the top k, else 0 (also called success@k)."""
    return _score(qrels, _rankings(qrels, run), k, _hit)


def parse_metric(name: str) -> tuple[QueryMetric, int]:
    """Split a name like "ndcg@10" into its per-query function and k."""
    match = _METRIC_NAME.fullmatch(name.strip().lower())
    if match is None or match.group(1) not in _METRICS:
        known = ", ".join(f"{metric}@K" for metric in _METRICS)
        raise ValueError(f"unknown metric {name!r}; use one of {known} (K a positive integer)")
    k = int(match.group(2))
    _check_k(k)
    return _METRICS[match.group(1)], k


def evaluate(qrels: Qrels, run: Run, metrics: Sequence[str]) -> dict[str, MetricResult]:
    """Each named metric ("ndcg@10", "recall@100", "mrr@10", "hit@1", ...), keyed by the given name."""
    if isinstance(metrics, str):
        metrics = [metrics]
    parsed = {name: parse_metric(name) for name in metrics}
    rankings = _rankings(qrels, run)
    return {name: _score(qrels, rankings, k, metric) for name, (metric, k) in parsed.items()}


def bootstrap_ci(
    per_query: Sequence[float], n_resamples: int = 1000, alpha: float = 0.05, seed: int = 0
) -> tuple[float, float]:
    """Percentile bootstrap (1 - alpha) confidence interval of the mean; deterministic for a given seed."""
    values = np.asarray(per_query, dtype=np.float64)
    if values.ndim != 1 or values.size == 0:
        raise ValueError("per_query must be a non-empty sequence of numbers")
    if not np.all(np.isfinite(values)):
        raise ValueError("per_query holds NaN or infinite values")
    if not 0.0 < alpha < 1.0:
        raise ValueError(f"alpha must be in (0, 1), got {alpha!r}")
    if n_resamples < 1:
        raise ValueError(f"n_resamples must be >= 1, got {n_resamples!r}")
    rng = np.random.default_rng(seed)
    # Resample in batches so memory stays bounded for large query sets.
    batch = max(1, 2_000_000 // values.size)
    means = np.concatenate(
        [
            values[rng.integers(0, values.size, size=(min(batch, n_resamples - start), values.size))].mean(
                axis=1
            )
            for start in range(0, n_resamples, batch)
        ]
    )
    low, high = np.quantile(means, [alpha / 2, 1 - alpha / 2])
    return float(low), float(high)
