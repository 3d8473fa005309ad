"""Deciding whether the corpus answers a question, as pure functions, and the calibration file.

The signal is a logistic regression over a few features of a response (see ``FEATURES``; which ones is
stored in the calibration), fitted on labelled questions (``citeqa eval --calibrate``). Its linear score
is log-odds of "answerable". The decision threshold t on that score is set by the owner's error budget
(``MAX_FALSE_FLAG``): the highest cut that wrongly flags at most that share of the training's answerable
questions, so as many unanswerable questions as possible are flagged within the budget (a Neyman-Pearson
choice: wrongly hiding an answer is the costlier error). With no budget, t maximizes (share of
unanswerable flagged) - (share of answerable flagged) instead. The confidence is
sigmoid((score - t) / scale), so confidence >= 0.5 exactly when the question is judged answerable. Error
rates are estimated by stratified k-fold cross-validation: fit on k-1 folds (weights and threshold),
decide on the held-out fold, never tuning on it.
"""

from __future__ import annotations

import json
import math
import os
import tempfile
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from citeqa.errors import CalibrationError
from indexer.index_folder import CALIBRATION_FILE, fsync_dir

# The calibration the service loads by default (written by `citeqa eval --calibrate`).
DEFAULT_CALIBRATION_PATH = Path(__file__).resolve().parent / "calibration.json"

# Features of a response, computed by citeqa.answerability_features over the sentences of its first results.
FEATURES = (
    "best_sentence_cosine",  # highest cosine of question vs any candidate sentence
    "best_sentence_overlap",  # highest share of the question's content terms found in one sentence
    "best_sentence_score",  # highest highlight score (a fixed mix of the two above)
    "top_passage_cosine",  # highest cosine of question vs a result passage
    "question_coverage",  # share of the question's content terms that occur anywhere in the index
    # Features that do not depend on a corpus's score scale (issue 16):
    "cosine_margin",  # best candidate sentence's cosine minus the candidates' median cosine
    "best_sentence_idf_overlap",  # highest IDF-weighted share of the question's terms in one sentence
    "idf_missing",  # IDF-weighted share of the question's terms that no sentence of the results holds
    "cosine_zscore",  # best candidate sentence's cosine in standard deviations above the candidates' mean
    "top_term_missing",  # 1 when the question's most specific term (highest IDF) is in no shown sentence
    "best_cosine_idf_overlap",  # IDF-weighted overlap of the sentence the embedding ranks first (agreement)
    "answer_type_missing",  # share of the kinds of answer asked (a price, a brand) no top sentence has
)
RIDGE = 1.0  # L2 penalty on standardized weights: keeps the fit finite when the classes separate
# The largest share of answerable questions the fitted threshold may flag as unanswerable on its training
# questions (the bound); None picks the balanced cut instead (see fit_threshold).
MAX_FALSE_FLAG = 0.05


@dataclass(frozen=True)
class FlagRates:
    unanswerable_flagged: float
    answerable_flagged: float
    folds: int
    repeats: int = 1
    unanswerable_range: tuple[float, float] = (0.0, 0.0)
    answerable_range: tuple[float, float] = (0.0, 0.0)


@dataclass(frozen=True)
class Calibration:
    """A fitted answerability decision: signal = intercept + weights . features."""

    model: str
    features: tuple[str, ...]
    weights: tuple[float, ...]
    intercept: float
    threshold: float
    scale: float = 1.0
    signal: str = "logistic regression log-odds"
    fitted_at: str = ""
    cv: Mapping[str, Any] = field(default_factory=dict)
    fitted_on: Mapping[str, Any] = field(default_factory=dict)
    # Where it was read from (set by load_calibration, never written to the file).
    source: str = field(default="", compare=False)

    def signal_of(self, features: Mapping[str, float]) -> float:
        return self.intercept + sum(
            w * features[name] for name, w in zip(self.features, self.weights, strict=True)
        )

    def confidence(self, signal: float) -> float:
        z = (signal - self.threshold) / self.scale
        return 1.0 / (1.0 + math.exp(-z)) if z >= 0 else math.exp(z) / (1.0 + math.exp(z))

    def answerable(self, signal: float) -> bool:
        return signal >= self.threshold

    def decide(self, features: Mapping[str, float]) -> tuple[bool, float]:
        """(answerable, confidence) of a response with these features."""
        signal = self.signal_of(features)
        return self.answerable(signal), self.confidence(signal)


