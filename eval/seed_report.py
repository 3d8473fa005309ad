"""The seed-set evaluation report folder, and the code path of `citeqa eval` on the seed set.

summary.md        metrics with 95% bootstrap intervals, paired comparison of the modes, questions to look at
results.json      everything in summary.md, plus per-question values (the baseline format: eval/baseline.py)
questions.csv/.md one row per question: qid, question, gold (first quote, shortened), rank of the first gold
                  passage per mode, then any extra columns (e.g. answerable / confidence)
recall_at_k.png   Recall@k curves per mode, k = 1..10
confidence.png    confidence of answerable vs unanswerable questions, threshold drawn (with an answerer)
baseline.md       the comparison with a baseline, when one is given
"""

from __future__ import annotations

import csv
import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from citeqa.answers import Answerer
from citeqa.question_tower import question_side
from citeqa.search import Searcher
from eval.answer_report import AnswerView, answer_json, answer_lines, answer_view
from eval.baseline import (
    BaselineComparison,
    check_comparable,
    compare_results,
    comparison_text,
    load_results,
)
from eval.harness import RUN_DEPTH, SEED_METRICS, ModeScores, evaluate_seed
from eval.paired import PairedComparison, compare_all
from eval.plots import confidence_distributions, recall_curves
from eval.seed_set import EvalQuestion

SEED_LABEL = "seed set"


PAIRED_METRIC = "mrr@10"  # per question: the reciprocal rank of the first gold passage (0 past rank 10)
GOLD_CHARS = 70
# column -> qid -> value: columns other stages add to the per-question table (answerable, confidence, ...).
ExtraColumns = Mapping[str, Mapping[str, object]]


def capitalized(label: str) -> str:
    return label[:1].upper() + label[1:]


def shorten(text: str, limit: int = GOLD_CHARS) -> str:
    text = " ".join(text.split())
    return text if len(text) <= limit else text[: limit - 1].rstrip() + "…"


def question_table(
    questions: Sequence[EvalQuestion], scores: Sequence[ModeScores], extra: ExtraColumns | None = None
) -> tuple[list[str], list[list[str]]]:
    """(header, rows) of the per-question table; an empty cell means not applicable or not found."""
    extra = extra or {}
    header = ["qid", "question", "labelled answerable", "gold (first quote)"]
    header += [f"rank {s.mode}" for s in scores] + list(extra)
    rows = []
    for q in questions:
        ranks = [s.first_gold_rank.get(q.qid) for s in scores]
        cells = [q.qid, q.question, "yes" if q.answerable else "no", shorten(q.gold[0]) if q.gold else ""]
        cells += ["" if not q.answerable else (str(r) if r is not None else f">{RUN_DEPTH}") for r in ranks]
        cells += [format_cell(extra[column].get(q.qid)) for column in extra]
        rows.append(cells)
    return header, rows


def format_cell(value: object) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, float):
        return f"{value:.3f}"
    return str(value)


def markdown_grid(header: Sequence[str], rows: Sequence[Sequence[str]]) -> str:
    escape = lambda cell: str(cell).replace("|", "\\|")  # noqa: E731
    lines = ["| " + " | ".join(header) + " |", "|---" * len(header) + "|"]
    lines += ["| " + " | ".join(escape(c) for c in row) + " |" for row in rows]
    return "\n".join(lines)


def metrics_with_intervals(scores: Sequence[ModeScores], metrics: Sequence[str]) -> str:
    header = ["mode", *metrics, "ms/query"]
    rows = []
    for s in scores:
        cells = [f"{s.metrics[m]:.3f} [{s.intervals[m][0]:.2f}, {s.intervals[m][1]:.2f}]" for m in metrics]
        rows.append([s.mode, *cells, f"{s.ms_per_query:.1f}"])
    return markdown_grid(header, rows)


def paired_table(pairs: Sequence[PairedComparison]) -> str:
    header = ["A vs B", "A better", "B better", "ties", "mean Δ (A - B) [95% CI]"]
    rows = [
        [
            f"{p.a} vs {p.b}",
            str(len(p.wins)),
            str(len(p.losses)),
            str(p.ties),
            f"{p.mean_difference:+.3f} [{p.ci95[0]:+.3f}, {p.ci95[1]:+.3f}]",
        ]
        for p in pairs
    ]
    return markdown_grid(header, rows)


def paired_details(pairs: Sequence[PairedComparison]) -> list[str]:
    def listing(values: dict[str, tuple[float, float]]) -> str:
        return ", ".join(f"{q} ({a:.2f} vs {b:.2f})" for q, (a, b) in sorted(values.items())) or "none"

    lines = []
    for p in pairs:
        lines.append(f"- {p.a} better than {p.b}: {listing(p.wins)}")
        lines.append(f"- {p.b} better than {p.a}: {listing({q: (b, a) for q, (a, b) in p.losses.items()})}")
    return lines


