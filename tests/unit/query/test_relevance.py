"""Each result's relevance: the calibrated answerability model applied to that result alone, in [0, 1],
beside the fused ranking score (which stays as it was). Through the real model and index."""

from __future__ import annotations

import numpy as np
import pytest
from fastapi.testclient import TestClient

from citeqa.answerability_features import result_features
from citeqa.answers import SIGNAL_DEPTH, Answerer
from citeqa.sentence_scoring import Sentences

OFF_TOPIC = ["what is the capital of France", "how do i reset my wifi router"]
ANSWERABLE = ["what are milia", "is it safe to pop milia with a needle"]


@pytest.mark.parametrize("question", OFF_TOPIC + ANSWERABLE)
def test_relevance_is_the_model_applied_to_each_result(answerer: Answerer, question: str) -> None:
    analysis = answerer.analyze(question, 8)
    response = answerer.respond(question, 8)
    assert len(response.results) == len(analysis.result_features) == 8
    for result, features in zip(response.results, analysis.result_features, strict=True):
        assert result.relevance == pytest.approx(answerer.calibration.decide(features)[1])
        assert 0.0 <= result.relevance <= 1.0
        assert result.score == next(r.score for r in analysis.results if r.rank == result.rank)


@pytest.mark.parametrize("question", OFF_TOPIC + ANSWERABLE)
def test_the_best_relevance_of_the_head_is_the_confidence(answerer: Answerer, question: str) -> None:
    """The response's features are the best over its first results; with a calibration on sentence
    features alone (and, for questions that ask for no price or brand, whether the best sentences hold
    one: 0 for the response and for every result), the most relevant of those results carries the
    response's confidence."""
    sentence_features = {"best_sentence_score", "best_sentence_cosine", "best_sentence_overlap"}
    assert set(answerer.calibration.features) <= sentence_features | {"answer_type_missing"}
    assert answerer.analyze(question, SIGNAL_DEPTH).features["answer_type_missing"] == 0.0
    response = answerer.respond(question, SIGNAL_DEPTH)
    assert max(r.relevance for r in response.results) == pytest.approx(response.confidence)


@pytest.mark.parametrize("question", OFF_TOPIC)
def test_an_off_topic_top_result_scores_high_but_is_not_relevant(client: TestClient, question: str) -> None:
    top = client.post("/query", json={"question": question, "top_k": 1}).json()["results"][0]
    assert top["score"] > 0.5, "fused scores put the best candidate near the top whatever it is"
    assert top["relevance"] < 0.1


@pytest.mark.parametrize("question", ANSWERABLE)
def test_an_answering_top_result_is_relevant(client: TestClient, question: str) -> None:
    results = client.post("/query", json={"question": question, "top_k": 5}).json()["results"]
    assert max(r["relevance"] for r in results) > 0.5


def test_relevance_holds_on_every_page(answerer: Answerer) -> None:
    whole = answerer.respond("how do you get rid of milia", 10)
    later = answerer.respond("how do you get rid of milia", 4, offset=6)
    by_rank = {r.rank: r.relevance for r in whole.results}
    assert [r.relevance for r in later.results] == pytest.approx([by_rank[r.rank] for r in later.results])


def test_a_result_without_sentences_has_the_floor_features(answerer: Answerer) -> None:
    analysis = answerer.analyze("what are milia", 3)
    empty = np.zeros(0)
    none = Sentences((), (), (), np.zeros(0, dtype=np.int64), empty, empty, empty, np.zeros(0, dtype=bool))
    features = result_features(none, 0, 0.3, 0.5)
    assert features["best_sentence_score"] == 0.0 and features["top_passage_cosine"] == 0.3
    assert set(features) == set(analysis.features)


def test_the_api_sends_relevance_beside_score(client: TestClient) -> None:
    body = client.get("/search", params={"q": "what are milia", "k": 3}).json()
    for result in body["results"]:
        assert isinstance(result["score"], float) and 0.0 <= result["relevance"] <= 1.0
