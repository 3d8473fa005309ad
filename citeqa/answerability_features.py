"""The features the answerability decision reads (see citeqa.answerability.FEATURES), computed from the
scored sentences and the passages of a response's first results, or of one result.

The response's features look at the first SIGNAL_DEPTH results whatever top_k is, so the decision for a
question does not change with the number of results asked for. A result's features are the same
quantities over that result alone: the calibrated model applied to them is the result's relevance.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping, Sequence

import numpy as np

from citeqa.sentence_scoring import Sentences
from citeqa.types import Result
from indexer.vector_index import VectorIndex

SIGNAL_DEPTH = 5


def pooled_features(
    sentences: Sentences,
    pool: np.ndarray,
    top_passage_cosine: float,
    coverage: float,
    term_weights: Mapping[str, float] | None = None,
    seen: np.ndarray | None = None,
) -> dict[str, float]:
    """The features of the sentences in ``pool`` (a mask over ``sentences``: the candidates). ``seen`` (a
    mask, default ``pool``) is every sentence shown, for the terms the question asks about that no result
    holds; ``term_weights`` weighs the question's terms (IDF, see ``term_idf``; default: equal)."""

    def best(values: np.ndarray) -> float:
        return float(values[pool].max()) if pool.any() else 0.0

    seen = pool if seen is None else seen
    weights = question_term_weights(sentences.question_terms, term_weights)
    return {
        "best_sentence_cosine": best(sentences.cosine),
        "best_sentence_overlap": best(sentences.overlap),
        "best_sentence_score": best(sentences.score),
        "top_passage_cosine": float(top_passage_cosine),
        "question_coverage": float(coverage),
        "cosine_margin": cosine_margin(sentences.cosine[pool]),
        "best_sentence_idf_overlap": max(
            (weighted_share(weights, sentences.terms[i]) for i in np.flatnonzero(pool)), default=0.0
        )
        if weights and sentences.terms
        else 0.0,
        "idf_missing": idf_missing(
            weights, [sentences.terms[i] for i in np.flatnonzero(seen)] if sentences.terms else []
        ),
    }


def question_term_weights(
    question_terms: frozenset[str], term_weights: Mapping[str, float] | None
) -> dict[str, float]:
    """Each question term's weight (its IDF when known, else 1), normalized to sum to 1."""
    raw = {t: (1.0 if term_weights is None else float(term_weights.get(t, 1.0))) for t in question_terms}
    total = sum(raw.values())
    return {t: w / total for t, w in raw.items()} if total > 0 else {}


def weighted_share(weights: Mapping[str, float], terms: frozenset[str]) -> float:
    """The share (by weight) of the question's terms found in ``terms``."""
    return float(sum(w for t, w in weights.items() if t in terms))


def idf_missing(weights: Mapping[str, float], shown: Sequence[frozenset[str]]) -> float:
    """The share (by IDF weight) of the question's terms that no shown sentence holds: a question about
    a "brand" or a "price" over results that never say either is likely unanswered, whatever the scale of
    the corpus's scores. 1.0 for a question with terms and nothing shown; 0.0 for a question without."""
    if not weights:
        return 0.0
    present: set[str] = set().union(*shown) if shown else set()
    return float(sum(w for t, w in weights.items() if t not in present))


def cosine_margin(cosines: np.ndarray) -> float:
    """How far the best sentence stands out: its cosine minus the median cosine of the candidates."""
    if not len(cosines):
        return 0.0
    return float(np.max(cosines) - np.median(cosines))


def term_idf(terms: frozenset[str], document_frequency: Callable[[str], int], rows: int) -> dict[str, float]:
    """BM25's (Lucene) idf of each term over ``rows`` passages; a term the index never holds gets the
    highest idf."""
    return {
        t: math.log(1 + (rows - document_frequency(t) + 0.5) / (document_frequency(t) + 0.5)) for t in terms
    }


def response_features(
    sentences: Sentences,
    passage_cosines: np.ndarray,
    coverage: float,
    depth: int = SIGNAL_DEPTH,
    term_weights: Mapping[str, float] | None = None,
) -> dict[str, float]:
    """The answerability features of the first ``depth`` results (``passage_cosines``: of their passages)."""
    shown = sentences.result < depth
    pool = sentences.candidate & shown
    top = float(passage_cosines.max()) if len(passage_cosines) else 0.0
    return pooled_features(sentences, pool, top, coverage, term_weights, shown)


def result_features(
    sentences: Sentences,
    position: int,
    passage_cosine: float,
    coverage: float,
    term_weights: Mapping[str, float] | None = None,
) -> dict[str, float]:
    """The same features over the result at ``position`` (of the scored results) alone."""
    shown = sentences.result == position
    pool = sentences.candidate & shown
    return pooled_features(sentences, pool, passage_cosine, coverage, term_weights, shown)


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
