"""The query routes serialize their QueryResponse once, with pydantic (service.querying.json_response):
the same JSON, key for key and in the same order, as FastAPI's own path (validate the model again, make a
dict, json.dumps it), for every mode, pages, filters, unanswerable questions and text outside ASCII."""

from __future__ import annotations

import json

import pytest
from fastapi.encoders import jsonable_encoder
from starlette.responses import JSONResponse

from citeqa.answers import Answerer
from service.querying import json_response, run_query
from service.schemas import QueryResponse

QUESTIONS = ["what are milia?", "how do you get rid of milia", "capital of France", "🍞 bread — naïve 東京?"]


@pytest.mark.parametrize("mode", ["hybrid", "dense", "bm25"])
def test_query_responses_are_the_json_fastapi_would_send(answerer: Answerer, mode: str) -> None:
    for offset, question in enumerate(QUESTIONS):
        model = run_query(answerer, question, 3, mode, offset)
        fast = json.loads(json_response(model).body)
        revalidated = QueryResponse.model_validate(model)  # what FastAPI did with the returned model
        default = json.loads(JSONResponse(jsonable_encoder(revalidated)).body)
        assert fast == default
        assert list(fast) == list(default)
        assert [list(r) for r in fast["results"]] == [list(r) for r in default["results"]]


def test_a_response_with_filters_and_its_headers(answerer: Answerer) -> None:
    doc_id = next(iter(answerer.searcher.index.documents))
    model = run_query(answerer, "milia", 5, "hybrid", filters={"doc_id": [doc_id]})
    response = json_response(model, {"ETag": 'W/"x"'})
    assert response.media_type == "application/json" and response.headers["ETag"] == 'W/"x"'
    assert json.loads(response.body) == json.loads(JSONResponse(jsonable_encoder(model)).body)
    assert {r["citation"]["doc_id"] for r in json.loads(response.body)["results"]} == {doc_id}
