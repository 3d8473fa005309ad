"""Deciding whether the corpus answers a question, from one score signal, as pure functions.

The signal is the best answer-sentence score of a response (embedding similarity mixed with term
overlap, see citeqa.highlight): a question the corpus answers has some sentence close to it, while
an off-topic or near-miss question only finds sentences that share its topic words loosely.

A threshold t is fitted on labelled questions (answerable iff signal >= t); the confidence is a
logistic curve of the signal centred on t, with its slope fitted by logistic regression, so that
confidence >= 0.5 exactly when the question is judged answerable.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import asdict, dataclass

import numpy as np


@dataclass(frozen=True)
class Calibration:
    threshold: float
    scale: float
    signal: str = "best_sentence_score"

    def confidence(self, signal: float) -> float:
        return float(1.0 / (1.0 + np.exp(-(signal - self.threshold) / self.scale)))

    def answerable(self, signal: float) -> bool:
        return signal >= self.threshold

    def as_dict(self) -> dict[str, float | str]:
        return asdict(self)


@dataclass(frozen=True)
class FlagRates:
    unanswerable_flagged: float
    answerable_flagged: float
    folds: int


def fit_threshold(signals: Sequence[float], answerable: Sequence[bool]) -> float:
    """The cut that maximizes (share of unanswerable flagged) - (share of answerable flagged),
    placed halfway between the two neighbouring signals; ties favour flagging fewer answerable."""
    values = np.asarray(signals, dtype=np.float64)
    labels = np.asarray(answerable, dtype=bool)
    if labels.all() or not labels.any():
        raise ValueError("fitting a threshold needs both answerable and unanswerable questions")
    ordered = np.unique(values)
    cuts = np.concatenate([[ordered[0] - 1e-6], (ordered[:-1] + ordered[1:]) / 2, [ordered[-1] + 1e-6]])
    best_cut, best_gain, best_false = cuts[0], -np.inf, np.inf
    for cut in cuts:
        flagged = values < cut
        true_flags = flagged[~labels].mean()
        false_flags = flagged[labels].mean()
        gain = true_flags - false_flags
        if gain > best_gain + 1e-12 or (abs(gain - best_gain) <= 1e-12 and false_flags < best_false):
            best_cut, best_gain, best_false = cut, gain, false_flags
    return float(best_cut)


def fit_scale(signals: Sequence[float], answerable: Sequence[bool], threshold: float) -> float:
    """Slope of a logistic regression of answerable on (signal - threshold), as a scale (1/slope)."""
    x = np.asarray(signals, dtype=np.float64) - threshold
    y = np.asarray(answerable, dtype=np.float64)
    slope = 1.0
    for _ in range(50):  # Newton's method on a single weight, with a small ridge so it stays finite
        p = 1.0 / (1.0 + np.exp(-slope * x))
        gradient = np.sum((y - p) * x) - 1e-3 * slope
        curvature = np.sum(p * (1 - p) * x * x) + 1e-3
        slope += gradient / curvature
    return float(1.0 / max(slope, 1e-3))


def fit_calibration(signals: Sequence[float], answerable: Sequence[bool]) -> Calibration:
    threshold = fit_threshold(signals, answerable)
    return Calibration(threshold=threshold, scale=fit_scale(signals, answerable, threshold))


def fold_ids(n: int, folds: int, seed: int = 0) -> np.ndarray:
    """A fold number for each of n items: a seeded shuffle dealt round-robin."""
    order = np.random.default_rng(seed).permutation(n)
    assignment = np.empty(n, dtype=np.int64)
    assignment[order] = np.arange(n) % folds
    return assignment


def cross_validated_rates(
    signals: Sequence[float], answerable: Sequence[bool], folds: int = 5, seed: int = 0
) -> FlagRates:
    """Fit on all folds but one, decide on the held-out fold; rates pooled over held-out decisions."""
    values = np.asarray(signals, dtype=np.float64)
    labels = np.asarray(answerable, dtype=bool)
    # Stratify, so that every fold holds both kinds of question.
    assignment = np.empty(len(values), dtype=np.int64)
    for kind in (True, False):
        members = np.flatnonzero(labels == kind)
        assignment[members] = fold_ids(len(members), folds, seed)
    flagged = np.zeros(len(values), dtype=bool)
    for fold in range(folds):
        held_out = assignment == fold
        threshold = fit_threshold(values[~held_out], labels[~held_out])
        flagged[held_out] = values[held_out] < threshold
    return FlagRates(
        unanswerable_flagged=float(flagged[~labels].mean()),
        answerable_flagged=float(flagged[labels].mean()),
        folds=folds,
    )
