"""Retrieval metrics: hand-computed cases, conventions, and a cross-check against ranx."""

from __future__ import annotations

import math

import numpy as np
import pytest
from ranx import Qrels as RanxQrels
from ranx import Run as RanxRun
from ranx import evaluate as ranx_evaluate

from eval.metrics import (
    MetricResult,
    Qrels,
    Run,
    bootstrap_ci,
    collapse_to_documents,
    evaluate,
    hit_at_k,
    mrr_at_k,
    ndcg_at_k,
    precision_at_k,
    rank_items,
    recall_at_k,
)

# One query, graded: a=2, b=1, c judged non-relevant; the run ranks b, c, d, a.
GRADED_QRELS: Qrels = {"q1": {"a": 2, "b": 1, "c": 0}}
GRADED_RUN: Run = {"q1": {"a": 0.1, "b": 0.9, "c": 0.5, "d": 0.3}}


def test_ndcg_graded_gains() -> None:
    # top 3 = b(1), c(0), d(0): DCG = 1/log2(2) = 1
    # ideal top 3 = 2, 1: IDCG = 2/log2(2) + 1/log2(3) = 2 + 0.6309 = 2.6309 -> nDCG = 0.3801
    expected = 1.0 / (2.0 + 1.0 / math.log2(3))
    assert ndcg_at_k(GRADED_QRELS, GRADED_RUN, 3).mean == pytest.approx(expected, abs=1e-12)
    # top 4 adds a(2) at rank 4: DCG = 1 + 2/log2(5) = 1.8614; same IDCG -> nDCG = 0.7075
    expected = (1.0 + 2.0 / math.log2(5)) / (2.0 + 1.0 / math.log2(3))
    assert ndcg_at_k(GRADED_QRELS, GRADED_RUN, 4).mean == pytest.approx(expected, abs=1e-12)


def test_ndcg_ideal_is_cut_at_k() -> None:
    # relevant a=3, b=3, c=1; run ranks c, a. k=1: DCG = 1/1 = 1; IDCG@1 = 3/1 -> 1/3
    qrels: Qrels = {"q": {"a": 3, "b": 3, "c": 1}}
    run: Run = {"q": {"c": 2.0, "a": 1.0}}
    assert ndcg_at_k(qrels, run, 1).mean == pytest.approx(1 / 3, abs=1e-12)


def test_ndcg_perfect_ranking_is_one() -> None:
    run: Run = {"q1": {"a": 3.0, "b": 2.0, "c": 1.0}}
    assert ndcg_at_k(GRADED_QRELS, run, 10).mean == pytest.approx(1.0, abs=1e-12)


def test_recall_with_k_smaller_than_relevant_count() -> None:
    # 4 relevant (a, b, c, d); ranking a, x, b, y, c
    qrels: Qrels = {"q": {"a": 1, "b": 1, "c": 1, "d": 1}}
    run: Run = {"q": {"a": 5.0, "x": 4.0, "b": 3.0, "y": 2.0, "c": 1.0}}
    assert recall_at_k(qrels, run, 1).mean == pytest.approx(1 / 4)  # a
    assert recall_at_k(qrels, run, 2).mean == pytest.approx(1 / 4)  # a, x
    assert recall_at_k(qrels, run, 3).mean == pytest.approx(2 / 4)  # a, x, b
    assert recall_at_k(qrels, run, 100).mean == pytest.approx(3 / 4)  # d never retrieved


def test_precision_divides_by_k() -> None:
    # ranking b, c, d, a; relevant a, b (c has grade 0)
    assert precision_at_k(GRADED_QRELS, GRADED_RUN, 2).mean == pytest.approx(1 / 2)  # b
    assert precision_at_k(GRADED_QRELS, GRADED_RUN, 4).mean == pytest.approx(2 / 4)  # b, a
    # only 4 items retrieved, still divided by k = 10: 2/10
    assert precision_at_k(GRADED_QRELS, GRADED_RUN, 10).mean == pytest.approx(2 / 10)


