"""Measurements behind the answer features: the dedup rule comparison on the seed set, the answer
sentence's accuracy, and the answerability calibration (``citeqa eval --calibrate``).

Calibration: every question of the evaluation set is answered as the service answers it (hybrid, first
five results); each candidate signal (a set of features, see citeqa.answerability.FEATURES) is scored by
repeated stratified 5-fold cross-validation (fit the logistic model and its threshold on four folds,
decide on the fifth); the configured signal is then fitted on all questions and written to the file.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import numpy as np

from citeqa.answerability import (
    MAX_FALSE_FLAG,
    Calibration,
    FlagRates,
    cross_validated_rates,
    fit_decision,
    save_calibration,
)
from citeqa.answers import Answerer
from citeqa.dedup import DEDUP_RULES, DedupRule
from citeqa.question_tower import question_side
from citeqa.search import Searcher
from eval.harness import evaluate_seed
from eval.seed_set import EvalQuestion, gold_spans

# The signal the service uses, chosen by the cross-validated rates of CANDIDATE_SIGNALS on the seed set and
# by how it carries to corpora it was not fitted on (eval/answerability_transfer.md, issue 16).
CHOSEN_SIGNAL = ("best_sentence_score", "answer_type_missing")
CANDIDATE_SIGNALS: tuple[tuple[str, ...], ...] = (
    ("best_sentence_score",),
    ("best_sentence_cosine",),
    ("top_passage_cosine",),
    ("question_coverage",),
    ("best_sentence_cosine", "best_sentence_overlap"),
    ("best_sentence_cosine", "best_sentence_overlap", "question_coverage"),
    ("best_sentence_score", "top_passage_cosine"),
    ("best_sentence_score", "answer_type_missing"),
)
FOLDS = 5
REPEATS = 10
DEDUP_METRICS = ("hit@1", "hit@5", "mrr@10")


@dataclass(frozen=True)
class QuestionFeatures:
    qid: str
    kind: str
    answerable: bool
    features: dict[str, float]
    answer_hits_gold: bool | None


@dataclass(frozen=True)
class SignalRates:
    features: tuple[str, ...]
    rates: FlagRates
    max_false_flag: float | None = MAX_FALSE_FLAG

    @property
    def rule(self) -> str:
        if self.max_false_flag is None:
            return "balanced cut"
        return f"budget {self.max_false_flag:.0%}"


def question_features(answerer: Answerer, questions: list[EvalQuestion]) -> list[QuestionFeatures]:
    """Features of each question as the service computes them (hybrid, top 5), and whether the best
    sentence overlaps a gold quote (None for unanswerable questions, and for answerable ones labelled
    without a doc_id and gold quotes, which locate the answer together: both are optional for calibrating,
    which needs only the label)."""
    documents = answerer.searcher.index.documents
    rows = []
    for q in questions:
        analysis = answerer.analyze(q.question, 5, "hybrid")
        features, answer = dict(analysis.features), analysis.best
        hit = None
        if q.answerable and q.doc_id is not None and q.gold:
            spans = gold_spans(q, documents)
            hit = answer is not None and any(
                doc == answer.citation.doc_id
                and min(end, answer.citation.end) > max(start, answer.citation.start)
                for doc, start, end in spans
            )
        kind = q.kind or ("answerable" if q.answerable else "unanswerable")  # kind is optional
        rows.append(QuestionFeatures(q.qid, kind, q.answerable, features, hit))
    return rows


def feature_matrix(rows: list[QuestionFeatures], names: tuple[str, ...]) -> np.ndarray:
    return np.array([[r.features[n] for n in names] for r in rows], dtype=np.float64)


def compare_signals(
    rows: list[QuestionFeatures], max_false_flag: float | None = MAX_FALSE_FLAG
) -> list[SignalRates]:
    """Held-out rates of every candidate signal under the budget rule, then of every one under the
    balanced cut (the rule used before the budget), for comparison."""
    labels = np.array([r.answerable for r in rows])
    rules = list(dict.fromkeys([max_false_flag, None]))
    return [
        SignalRates(
            names, cross_validated_rates(feature_matrix(rows, names), labels, FOLDS, REPEATS, rule), rule
        )
        for rule in rules
        for names in CANDIDATE_SIGNALS
    ]


def fit_calibration(
    rows: list[QuestionFeatures],
    model: str,
    names: tuple[str, ...],
    eval_set: str,
    max_false_flag: float | None = MAX_FALSE_FLAG,
    question_encoder: str = "the model",
) -> Calibration:
    """The decision over ``names`` fitted on ``rows``; ``question_encoder`` names what encoded the questions
    (citeqa.question_tower.question_side), recorded in ``fitted_on``: the scores it fits belong to it."""
    labels = np.array([r.answerable for r in rows])
    x = feature_matrix(rows, names)
    fitted, threshold = fit_decision(x, labels, max_false_flag)
    rates = cross_validated_rates(x, labels, FOLDS, REPEATS, max_false_flag)
    rule = (
        "the balanced cut (max of unanswerable flagged - answerable flagged)"
        if max_false_flag is None
        else f"the highest cut flagging at most {max_false_flag:.0%} of the training's answerable questions"
    )
    kinds = {k: sum(r.kind == k for r in rows) for k in sorted({r.kind for r in rows})}
    return Calibration(
        model=model,
        features=names,
        weights=fitted.weights,
        intercept=fitted.intercept,
        threshold=threshold,
        scale=1.0,
        signal="logistic regression log-odds over the features (hybrid search, first 5 results)",
        fitted_at=datetime.now(UTC).isoformat(timespec="seconds"),
        cv={
            "method": f"stratified {FOLDS}-fold, {REPEATS} seeded repeats; weights and threshold fitted "
            "on the training folds only",
            "threshold_rule": rule,
            "max_false_flag": max_false_flag,
            "unanswerable_flagged": round(rates.unanswerable_flagged, 4),
            "answerable_flagged": round(rates.answerable_flagged, 4),
            "unanswerable_flagged_range": list(rates.unanswerable_range),
            "answerable_flagged_range": list(rates.answerable_range),
        },
        fitted_on={
            "eval_set": eval_set,
            "questions": len(rows),
            "kinds": kinds,
            "question_encoder": question_encoder,
        },
    )


def calibrate(
    searcher: Searcher,
    questions: list[EvalQuestion],
    out: Path,
    eval_set: str,
    max_false_flag: float | None = MAX_FALSE_FLAG,
) -> tuple[Calibration, list[SignalRates], list[QuestionFeatures]]:
    answerable = sum(q.answerable for q in questions)
    unanswerable = len(questions) - answerable
    if min(answerable, unanswerable) < 2:
        raise ValueError(
            f"{eval_set}: {answerable} answerable and {unanswerable} unanswerable question(s); "
            "calibrating needs at least 2 of each (the cross-validation holds some out), ideally a few dozen "
            "answerable and a dozen on-topic unanswerable ones"
        )
    rows = question_features(Answerer(searcher), questions)
    side = question_side(searcher.question_encoder, searcher.encoder)
    calibration = fit_calibration(
        rows, searcher.index.model_name, CHOSEN_SIGNAL, eval_set, max_false_flag, question_encoder=side
    )
    save_calibration(calibration, out)
    return calibration, compare_signals(rows, max_false_flag), rows


def signals_table(compared: list[SignalRates]) -> str:
    lines = [
        "| signal (logistic over) | threshold rule | unanswerable flagged | answerable flagged |",
        "|---|---|---|---|",
    ]
    for s in compared:
        configured = s.features == CHOSEN_SIGNAL and s.max_false_flag == compared[0].max_false_flag
        chosen = " (chosen)" if configured else ""
        r = s.rates
        lines.append(
            f"| {' + '.join(s.features)}{chosen} | {s.rule} | {r.unanswerable_flagged:.3f} "
            f"[{r.unanswerable_range[0]:.2f}, {r.unanswerable_range[1]:.2f}] | {r.answerable_flagged:.3f} "
            f"[{r.answerable_range[0]:.2f}, {r.answerable_range[1]:.2f}] |"
        )
    return "\n".join(lines)


def answer_accuracy(rows: list[QuestionFeatures]) -> float:
    hits = [r.answer_hits_gold for r in rows if r.answer_hits_gold is not None]
    return float(np.mean(hits)) if hits else 0.0


def dedup_comparison(searcher: Searcher, questions: list[EvalQuestion]) -> dict[DedupRule, dict[str, float]]:
    """Hybrid seed-set metrics of the service's results under each dedup rule."""
    table: dict[DedupRule, dict[str, float]] = {}
    for rule in DEDUP_RULES:
        [hybrid] = evaluate_seed(searcher, questions, modes=("hybrid",), dedup=rule)
        table[rule] = {m: hybrid.metrics[m] for m in DEDUP_METRICS}
        table[rule]["chars@5"] = mean_result_chars(searcher, questions, rule)
    return table


def mean_result_chars(searcher: Searcher, questions: list[EvalQuestion], rule: DedupRule) -> float:
    """Mean characters shown in the first five results (merging makes results longer)."""
    answerer = Answerer(searcher, dedup=rule)
    sizes = [
        sum(len(r.text) for r in answerer.results(q.question, "hybrid")[:5])
        for q in questions
        if q.answerable
    ]
    return float(np.mean(sizes))


def dedup_table(table: dict[DedupRule, dict[str, float]]) -> str:
    lines = ["| dedup rule | hit@1 | hit@5 | mrr@10 | chars in top 5 |", "|---|---|---|---|---|"]
    for rule, m in table.items():
        lines.append(
            f"| {rule} | {m['hit@1']:.3f} | {m['hit@5']:.3f} | {m['mrr@10']:.3f} | {m['chars@5']:.0f} |"
        )
    return "\n".join(lines)
