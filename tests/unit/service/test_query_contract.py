"""One query contract for POST /query and GET /search: the same parameters (offset and filters in both),
unknown names refused with a 422 that names them, an ETag that covers the filters, and an OpenAPI document
that states the rules the server enforces."""

from __future__ import annotations

import re
from typing import Any
from urllib.parse import quote

import pytest
from fastapi.testclient import TestClient
from support import BAILEY_ID, OVERVIEW_ID

from service.query_contract import QueryRequest, SearchQuery

QUESTION = "how do you get rid of milia"


def keys(body: dict[str, Any]) -> list[tuple[str, int, int]]:
    return [(r["citation"]["doc_id"], r["citation"]["start"], r["citation"]["end"]) for r in body["results"]]


def without_timing(body: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in body.items() if k != "took_ms"}


@pytest.mark.parametrize("offset", [0, 3, 7])
def test_get_and_post_answer_the_same_page(client: TestClient, offset: int) -> None:
    get = client.get("/search", params={"q": QUESTION, "k": 3, "offset": offset, "mode": "dense"})
    post = client.post("/query", json={"question": QUESTION, "top_k": 3, "offset": offset, "mode": "dense"})
    assert get.status_code == post.status_code == 200
    assert without_timing(get.json()) == without_timing(post.json())
    assert post.json()["offset"] == offset


def test_post_offset_pages_follow_has_more(client: TestClient) -> None:
    first = client.post("/query", json={"question": QUESTION, "top_k": 4}).json()
    assert first["has_more"] is True
    second = client.post("/query", json={"question": QUESTION, "top_k": 4, "offset": 4}).json()
    assert [r["rank"] for r in second["results"]] == [5, 6, 7, 8]
    assert not set(keys(first)) & set(keys(second))


def test_get_takes_repeatable_filters_like_post(client: TestClient) -> None:
    bailey, overview = ("filter", f"doc_id:{BAILEY_ID}"), ("filter", f"doc_id:{OVERVIEW_ID}")
    only_bailey = client.get("/search", params=[("q", QUESTION), ("k", 10), bailey])
    assert only_bailey.status_code == 200, only_bailey.text
    assert {key[0] for key in keys(only_bailey.json())} == {BAILEY_ID}
    post = client.post("/query", json={"question": QUESTION, "top_k": 10, "filters": {"doc_id": [BAILEY_ID]}})
    assert keys(post.json()) == keys(only_bailey.json())
    both = client.get("/search", params=[("q", QUESTION), ("k", 10), bailey, overview]).json()
    assert {key[0] for key in keys(both)} == {BAILEY_ID, OVERVIEW_ID}
    publisher = client.get("/search", params={"q": QUESTION, "filter": "publisher:Dr. Bailey Skin Care"})
    publisher = publisher.json()
    assert publisher["results"] and {key[0] for key in keys(publisher)} == {BAILEY_ID}


def test_a_filter_value_may_hold_colons(client: TestClient) -> None:
    url = client.get(f"/documents/{BAILEY_ID}").json()["url"]
    body = client.get("/search", params={"q": QUESTION, "filter": f"url:{url}"}).json()
    assert {key[0] for key in keys(body)} == {BAILEY_ID}


@pytest.mark.parametrize(
    ("params", "named"),
    [
        ({"q": "milia", "doc_id": "storage"}, ["'doc_id'"]),
        ({"q": "milia", "top_k": "3", "question": "x"}, ["'top_k'", "'question'"]),
        ({"q": "milia", "Filter": "doc_id:x"}, ["'Filter'"]),
    ],
)
def test_unknown_get_parameters_are_refused_by_name(
    client: TestClient, params: dict[str, str], named: list[str]
) -> None:
    response = client.get("/search", params=params)
    assert response.status_code == 422
    message = response.json()["message"]
    assert all(name in message for name in named), message
    assert "known: q, k, mode, offset, filter" in message


def test_unknown_post_fields_are_refused_by_name(client: TestClient) -> None:
    response = client.post("/query", json={"question": "milia", "q": "milia", "k": 3})
    assert response.status_code == 422
    message = response.json()["message"]
    assert "'q'" in message and "'k'" in message
    assert "known: question, top_k, mode, offset, filters" in message


def test_post_query_refuses_url_parameters_by_name(client: TestClient) -> None:
    """Found by a probe: POST /query?top_k=10 answered 5 results, the parameter dropped without a word."""
    refused = client.post("/query?top_k=10&foo=1", json={"question": QUESTION})
    assert refused.status_code == 422, refused.text
    body = refused.json()
    assert [d["field"] for d in body["detail"]] == ["top_k", "foo"]
    assert body["message"].startswith("top_k: POST /query reads no query parameter; send question, top_k")
    assert client.post("/query", json={"question": QUESTION, "top_k": 10}).status_code == 200