def questions_to_look_at(questions: Sequence[EvalQuestion], scores: Sequence[ModeScores]) -> list[str]:
    """Answerable questions that the first mode (the service's default, hybrid) misses in its top 5."""
    if not scores:
        return []
    first = scores[0]
    lines = []
    for q in questions:
        rank = first.first_gold_rank.get(q.qid)
        if q.answerable and (rank is None or rank > 5):
            ranks = ", ".join(f"{s.mode} {s.first_gold_rank.get(q.qid) or f'>{RUN_DEPTH}'}" for s in scores)
            lines.append(f'- {q.qid} "{q.question}" (gold rank: {ranks}); gold: "{shorten(q.gold[0])}"')
    return lines or [f"- none: {first.mode} has a gold passage in the top 5 of every answerable question"]


def results_json(
    scores: Sequence[ModeScores],
    questions: Sequence[EvalQuestion],
    pairs: Sequence[PairedComparison],
    context: Mapping[str, Any],
    extra: ExtraColumns | None = None,
    set_label: str = SEED_LABEL,
) -> dict[str, Any]:
    extra = extra or {}
    return {
        "title": f"citeqa evaluation: {set_label}",
        "context": dict(context),
        "rule": "ci95: 95% percentile bootstrap over questions (1,000 resamples, seed 0)",
        "modes": {
            s.mode: {
                "metrics": s.metrics,
                "ci95": {m: list(ci) for m, ci in s.intervals.items()},
                "ms_per_query": s.ms_per_query,
                "per_query": s.per_query,
            }
            for s in scores
        },
        "paired": [p.as_json() for p in pairs],
        "questions": {
            q.qid: {
                "question": q.question,
                "answerable": q.answerable,
                "gold": q.gold[0] if q.gold else None,
                "first_gold_rank": {s.mode: s.first_gold_rank.get(q.qid) for s in scores}
                if q.answerable
                else None,
                **{column: values.get(q.qid) for column, values in extra.items()},
            }
            for q in questions
        },
    }


