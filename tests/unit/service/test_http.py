"""The HTTP API through the real app (FastAPI TestClient over the session searcher): bodies, citations
that resolve against /documents/{doc_id}, health, error responses, and CORS."""

from __future__ import annotations

from typing import Any

import pytest
from fastapi.testclient import TestClient
from support import ALLOWED_ORIGIN, BAILEY_ID, OVERVIEW_ID

from citeqa.answers import Answerer
from citeqa.search import MAX_QUESTION_CHARS, Searcher
from citeqa.types import SEARCH_MODES
from indexer.embedding import DEFAULT_MODEL
from indexer.load import LoadedIndex
from service.app import create_app
from service.settings import Settings

RESPONSE_KEYS = {
    "question",
    "mode",
    "took_ms",
    "answerable",
    "confidence",
    "answer",
    "offset",
    "has_more",
    "index_version",
    "results",
}
RESULT_KEYS = {"rank", "score", "relevance", "text", "citation", "highlights", "snippet"}
CITATION_KEYS = {"doc_id", "title", "url", "author", "publisher", "start", "end", "page", "page_end"}
QUESTIONS = [
    "what are milia",
    "is it safe to pop milia with a needle",
    "my 5 month old son has milia on his chin",
]


def check_query_body(body: dict[str, Any], question: str, mode: str, top_k: int) -> None:
    assert set(body) == RESPONSE_KEYS
    assert body["question"] == question
    assert body["mode"] == mode
    assert isinstance(body["took_ms"], float) and body["took_ms"] >= 0
    results = body["results"]
    assert 0 < len(results) <= top_k
    assert [r["rank"] for r in results] == list(range(1, len(results) + 1))
    scores = [r["score"] for r in results]
    assert all(isinstance(s, float) for s in scores)
    assert scores == sorted(scores, reverse=True)
    for result in results:
        assert set(result) == RESULT_KEYS
        assert set(result["citation"]) == CITATION_KEYS
        assert isinstance(result["text"], str) and result["text"]


def check_error(response: Any, status: int, *fragments: str) -> dict[str, Any]:
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith("application/json")
    body = response.json()
    assert isinstance(body, dict)
    assert isinstance(body.get("error"), str) and body["error"]
    assert isinstance(body.get("message"), str) and body["message"]
    assert "Traceback" not in response.text and 'File "' not in response.text
    for fragment in fragments:
        assert fragment.lower() in body["message"].lower(), f"{fragment!r} not in {body['message']!r}"
    return body


# --- POST /query and GET /search ------------------------------------------------------------------


def test_query_defaults(client: TestClient) -> None:
    response = client.post("/query", json={"question": "what are milia"})
    assert response.status_code == 200
    body = response.json()
    check_query_body(body, "what are milia", "hybrid", 5)
    assert len(body["results"]) == 5


@pytest.mark.parametrize("mode", SEARCH_MODES)
@pytest.mark.parametrize("top_k", [1, 3, 50])
def test_query_modes_and_top_k(client: TestClient, loaded_index: LoadedIndex, mode: str, top_k: int) -> None:
    question = "how do you treat milia in adults"
    response = client.post("/query", json={"question": question, "top_k": top_k, "mode": mode})
    assert response.status_code == 200
    body = response.json()
    check_query_body(body, question, mode, top_k)
    if mode != "bm25":
        # Overlapping passages merge (or are trimmed to their new part): fewer than top_k come back only
        # when the results already show every passage of the index, wholly or at least three quarters.
        spans = [
            (r["citation"]["doc_id"], r["citation"]["start"], r["citation"]["end"]) for r in body["results"]
        ]
        shown = all(
            sum(max(0, min(e, p.end) - max(s, p.start)) for d, s, e in spans if d == p.doc_id)
            >= 0.75 * (p.end - p.start) - 2  # a trimmed gap loses its surrounding whitespace
            for p in loaded_index.passages
        )
        assert len(body["results"]) == top_k or shown


def test_query_matches_the_library(client: TestClient, searcher: Searcher) -> None:
    question = "can milia turn up on a babys skin out of nowhere"
    body = client.post("/query", json={"question": question, "top_k": 7, "mode": "hybrid"}).json()
    results = Answerer(searcher).results(question, "hybrid")[:7]
    assert [
        (r["citation"]["doc_id"], r["citation"]["start"], r["citation"]["end"]) for r in body["results"]
    ] == [(r.citation.doc_id, r.citation.start, r.citation.end) for r in results]
    assert [r["score"] for r in body["results"]] == pytest.approx([r.score for r in results])
    # Each result is headed by the passage the plain search ranks there (merging only widens the span).
    ranked = searcher.rank(question, 50, "hybrid").ids.tolist()
    heads = [ranked.index(r.passage_ids[0]) for r in results]
    assert heads == sorted(heads) and heads[0] == 0