@pytest.mark.parametrize(
    ("params", "fragment"),
    [
        ({"filter": "no-colon"}, "not key:value"),
        ({"filter": ":value"}, "not key:value"),
        ({"filter": "colour:red"}, "unknown filter key 'colour'"),
    ],
)
def test_bad_get_filters_say_what_to_fix(client: TestClient, params: dict[str, str], fragment: str) -> None:
    response = client.get("/search", params={"q": "milia", **params})
    assert response.status_code == 422
    assert fragment in response.json()["message"]


def test_a_filter_value_that_is_not_valid_unicode_is_refused(client: TestClient) -> None:
    """A filter value escaping an unpaired surrogate (which no stored document can hold) answered an empty
    page with 200, as if no document matched; the question is refused for the same text."""
    body = f'{{"question": "{QUESTION}", "filters": {{"doc_id": ["{BAILEY_ID}\\ud800"]}}}}'
    response = client.post("/query", content=body, headers={"content-type": "application/json"})
    assert response.status_code == 422, response.text
    assert "a value of filters.doc_id: it holds an unpaired surrogate" in response.json()["message"]


@pytest.mark.parametrize(
    "body",
    [
        {"offset": -1},
        {"offset": 201},
        {"offset": False},
        {"top_k": True},
        {"offset": "2"},
        {"question": "\t \n"},
    ],
)
def test_post_refuses_what_the_schema_refuses(client: TestClient, body: dict[str, Any]) -> None:
    response = client.post("/query", json={"question": "milia", **body})
    assert response.status_code == 422, response.text


def test_whole_floats_are_whole_numbers(client: TestClient) -> None:
    response = client.post("/query", json={"question": "milia", "top_k": 2.0, "offset": 1.0})
    assert response.status_code == 200
    assert [r["rank"] for r in response.json()["results"]] == [2, 3]


def test_the_etag_covers_the_filters(client: TestClient) -> None:
    def etag(*filters: str) -> str:
        params = [("q", QUESTION), *(("filter", f) for f in filters)]
        return client.get("/search", params=params).headers["etag"]

    plain = etag()
    bailey = etag(f"doc_id:{BAILEY_ID}")
    both = etag(f"doc_id:{BAILEY_ID}", f"doc_id:{OVERVIEW_ID}")
    assert len({plain, bailey, both}) == 3
    assert etag(f"doc_id:{OVERVIEW_ID}", f"doc_id:{BAILEY_ID}") == both, "value order changes nothing"
    params = [("q", QUESTION), ("filter", f"doc_id:{BAILEY_ID}")]
    cached = client.get("/search", params=params, headers={"If-None-Match": bailey})
    assert cached.status_code == 304
    other = client.get("/search", params={"q": QUESTION}, headers={"If-None-Match": bailey})
    assert other.status_code == 200


def test_the_schema_states_the_rules(client: TestClient) -> None:
    schema = client.get("/openapi.json").json()
    body = schema["components"]["schemas"]["QueryRequest"]
    question = body["properties"]["question"]
    assert question["pattern"] == r"\S" and question["minLength"] == 1 and question["maxLength"] == 10_000
    assert body["additionalProperties"] is False
    assert body["properties"]["offset"]["maximum"] == 200
    filters = next(o for o in body["properties"]["filters"]["anyOf"] if o.get("type") == "object")
    known = filters["propertyNames"]["enum"]
    assert known[:5] == ["doc_id", "title", "author", "publisher", "url"] and "kind" in known
    assert filters["additionalProperties"]["minItems"] == 1
    params = {p["name"]: p for p in schema["paths"]["/search"]["get"]["parameters"]}
    assert set(params) == {"q", "k", "mode", "offset", "filter", "min_version"}
    assert params["min_version"]["schema"]["minimum"] == 0
    assert body["properties"]["min_version"]["minimum"] == 0
    assert params["q"]["schema"]["pattern"] == r"\S"
    assert params["filter"]["schema"]["type"] == "array"
    pattern = params["filter"]["schema"]["items"]["pattern"]
    assert pattern.startswith("^(?:doc_id:[\\s\\S]|title:|author:|publisher:|url:|") and "|kind:" in pattern
    # A doc_id is never empty (citeqa.filters refuses it), in both forms.
    assert filters["properties"]["doc_id"]["items"]["minLength"] == 1
    assert re.match(pattern, "doc_id:a") and re.match(pattern, "kind:") and not re.match(pattern, "doc_id:")


