"""The seed evaluation report (files, per-question table, paired comparison, plots) and the baseline gate:
pure parts on small hand-made inputs, then the real evaluation of the default index against the committed
eval/baseline.json through the CLI's code path (this is the CI regression gate), a deliberately worse run
(bm25's scores presented as hybrid) that must be caught, and the CLI's exit codes."""

from __future__ import annotations

import csv
import json
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest
from matplotlib.image import imread
from support import run_cli

from citeqa.answers import Answerer
from eval.baseline import compare_results, comparison_text, load_results
from eval.harness import RUN_DEPTH, SEED_METRICS, ModeScores
from eval.paired import compare_all, compare_pair
from eval.plots import confidence_distributions, recall_at_k_curve, recall_curves
from eval.seed_report import (
    SeedEvaluation,
    question_table,
    results_json,
    run_seed_evaluation,
    seed_context,
    shorten,
)
from eval.seed_set import EvalQuestion, load_eval_set

REPO = Path(__file__).resolve().parents[2]
BASELINE = REPO / "eval" / "baseline.json"


def is_png(path: Path, min_width: int = 600) -> tuple[int, int]:
    assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    height, width = imread(path).shape[:2]
    assert width >= min_width and height >= 0.5 * min_width
    return width, height


# --- pure parts -----------------------------------------------------------------------------------


def test_recall_at_k_curve_counts_first_gold_ranks() -> None:
    curve = recall_at_k_curve([1, 3, None, 2], 4)
    assert curve.tolist() == [0.25, 0.5, 0.75, 0.75]
    with pytest.raises(ValueError):
        recall_at_k_curve([], 10)


def test_paired_comparison_by_question() -> None:
    a = {"q1": 1.0, "q2": 0.5, "q3": 0.0, "q4": 0.25}
    b = {"q1": 0.5, "q2": 0.5, "q3": 1.0, "q4": 0.0, "q5": 1.0}  # q5 is not in a: not compared
    pair = compare_pair("a", "b", a, b, "mrr@10")
    assert pair.wins == {"q1": (1.0, 0.5), "q4": (0.25, 0.0)}
    assert pair.losses == {"q3": (0.0, 1.0)}
    assert pair.ties == 1
    assert pair.mean_difference == pytest.approx((0.5 + 0 - 1.0 + 0.25) / 4)
    assert pair.ci95[0] <= pair.mean_difference <= pair.ci95[1]
    pairs = compare_all({"x": a, "y": a, "z": b}, "mrr@10")
    assert [(p.a, p.b) for p in pairs] == [("x", "y"), ("x", "z"), ("y", "z")]
    assert pairs[0].ties == 4 and pairs[0].mean_difference == 0.0


def results(metrics: dict[str, dict[str, float]], ci: dict[str, dict[str, list[float]]]) -> dict:
    return {"modes": {mode: {"metrics": metrics[mode], "ci95": ci[mode]} for mode in metrics}}


def test_baseline_rule_is_the_lower_ci_bound() -> None:
    baseline = results(
        {"hybrid": {"hit@5": 0.90, "mrr@10": 0.70, "hit@1": 0.50}, "bm25": {"hit@5": 0.70}},
        {
            "hybrid": {"hit@5": [0.82, 0.97], "mrr@10": [0.60, 0.80], "hit@1": [0.40, 0.60]},
            "bm25": {"hit@5": [0.60, 0.80]},
        },
    )
    new = results(
        {"hybrid": {"hit@5": 0.81, "mrr@10": 0.65, "hit@1": 0.55}},
        {"hybrid": {"hit@5": [0.7, 0.9], "mrr@10": [0.5, 0.7], "hit@1": [0.4, 0.7]}},
    )
    comparison = compare_results(new, baseline)
    status = {(c.mode, c.metric): c.status for c in comparison.changes}
    assert status == {
        ("hybrid", "hit@5"): "regressed",  # 0.81 < 0.82
        ("hybrid", "mrr@10"): "worse",  # below the mean, inside the interval
        ("hybrid", "hit@1"): "same or better",
        ("bm25", "hit@5"): "missing",
    }
    assert not comparison.passed
    assert {(c.mode, c.metric) for c in comparison.regressed} == {("hybrid", "hit@5"), ("bm25", "hit@5")}
    text = comparison_text(comparison, "old.json")
    assert "REGRESSED" in text and "worse, within the interval" in text and "FAILED: 2 metric(s)" in text
    assert "hit@1" not in text  # only what got worse is listed
    same = compare_results(baseline, baseline)
    assert same.passed and not same.worse and "No metric got worse." in comparison_text(same, "b")