@dataclass(frozen=True)
class LogisticModel:
    weights: tuple[float, ...]
    intercept: float

    def scores(self, x: np.ndarray) -> np.ndarray:
        return np.asarray(x, dtype=np.float64) @ np.asarray(self.weights) + self.intercept


def fit_logistic(x: np.ndarray, answerable: Sequence[bool], ridge: float = RIDGE) -> LogisticModel:
    """L2-penalized logistic regression (Newton's method) on standardized features, returned in raw units."""
    x = np.asarray(x, dtype=np.float64).reshape(len(answerable), -1)
    y = np.asarray(answerable, dtype=np.float64)
    mean, std = x.mean(axis=0), x.std(axis=0)
    std = np.where(std > 0, std, 1.0)
    z = np.c_[np.ones(len(x)), (x - mean) / std]
    penalty = ridge * np.diag([0.0] + [1.0] * x.shape[1])
    w = np.zeros(z.shape[1])
    for _ in range(100):
        p = 1.0 / (1.0 + np.exp(-np.clip(z @ w, -30, 30)))
        gradient = z.T @ (y - p) - penalty @ w
        hessian = (z * (p * (1 - p))[:, None]).T @ z + penalty + 1e-9 * np.eye(len(w))
        step = np.linalg.solve(hessian, gradient)
        w += step
        if np.abs(step).max() < 1e-10:
            break
    raw = w[1:] / std
    return LogisticModel(tuple(float(v) for v in raw), float(w[0] - raw @ mean))


def fit_threshold(
    signals: Sequence[float], answerable: Sequence[bool], max_false_flag: float | None = MAX_FALSE_FLAG
) -> float:
    """The decision cut on ``signals`` (a question is flagged unanswerable below it).

    With ``max_false_flag``: the highest cut below which at most that share of the answerable questions
    fall, placed halfway between two neighbouring answerable signals (so it flags as many unanswerable
    questions as the budget allows). Without: the cut that maximizes (share of unanswerable flagged) -
    (share of answerable flagged), halfway between neighbours; ties favour flagging fewer answerable."""
    values = np.asarray(signals, dtype=np.float64)
    labels = np.asarray(answerable, dtype=bool)
    if labels.all() or not labels.any():
        raise ValueError("fitting a threshold needs both answerable and unanswerable questions")
    if max_false_flag is not None:
        return budget_threshold(values[labels], max_false_flag)
    ordered = np.unique(values)
    cuts = np.concatenate([[ordered[0] - 1e-6], (ordered[:-1] + ordered[1:]) / 2, [ordered[-1] + 1e-6]])
    best_cut, best_gain, best_false = cuts[0], -np.inf, np.inf
    for cut in cuts:
        flagged = values < cut
        false_flags = flagged[labels].mean()
        gain = flagged[~labels].mean() - false_flags
        if gain > best_gain + 1e-12 or (abs(gain - best_gain) <= 1e-12 and false_flags < best_false):
            best_cut, best_gain, best_false = cut, gain, false_flags
    return float(best_cut)


def budget_threshold(answerable_signals: np.ndarray, max_false_flag: float) -> float:
    """The highest cut that flags at most ``max_false_flag`` of ``answerable_signals`` (ties at the cut
    are not flagged: flagging is strictly below)."""
    if not 0.0 <= max_false_flag < 1.0:
        raise ValueError(f"max_false_flag must be in [0, 1), not {max_false_flag}")
    ordered = np.sort(np.asarray(answerable_signals, dtype=np.float64))
    allowed = int(np.floor(max_false_flag * len(ordered) + 1e-9))
    if allowed == 0:
        return float(ordered[0])
    # Flag the `allowed` lowest; never split equal signals, which would flag more than the budget.
    while allowed > 0 and ordered[allowed - 1] == ordered[allowed]:
        allowed -= 1
    return float((ordered[allowed - 1] + ordered[allowed]) / 2) if allowed else float(ordered[0])


