"""The learned answer choice: a conditional logit over the candidate sentences of a response.

A sentence's choice score is ``intercept + weights . features`` (citeqa.answer_features.FEATURES, raw
units); within one question, softmax of the scores is the probability that each candidate is the answer,
so only differences between sentences matter. The weights are fitted on labelled questions by
``python -m eval.answer_fit`` (cross-validated, a held-out part of every set kept out) and stored in
``answer_model.json`` beside this file.
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path
from typing import Any

import numpy as np

from citeqa.answer_features import FEATURES
from citeqa.errors import CalibrationError

DEFAULT_ANSWER_MODEL_PATH = Path(__file__).resolve().parent / "answer_model.json"


@dataclass(frozen=True)
class AnswerModel:
    features: tuple[str, ...]
    weights: tuple[float, ...]
    depth: int = 5  # the answer is chosen among the sentences of this many first results
    # ... and of the results holding this many of the index's sentences closest to the question
    # (citeqa.sentence_search; 0: none)
    sentence_candidates: int = 0
    # ... found by the fusion of dense and BM25 sentence retrieval with this share for BM25
    # (citeqa.sentence_fusion; 0: dense alone)
    sentence_bm25_weight: float = 0.0
    fitted_at: str = ""
    report: Mapping[str, Any] = field(default_factory=dict)

    @cached_property
    def _columns(self) -> list[int]:
        return [FEATURES.index(name) for name in self.features]

    @cached_property
    def _weights(self) -> np.ndarray:
        return np.asarray(self.weights, dtype=np.float64)

    def scores(self, matrix: np.ndarray) -> np.ndarray:
        """The choice score of each row of a FEATURES matrix."""
        return np.asarray(matrix, dtype=np.float64)[:, self._columns] @ self._weights


def save_answer_model(model: AnswerModel, path: Path) -> None:
    record = {
        "features": list(model.features),
        "weights": list(model.weights),
        "depth": model.depth,
        "sentence_candidates": model.sentence_candidates,
        **({"sentence_bm25_weight": model.sentence_bm25_weight} if model.sentence_bm25_weight else {}),
        "fitted_at": model.fitted_at,
        "report": dict(model.report),
    }
    path.write_text(json.dumps(record, indent=2) + "\n", encoding="utf-8")


def load_answer_model(path: Path = DEFAULT_ANSWER_MODEL_PATH) -> AnswerModel:
    fix = "run `python -m eval.answer_fit` to write it"
    try:
        record = json.loads(Path(path).read_text(encoding="utf-8"))
        model = AnswerModel(
            features=tuple(str(f) for f in record["features"]),
            weights=tuple(float(w) for w in record["weights"]),
            depth=int(record.get("depth", 5)),
            sentence_candidates=int(record.get("sentence_candidates", 0)),
            sentence_bm25_weight=float(record.get("sentence_bm25_weight", 0.0)),
            fitted_at=str(record.get("fitted_at", "")),
            report=dict(record.get("report") or {}),
        )
    except FileNotFoundError:
        raise CalibrationError(f"answer model {path} does not exist; {fix}") from None
    except (OSError, ValueError, KeyError, TypeError) as err:
        raise CalibrationError(f"answer model {path} is malformed ({err!r}); {fix}") from None
    unknown = [f for f in model.features if f not in FEATURES]
    lengths = len(model.features) != len(model.weights)
    out_of_range = not 0.0 <= model.sentence_bm25_weight <= 1.0
    negative = model.depth < 1 or model.sentence_candidates < 0 or out_of_range
    if unknown or lengths or negative or not all(map(math.isfinite, model.weights)):
        raise CalibrationError(
            f"answer model {path} is malformed (features {unknown or 'and weights'}); {fix}"
        )
    return model
