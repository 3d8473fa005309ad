"""The answerability features that do not depend on a corpus's score scale (issue 16): IDF weights of the
question's terms, the IDF-weighted terms no shown sentence holds, the best sentence's IDF-weighted overlap
and its cosine margin over the other candidates; and that a real response carries them."""

from __future__ import annotations

import math

import numpy as np
import pytest

from citeqa.answerability import FEATURES
from citeqa.answerability_features import (
    cosine_margin,
    idf_missing,
    pooled_features,
    question_term_weights,
    term_idf,
)
from citeqa.answers import Answerer
from citeqa.sentence_scoring import Sentences


def test_term_idf_gives_absent_terms_the_highest_weight() -> None:
    df = {"flour": 50, "rye": 2}
    idf = term_idf(frozenset({"flour", "rye", "gluten"}), lambda t: df.get(t, 0), 100)
    assert idf["gluten"] > idf["rye"] > idf["flour"] > 0
    assert idf["gluten"] == pytest.approx(math.log(1 + 100.5 / 0.5))


def test_question_term_weights_sum_to_one() -> None:
    weights = question_term_weights(frozenset({"a", "b"}), {"a": 3.0, "b": 1.0})
    assert weights == pytest.approx({"a": 0.75, "b": 0.25})
    assert question_term_weights(frozenset({"a", "b"}), None) == {"a": 0.5, "b": 0.5}
    assert question_term_weights(frozenset(), None) == {}


def test_idf_missing_weighs_the_terms_no_sentence_holds() -> None:
    weights = {"rye": 0.2, "flour": 0.1, "gluten": 0.3, "free": 0.4}
    shown = [frozenset({"rye", "flour"}), frozenset({"gluten", "network"})]
    assert idf_missing(weights, shown) == pytest.approx(0.4)
    assert idf_missing(weights, []) == pytest.approx(1.0)
    assert idf_missing({}, shown) == 0.0


def test_cosine_margin() -> None:
    assert cosine_margin(np.array([0.2, 0.3, 0.9])) == pytest.approx(0.6)
    assert cosine_margin(np.zeros(0)) == 0.0


def test_pooled_features_over_sentences() -> None:
    terms = (frozenset({"salt", "flour"}), frozenset({"yeast"}), frozenset({"brand"}))
    sentences = Sentences(
        doc_ids=("d", "d", "d"),
        spans=(),
        texts=("", "", ""),
        result=np.array([0, 0, 1]),
        cosine=np.array([0.5, 0.3, 0.1]),
        overlap=np.array([0.5, 0.0, 0.0]),
        score=np.array([0.5, 0.2, 0.1]),
        candidate=np.array([True, True, False]),
        terms=terms,
        question_terms=frozenset({"salt", "brand"}),
    )
    pool = np.array([True, True, False])
    features = pooled_features(
        sentences, pool, 0.6, 1.0, {"salt": 1.0, "brand": 3.0}, np.array([True, True, False])
    )
    assert set(features) == set(FEATURES)
    assert features["best_sentence_idf_overlap"] == pytest.approx(0.25)
    assert features["idf_missing"] == pytest.approx(0.75)  # "brand" is only in a sentence not shown
    assert features["cosine_margin"] == pytest.approx(0.1)


def test_a_response_carries_the_new_features(answerer: Answerer) -> None:
    answered = answerer.analyze("what are milia", 5).features
    unanswered = answerer.analyze("which brand of moisturizer is cheapest", 5).features
    assert set(answered) == set(FEATURES)
    assert 0.0 <= answered["idf_missing"] <= 1.0 and 0.0 < answered["best_sentence_idf_overlap"] <= 1.0
    assert unanswered["idf_missing"] > answered["idf_missing"]