def test_both_models_state_the_same_rules() -> None:
    """The GET model is the POST model's fields under URL names: the same rules, field for field."""
    pairs = {"q": "question", "k": "top_k", "mode": "mode", "offset": "offset"}
    get_schema = SearchQuery.model_json_schema()["properties"]
    post_schema = QueryRequest.model_json_schema()["properties"]
    for get_name, post_name in pairs.items():
        assert {**get_schema[get_name], "title": ""} == {**post_schema[post_name], "title": ""}, get_name


def test_the_get_filter_pattern_admits_only_keys_a_url_can_name() -> None:
    """GET splits filter=key:value at the first colon, so metadata keys that are empty or hold a colon
    (accepted at ingestion, filtered through POST) are not offered as valid in the URL form."""
    from service.openapi_filters import with_filter_keys

    keys = ("doc_id", "title", "author", "publisher", "url", "", "a:b", "kind")
    schema = {
        "paths": {"/search": {"get": {"parameters": [{"name": "filter", "in": "query", "schema": {}}]}}}
    }
    pattern = with_filter_keys(schema, keys)["paths"]["/search"]["get"]["parameters"][0]["schema"]["items"]
    for valid in ["doc_id:x", "doc_id:\n", "url:https://a.test/b", "url:", "kind:", "kind:a:b"]:
        assert re.match(pattern["pattern"], valid), valid
    for invalid in ["doc_id:", ":x", "a:b:c", "colour:red"]:
        assert not re.match(pattern["pattern"], invalid), invalid


def test_post_refuses_a_field_or_filter_key_given_twice_as_get_does(client: TestClient) -> None:
    """Found by a probe: GET /search refuses q given twice, but POST /query answered the last "question" of
    a body that gave two, and {"filters": {"doc_id": [a], "doc_id": [b]}} filtered by b alone, where GET's
    filter=doc_id:a&filter=doc_id:b keeps either; each is a 422 naming it."""
    headers = {"Content-Type": "application/json"}
    twice = '{"question": "milia", "question": "acne"}'
    refused = client.post("/query", content=twice, headers=headers)
    assert refused.status_code == 422 and "'question' more than once" in refused.json()["message"]
    filters = (
        f'{{"question": "{QUESTION}", "filters": {{"doc_id": ["{BAILEY_ID}"], "doc_id": ["{OVERVIEW_ID}"]}}}}'
    )
    refused = client.post("/query", content=filters, headers=headers)
    assert refused.status_code == 422 and "'doc_id' more than once" in refused.json()["message"]
    either = client.post(
        "/query", json={"question": QUESTION, "filters": {"doc_id": [BAILEY_ID, OVERVIEW_ID]}}
    )
    got = client.get(
        "/search",
        params=[("q", QUESTION), ("filter", f"doc_id:{BAILEY_ID}"), ("filter", f"doc_id:{OVERVIEW_ID}")],
    )
    assert either.status_code == got.status_code == 200 and keys(either.json()) == keys(got.json())


@pytest.mark.parametrize("written", ["1_0", "+5", " 5", "5.0", "5e0", "\u0665"])
def test_a_url_number_not_written_in_digits_is_refused(client: TestClient, written: str) -> None:
    """GET /search?k=1_0 answered ten results (pydantic reads "1_0" as 10, and " 5", "+5" and "5.0" as 5),
    so a typo in a URL was answered as another request; /documents' offset and limit likewise."""
    for path, name in [("/search?q=milia", "k"), ("/search?q=milia", "offset"), ("/documents?", "limit")]:
        refused = client.get(f"{path}&{name}={quote(written)}")
        assert refused.status_code == 422, (name, written, refused.text)
        assert (
            f"{name}: must be a whole number written in digits (0-9), not {written!r}"
            in refused.json()["message"]
        )
    assert client.get("/search", params={"q": "milia", "k": "3"}).status_code == 200
    negative = client.get("/search", params={"q": "milia", "k": "-1"})
    assert negative.status_code == 422 and "greater than or equal to 1" in negative.json()["message"]


def test_a_query_takes_one_worker_thread_hop_the_answer_alone(
    client: TestClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    """FastAPI runs a plain-function dependency in a worker thread: a hop (two thread switches) per request
    before the answer's own. The query routes' dependencies are coroutines, so the answer is the only one."""
    import anyio.to_thread

    hops: list[str] = []
    real = anyio.to_thread.run_sync

    async def counted(func: Any, *args: Any, **kwargs: Any) -> Any:
        hops.append(getattr(func, "__qualname__", repr(func)))
        return await real(func, *args, **kwargs)

    monkeypatch.setattr(anyio.to_thread, "run_sync", counted)
    assert client.post("/query", json={"question": f"{QUESTION} (one hop)"}).status_code == 200
    assert len(hops) == 1, hops
    hops.clear()
    assert client.get("/search", params={"q": f"{QUESTION} (one hop, GET)"}).status_code == 200
    assert len(hops) == 1, hops