def test_citations_carry_the_document_metadata(client: TestClient) -> None:
    results = client.post("/query", json={"question": "milia", "top_k": 50, "mode": "dense"}).json()[
        "results"
    ]
    by_doc = {r["citation"]["doc_id"]: r["citation"] for r in results}
    assert set(by_doc) == {BAILEY_ID, OVERVIEW_ID}
    bailey, overview = by_doc[BAILEY_ID], by_doc[OVERVIEW_ID]
    assert bailey["title"] == "Baby Milia from Baby Acne"
    assert bailey["author"] == "Cynthia Bailey MD"
    assert bailey["publisher"] == "Dr. Bailey Skin Care"
    assert bailey["url"].startswith("https://drbaileyskincare.com/")
    assert overview["url"] is None and overview["publisher"] is None and overview["author"] is None


def test_search_get_matches_post_query_and_is_cacheable(client: TestClient) -> None:
    question = "does laser work on milia"
    get = client.get("/search", params={"q": question, "k": 4, "mode": "dense"})
    assert get.status_code == 200
    cache_control = get.headers.get("cache-control", "")
    assert "max-age" in cache_control
    post = client.post("/query", json={"question": question, "top_k": 4, "mode": "dense"})
    assert "max-age" not in post.headers.get("cache-control", "")
    got, posted = get.json(), post.json()
    check_query_body(got, question, "dense", 4)
    assert {k: v for k, v in got.items() if k != "took_ms"} == {
        k: v for k, v in posted.items() if k != "took_ms"
    }


def test_search_defaults(client: TestClient) -> None:
    body = client.get("/search", params={"q": "milia in newborns"}).json()
    check_query_body(body, "milia in newborns", "hybrid", 5)
    assert len(body["results"]) == 5


# --- documents: every citation resolves exactly ---------------------------------------------------


def test_documents_list(client: TestClient, loaded_index: LoadedIndex) -> None:
    response = client.get("/documents")
    assert response.status_code == 200
    documents = response.json()["documents"]
    assert [d["doc_id"] for d in documents] == [BAILEY_ID, OVERVIEW_ID]
    for summary in documents:
        document = loaded_index.documents[summary["doc_id"]]
        assert summary["title"] == document.title
        assert summary["url"] == document.url
        assert summary["publisher"] == document.publisher
        assert summary["author"] == document.author
        assert summary["provenance"] == document.provenance
        assert summary["chars"] == len(document.text)
        assert "text" not in summary


def test_documents_are_listed_a_page_at_a_time(client: TestClient) -> None:
    """GET /documents pages (offset, limit; 1000 a page unless asked) so that a corpus of millions is not
    one response; an unknown or out-of-range parameter is a 422 naming it (it was ignored)."""
    whole = client.get("/documents").json()
    assert (whole["total"], whole["offset"], whole["next_offset"]) == (2, 0, None)
    first = client.get("/documents", params={"limit": 1}).json()
    assert [d["doc_id"] for d in first["documents"]] == [BAILEY_ID]
    assert (first["total"], first["next_offset"]) == (2, 1)
    second = client.get("/documents", params={"offset": first["next_offset"], "limit": 1}).json()
    assert [d["doc_id"] for d in second["documents"]] == [OVERVIEW_ID] and second["next_offset"] is None
    beyond = client.get("/documents", params={"offset": 5}).json()
    assert beyond["documents"] == [] and beyond["total"] == 2 and beyond["next_offset"] is None
    for wrong in (
        {"limit": 0},
        {"limit": 10_001},
        {"offset": -1},
        {"offset": 2**63},
        {"limit": "all"},
        {"page": 2},
    ):
        refused = client.get("/documents", params=wrong)
        assert refused.status_code == 422, wrong
        assert next(iter(wrong)) in refused.json()["message"]


def test_a_documents_parameter_given_twice_is_refused(client: TestClient) -> None:
    # Was: ?limit=1&limit=2 answered with the last value, where GET /search refuses a repeated parameter.
    refused = client.get("/documents?limit=1&limit=2")
    assert refused.status_code == 422
    assert refused.json()["message"] == "parameter 'limit' given 2 times; give each once"
    searched = client.get("/search?q=milia&k=1&k=2")
    assert searched.json()["message"] == "parameter 'k' given 2 times; give each once (only filter repeats)"