def test_mrr_and_hit() -> None:
    # q1: first relevant at rank 3; q2: at rank 1; q3: none retrieved
    qrels: Qrels = {"q1": {"r": 1}, "q2": {"r": 1}, "q3": {"r": 1}}
    run: Run = {
        "q1": {"x": 3.0, "y": 2.0, "r": 1.0},
        "q2": {"r": 3.0, "x": 2.0},
        "q3": {"x": 1.0},
    }
    # mrr@10 = (1/3 + 1 + 0) / 3 = 0.4444; mrr@2 = (0 + 1 + 0) / 3
    assert mrr_at_k(qrels, run, 10).mean == pytest.approx((1 / 3 + 1) / 3)
    assert mrr_at_k(qrels, run, 10).per_query == pytest.approx({"q1": 1 / 3, "q2": 1.0, "q3": 0.0})
    assert mrr_at_k(qrels, run, 2).mean == pytest.approx(1 / 3)
    # hit@3 = (1 + 1 + 0) / 3; hit@1 = (0 + 1 + 0) / 3
    assert hit_at_k(qrels, run, 3).mean == pytest.approx(2 / 3)
    assert hit_at_k(qrels, run, 1).mean == pytest.approx(1 / 3)


def test_ties_broken_by_item_id_ascending() -> None:
    assert rank_items({"b": 1.0, "a": 1.0, "c": 2.0, "d": 0.5}) == ["c", "a", "b", "d"]
    # a and b tie, so a ranks first whatever the dict order: the relevant b is at rank 2
    qrels: Qrels = {"q": {"b": 1}}
    for run in ({"q": {"b": 1.0, "a": 1.0}}, {"q": {"a": 1.0, "b": 1.0}}):
        assert mrr_at_k(qrels, run, 10).mean == pytest.approx(0.5)
        assert hit_at_k(qrels, run, 1).mean == 0.0


def test_rank_items_rejects_nan() -> None:
    with pytest.raises(ValueError, match="NaN"):
        rank_items({"a": float("nan")})


def test_queries_without_relevant_items_are_skipped() -> None:
    # q2 has only a grade-0 judgment and q3 none: both skipped; only q1 is scored
    qrels: Qrels = {"q1": {"a": 1}, "q2": {"a": 0}, "q3": {}}
    run: Run = {"q1": {"a": 1.0}, "q2": {"a": 1.0}, "q3": {"a": 1.0}}
    for metric in (ndcg_at_k, recall_at_k, mrr_at_k, hit_at_k, precision_at_k):
        result = metric(qrels, run, 1)
        assert result == MetricResult(mean=1.0, per_query={"q1": 1.0}, skipped=2)


def test_queries_missing_from_run_score_zero() -> None:
    # q2 is not in the run: it scores 0, so the mean is (1 + 0) / 2
    qrels: Qrels = {"q1": {"a": 1}, "q2": {"b": 1}}
    run: Run = {"q1": {"a": 1.0}, "q_extra": {"b": 1.0}}
    for metric in (ndcg_at_k, recall_at_k, mrr_at_k, hit_at_k):
        result = metric(qrels, run, 10)
        assert result.per_query == {"q1": 1.0, "q2": 0.0}
        assert result.mean == pytest.approx(0.5)
        assert result.skipped == 0


def test_no_scored_query_gives_zero_mean() -> None:
    assert ndcg_at_k({"q": {"a": 0}}, {}, 10) == MetricResult(mean=0.0, per_query={}, skipped=1)


@pytest.mark.parametrize("k", [0, -1, 1.5, True])
def test_invalid_k(k: object) -> None:
    with pytest.raises(ValueError, match="k must be"):
        ndcg_at_k(GRADED_QRELS, GRADED_RUN, k)  # type: ignore[arg-type]


def test_evaluate_by_name() -> None:
    results = evaluate(
        GRADED_QRELS, GRADED_RUN, ["ndcg@3", "recall@1", "mrr@10", "hit@1", "success@4", "precision@2"]
    )
    assert set(results) == {"ndcg@3", "recall@1", "mrr@10", "hit@1", "success@4", "precision@2"}
    assert results["ndcg@3"] == ndcg_at_k(GRADED_QRELS, GRADED_RUN, 3)
    # ranking b, c, d, a: recall@1 = 1/2 (b of a, b); mrr@10 = 1/1; hit@1 = 1; success@4 = 1; P@2 = 1/2
    assert results["recall@1"].mean == pytest.approx(0.5)
    assert results["mrr@10"].mean == 1.0
    assert results["hit@1"].mean == 1.0
    assert results["success@4"].mean == 1.0
    assert results["precision@2"].mean == pytest.approx(0.5)


@pytest.mark.parametrize("name", ["map@10", "ndcg", "ndcg@0", "ndcg@x", "@10"])
def test_evaluate_rejects_unknown_names(name: str) -> None:
    with pytest.raises(ValueError, match=r"unknown metric|k must be"):
        evaluate(GRADED_QRELS, GRADED_RUN, [name])


