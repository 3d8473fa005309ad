"""The features the answerability decision reads (see citeqa.answerability.FEATURES), computed from the
scored sentences and the passages of a response's first results, or of one result.

The response's features look at the first SIGNAL_DEPTH results whatever top_k is, so the decision for a
question does not change with the number of results asked for. A result's features are the same
quantities over that result alone: the calibrated model applied to them is the result's relevance.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import numpy as np

from citeqa.sentence_scoring import Sentences
from citeqa.types import Result
from indexer.vector_index import VectorIndex

SIGNAL_DEPTH = 5


def pooled_features(
    sentences: Sentences, pool: np.ndarray, top_passage_cosine: float, coverage: float
) -> dict[str, float]:
    """The features of the sentences in ``pool`` (a mask over ``sentences``)."""

    def best(values: np.ndarray) -> float:
        return float(values[pool].max()) if pool.any() else 0.0

    return {
        "best_sentence_cosine": best(sentences.cosine),
        "best_sentence_overlap": best(sentences.overlap),
        "best_sentence_score": best(sentences.score),
        "top_passage_cosine": float(top_passage_cosine),
        "question_coverage": float(coverage),
    }


def response_features(
    sentences: Sentences, passage_cosines: np.ndarray, coverage: float, depth: int = SIGNAL_DEPTH
) -> dict[str, float]:
    """The answerability features of the first ``depth`` results (``passage_cosines``: of their passages)."""
    pool = sentences.candidate & (sentences.result < depth)
    top = float(passage_cosines.max()) if len(passage_cosines) else 0.0
    return pooled_features(sentences, pool, top, coverage)


def result_features(
    sentences: Sentences, position: int, passage_cosine: float, coverage: float
) -> dict[str, float]:
    """The same features over the result at ``position`` (of the scored results) alone."""
    pool = sentences.candidate & (sentences.result == position)
    return pooled_features(sentences, pool, passage_cosine, coverage)


def passage_cosines(results: Sequence[Result], query: np.ndarray, dense: VectorIndex) -> np.ndarray:
    """Per result, the highest cosine of the question's vector with one of its passages."""
    sizes = [len(r.passage_ids) for r in results]
    ids = np.array([pid for r in results for pid in r.passage_ids], dtype=np.int64)
    if not len(ids):
        return np.zeros(len(results))
    cosines = dense.vectors(ids) @ query
    parts = np.split(cosines, np.cumsum(sizes)[:-1])
    return np.array([float(part.max()) if len(part) else 0.0 for part in parts], dtype=np.float64)


def question_coverage(question_terms: frozenset[str], in_index: Callable[[str], bool]) -> float:
    """Share of the question's content terms that occur anywhere in the index (``in_index``)."""
    if not question_terms:
        return 0.0
    return sum(in_index(t) for t in question_terms) / len(question_terms)