def test_a_documents_page_reads_only_its_own_documents(loaded_index: LoadedIndex) -> None:
    """Skipping to a page must not read the documents before it (a shard round trip each on a sharded
    index): found in review, where islice over the values read all 25 skipped ones."""
    from collections.abc import Iterator, Mapping

    from corpus.types import Document
    from service.query_contract import DocumentsPage
    from service.routes.documents import documents

    base = next(iter(loaded_index.documents.values()))

    class Counting(Mapping[str, Document]):
        def __init__(self) -> None:
            self.read: list[str] = []

        def __getitem__(self, doc_id: str) -> Document:
            self.read.append(doc_id)
            return base

        def __iter__(self) -> Iterator[str]:
            return iter(f"d{i}" for i in range(40))

        def __len__(self) -> int:
            return 40

    found = Counting()
    page = documents(found, DocumentsPage(offset=25, limit=2))
    assert found.read == ["d25", "d26"] and page.total == 40 and page.next_offset == 27


def test_document_by_id(client: TestClient, loaded_index: LoadedIndex) -> None:
    for doc_id, document in loaded_index.documents.items():
        body = client.get(f"/documents/{doc_id}").json()
        assert body["doc_id"] == doc_id
        assert body["text"] == document.text
        assert body["title"] == document.title
        assert body["metadata"] == dict(document.metadata)


def test_a_document_read_refuses_query_parameters_by_name(client: TestClient) -> None:
    """Found by a probe: GET /documents/{doc_id}?start=6450&end=6509 (or ?fields=text) answered the whole
    document as if the parameters were obeyed; as GET /documents and GET /search do, it names them."""
    refused = client.get(f"/documents/{OVERVIEW_ID}", params={"start": 6450, "end": 6509})
    assert refused.status_code == 422 and refused.json()["error"] == "invalid_request"
    message = refused.json()["message"]
    assert "reads no query parameter" in message and "/view?start=&end=" in message
    assert [d["field"] for d in refused.json()["detail"]] == ["start", "end"]
    assert client.get(f"/documents/{OVERVIEW_ID}").status_code == 200
    assert client.head(f"/documents/{OVERVIEW_ID}").status_code == 200


@pytest.mark.parametrize("mode", SEARCH_MODES)
@pytest.mark.parametrize("question", QUESTIONS)
def test_every_result_quotes_its_document(client: TestClient, mode: str, question: str) -> None:
    results = client.post("/query", json={"question": question, "top_k": 50, "mode": mode}).json()["results"]
    assert results
    texts: dict[str, str] = {}
    for result in results:
        citation = result["citation"]
        if citation["doc_id"] not in texts:
            document = client.get(f"/documents/{citation['doc_id']}").json()
            texts[citation["doc_id"]] = document["text"]
            assert document["title"] == citation["title"] and document["url"] == citation["url"]
        assert texts[citation["doc_id"]][citation["start"] : citation["end"]] == result["text"]


# --- health ---------------------------------------------------------------------------------------


def test_health(client: TestClient, loaded_index: LoadedIndex) -> None:
    response = client.get("/health")
    assert response.status_code == 200
    body = response.json()
    assert body["status"] == "ok"
    index = body["index"]
    assert index["passages"] == len(loaded_index.passages)
    assert index["model"] == DEFAULT_MODEL
    assert index["built_at"] == loaded_index.manifest["created_at"]
    assert index["documents"] == 2


# --- errors ---------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("body", "fragments"),
    [
        ({"question": ""}, ["question", "empty"]),
        ({"question": "   \n\t "}, ["question", "empty"]),
        ({"question": "x" * 10_001}, ["question", "10000"]),
        ({"question": "milia", "top_k": 0}, ["top_k", "1"]),
        ({"question": "milia", "top_k": 51}, ["top_k", "50"]),
        ({"question": "milia", "top_k": "many"}, ["top_k"]),
        ({"question": "milia", "mode": "sparse"}, ["mode", "hybrid", "dense", "bm25"]),
        ({"question": "milia", "colour": "red"}, ["colour"]),
        ({"top_k": 3}, ["question"]),
        ({"question": 42}, ["question"]),
        (["what are milia"], ["object"]),
        ("what are milia", ["object"]),
    ],
    ids=[
        "empty",
        "whitespace",
        "too-long",
        "top_k-0",
        "top_k-51",
        "top_k-not-int",
        "unknown-mode",
        "extra-field",
        "missing-question",
        "question-not-string",
        "array-body",
        "string-body",
    ],
)
def test_query_bad_input(client: TestClient, body: Any, fragments: list[str]) -> None:
    check_error(client.post("/query", json=body), 422, *fragments)