def test_a_bad_baseline_file_is_a_clear_error(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="does not exist"):
        load_results(tmp_path / "missing.json")
    (tmp_path / "bad.json").write_text("{", encoding="utf-8")
    with pytest.raises(ValueError, match="not valid JSON"):
        load_results(tmp_path / "bad.json")
    (tmp_path / "other.json").write_text('{"modes": {"hybrid": {"metrics": {}}}}', encoding="utf-8")
    with pytest.raises(ValueError, match=r"not a citeqa results\.json"):
        load_results(tmp_path / "other.json")


def test_question_table_has_room_for_more_columns() -> None:
    questions = [
        EvalQuestion("q1", "what?", True, "d", None, ("a gold quote " * 10,)),
        EvalQuestion("u1", "off topic?", False, None, None, ()),
    ]
    scores = [
        ModeScores("hybrid", {}, {}, {}, 0.0, {"q1": 3}),
        ModeScores("bm25", {}, {}, {}, 0.0, {"q1": None}),
    ]
    extra = {"answerable": {"q1": True, "u1": False}, "confidence": {"q1": 0.91234, "u1": 0.1}}
    header, rows = question_table(questions, scores, extra)
    assert header == [
        "qid",
        "question",
        "labelled answerable",
        "gold (first quote)",
        "rank hybrid",
        "rank bm25",
        "answerable",
        "confidence",
    ]
    assert rows[0][4:] == ["3", f">{RUN_DEPTH}", "yes", "0.912"]
    assert rows[0][3] == shorten("a gold quote " * 10) and rows[0][3].endswith("…") and len(rows[0][3]) <= 70
    assert rows[1][2:] == ["no", "", "", "", "no", "0.100"]


def test_confidence_plot_from_synthetic_arrays(tmp_path: Path) -> None:
    rng = np.random.default_rng(0)
    path = confidence_distributions(rng.beta(6, 2, 60), rng.beta(2, 5, 20), 0.45, tmp_path / "conf.png")
    is_png(path)
    with pytest.raises(ValueError, match="at least one"):
        confidence_distributions([], [0.2], 0.5, tmp_path / "x.png")
    with pytest.raises(ValueError, match=r"in \[0, 1\]"):
        confidence_distributions([1.5], [0.2], 0.5, tmp_path / "x.png")
    with pytest.raises(ValueError, match="threshold"):
        confidence_distributions([0.5], [0.2], 2.0, tmp_path / "x.png")


def test_recall_plot(tmp_path: Path) -> None:
    path = recall_curves({"hybrid": [1, 2, None], "dense": [3, 1, 1]}, tmp_path / "r.png", title="t")
    is_png(path)


# --- the real evaluation and the gate -------------------------------------------------------------


@pytest.fixture(scope="module")
def seed_questions() -> list[EvalQuestion]:
    return load_eval_set()


@pytest.fixture(scope="module")
def evaluation(
    answerer: Answerer, seed_questions: list[EvalQuestion], tmp_path_factory: pytest.TempPathFactory
) -> SeedEvaluation:
    """`citeqa eval --baseline eval/baseline.json` on the default index, in process (the CLI's code path)."""
    out = tmp_path_factory.mktemp("seed-report")
    searcher = answerer.searcher
    context = seed_context(searcher, seed_questions, "default index")
    return run_seed_evaluation(searcher, seed_questions, out, context, BASELINE, answerer)


def test_no_regression_against_the_committed_baseline(evaluation: SeedEvaluation) -> None:
    """The CI gate: no metric of any mode below the lower bound of the baseline's 95% interval."""
    assert evaluation.comparison is not None
    assert {(c.mode, c.metric) for c in evaluation.comparison.changes} == {
        (mode, metric) for mode in ("hybrid", "dense", "bm25") for metric in SEED_METRICS
    }
    assert evaluation.comparison.passed, comparison_text(evaluation.comparison, BASELINE)
    assert "Baseline gate: PASSED" in (evaluation.out / "baseline.md").read_text(encoding="utf-8")


def test_a_worse_run_is_caught(evaluation: SeedEvaluation, seed_questions: list[EvalQuestion]) -> None:
    """bm25's scores presented as hybrid's must fail against the hybrid baseline."""
    bm25 = next(s for s in evaluation.scores if s.mode == "bm25")
    worse_scores = [replace(bm25, mode="hybrid") if s.mode == "hybrid" else s for s in evaluation.scores]
    pairs = compare_all({s.mode: s.per_query["mrr@10"] for s in worse_scores}, "mrr@10")
    worse = results_json(worse_scores, seed_questions, pairs, {})
    comparison = compare_results(worse, load_results(BASELINE))
    assert not comparison.passed
    regressed = {(c.mode, c.metric) for c in comparison.regressed}
    assert ("hybrid", "hit@5") in regressed
    assert all(mode == "hybrid" for mode, _ in regressed)
    # Questions worse than the baseline release: hybrid's (bm25's scores) among them; dense may have some
    # of its own since the query adapter (citeqa/query_adapter.py) came after the baseline.
    assert any(q.mode == "hybrid" for q in comparison.questions_worse)
    assert all(q.mode in ("hybrid", "dense") for q in comparison.questions_worse)


