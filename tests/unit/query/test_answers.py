"""Answers through the real model, index and HTTP app: highlights and the answer sentence quote their
documents exactly, answerability on clear cases, no near-duplicates, one encode per step."""

from __future__ import annotations

from typing import Any

import pytest
from fastapi.testclient import TestClient
from support import CountingEncoder

from citeqa.answer_model import load_answer_model
from citeqa.answers import SIGNAL_DEPTH, Answerer
from citeqa.search import Searcher
from citeqa.types import SEARCH_MODES
from eval.seed_set import load_eval_set
from indexer.load import LoadedIndex
from service.settings import Settings

OFF_TOPIC = [
    "what is the capital of France",
    "how do you sort a list in python",
    "how do i reset my wifi router",
]
ANSWER_PAGE = load_answer_model().depth
ANSWERABLE = ["what is secondary milia", "does laser work on milia", "what are milia"]


def overlaps(a: dict[str, Any], b: dict[str, Any]) -> bool:
    return a["doc_id"] == b["doc_id"] and min(a["end"], b["end"]) > max(a["start"], b["start"])


def check_body(body: dict[str, Any], texts: dict[str, str]) -> None:
    """Every highlight is a sentence inside its result; the answer is a highlighted sentence of one
    result; nothing is shown twice."""
    assert isinstance(body["answerable"], bool)
    assert 0.0 <= body["confidence"] <= 1.0
    assert (body["confidence"] >= 0.5) == body["answerable"]
    results = body["results"]
    for result in results:
        c = result["citation"]
        document = texts[c["doc_id"]]
        assert document[c["start"] : c["end"]] == result["text"]
        assert result["highlights"], "every result highlights at least one sentence"
        for h in result["highlights"]:
            assert c["start"] <= h["start"] < h["end"] <= c["end"]
            assert document[h["start"] : h["end"]] in result["text"]
            assert document[h["start"] : h["end"]] == document[h["start"] : h["end"]].strip()
    for i, a in enumerate(results):
        for b in results[i + 1 :]:
            assert not overlaps(a["citation"], b["citation"])
            assert " ".join(a["text"].split()).casefold() != " ".join(b["text"].split()).casefold()
    answer = body["answer"]
    if not body["answerable"]:
        assert answer is None
        return
    a = answer["citation"]
    assert texts[a["doc_id"]][a["start"] : a["end"]] == answer["text"]
    holders = [r for r in results if overlaps(r["citation"], a)]
    assert len(holders) == 1
    c = holders[0]["citation"]
    assert c["start"] <= a["start"] and a["end"] <= c["end"]
    assert {"start": a["start"], "end": a["end"]} in holders[0]["highlights"]
    assert {k: a[k] for k in ("title", "url", "author", "publisher")} == {
        k: c[k] for k in ("title", "url", "author", "publisher")
    }


@pytest.mark.parametrize("mode", SEARCH_MODES)
def test_highlights_and_answers_quote_their_documents(
    client: TestClient, loaded_index: LoadedIndex, mode: str
) -> None:
    texts = {d.doc_id: d.text for d in loaded_index.documents.values()}
    questions = [q.question for q in load_eval_set()][::3] + OFF_TOPIC
    for question in questions:
        # The answer is chosen among the first results up to the answer model's depth, whatever top_k is:
        # asked for that many, the page holds the answer's result.
        response = client.post("/query", json={"question": question, "top_k": ANSWER_PAGE, "mode": mode})
        assert response.status_code == 200, response.text
        check_body(response.json(), texts)


def test_deep_requests_return_distinct_results(client: TestClient, loaded_index: LoadedIndex) -> None:
    texts = {d.doc_id: d.text for d in loaded_index.documents.values()}
    body = client.get("/search", params={"q": "how do you treat milia in adults", "k": 50}).json()
    check_body(body, texts)
    assert 1 < len(body["results"]) < len(loaded_index.passages)


@pytest.mark.parametrize("question", OFF_TOPIC)
def test_off_topic_questions_are_not_answerable(client: TestClient, question: str) -> None:
    body = client.post("/query", json={"question": question}).json()
    assert body["answerable"] is False and body["answer"] is None
    assert body["confidence"] < 0.5
    assert len(body["results"]) == 5  # still shown, as low-confidence passages


@pytest.mark.parametrize("question", ANSWERABLE)
def test_clear_questions_are_answerable(client: TestClient, question: str) -> None:
    body = client.post("/query", json={"question": question}).json()
    assert body["answerable"] is True and body["confidence"] > 0.5
    assert "milia" in body["answer"]["text"].lower()


def test_laser_question_is_answered_by_the_laser_sentence(client: TestClient) -> None:
    answer = client.post("/query", json={"question": "does laser work on milia"}).json()["answer"]
    assert "laser" in answer["text"].lower()


def test_answerability_does_not_depend_on_top_k(answerer: Answerer) -> None:
    for question in [*OFF_TOPIC[:1], *ANSWERABLE[:1]]:
        decisions = {
            (r.answerable, round(r.confidence, 9))
            for r in (answerer.respond(question, k, "hybrid") for k in (1, SIGNAL_DEPTH, 12))
        }
        assert len(decisions) == 1


def test_top_k_results_when_enough_distinct_passages_exist(answerer: Answerer) -> None:
    for k in (1, 3, 6):
        assert len(answerer.respond("how do i get rid of milia", k, "hybrid").results) == k


@pytest.mark.parametrize("mode", SEARCH_MODES)
def test_one_encode_for_the_question_and_one_for_all_sentences(answerer: Answerer, mode: str) -> None:
    counting = CountingEncoder(answerer.searcher.encoder)
    searcher = Searcher(answerer.searcher.index, counting, answerer.searcher.fusion)  # type: ignore[arg-type]
    fresh = Answerer(searcher, answerer.calibration)
    assert fresh.respond("what are milia", 5, mode)  # type: ignore[arg-type]
    assert counting.calls == [1], "the sentences' vectors are read from the index"
    # Sentences the index does not store (an earlier release's segment): one encode call for them all.
    counting.calls.clear()
    fresh = Answerer(searcher, answerer.calibration)
    fresh.caches.stored = {}
    response = fresh.respond("what are milia", 5, mode)  # type: ignore[arg-type]
    assert len(counting.calls) == 2
    assert counting.calls[0] == 1
    assert counting.calls[1] >= sum(len(r.highlights) for r in response.results)
    # The same sentences again: only the question is embedded; the answer is unchanged.
    again = fresh.respond("what are milia", 5, mode)  # type: ignore[arg-type]
    assert counting.calls[2:] == [1]
    assert again == response


def test_bad_calibration_stops_the_app_with_a_clear_error(
    app_settings: Settings, searcher: Searcher, tmp_path
) -> None:
    from citeqa.errors import CalibrationError
    from service.app import create_app

    bad = tmp_path / "calibration.json"
    bad.write_text("{}")
    settings = app_settings.model_copy(update={"calibration_path": bad})
    with (
        pytest.raises(CalibrationError, match="citeqa eval --calibrate"),
        TestClient(create_app(settings, searcher)),
    ):
        pass
