"""The features the answerability decision reads (see citeqa.answerability.FEATURES), computed from the
scored sentences and the passages of a response's first results, or of one result.

The response's features look at the first SIGNAL_DEPTH results whatever top_k is, so the decision for a
question does not change with the number of results asked for. A result's features are the same
quantities over that result alone: the calibrated model applied to them is the result's relevance.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable, Iterator, Mapping, Sequence
from types import MappingProxyType

import numpy as np

from citeqa.sentence_scoring import Sentences
from citeqa.types import Result
from indexer.vector_index import VectorIndex

SIGNAL_DEPTH = 5
ANSWER_TYPE_DEPTH = 3  # how many of the best-scored candidate sentences may hold the kind of answer asked
# Kinds of answer a question can ask for (the expected answer types of factoid QA): the stemmed question
# terms that ask for one (as TermExtractor stems them), and what a sentence that gives one holds. Only cues
# that demand the thing itself: "is it expensive" can be answered without a price, "how much does it cost"
# cannot.
ANSWER_TYPES: Mapping[str, tuple[frozenset[str], re.Pattern[str]]] = MappingProxyType(
    {
        "price": (
            frozenset({"cost", "price", "dollar", "cheapest"}),
            re.compile(
                r"[$€£¥]|\b(?:dollars?|euros?|pounds sterling|cents?|usd|eur|gbp|free of charge)\b",
                re.IGNORECASE,
            ),
        ),
        "brand": (
            frozenset({"brand", "manufactur", "brandnam"}),
            # a product's name: a trademark sign, or a capitalized word inside a sentence (a proper noun)
            re.compile(r"[®™]|(?<=[a-z,;:] )[A-Z][A-Za-z]+"),
        ),
    }
)


class LazyFeatures(Mapping[str, float]):
    """Features computed when first read: a decision reads two or three of them, an evaluation all."""

    def __init__(self, makers: Mapping[str, Callable[[], float]]) -> None:
        self._makers, self._values = makers, dict[str, float]()

    def __getitem__(self, name: str) -> float:
        value = self._values.get(name)
        if value is None:
            value = self._values[name] = float(self._makers[name]())
        return value

    def __iter__(self) -> Iterator[str]:
        return iter(self._makers)

    def __len__(self) -> int:
        return len(self._makers)

    def __repr__(self) -> str:
        return repr(dict(self))


def pooled_features(
    sentences: Sentences,
    pool: np.ndarray,
    top_passage_cosine: float,
    coverage: float,
    term_weights: Mapping[str, float] | None = None,
    seen: np.ndarray | None = None,
) -> Mapping[str, float]:
    """The features of the sentences in ``pool`` (a mask over ``sentences``: the candidates), each computed
    when first read. ``seen`` (a mask, default ``pool``) is every sentence shown, for the terms the question
    asks about that no result holds; ``term_weights`` weighs the question's terms (IDF, see ``term_idf``;
    default: equal)."""

    def best(values: np.ndarray) -> float:
        return float(values[pool].max()) if pool.any() else 0.0

    shown = pool if seen is None else seen
    weights = question_term_weights(sentences.question_terms, term_weights)
    terms = sentences.terms

    def best_idf_overlap() -> float:
        if not (weights and terms):
            return 0.0
        return max((weighted_share(weights, terms[i]) for i in np.flatnonzero(pool)), default=0.0)

    def best_cosine_idf_overlap() -> float:
        if not (weights and terms and pool.any()):
            return 0.0
        return weighted_share(weights, terms[int(np.argmax(np.where(pool, sentences.cosine, -np.inf)))])

    return LazyFeatures(
        {
            "best_sentence_cosine": lambda: best(sentences.cosine),
            "best_sentence_overlap": lambda: best(sentences.overlap),
            "best_sentence_score": lambda: best(sentences.score),
            "top_passage_cosine": lambda: float(top_passage_cosine),
            "question_coverage": lambda: float(coverage),
            "cosine_margin": lambda: cosine_margin(sentences.cosine[pool]),
            "best_sentence_idf_overlap": best_idf_overlap,
            "idf_missing": lambda: idf_missing(
                weights, [terms[i] for i in np.flatnonzero(shown)] if terms else []
            ),
            "cosine_zscore": lambda: cosine_zscore(sentences.cosine[pool]),
            "top_term_missing": lambda: top_term_missing(
                term_weights or {}, sentences.question_terms, shown_terms(sentences, shown)
            ),
            "best_cosine_idf_overlap": best_cosine_idf_overlap,
            "answer_type_missing": lambda: answer_type_missing(
                sentences.question_terms, [sentences.texts[i] for i in top_sentences(sentences.score, pool)]
            ),
        }
    )


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


def cosine_zscore(cosines: np.ndarray) -> float:
    """How many standard deviations the best candidate's cosine stands above the candidates' mean (0 for
    fewer than two candidates or equal cosines): the same whatever the corpus's cosine scale."""
    if len(cosines) < 2 or float(np.std(cosines)) <= 0:
        return 0.0
    return float((np.max(cosines) - np.mean(cosines)) / np.std(cosines))


def shown_terms(sentences: Sentences, seen: np.ndarray) -> frozenset[str]:
    """Every content term of the sentences in ``seen``."""
    if not sentences.terms:
        return frozenset()
    return frozenset().union(*(sentences.terms[i] for i in np.flatnonzero(seen)))


def top_term_missing(
    idf: Mapping[str, float], question_terms: frozenset[str], shown: frozenset[str]
) -> float:
    """1.0 when one of the question's most specific terms (the highest IDF; terms the index lacks have the
    highest) is in no shown sentence, else 0.0 (also for a question without terms)."""
    if not question_terms:
        return 0.0
    weights = {t: float(idf.get(t, 0.0)) for t in question_terms}
    top = max(weights.values())
    return float(any(t not in shown for t, w in weights.items() if w >= top - 1e-9))


def top_sentences(scores: np.ndarray, pool: np.ndarray, count: int = ANSWER_TYPE_DEPTH) -> list[int]:
    """Indices of the ``count`` best-scored sentences of ``pool``, best first."""
    members = np.flatnonzero(pool)
    return [int(i) for i in members[np.argsort(-scores[members], kind="stable")][:count]]


def asked_answer_types(question_terms: frozenset[str]) -> list[str]:
    """The kinds of answer a question asks for (``ANSWER_TYPES``), from its stemmed content terms."""
    return [kind for kind, (cues, _) in ANSWER_TYPES.items() if question_terms & cues]


def answer_type_missing(question_terms: frozenset[str], texts: Sequence[str]) -> float:
    """The share of the kinds of answer the question asks for (a price, a brand) that none of ``texts``
    (its best sentences) could give: "which brand of yeast is best" over sentences naming no brand is
    likely unanswered, however close they are. 0.0 when it asks for none of them."""
    asked = asked_answer_types(question_terms)
    if not asked:
        return 0.0
    missing = [kind for kind in asked if not any(ANSWER_TYPES[kind][1].search(t) for t in texts)]
    return len(missing) / len(asked)


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
) -> Mapping[str, float]:
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
) -> Mapping[str, float]:
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
