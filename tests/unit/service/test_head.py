"""HEAD is answered wherever GET is: the GET's status and headers, no body; POST-only routes still say 405,
and the OpenAPI document lists no HEAD operation."""

from __future__ import annotations

import asyncio

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from prometheus_client.parser import text_string_to_metric_families
from starlette.types import Message
from support import BAILEY_ID

GET_PATHS = [
    "/",
    "/health",
    "/ready",
    "/search?q=milia",
    "/metrics",
    "/documents",
    f"/documents/{BAILEY_ID}",
    f"/documents/{BAILEY_ID}/view",
    "/documents/no-such-doc",
    "/documents/no-such-doc/view",
    "/search",
    "/static/style.css",
    "/no-such-route",
]
# Bodies that change from one request to the next (took_ms, counters): their length may differ too.
VARYING = ("/ready", "/search?q=milia", "/metrics")
SAME_HEADERS = ("content-type", "etag", "cache-control", "content-security-policy", "x-content-type-options")


def raw_head(app: FastAPI, target: str) -> tuple[int, bytes]:
    """HEAD straight through ASGI: what the app itself sends (HTTP clients drop a HEAD body themselves)."""
    path, _, query = target.partition("?")
    scope = {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": "HEAD",
        "scheme": "http",
        "path": path,
        "raw_path": path.encode(),
        "root_path": "",
        "query_string": query.encode(),
        "headers": [(b"host", b"testserver")],
        "client": ("testclient", 50000),
        "server": ("testserver", 80),
    }
    sent: list[Message] = []

    async def call() -> None:
        answered = asyncio.Event()
        requests = [{"type": "http.request", "body": b"", "more_body": False}]

        async def receive() -> Message:
            if requests:
                return requests.pop()
            await answered.wait()
            return {"type": "http.disconnect"}

        async def send(message: Message) -> None:
            sent.append(message)
            if message["type"] == "http.response.body" and not message.get("more_body", False):
                answered.set()

        await app(scope, receive, send)

    asyncio.run(call())
    (start,) = [m for m in sent if m["type"] == "http.response.start"]
    return start["status"], b"".join(m.get("body", b"") for m in sent if m["type"] == "http.response.body")


@pytest.mark.parametrize("path", GET_PATHS)
def test_head_answers_as_get_without_a_body(client: TestClient, path: str) -> None:
    get = client.get(path)
    head = client.head(path)
    assert head.status_code == get.status_code
    assert head.content == b""
    for name in SAME_HEADERS:
        assert head.headers.get(name) == get.headers.get(name), name
    if path not in VARYING:
        assert head.headers["content-length"] == get.headers["content-length"] == str(len(get.content))
    status, body = raw_head(client.app, path)
    assert (status, body) == (get.status_code, b"")
    assert get.content  # the GET has a body: the HEAD left it out


@pytest.mark.parametrize("path", ["/query", "/index/rebuild"])
def test_head_on_a_post_only_route_is_still_405(client: TestClient, path: str) -> None:
    assert client.head(path).status_code == 405
    assert raw_head(client.app, path) == (405, b"")


def test_openapi_lists_no_head_operation(client: TestClient) -> None:
    paths = client.get("/openapi.json").json()["paths"]
    assert paths
    assert not [path for path, operations in paths.items() if "head" in operations]


def head_count(client: TestClient, route: str, status: str) -> float:
    for family in text_string_to_metric_families(client.get("/metrics").text):
        for sample in family.samples:
            labels = sample.labels
            if (sample.name, labels.get("route"), labels.get("method"), labels.get("status")) == (
                "citeqa_http_requests_total",
                route,
                "HEAD",
                status,
            ):
                return sample.value
    return 0.0


def test_head_is_logged_and_counted_as_head_of_its_route(client: TestClient) -> None:
    before = head_count(client, "/documents/{doc_id}", "200")
    client.head(f"/documents/{BAILEY_ID}")
    assert head_count(client, "/documents/{doc_id}", "200") == before + 1
