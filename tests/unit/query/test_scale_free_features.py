"""The answerability features that do not depend on a corpus's score scale (issue 16): IDF weights of the
question's terms, the IDF-weighted terms no shown sentence holds, the best sentence's IDF-weighted overlap,
its cosine margin and z-score over the other candidates, whether the most specific term is shown, and
whether the best sentences hold the kind of answer asked for (a price, a brand); and that a real response
carries them."""

from __future__ import annotations

import math
from collections.abc import Callable

import numpy as np
import pytest

from citeqa.answerability import FEATURES
from citeqa.answerability_features import (
    answer_type_missing,
    asked_answer_types,
    cosine_margin,
    cosine_zscore,
    idf_missing,
    pooled_features,
    question_term_weights,
    term_idf,
    top_sentences,
    top_term_missing,
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


def test_cosine_zscore_is_scale_free() -> None:
    cosines = np.array([0.1, 0.2, 0.3, 0.9])
    assert cosine_zscore(cosines) == pytest.approx(cosine_zscore(0.5 * cosines + 0.2))
    assert cosine_zscore(cosines) > 1.5
    assert cosine_zscore(np.array([0.4])) == 0.0 == cosine_zscore(np.array([0.4, 0.4]))


def test_top_term_missing_looks_at_the_most_specific_terms() -> None:
    idf = {"brand": 5.0, "milia": 2.0, "best": 1.0}
    terms = frozenset(idf)
    assert top_term_missing(idf, terms, frozenset({"milia", "best"})) == 1.0
    assert top_term_missing(idf, terms, frozenset({"brand"})) == 0.0
    assert top_term_missing(idf, frozenset(), frozenset()) == 0.0


def test_the_kinds_of_answer_a_question_asks_for() -> None:
    assert asked_answer_types(frozenset({"cost", "much"})) == ["price"]
    assert asked_answer_types(frozenset({"best", "brand", "price"})) == ["price", "brand"]
    assert asked_answer_types(frozenset({"expens", "milia"})) == []  # answerable without a price


@pytest.mark.parametrize(
    ("terms", "texts", "missing"),
    [
        ({"brand", "yeast"}, ["Instant yeast works in most recipes."], 1.0),
        ({"brand", "yeast"}, ["Many bakers swear by Fleischmann's instant yeast."], 0.0),
        ({"brand", "yeast"}, ["Buy SuperRise® yeast."], 0.0),
        ({"cost", "mixer"}, ["A stand mixer kneads dough in six minutes."], 1.0),
        ({"cost", "mixer"}, ["A basic stand mixer costs about $200."], 0.0),
        ({"cost", "mixer"}, ["Expect to pay 150 euros."], 0.0),
        ({"cost", "brand"}, ["It costs 20 dollars."], 0.5),
        ({"milia", "remov"}, ["Milia go away on their own."], 0.0),  # asks for neither
    ],
)
def test_answer_type_missing(terms: set[str], texts: list[str], missing: float) -> None:
    assert answer_type_missing(frozenset(terms), texts) == pytest.approx(missing)


def test_top_sentences_are_the_best_scored_of_the_pool() -> None:
    scores = np.array([0.1, 0.9, 0.5, 0.7, 0.8])
    pool = np.array([True, False, True, True, True])
    assert top_sentences(scores, pool, 3) == [4, 3, 2]
    assert top_sentences(scores, np.zeros(5, dtype=bool), 3) == []


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
    assert features["top_term_missing"] == 1.0  # "brand", the rarer, is in no shown sentence
    assert features["best_cosine_idf_overlap"] == pytest.approx(0.25)
    assert features["answer_type_missing"] == 1.0  # asks for a brand; no sentence names one


def test_a_response_carries_the_new_features(answerer: Answerer) -> None:
    answered = answerer.analyze("what are milia", 5).features
    unanswered = answerer.analyze("which brand of moisturizer is cheapest", 5).features
    assert set(answered) == set(FEATURES)
    assert 0.0 <= answered["idf_missing"] <= 1.0 and 0.0 < answered["best_sentence_idf_overlap"] <= 1.0
    assert unanswered["idf_missing"] > answered["idf_missing"]
    assert (answered["answer_type_missing"], unanswered["answer_type_missing"]) == (0.0, 1.0)


def test_features_are_computed_when_first_read_and_once() -> None:
    from citeqa.answerability_features import LazyFeatures

    calls: list[str] = []

    def maker(name: str, value: float) -> Callable[[], float]:
        return lambda: calls.append(name) or value  # type: ignore[func-returns-value]

    features = LazyFeatures({"a": maker("a", 1.0), "b": maker("b", 2.0)})
    assert calls == [] and len(features) == 2 and list(features) == ["a", "b"]
    assert features["b"] == 2.0 and features["b"] == 2.0 and calls == ["b"]
    assert dict(features) == {"a": 1.0, "b": 2.0} and calls == ["b", "a"]