def test_collapse_to_documents_keeps_first_occurrence_order() -> None:
    passages = [("d1", 0.9), ("d2", 0.8), ("d1", 0.7), ("d3", 0.7), ("d2", 0.1)]
    # unique docs in first-occurrence order d1, d2, d3 -> scores n - position = 3, 2, 1
    assert collapse_to_documents(passages) == {"d1": 3.0, "d2": 2.0, "d3": 1.0}
    assert rank_items(collapse_to_documents(passages)) == ["d1", "d2", "d3"]


def test_collapse_to_documents_is_strict_where_passage_scores_tie() -> None:
    # equal passage scores would tie-break z after a; the collapsed scores keep z first
    assert rank_items(collapse_to_documents([("z", 0.5), ("a", 0.5)])) == ["z", "a"]
    assert collapse_to_documents([]) == {}


def test_bootstrap_ci_is_deterministic_and_contains_the_mean() -> None:
    values = list(np.random.default_rng(7).random(200))
    low, high = bootstrap_ci(values, n_resamples=2000, seed=3)
    assert (low, high) == bootstrap_ci(values, n_resamples=2000, seed=3)
    assert (low, high) != bootstrap_ci(values, n_resamples=2000, seed=4)
    assert low < float(np.mean(values)) < high
    # a standard error of about 0.29 / sqrt(200) = 0.02, so the 95% interval is about +-0.04
    assert 0.02 < high - low < 0.12


def test_bootstrap_ci_of_constant_values() -> None:
    assert bootstrap_ci([0.25] * 10) == (0.25, 0.25)


@pytest.mark.parametrize(
    ("values", "kwargs"),
    [
        ([], {}),
        ([float("nan")], {}),
        ([1.0], {"alpha": 0.0}),
        ([1.0], {"alpha": 1.0}),
        ([1.0], {"n_resamples": 0}),
    ],
)
def test_bootstrap_ci_rejects_bad_input(values: list[float], kwargs: dict[str, float]) -> None:
    with pytest.raises(ValueError, match=r"must be|NaN"):
        bootstrap_ci(values, **kwargs)  # type: ignore[arg-type]


def _random_qrels_and_run(seed: int) -> tuple[Qrels, Run]:
    """50 queries, 30 scored docs each with distinct scores, graded qrels with >= 1 relevant doc each."""
    rng = np.random.default_rng(seed)
    pool = [f"d{i:03d}" for i in range(200)]
    qrels: Qrels = {}
    run: Run = {}
    for q in range(50):
        qid = f"q{q:02d}"
        retrieved = rng.choice(pool, size=30, replace=False)
        # distinct scores: a random permutation of 30 distinct values, so no tie-breaking is involved
        scores = rng.permutation(30) + rng.random()
        run[qid] = {str(doc): float(score) for doc, score in zip(retrieved, scores, strict=True)}
        # judged docs: some retrieved, some not; grades 0..3 with at least one > 0
        judged = list(rng.choice(retrieved, size=int(rng.integers(1, 8)), replace=False))
        judged += list(rng.choice(pool, size=int(rng.integers(0, 4)), replace=False))
        grades = {str(doc): int(rng.integers(0, 4)) for doc in judged}
        grades[str(judged[0])] = int(rng.integers(1, 4))
        qrels[qid] = grades
    return qrels, run


# ranx's own numba kernels warn about an internal integer cast; that is not ours to fix.
@pytest.mark.slow  # numba compiles ranx's kernels: over a minute on 2 cores
@pytest.mark.filterwarnings("ignore::numba.core.errors.NumbaTypeSafetyWarning")
def test_matches_ranx_on_a_random_run() -> None:
    qrels, run = _random_qrels_and_run(seed=42)
    names = ["ndcg@10", "recall@10", "recall@100", "mrr@10"]
    ours = evaluate(qrels, run, names)
    ranx_run = RanxRun(run)
    ranx_means = ranx_evaluate(RanxQrels(qrels), ranx_run, names)
    for name in names:
        assert ours[name].skipped == 0
        assert ours[name].mean == pytest.approx(ranx_means[name], abs=1e-9)
        ranx_per_query = {qid: float(value) for qid, value in ranx_run.scores[name].items()}
        assert ours[name].per_query == pytest.approx(ranx_per_query, abs=1e-9)
