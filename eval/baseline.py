"""Compare an evaluation's results.json with a baseline one, and decide whether quality regressed.

The rule (the CI gate): for every mode and metric of the baseline, the run REGRESSED when its mean is below
the lower bound of the baseline's 95% bootstrap confidence interval for that metric (``ci95[0]``), i.e. it
fell further than the baseline's own question-sampling noise allows. A mean below the baseline mean but not
below that bound is reported as "worse, within the interval" and does not fail. A mode or metric of the
baseline missing from the run fails too (the gate cannot check it; regenerate the baseline if the metrics
changed on purpose). Timings are never compared.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

Status = Literal["regressed", "worse", "same or better", "missing"]
# Means are stored as floats; differences below this are rounding, not change.
EPSILON = 1e-9


@dataclass(frozen=True)
class MetricChange:
    mode: str
    metric: str
    baseline: float
    baseline_ci95: tuple[float, float]
    new: float | None
    status: Status

    @property
    def delta(self) -> float | None:
        return None if self.new is None else self.new - self.baseline


@dataclass(frozen=True)
class QuestionChange:
    mode: str
    qid: str
    baseline: float
    new: float


@dataclass(frozen=True)
class BaselineComparison:
    changes: list[MetricChange]
    questions_worse: list[QuestionChange]  # by reciprocal rank, when both results hold per-query values
    question_metric: str

    @property
    def regressed(self) -> list[MetricChange]:
        return [c for c in self.changes if c.status in ("regressed", "missing")]

    @property
    def worse(self) -> list[MetricChange]:
        return [c for c in self.changes if c.status != "same or better"]

    @property
    def passed(self) -> bool:
        return not self.regressed


def load_results(path: Path) -> dict[str, Any]:
    """A results.json written by ``citeqa eval`` (seed set)."""
    try:
        results = json.loads(Path(path).read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ValueError(
            f"baseline {path} does not exist; write one with `citeqa eval` (its results.json)"
        ) from None
    except (json.JSONDecodeError, UnicodeDecodeError):
        raise ValueError(f"baseline {path} is not valid JSON") from None
    modes = results.get("modes") if isinstance(results, dict) else None
    if not isinstance(modes, dict) or not all(
        isinstance(m, dict) and isinstance(m.get("metrics"), dict) and isinstance(m.get("ci95"), dict)
        for m in modes.values()
    ):
        raise ValueError(
            f"{path} is not a citeqa results.json (need modes -> metrics and ci95); "
            "use the results.json of a `citeqa eval` report"
        )
    for name, mode in modes.items():  # compared question by question (check_comparable, questions_worse)
        if "per_query" in mode and not isinstance(mode["per_query"], dict):
            raise ValueError(
                f"{path} is not a citeqa results.json: modes -> {name} -> per_query is "
                f"{json_kind(mode['per_query'])}, not metric -> question -> value; use the results.json of a "
                "`citeqa eval` report"
            )
    return results


def json_kind(value: Any) -> str:
    """What a JSON value is, for a message: "a list", "null", ..."""
    if value is None:
        return "null"
    kinds = {bool: "true or false", str: "a string", int: "a number", float: "a number", list: "a list"}
    return kinds.get(type(value), "an object")


def check_comparable(baseline: dict[str, Any], path: Path | str, question_ids: set[str]) -> None:
    """Refuse a baseline that scored something else than this run will: the report of `citeqa eval
    --dataset` (documents of a BEIR corpus, other metrics), or one whose scored questions are none of
    ``question_ids``. Either compared metric by metric would fail the gate for no regression."""
    if "dataset" in baseline:
        raise ValueError(
            f"baseline {path} is the report of `citeqa eval --dataset` ({baseline['dataset']}), not of a "
            "question set: --baseline compares `citeqa eval` (or `--questions`) reports; pass the "
            "results.json of one, run on the same questions"
        )
    scored = {
        qid
        for mode in baseline["modes"].values()
        for values in (mode.get("per_query") or {}).values()
        if isinstance(values, dict)
        for qid in values
    }
    if scored and not scored & question_ids:
        raise ValueError(
            f"baseline {path} scored other questions: none of its {len(scored)} question ids is among the "
            f"{len(question_ids)} answerable questions of this set; pass the results.json of a run on the "
            "same questions"
        )


def compare_results(
    new: dict[str, Any], baseline: dict[str, Any], question_metric: str = "mrr@10"
) -> BaselineComparison:
    changes = []
    for mode, base in baseline["modes"].items():
        run = new["modes"].get(mode, {})
        for metric, base_mean in base["metrics"].items():
            low, high = base["ci95"].get(metric, (base_mean, base_mean))
            value = run.get("metrics", {}).get(metric)
            if value is None:
                status: Status = "missing"
            elif value < low - EPSILON:
                status = "regressed"
            elif value < base_mean - EPSILON:
                status = "worse"
            else:
                status = "same or better"
            changes.append(
                MetricChange(mode, metric, float(base_mean), (float(low), float(high)), value, status)
            )
    return BaselineComparison(changes, questions_worse(new, baseline, question_metric), question_metric)


def questions_worse(new: dict[str, Any], baseline: dict[str, Any], metric: str) -> list[QuestionChange]:
    out = []
    for mode, base in baseline["modes"].items():
        before = base.get("per_query", {}).get(metric, {})
        after = new["modes"].get(mode, {}).get("per_query", {}).get(metric, {})
        for qid in sorted(set(before) & set(after)):
            if after[qid] < before[qid] - EPSILON:
                out.append(QuestionChange(mode, qid, before[qid], after[qid]))
    return out


def comparison_text(comparison: BaselineComparison, baseline_path: Path | str) -> str:
    """What an owner reads: the metrics that got worse, which regressed, and the questions that lost."""
    lines = [f"## Against the baseline {baseline_path}", ""]
    lines.append(
        "Rule: a metric REGRESSED when its mean fell below the lower bound of the baseline's 95% bootstrap "
        "confidence interval (per mode and metric); that fails the gate (exit code 1)."
    )
    lines.append("")
    worse = comparison.worse
    if not worse:
        lines.append("No metric got worse.")
    else:
        lines += [
            "| mode | metric | baseline [95% CI] | now | change | status |",
            "|---|---|---|---|---|---|",
        ]
        for c in worse:
            now = "missing" if c.new is None else f"{c.new:.3f}"
            delta = "" if c.delta is None else f"{c.delta:+.3f}"
            status = "**REGRESSED**" if c.status in ("regressed", "missing") else "worse, within the interval"
            low, high = c.baseline_ci95
            cells = [c.mode, c.metric, f"{c.baseline:.3f} [{low:.3f}, {high:.3f}]", now, delta, status]
            lines.append("| " + " | ".join(cells) + " |")
    if comparison.questions_worse:
        lines += ["", f"Questions whose {comparison.question_metric} dropped (baseline -> now):", ""]
        by_mode: dict[str, list[str]] = {}
        for q in comparison.questions_worse:
            by_mode.setdefault(q.mode, []).append(f"{q.qid} ({q.baseline:.2f} -> {q.new:.2f})")
        lines += [f"- {mode}: {', '.join(items)}" for mode, items in by_mode.items()]
    verdict = "PASSED" if comparison.passed else f"FAILED: {len(comparison.regressed)} metric(s) regressed"
    lines += ["", f"Baseline gate: {verdict}"]
    return "\n".join(lines)