def fit_decision(
    x: np.ndarray, answerable: Sequence[bool], max_false_flag: float | None = MAX_FALSE_FLAG
) -> tuple[LogisticModel, float]:
    """The logistic model and the threshold on its score, both fitted on the given questions only."""
    model = fit_logistic(x, answerable)
    return model, fit_threshold(model.scores(x), answerable, max_false_flag)


def fold_ids(n: int, folds: int, seed: int = 0) -> np.ndarray:
    """A fold number for each of n items: a seeded shuffle dealt round-robin."""
    order = np.random.default_rng(seed).permutation(n)
    assignment = np.empty(n, dtype=np.int64)
    assignment[order] = np.arange(n) % folds
    return assignment


def stratified_folds(answerable: np.ndarray, folds: int, seed: int) -> np.ndarray:
    """Fold numbers dealt separately within each class, so every fold holds both kinds of question."""
    assignment = np.empty(len(answerable), dtype=np.int64)
    for kind in (True, False):
        members = np.flatnonzero(answerable == kind)
        assignment[members] = fold_ids(len(members), folds, seed)
    return assignment


def held_out_flags(
    x: np.ndarray,
    answerable: Sequence[bool],
    folds: int = 5,
    seed: int = 0,
    max_false_flag: float | None = MAX_FALSE_FLAG,
) -> np.ndarray:
    """For each question, whether it is flagged unanswerable by a decision fitted without its fold."""
    x = np.asarray(x, dtype=np.float64).reshape(len(answerable), -1)
    labels = np.asarray(answerable, dtype=bool)
    assignment = stratified_folds(labels, folds, seed)
    flagged = np.zeros(len(labels), dtype=bool)
    for fold in range(folds):
        held_out = assignment == fold
        model, threshold = fit_decision(x[~held_out], labels[~held_out], max_false_flag)
        flagged[held_out] = model.scores(x[held_out]) < threshold
    return flagged


def cross_validated_rates(
    x: np.ndarray,
    answerable: Sequence[bool],
    folds: int = 5,
    repeats: int = 10,
    max_false_flag: float | None = MAX_FALSE_FLAG,
) -> FlagRates:
    """Held-out flag rates of both classes, averaged over ``repeats`` seeded fold assignments."""
    labels = np.asarray(answerable, dtype=bool)
    true_rates, false_rates = [], []
    for seed in range(repeats):
        flagged = held_out_flags(x, labels, folds, seed, max_false_flag)
        true_rates.append(float(flagged[~labels].mean()))
        false_rates.append(float(flagged[labels].mean()))
    return FlagRates(
        unanswerable_flagged=float(np.mean(true_rates)),
        answerable_flagged=float(np.mean(false_rates)),
        folds=folds,
        repeats=repeats,
        unanswerable_range=(min(true_rates), max(true_rates)),
        answerable_range=(min(false_rates), max(false_rates)),
    )


# --- the calibration file --------------------------------------------------------------------------


def index_calibration_path(index_folder: Path) -> Path:
    """Where an index folder keeps the calibration fitted for it (``citeqa eval --calibrate --index``)."""
    return Path(index_folder) / CALIBRATION_FILE


def resolve_calibration_path(explicit: Path | None, index_folder: Path) -> Path:
    """The calibration a service over ``index_folder`` uses: an explicitly configured file wins, then the
    index folder's own calibration.json if it holds one, else the packaged default."""
    if explicit is not None:
        return Path(explicit)
    own = index_calibration_path(index_folder)
    return own if own.is_file() else DEFAULT_CALIBRATION_PATH


def calibration_kind(calibration: Calibration, index_folder: Path) -> str:
    """Where a loaded calibration comes from: "index" (the index folder's own), "default" (packaged) or
    "configured" (another file, set by CITEQA_CALIBRATION_PATH)."""
    source = Path(calibration.source)
    if source == index_calibration_path(index_folder):
        return "index"
    return "default" if source == DEFAULT_CALIBRATION_PATH else "configured"