@pytest.mark.parametrize("headers", [{"Content-Type": "application/json"}, {}], ids=["json", "no-type"])
def test_query_without_a_body_says_to_send_one(client: TestClient, headers: dict[str, str]) -> None:
    """Found by a probe: an empty POST /query answered "Field required", naming no field."""
    response = client.post("/query", content=b"", headers=headers)
    check_error(response, 422, "request body is empty", '{"question": "..."}')
    assert response.json()["detail"][0]["field"] is None


def test_a_question_of_the_longest_allowed_length_is_accepted(client: TestClient) -> None:
    question = ("milia " * 2000)[:MAX_QUESTION_CHARS]
    response = client.post("/query", json={"question": question, "top_k": 1})
    assert response.status_code == 200
    assert len(response.json()["results"]) == 1


@pytest.mark.parametrize("raw", [b'{"question": ', b"{'question': 'x'}", b"", b"\xff\xfe"])
def test_query_malformed_json(client: TestClient, raw: bytes) -> None:
    response = client.post("/query", content=raw, headers={"content-type": "application/json"})
    assert 400 <= response.status_code < 500
    check_error(response, response.status_code)
    if raw:
        assert "json" in response.json()["message"].lower()


@pytest.mark.parametrize(
    ("params", "fragments"),
    [
        ({"q": ""}, ["q"]),
        ({"q": "   "}, ["question", "empty"]),
        ({}, ["q"]),
        ({"q": "x" * 10_001}, ["q", "10000"]),
        ({"q": "milia", "k": 0}, ["k"]),
        ({"q": "milia", "k": 51}, ["k", "50"]),
        ({"q": "milia", "mode": "sparse"}, ["mode"]),
    ],
)
def test_search_bad_input(client: TestClient, params: dict[str, Any], fragments: list[str]) -> None:
    check_error(client.get("/search", params=params), 422, *fragments)


def test_unknown_document_is_404(client: TestClient) -> None:
    check_error(client.get("/documents/no-such-doc"), 404, "no-such-doc")


def test_unknown_route_is_404(client: TestClient) -> None:
    check_error(client.get("/no/such/route"), 404)
    check_error(client.post("/querry", json={"question": "milia"}), 404)


@pytest.mark.parametrize(
    ("method", "path"), [("GET", "/query"), ("PUT", "/query"), ("DELETE", "/documents"), ("POST", "/health")]
)
def test_wrong_method_is_405(client: TestClient, method: str, path: str) -> None:
    response = client.request(method, path)
    check_error(response, 405, method)
    assert response.headers.get("allow")


# --- CORS -----------------------------------------------------------------------------------------


def preflight(client: TestClient, origin: str) -> Any:
    return client.options(
        "/query",
        headers={
            "Origin": origin,
            "Access-Control-Request-Method": "POST",
            "Access-Control-Request-Headers": "content-type",
        },
    )


def test_cors_preflight_from_the_allowed_origin(client: TestClient) -> None:
    response = preflight(client, ALLOWED_ORIGIN)
    assert response.status_code == 200
    assert response.headers["access-control-allow-origin"] == ALLOWED_ORIGIN
    assert "POST" in response.headers["access-control-allow-methods"]
    assert "content-type" in response.headers["access-control-allow-headers"].lower()


def test_cors_preflight_from_another_origin(client: TestClient) -> None:
    response = preflight(client, "http://evil.test")
    assert response.status_code == 400
    assert response.headers.get("access-control-allow-origin") not in {"http://evil.test", "*"}
    # The JSON error body every refusal has (Starlette's was plain text). Found by the security probe.
    assert response.headers["content-type"] == "application/json"
    body = response.json()
    assert body["error"] == "cors_refused"
    assert "not allowed: its origin" in body["message"] and "CITEQA_CORS_ORIGINS" in body["message"]


def test_cors_simple_request_headers(client: TestClient) -> None:
    allowed = client.get("/health", headers={"Origin": ALLOWED_ORIGIN})
    assert allowed.headers.get("access-control-allow-origin") == ALLOWED_ORIGIN
    other = client.get("/health", headers={"Origin": "http://evil.test"})
    assert other.status_code == 200
    assert "access-control-allow-origin" not in other.headers


def test_no_cors_unless_configured(searcher: Searcher, default_index_path: Any) -> None:
    settings = Settings(index_path=default_index_path, model=DEFAULT_MODEL, cors_origins=[])
    with TestClient(create_app(settings, searcher)) as plain:
        response = preflight(plain, ALLOWED_ORIGIN)
        assert "access-control-allow-origin" not in response.headers
        assert plain.get("/health", headers={"Origin": ALLOWED_ORIGIN}).status_code == 200