def write_seed_report(
    out: Path,
    questions: Sequence[EvalQuestion],
    scores: Sequence[ModeScores],
    context: Mapping[str, Any],
    extra: ExtraColumns | None = None,
    metrics: Sequence[str] = SEED_METRICS,
    answerability: AnswerabilityView | None = None,
    answers: AnswerView | None = None,
    set_label: str = SEED_LABEL,
) -> dict[str, Any]:
    """Write the report folder; returns the results (as written to results.json). ``set_label`` names the
    question set in the titles ("seed set", or the stem of an owner's file)."""
    title = f"citeqa evaluation: {set_label}"
    out.mkdir(parents=True, exist_ok=True)
    if answerability is not None:
        extra = {**(extra or {}), **answerability.columns()}
    pairs = compare_all({s.mode: s.per_query[PAIRED_METRIC] for s in scores}, PAIRED_METRIC)
    header, rows = question_table(questions, scores, extra)
    with (out / "questions.csv").open("w", encoding="utf-8", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(header)
        writer.writerows(rows)
    (out / "questions.md").write_text(
        f"# {title}: per question\n\nrank: of the first passage holding a gold quote (>{RUN_DEPTH}: not in "
        f"the top {RUN_DEPTH}; empty for unanswerable questions).\n\n{markdown_grid(header, rows)}\n",
        encoding="utf-8",
    )
    answerable = [q for q in questions if q.answerable]
    recall_curves(
        {s.mode: [s.first_gold_rank.get(q.qid) for q in answerable] for s in scores},
        out / "recall_at_k.png",
        k_max=RUN_DEPTH,
        title=f"{capitalized(set_label)}: Recall@k by search mode ({len(answerable)} answerable questions)",
    )
    summary = [
        f"# {title}",
        "",
        *[f"- {key}: {value}" for key, value in context.items()],
        "",
        "## Metrics (mean [95% bootstrap confidence interval over questions])",
        "",
        metrics_with_intervals(scores, metrics),
        "",
        "hit@k: share of answerable questions with a passage holding a gold quote in the top k (the issue's "
        "Recall@k). Intervals: percentile bootstrap, 1,000 resamples of the questions.",
        "",
        "![Recall@k per mode](recall_at_k.png)",
        "",
        f"## Paired comparison of the modes, per question by reciprocal rank ({PAIRED_METRIC})",
        "",
        paired_table(pairs),
        "",
        *paired_details(pairs),
        "",
        *(
            answerability_section(answerability, questions, out, set_label)
            if answerability is not None
            else []
        ),
        *(answer_lines(answers) if answers is not None else []),
        f"## Answerable questions {scores[0].mode if scores else ''} misses in its top 5",
        "",
        *questions_to_look_at(questions, scores),
        "",
        "Every question: questions.md / questions.csv. All numbers: results.json.",
    ]
    (out / "summary.md").write_text("\n".join(summary) + "\n", encoding="utf-8")
    results = results_json(scores, questions, pairs, context, extra, set_label)
    if answers is not None:
        results["answers"] = answer_json(answers)
    (out / "results.json").write_text(
        json.dumps(results, indent=2, ensure_ascii=False) + "\n", encoding="utf-8"
    )
    return results


@dataclass(frozen=True)
class AnswerabilityView:
    """The service's decision on every question of the set (hybrid, top 5), for the report."""

    answerable: dict[str, bool]
    confidence: dict[str, float]
    calibrated_cv: Mapping[str, Any]

    def columns(self) -> dict[str, dict[str, object]]:
        return {
            "judged answerable": {q: "yes" if v else "no" for q, v in self.answerable.items()},
            "confidence": {q: f"{v:.3f}" for q, v in self.confidence.items()},
        }

    def flag_rates(self, questions: Sequence[EvalQuestion]) -> tuple[float, float]:
        """(share of unanswerable questions flagged, share of answerable ones wrongly flagged)."""
        unanswerable = [q for q in questions if not q.answerable]
        answerable = [q for q in questions if q.answerable]
        flagged_u = sum(not self.answerable[q.qid] for q in unanswerable) / max(len(unanswerable), 1)
        flagged_a = sum(not self.answerable[q.qid] for q in answerable) / max(len(answerable), 1)
        return flagged_u, flagged_a


def answerability_view(answerer: Answerer, questions: Sequence[EvalQuestion]) -> AnswerabilityView:
    responses = {q.qid: answerer.respond(q.question, 5, "hybrid") for q in questions}
    cv = answerer.calibration.cv if answerer.calibration is not None else {}
    return AnswerabilityView(
        {qid: r.answerable for qid, r in responses.items()},
        {qid: r.confidence for qid, r in responses.items()},
        cv,
    )


def answerability_section(
    view: AnswerabilityView, questions: Sequence[EvalQuestion], out: Path, set_label: str = SEED_LABEL
) -> list[str]:
    """Summary lines and the confidence plot (threshold: confidence 0.5, where the decision flips)."""
    answerable = [view.confidence[q.qid] for q in questions if q.answerable]
    unanswerable = [view.confidence[q.qid] for q in questions if not q.answerable]
    plot = ["![Confidence of answerable and unanswerable questions](confidence.png)"]
    if answerable and unanswerable:
        title = f"{capitalized(set_label)}: confidence by label (hybrid, top 5)"
        confidence_distributions(answerable, unanswerable, 0.5, out / "confidence.png", title=title)
    else:
        plot = ["(No confidence plot: the set needs both answerable and unanswerable questions.)"]
    flagged_u, flagged_a = view.flag_rates(questions)
    lines = [
        "## Knowing when there is no answer",
        "",
        f"On this set (in sample, with the committed calibration): {flagged_u:.3f} of unanswerable questions "
        f"flagged, {flagged_a:.3f} of answerable ones wrongly flagged.",
    ]
    if view.calibrated_cv:
        lines.append(
            f"Cross-validated when fitted (citeqa/calibration.json): "
            f"{view.calibrated_cv.get('unanswerable_flagged', float('nan')):.3f} flagged, "
            f"{view.calibrated_cv.get('answerable_flagged', float('nan')):.3f} wrongly flagged."
        )
    return [*lines, "", *plot, ""]


@dataclass(frozen=True)
class SeedEvaluation:
    scores: list[ModeScores]
    results: dict[str, Any]
    out: Path
    comparison: BaselineComparison | None


def run_seed_evaluation(
    searcher: Searcher,
    questions: list[EvalQuestion],
    out: Path,
    context: Mapping[str, Any],
    baseline: Path | None = None,
    answerer: Answerer | None = None,
    set_name: str = "seed",
) -> SeedEvaluation:
    """`citeqa eval` on the seed set: score every mode, write the report, compare with ``baseline``;
    with a calibrated ``answerer``, the report adds its answerability decision on every question."""
    baseline_results = load_results(baseline) if baseline is not None else None  # fail before the work
    if baseline_results is not None and baseline is not None:
        check_comparable(baseline_results, baseline, {q.qid for q in questions if q.answerable})
    scores = evaluate_seed(searcher, questions)
    view = answerability_view(answerer, questions) if answerer is not None else None
    answers = answer_view(answerer, questions, set_name) if answerer is not None else None
    label = SEED_LABEL if set_name == "seed" else set_name
    results = write_seed_report(
        out, questions, scores, context, answerability=view, answers=answers, set_label=label
    )
    comparison = None
    if baseline_results is not None and baseline is not None:
        comparison = compare_results(results, baseline_results)
        (out / "baseline.md").write_text(comparison_text(comparison, baseline) + "\n", encoding="utf-8")
    return SeedEvaluation(scores, results, out, comparison)


def seed_context(
    searcher: Searcher, questions: Sequence[EvalQuestion], index_label: str, question_file: str | None = None
) -> dict[str, str]:
    answerable = sum(q.answerable for q in questions)
    reranker = getattr(searcher.reranker, "name", None)
    counts = f"{answerable} answerable (scored), {len(questions) - answerable} unanswerable"
    return {
        "questions": f"{question_file}: {counts}" if question_file else counts,
        "index": f"{index_label} ({searcher.index.manifest['counts']['passages']} passages)",
        "model": searcher.index.model_name,
        "fusion": searcher.fusion.label(),
        "reranker": f"{reranker} (hybrid only)" if reranker else "none",
        "questions encoded by": question_side(searcher.question_encoder, searcher.encoder),
    }
