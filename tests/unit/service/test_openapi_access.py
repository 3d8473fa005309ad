"""The OpenAPI document says what the server does: security per operation as service.auth enforces it,
the methods of every path (405 with a full Allow header, OPTIONS answered), the doc_id rule, and 409 for
removing the last document."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from pydantic import SecretStr
from support import BAILEY_ID, OVERVIEW_ID

from citeqa.answers import Answerer
from service.app import create_app
from service.settings import Settings

KEY = "test-key"
READS = {("/query", "post"), ("/search", "get"), ("/examples", "get"), ("/documents", "get")}
READS |= {("/documents/{doc_id}", "get")}
WRITES = {("/documents", "post"), ("/documents/upload", "post"), ("/index/rebuild", "post")}
WRITES |= {("/documents/{doc_id}", "put"), ("/documents/{doc_id}", "delete")}


def operations(client: TestClient) -> dict[tuple[str, str], dict[str, Any]]:
    paths = client.get("/openapi.json").json()["paths"]
    return {(path, method): op for path, ops in paths.items() for method, op in ops.items()}


@pytest.fixture(scope="module")
def keyed_reads(app_settings: Settings, answerer: Answerer) -> Iterator[TestClient]:
    settings = app_settings.model_copy(update={"require_key_for_reads": True, "api_keys": [SecretStr(KEY)]})
    with TestClient(create_app(settings, answerer=answerer)) as client:
        yield client


def test_public_reads_declare_no_key_and_writes_do(client: TestClient) -> None:
    ops = operations(client)
    assert set(ops) == READS | WRITES | {("/health", "get"), ("/ready", "get")}
    for read in READS:
        assert "security" not in ops[read], read
        assert not {"401", "403"} & set(ops[read]["responses"]), read
        assert client.request(read[1].upper(), read[0].replace("{doc_id}", BAILEY_ID), params={"q": "x"})
    for write in WRITES:
        assert ops[write]["security"] == [{"HTTPBearer": []}], write
        assert {"401", "403"} <= set(ops[write]["responses"]), write


def test_keyed_reads_declare_the_key_and_enforce_it(keyed_reads: TestClient) -> None:
    ops = operations(keyed_reads)
    for read in READS:
        assert ops[read]["security"] == [{"HTTPBearer": []}], read
        assert {"401", "403"} <= set(ops[read]["responses"]), read
    assert keyed_reads.get("/search", params={"q": "milia"}).status_code == 401
    wrong = keyed_reads.get("/search", params={"q": "milia"}, headers={"Authorization": "Bearer nope"})
    assert wrong.status_code == 403
    right = keyed_reads.get("/search", params={"q": "milia"}, headers={"Authorization": f"Bearer {KEY}"})
    assert right.status_code == 200


@pytest.mark.parametrize(
    ("method", "path", "allow"),
    [
        ("OPTIONS", "/documents/upload", "POST, OPTIONS"),
        ("GET", "/documents/upload", "POST, OPTIONS"),
        ("PUT", "/documents/upload", "POST, OPTIONS"),
        ("OPTIONS", "/query", "POST, OPTIONS"),
        ("GET", "/query", "POST, OPTIONS"),
        ("OPTIONS", "/search", "GET, HEAD, OPTIONS"),
        ("POST", "/search", "GET, HEAD, OPTIONS"),
        ("DELETE", "/documents", "GET, HEAD, POST, OPTIONS"),
        ("PATCH", f"/documents/{BAILEY_ID}", "GET, HEAD, PUT, DELETE, OPTIONS"),
        ("OPTIONS", f"/documents/{BAILEY_ID}", "GET, HEAD, PUT, DELETE, OPTIONS"),
        ("TRACE", "/health", "GET, HEAD, OPTIONS"),
    ],
)
def test_every_path_names_its_methods(client: TestClient, method: str, path: str, allow: str) -> None:
    response = client.request(method, path)
    assert response.headers["allow"] == allow
    if method == "OPTIONS":
        assert response.status_code == 204 and response.content == b""
    else:
        assert response.status_code == 405
        body = response.json()
        assert body["error"] == "method_not_allowed"
        assert method in body["message"] and allow in body["message"]


def test_a_path_no_route_serves_is_still_404(client: TestClient) -> None:
    assert client.request("PATCH", "/no/such/path").status_code == 404
    assert client.get("/static/no-such-file.css").status_code == 404


def test_the_doc_id_rules_are_in_the_schema(client: TestClient) -> None:
    """New documents follow the doc_id rule; reads and deletes take any id a citation gives."""
    ops = operations(client)
    (put,) = [p for p in ops[("/documents/{doc_id}", "put")]["parameters"] if p["name"] == "doc_id"]
    assert put["schema"]["pattern"].startswith("^[A-Za-z0-9]") and put["schema"]["maxLength"] == 128
    for key in [("/documents/{doc_id}", "get"), ("/documents/{doc_id}", "delete")]:
        (param,) = [p for p in ops[key]["parameters"] if p["name"] == "doc_id"]
        assert "pattern" not in param["schema"] and param["schema"]["maxLength"] == 1024


def test_removing_the_last_document_leaves_an_empty_index_that_answers(
    index_copy: Path, encoder: Any
) -> None:
    from citeqa.search import Searcher
    from indexer.embedding import DEFAULT_MODEL
    from indexer.load import load_index
    from service.wiring import build_answerer

    settings = Settings(index_path=index_copy, model=DEFAULT_MODEL, api_keys=[KEY])
    answerer = build_answerer(settings, Searcher(load_index(index_copy), encoder))
    with TestClient(create_app(settings, answerer=answerer)) as writer:
        auth = {"Authorization": f"Bearer {KEY}"}
        assert writer.delete(f"/documents/{BAILEY_ID}", headers=auth).status_code == 200
        last = writer.delete(f"/documents/{OVERVIEW_ID}", headers=auth)
        assert last.status_code == 200, last.text
        assert writer.get("/documents").json()["documents"] == []
        for mode in ("hybrid", "dense", "bm25"):
            empty = writer.post("/query", json={"question": "what are milia", "mode": mode})
            assert empty.status_code == 200, empty.text
            body = empty.json()
            assert body["results"] == [] and body["index_version"] == last.json()["index_version"]
        assert "409" not in operations(writer)[("/documents/{doc_id}", "delete")]["responses"]
        again = writer.put(
            f"/documents/{OVERVIEW_ID}",
            headers=auth,
            json={"title": "Milia", "text": "Milia are tiny white bumps."},
        )
        assert again.status_code in (200, 201), again.text
        assert writer.post("/query", json={"question": "what are milia"}).json()["results"]


def test_the_query_routes_declare_no_404_they_never_send(client: TestClient) -> None:
    """A filter that matches nothing answers an empty page, not a 404 (the document said 404 before)."""
    ops = operations(client)
    for route in (("/query", "post"), ("/search", "get")):
        assert "404" not in ops[route]["responses"], route
        assert "422" in ops[route]["responses"], route
    nothing = client.get("/search", params={"q": "milia", "filter": "doc_id:no-such-document"})
    assert nothing.status_code == 200 and nothing.json()["results"] == []
    assert "404" in ops[("/documents/{doc_id}", "get")]["responses"]