def test_report_files_exist_and_parse(evaluation: SeedEvaluation, seed_questions: list[EvalQuestion]) -> None:
    out = evaluation.out
    assert {p.name for p in out.iterdir()} >= {
        "summary.md",
        "results.json",
        "questions.csv",
        "questions.md",
        "recall_at_k.png",
        "confidence.png",
        "baseline.md",
    }
    data = json.loads((out / "results.json").read_text(encoding="utf-8"))
    assert list(data["modes"]) == ["hybrid", "dense", "bm25"]
    for mode in data["modes"].values():
        for metric in SEED_METRICS:
            low, high = mode["ci95"][metric]
            assert low <= mode["metrics"][metric] <= high
    assert len(data["paired"]) == 3 and {p["a"] for p in data["paired"]} == {"hybrid", "dense"}
    for pair in data["paired"]:
        assert len(pair["a_wins"]) + len(pair["b_wins"]) + pair["ties"] == 60

    with (out / "questions.csv").open(encoding="utf-8", newline="") as handle:
        rows = list(csv.DictReader(handle))
    assert [r["qid"] for r in rows] == [q.qid for q in seed_questions]
    # The service's no-answer decision on every question, and the clear cases decided right.
    assert {r["judged answerable"] for r in rows} == {"yes", "no"}
    assert all(0.0 <= float(r["confidence"]) <= 1.0 for r in rows)
    kinds = {q.qid: q.kind for q in seed_questions}
    off_topic = [r for r in rows if kinds[r["qid"]] == "off_topic"]
    assert off_topic and all(r["judged answerable"] == "no" for r in off_topic)
    assert "Knowing when there is no answer" in (out / "summary.md").read_text(encoding="utf-8")
    hybrid = data["modes"]["hybrid"]["per_query"]["mrr@10"]
    for row in rows:
        if row["labelled answerable"] == "no":
            assert row["rank hybrid"] == "" and row["gold (first quote)"] == ""
            continue
        rank = row["rank hybrid"]
        expected = 0.0 if rank == f">{RUN_DEPTH}" else 1.0 / int(rank)
        assert hybrid[row["qid"]] == pytest.approx(expected)
        assert data["questions"][row["qid"]]["first_gold_rank"]["hybrid"] == (
            None if rank.startswith(">") else int(rank)
        )

    summary = (out / "summary.md").read_text(encoding="utf-8")
    for heading in ("## Metrics", "## Paired comparison", "hybrid vs dense", "![Recall@k per mode]"):
        assert heading in summary
    is_png(out / "recall_at_k.png")


def test_cli_exit_codes_follow_the_gate(default_index_path: Path, tmp_path: Path) -> None:
    """Five questions, two baselines: one no run can reach (exit 1, named), one any run meets (exit 0)."""
    subset = tmp_path / "five.jsonl"
    lines = (REPO / "eval" / "sets" / "seed.jsonl").read_text(encoding="utf-8").splitlines()
    subset.write_text("\n".join(lines[:5]) + "\n", encoding="utf-8")
    unreachable = results(
        {"hybrid": {"hit@10": 1.5}, "dense": {"hit@1": 0.0}},
        {"hybrid": {"hit@10": [1.2, 1.8]}, "dense": {"hit@1": [0, 0]}},
    )
    reachable = results({"bm25": {"mrr@10": 0.0}}, {"bm25": {"mrr@10": [0.0, 0.0]}})
    (tmp_path / "unreachable.json").write_text(json.dumps(unreachable), encoding="utf-8")
    (tmp_path / "reachable.json").write_text(json.dumps(reachable), encoding="utf-8")
    common = ["eval", "--index", str(default_index_path), "--questions", str(subset)]

    failed = run_cli(
        [*common, "--out", str(tmp_path / "a"), "--baseline", str(tmp_path / "unreachable.json")], tmp_path
    )
    assert failed.returncode == 1, failed.stderr
    assert "| hybrid | hit@10 | 1.500 [1.200, 1.800] |" in failed.stdout
    assert (
        "**REGRESSED**" in failed.stdout and "Baseline gate: FAILED: 1 metric(s) regressed" in failed.stdout
    )

    passed = run_cli(
        [*common, "--out", str(tmp_path / "b"), "--baseline", str(tmp_path / "reachable.json")], tmp_path
    )
    assert passed.returncode == 0, passed.stderr
    assert "Baseline gate: PASSED" in passed.stdout
    assert (tmp_path / "b" / "questions.csv").is_file()