def calibration_summary(calibration: Calibration, index_folder: Path) -> dict[str, Any]:
    """What /health and the start-up log say about the calibration in use."""
    return {
        "kind": calibration_kind(calibration, index_folder),
        "file": Path(calibration.source).name,
        "features": list(calibration.features),
        "threshold": calibration.threshold,
        "fitted_on": calibration.fitted_on.get("eval_set", ""),
        "fitted_at": calibration.fitted_at,
    }


def save_calibration(calibration: Calibration, path: Path) -> None:
    """Write the calibration atomically: a temporary file beside ``path``, fsynced, then os.replace (a
    reader sees the old file or the new one, never half of one)."""
    record = asdict(calibration)
    record.pop("source", None)
    record["features"] = list(calibration.features)
    record["weights"] = list(calibration.weights)
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    text = json.dumps(record, indent=2, default=list) + "\n"
    handle, temporary = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(handle, "w", encoding="utf-8") as out:
            out.write(text)
            out.flush()
            os.fsync(out.fileno())
        os.replace(temporary, path)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise
    fsync_dir(path.parent)


def load_calibration(path: Path, expected_model: str | None = None) -> Calibration:
    """Read and check a calibration file; every problem is a CalibrationError that says how to fix it."""
    path = Path(path)
    fix = "run `citeqa eval --calibrate` to write it, or set CITEQA_CALIBRATION_PATH to a valid file"
    try:
        record = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise CalibrationError(f"calibration file {path} does not exist; {fix}") from None
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as err:
        raise CalibrationError(f"calibration file {path} is not readable JSON ({err}); {fix}") from None
    try:
        calibration = Calibration(
            model=_typed(record, "model", str),
            features=tuple(_typed(record, "features", list)),
            weights=tuple(float(w) for w in _typed(record, "weights", list)),
            intercept=float(_typed(record, "intercept", (int, float))),
            threshold=float(_typed(record, "threshold", (int, float))),
            scale=float(_typed(record, "scale", (int, float))),
            signal=str(record.get("signal", "")),
            fitted_at=str(record.get("fitted_at", "")),
            cv=dict(record.get("cv") or {}),
            fitted_on=dict(record.get("fitted_on") or {}),
            source=str(path),
        )
    except (TypeError, ValueError, AttributeError) as err:
        raise CalibrationError(f"calibration file {path} is malformed: {err}; {fix}") from None
    unknown = [name for name in calibration.features if name not in FEATURES]
    numbers = (*calibration.weights, calibration.intercept, calibration.threshold, calibration.scale)
    problem = (
        "it lists no features"
        if not calibration.features
        else f"unknown features {unknown} (known: {', '.join(FEATURES)})"
        if unknown
        else "features and weights differ in length"
        if len(calibration.weights) != len(calibration.features)
        else "a number is not finite"
        if not all(math.isfinite(v) for v in numbers)
        else "scale must be positive"
        if calibration.scale <= 0
        else None
    )
    if problem:
        raise CalibrationError(f"calibration file {path} is malformed: {problem}; {fix}")
    if expected_model is not None and calibration.model != expected_model:
        raise CalibrationError(
            f"calibration file {path} was fitted for model {calibration.model!r} but the index's model is "
            f"{expected_model!r}: it is refused; fit it again with `citeqa eval --calibrate --questions "
            f"LABELLED.jsonl --index DIR` for this index, remove it, or set CITEQA_CALIBRATION_PATH to a "
            "valid file"
        )
    return calibration


def _typed(record: Any, key: str, kind: type | tuple[type, ...]) -> Any:
    if not isinstance(record, dict):
        raise TypeError("the file must hold a JSON object")
    if key not in record:
        raise ValueError(f"missing field {key!r}")
    value = record[key]
    if not isinstance(value, kind) or isinstance(value, bool):
        raise TypeError(f"field {key!r} has the wrong type ({type(value).__name__})")
    return value
