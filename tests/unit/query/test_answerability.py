"""Answerability calibration as pure functions (fit, cross-validation) and its file (round trip, errors)."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from citeqa.answerability import (
    DEFAULT_CALIBRATION_PATH,
    Calibration,
    budget_threshold,
    cross_validated_rates,
    fit_decision,
    fit_logistic,
    fit_threshold,
    held_out_flags,
    load_calibration,
    save_calibration,
    stratified_folds,
)
from citeqa.errors import CalibrationError
from indexer.embedding import DEFAULT_MODEL

CALIBRATION = Calibration(
    model="m",
    features=("best_sentence_cosine", "best_sentence_overlap"),
    weights=(8.0, 5.0),
    intercept=-5.0,
    threshold=0.2,
    scale=1.0,
    fitted_at="2026-01-01T00:00:00+00:00",
    cv={"unanswerable_flagged": 0.8, "answerable_flagged": 0.03},
    fitted_on={"questions": 80},
)


def separable(n_pos: int = 30, n_neg: int = 10, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    x = np.r_[rng.uniform(0.5, 1.0, n_pos), rng.uniform(0.0, 0.4, n_neg)]
    return x[:, None], np.r_[np.ones(n_pos, bool), np.zeros(n_neg, bool)]


def test_balanced_threshold_separates_and_prefers_fewer_false_flags() -> None:
    labels = [False, False, False, True, True]
    assert 0.3 < fit_threshold([0.1, 0.2, 0.3, 0.6, 0.7], labels, max_false_flag=None) < 0.6
    # 0.5 is unanswerable among answerable ones: no cut gains by flagging an answerable question too.
    cut = fit_threshold([0.1, 0.5, 0.6, 0.7, 0.8], [False, False, True, True, True], max_false_flag=None)
    assert 0.1 < cut < 0.6
    with pytest.raises(ValueError, match="both"):
        fit_threshold([0.1, 0.2], [True, True])


def test_budget_threshold_flags_at_most_the_budget_of_answerable_questions() -> None:
    answerable = np.array([0.9, 0.3, 0.5, 0.7, 0.4, 0.6, 0.8, 0.35, 0.45, 0.55])
    for budget in (0.0, 0.05, 0.1, 0.2, 0.25, 0.5):
        cut = budget_threshold(answerable, budget)
        flagged = (answerable < cut).sum()
        assert flagged == int(budget * len(answerable)), budget  # spends the budget, never more
    assert budget_threshold(answerable, 0.1) == pytest.approx(0.325)  # halfway between 0.3 and 0.35
    # Equal signals are never split: flagging one of two equal ones would take the other with it.
    tied = np.array([0.2, 0.2, 0.5, 0.6])
    assert (tied < budget_threshold(tied, 0.25)).sum() == 0
    with pytest.raises(ValueError, match="max_false_flag"):
        budget_threshold(answerable, 1.0)


def test_budget_threshold_sits_among_answerable_signals_whatever_the_unanswerable_ones() -> None:
    signals = [0.1, 0.2, 0.95, *np.linspace(0.3, 0.9, 20)]
    labels = [False, False, False, *[True] * 20]
    cut = fit_threshold(signals, labels, max_false_flag=0.05)
    assert (np.array(signals[3:]) < cut).sum() == 1  # 5% of 20 answerable
    assert cut < 0.95  # an unanswerable question among the answerable ones is not chased


def test_fit_logistic_learns_the_direction_and_stays_finite_on_separable_data() -> None:
    x, y = separable()
    model = fit_logistic(x, y)
    assert model.weights[0] > 0 and np.isfinite(model.intercept)
    scores = model.scores(x)
    assert scores[y].min() > scores[~y].max()
    # Two features: the useless one gets a much smaller weight than the informative one.
    noise = np.random.default_rng(1).uniform(0, 1, len(y))[:, None]
    both = fit_logistic(np.c_[x, noise], y)
    assert abs(both.weights[1]) < abs(both.weights[0])


def test_fit_decision_and_cv_on_separable_data() -> None:
    """The balanced cut makes no error; the budget cut flags every unanswerable question and spends at
    most its budget on answerable ones."""
    x, y = separable()
    model, threshold = fit_decision(x, y, max_false_flag=None)
    assert ((model.scores(x) < threshold) == ~y).all()
    rates = cross_validated_rates(x, y, folds=5, repeats=3, max_false_flag=None)
    assert rates.unanswerable_flagged == 1.0 and rates.answerable_flagged == 0.0
    assert rates.repeats == 3 and rates.folds == 5
    model, threshold = fit_decision(x, y, max_false_flag=0.05)
    flagged = model.scores(x) < threshold
    assert flagged[~y].all() and flagged[y].mean() <= 0.05
    budget = cross_validated_rates(x, y, folds=5, repeats=3, max_false_flag=0.05)
    assert budget.unanswerable_flagged == 1.0 and budget.answerable_flagged <= 0.1


def test_cv_scores_each_question_with_a_decision_fitted_without_it() -> None:
    """An answerable question that looks unanswerable is flagged on its held-out fold (it cannot teach
    the threshold about itself), and the folds are stratified."""
    x, y = separable()
    x[0, 0] = 0.05  # answerable, but with an unanswerable-looking signal
    assert held_out_flags(x, y, folds=5, seed=0)[0]
    folds = stratified_folds(y, 5, seed=0)
    for fold in range(5):
        assert y[folds == fold].any() and (~y[folds == fold]).any()


def test_confidence_is_a_probability_centred_on_the_threshold() -> None:
    c = CALIBRATION
    assert c.confidence(c.threshold) == pytest.approx(0.5)
    values = [c.confidence(s) for s in (-1e6, -3.0, 0.0, 0.2, 3.0, 1e6)]
    assert all(0.0 <= v <= 1.0 for v in values) and values == sorted(values)
    assert c.answerable(c.threshold) and not c.answerable(c.threshold - 1e-9)
    features = {"best_sentence_cosine": 0.7, "best_sentence_overlap": 0.5}
    assert c.signal_of(features) == pytest.approx(-5.0 + 8 * 0.7 + 5 * 0.5)


def test_calibration_file_round_trip(tmp_path: Path) -> None:
    path = tmp_path / "sub" / "calibration.json"
    save_calibration(CALIBRATION, path)
    assert load_calibration(path, expected_model="m") == CALIBRATION
    record = json.loads(path.read_text())
    assert {"model", "features", "weights", "threshold", "scale", "fitted_at", "cv"} <= set(record)


def test_the_committed_calibration_loads_for_the_default_model() -> None:
    calibration = load_calibration(DEFAULT_CALIBRATION_PATH, expected_model=DEFAULT_MODEL)
    assert calibration.fitted_at and calibration.cv["answerable_flagged"] <= 0.05


def write(tmp_path: Path, content: object) -> Path:
    path = tmp_path / "calibration.json"
    path.write_text(content if isinstance(content, str) else json.dumps(content))
    return path


GOOD = {
    "model": "m",
    "features": ["best_sentence_cosine"],
    "weights": [1.0],
    "intercept": 0.0,
    "threshold": 0.1,
    "scale": 1.0,
}


@pytest.mark.parametrize(
    ("content", "fragment"),
    [
        ("{not json", "not readable json"),
        ("[1, 2]", "json object"),
        ({k: v for k, v in GOOD.items() if k != "threshold"}, "threshold"),
        ({**GOOD, "threshold": "high"}, "threshold"),
        ({**GOOD, "features": ["vibes"]}, "unknown features"),
        ({**GOOD, "features": []}, "no features"),
        ({**GOOD, "weights": [1.0, 2.0]}, "length"),
        ({**GOOD, "scale": 0}, "scale"),
        ({**GOOD, "model": "other-model"}, "other-model"),
    ],
)
def test_malformed_calibration_is_a_clear_error(tmp_path: Path, content: object, fragment: str) -> None:
    path = write(tmp_path, content)
    with pytest.raises(CalibrationError) as caught:
        load_calibration(path, expected_model="m")
    message = str(caught.value)
    assert fragment.lower() in message.lower() and str(path) in message
    assert "citeqa eval --calibrate" in message


def test_missing_calibration_file(tmp_path: Path) -> None:
    with pytest.raises(CalibrationError, match="does not exist"):
        load_calibration(tmp_path / "nope.json")


def test_a_good_file_loads(tmp_path: Path) -> None:
    loaded = load_calibration(write(tmp_path, GOOD), expected_model="m")
    assert (loaded.features, loaded.weights, loaded.threshold) == (("best_sentence_cosine",), (1.0,), 0.1)
