"""Bodies and questions the service cannot read get a 4xx that says what to fix, for the route asked
(found by an exploratory probe at stop 25: a lone surrogate gave HTTP 500; a text/plain body, bad JSON
on a document route and deep nesting got the query route's or the wrong hint)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from support import writable_client

JSON = {"content-type": "application/json"}


@pytest.mark.parametrize("mode", ["hybrid", "dense", "bm25"])
def test_a_question_with_a_lone_surrogate_is_a_422_not_a_500(client: TestClient, mode: str) -> None:
    body = '{"question": "milia \\ud800", "mode": "' + mode + '"}'
    response = client.post("/query", content=body, headers=JSON)
    assert response.status_code == 422, response.text
    assert "surrogate" in response.json()["message"]


@pytest.mark.parametrize("query", ["q=milia%ED%A0%80", "q=milia%FF", "q=milia&filter=doc_id:%C3"])
def test_a_url_that_is_not_utf8_is_a_422_not_another_question(client: TestClient, query: str) -> None:
    """Found by this stop's probe: GET read %ED%A0%80 (a surrogate's bytes) as replacement characters and
    answered "\ufffd\ufffd\ufffdmilia", where POST refuses the same text."""
    response = client.get(f"/search?{query}")
    assert response.status_code == 422, response.text
    assert "not UTF-8" in response.json()["message"]
    assert client.get("/search?q=caf%C3%A9%20milia").status_code == 200


def test_a_json_body_sent_as_text_plain_is_told_its_content_type(client: TestClient) -> None:
    response = client.post("/query", content='{"question": "milia"}', headers={"content-type": "text/plain"})
    assert response.status_code == 422
    assert "Content-Type: application/json" in response.json()["message"]


def test_bad_json_on_a_document_route_shows_that_routes_body(index_copy: Path, encoder: Any) -> None:
    # With a key: a write without one is refused before its body is read (service.limits.WriteAdmission).
    with writable_client(index_copy, encoder, api_keys=["k3y"]) as client:
        headers = {**JSON, "Authorization": "Bearer k3y"}
        response = client.put("/documents/zz", content='{"title":', headers=headers)
    assert response.status_code == 422
    message = response.json()["message"]
    assert '"title"' in message and '"question"' not in message, message


def test_json_nested_too_deeply_is_named(client: TestClient) -> None:
    body = '{"question": "milia", "filters": ' + "[" * 5000 + "]" * 5000 + "}"
    response = client.post("/query", content=body, headers=JSON)
    assert response.status_code == 422
    assert "nested too deeply" in response.json()["message"]


@pytest.mark.parametrize("question", ["\U0001f427", "?!", "\U0001f427\U0001f427 ..."])
@pytest.mark.parametrize("k", [1, 5])
def test_a_question_without_words_is_not_answerable(client: TestClient, question: str, k: int) -> None:
    """Emoji and punctuation are unknown tokens to the model, close to anything: nothing was asked."""
    body = client.get("/search", params={"q": question, "k": k}).json()
    assert body["answerable"] is False and body["answer"] is None and body["confidence"] == 0.0
    assert body["results"] and all(r["relevance"] == 0.0 for r in body["results"])


def test_a_question_with_words_and_an_emoji_is_still_answered(client: TestClient) -> None:
    body = client.get("/search", params={"q": "\U0001f427 what are milia", "k": 1}).json()
    assert body["answerable"] is True and body["answer"] is not None


def test_a_parameter_given_twice_is_refused_but_filter_repeats(client: TestClient) -> None:
    twice = client.get("/search?q=milia&q=acne")
    assert twice.status_code == 422 and "'q' given 2 times" in twice.json()["message"], twice.text
    assert client.get("/search?q=milia&k=2&k=3").status_code == 422
    repeated_filter = client.get(
        "/search", params=[("q", "milia"), ("filter", "doc_id:milia-overview"), ("filter", "doc_id:x")]
    )
    assert repeated_filter.status_code == 200, repeated_filter.text


@pytest.mark.parametrize("field", ["top_k", "offset", "min_version"])
def test_a_json_number_too_long_to_read_is_named(client: TestClient, field: str) -> None:
    """Found by the security probe: a number of 5,001 digits (Python reads at most 4,300) was refused as
    'bytes that are not UTF-8, or nested too deeply', neither of which the body was."""
    body = '{"question": "milia", "' + field + '": 1' + "0" * 5000 + "}"
    response = client.post("/query", content=body, headers=JSON)
    assert response.status_code == 422
    assert "a number of more than 4,300 digits" in response.json()["message"]
