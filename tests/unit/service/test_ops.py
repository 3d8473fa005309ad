"""Service hardening over real HTTP: metrics, request ids and JSON logs, health vs readiness, limits,
security headers, opaque 500s and API keys."""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import Iterator
from typing import Any

import pytest
from fastapi import APIRouter, FastAPI
from fastapi.testclient import TestClient
from prometheus_client.parser import text_string_to_metric_families
from pydantic import SecretStr
from support import BAILEY_ID

from citeqa.answers import Answerer
from citeqa.timing import STAGES, listen_to_stages
from service.app import create_app
from service.auth import WriteAccess
from service.deps import get_responses
from service.limits import BodySizeLimit
from service.requestlog import JsonFormatter, request_id_from
from service.settings import Settings

QUESTION = "How long do milia last in babies?"


def app_with(app_settings: Settings, answerer: Answerer, **changes: Any) -> FastAPI:
    return create_app(app_settings.model_copy(update=changes), answerer=answerer)


@pytest.fixture
def fresh(app_settings: Settings, answerer: Answerer) -> Iterator[TestClient]:
    """A new app (its own metrics registry) over the session answerer."""
    with TestClient(app_with(app_settings, answerer)) as client:
        yield client


def samples(client: TestClient) -> dict[str, list[Any]]:
    response = client.get("/metrics")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/plain")
    found: dict[str, list[Any]] = {}
    for family in text_string_to_metric_families(response.text):
        for sample in family.samples:
            found.setdefault(sample.name, []).append(sample)
    return found


def value(found: dict[str, list[Any]], name: str, **labels: str) -> float:
    return sum(s.value for s in found.get(name, []) if all(s.labels.get(k) == v for k, v in labels.items()))


# --- metrics ---------------------------------------------------------------------------------------------


def test_metrics_count_requests_by_route_template_and_status(fresh: TestClient) -> None:
    before = samples(fresh)
    assert fresh.get(f"/documents/{BAILEY_ID}").status_code == 200
    assert fresh.get("/documents/no-such-doc").status_code == 404
    assert fresh.get("/documents/no/such/doc").status_code == 404  # ids may hold "/": the same template
    assert fresh.post("/query", json={"question": QUESTION}).status_code == 200
    after = samples(fresh)
    total = "citeqa_http_requests_total"
    template = {"route": "/documents/{doc_id}", "method": "GET"}
    assert value(after, total, **template, status="200") == value(before, total, **template, status="200") + 1
    assert value(after, total, **template, status="404") == value(before, total, **template, status="404") + 2
    assert value(after, total, route="/query", status="200") == 1
    # No raw path becomes a label.
    assert not any(BAILEY_ID in json.dumps(s.labels) for s in after[total])
    fresh.get("/openapi.json")
    fresh.get("/no/such/route/123")
    later = samples(fresh)
    assert value(later, total, route="/openapi.json", status="200") == 1
    assert value(later, total, route="<unmatched>", status="404") == 1
    latency = "citeqa_http_request_duration_seconds_count"
    assert value(after, latency, route="/query") == 1


def test_metrics_have_stage_histograms_and_index_gauges(fresh: TestClient, answerer: Answerer) -> None:
    for mode in ("hybrid", "bm25"):
        assert fresh.get("/search", params={"q": QUESTION, "mode": mode}).status_code == 200
    found = samples(fresh)
    count = "citeqa_query_stage_duration_seconds_count"
    for stage in ("encode", "dense", "bm25", "fusion", "highlight"):
        assert value(found, count, stage=stage) >= 1, stage
    assert value(found, count, stage="bm25") >= 2  # both queries ran BM25
    assert value(found, count, stage="fusion") == 1  # only the hybrid one fused
    assert value(found, "citeqa_query_stage_duration_seconds_sum", stage="encode") > 0
    index = answerer.searcher.index
    assert value(found, "citeqa_index_documents") == len(index.documents)
    assert value(found, "citeqa_index_passages") == len(index.passages)
    (info,) = found["citeqa_index_info"]
    assert info.labels["model"] == index.model_name
    assert info.labels["built_at"] == index.manifest["created_at"]


def test_two_apps_keep_separate_registries(app_settings: Settings, answerer: Answerer) -> None:
    with (
        TestClient(app_with(app_settings, answerer)) as one,
        TestClient(app_with(app_settings, answerer)) as two,
    ):
        one.get("/documents")
        one.get("/documents")
        two.get("/documents")
        total = "citeqa_http_requests_total"
        assert value(samples(one), total, route="/documents") == 2
        assert value(samples(two), total, route="/documents") == 1


def test_stages_are_reported_only_to_a_listener(answerer: Answerer) -> None:
    heard: list[tuple[str, float]] = []
    answerer.searcher.search(QUESTION, 3, "hybrid")  # nobody listening: nothing recorded anywhere
    with listen_to_stages(lambda name, seconds: heard.append((name, seconds))):
        answerer.respond(QUESTION, 3, "hybrid")
    names = {name for name, _ in heard}
    assert {"encode", "dense", "bm25", "fusion", "highlight"} <= names <= set(STAGES)
    assert all(seconds >= 0 for _, seconds in heard)


# --- request ids and logs --------------------------------------------------------------------------------


def test_request_id_is_echoed(client: TestClient) -> None:
    response = client.get("/health", headers={"X-Request-ID": "abc-123 from client"})
    assert response.headers["x-request-id"] == "abc-123 from client"


@pytest.mark.parametrize("sent", [None, "x" * 129, "bad\tid", "caf\u00e9"])
def test_request_id_is_generated_when_missing_or_unusable(client: TestClient, sent: str | None) -> None:
    headers = {} if sent is None else {"X-Request-ID": sent.encode("latin-1")}
    first = client.get("/health", headers=headers).headers["x-request-id"]
    second = client.get("/health", headers=headers).headers["x-request-id"]
    assert len(first) == 32 and int(first, 16) >= 0
    assert first != second


def test_request_id_rules() -> None:
    assert request_id_from("x" * 128) == "x" * 128
    assert request_id_from("x" * 129) != "x" * 129
    assert request_id_from("line\nbreak") != "line\nbreak"


def test_one_json_log_line_per_request(client: TestClient, caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.INFO, logger="citeqa.access"):
        client.get(f"/documents/{BAILEY_ID}", headers={"X-Request-ID": "trace-me"})
    (record,) = [r for r in caplog.records if getattr(r, "request_id", None) == "trace-me"]
    line = json.loads(JsonFormatter().format(record))
    assert line["request_id"] == "trace-me"
    assert line["method"] == "GET"
    assert line["route"] == "/documents/{doc_id}"
    assert line["status"] == 200
    assert line["duration_ms"] >= 0
    assert line["logger"] == "citeqa.access" and line["level"] == "INFO"


# --- health and readiness --------------------------------------------------------------------------------


def test_ready_when_an_index_answers(client: TestClient, loaded_index: Any) -> None:
    response = client.get("/ready")
    assert response.status_code == 200
    body = response.json()
    assert body["status"] == "ready"
    assert body["documents"] == len(loaded_index.documents)
    assert body["passages"] == len(loaded_index.passages)
    assert client.get("/health").json()["status"] == "ok"


def test_not_ready_before_the_index_is_loaded(app_settings: Settings, answerer: Answerer) -> None:
    # Without entering the client, the lifespan (which loads the index) never runs.
    client = TestClient(app_with(app_settings, answerer))
    response = client.get("/ready")
    assert response.status_code == 503
    assert response.json()["status"] == "not_ready"
    assert "no index loaded" in response.json()["message"]


# --- limits, headers, errors -----------------------------------------------------------------------------


def test_body_over_the_limit_is_413(app_settings: Settings, answerer: Answerer) -> None:
    with TestClient(app_with(app_settings, answerer, max_body_bytes=1000)) as small:
        ok = small.post("/query", json={"question": "milia " * 100})
        assert ok.status_code == 200
        response = small.post("/query", json={"question": "milia " * 200})
        assert response.status_code == 413
        assert response.json()["error"] == "payload_too_large"
        assert "1000 bytes" in response.json()["message"]
        assert response.headers["x-content-type-options"] == "nosniff"
        assert response.headers["x-request-id"]
        total = "citeqa_http_requests_total"
        assert value(samples(small), total, route="/query", status="413") == 1

        def chunks() -> Iterator[bytes]:  # no Content-Length: the bytes are counted as they come
            yield b'{"question": "'
            yield b"m" * 2000
            yield b'"}'

        streamed = small.post("/query", content=chunks(), headers={"Content-Type": "application/json"})
        assert "content-length" not in streamed.request.headers
        assert streamed.status_code == 413


def test_default_body_limit_is_160_kib(client: TestClient) -> None:
    response = client.post(
        "/query", content=b"x" * (160 * 1024 + 1), headers={"Content-Type": "application/json"}
    )
    assert response.status_code == 413
    assert "163840 bytes" in response.json()["message"]


def test_body_limit_counts_streamed_chunks() -> None:
    reached: list[bytes] = []

    async def app(scope: Any, receive: Any, send: Any) -> None:
        reached.append((await receive())["body"])
        await send({"type": "http.response.start", "status": 200, "headers": []})
        await send({"type": "http.response.body", "body": b""})

    async def run(body_chunks: list[bytes]) -> int:
        messages = [
            {"type": "http.request", "body": c, "more_body": i < len(body_chunks) - 1}
            for i, c in enumerate(body_chunks)
        ]
        sent: list[dict] = []

        async def receive() -> dict:
            return messages.pop(0)

        async def send(message: dict) -> None:
            sent.append(message)

        scope = {"type": "http", "method": "POST", "path": "/", "headers": []}
        await BodySizeLimit(app, limit=10)(scope, receive, send)
        return sent[0]["status"]

    assert asyncio.run(run([b"12345", b"12345"])) == 200
    assert reached == [b"1234512345"]
    assert asyncio.run(run([b"12345", b"12345", b"1"])) == 413
    assert len(reached) == 1


@pytest.mark.parametrize(
    "doc_id", ["a..b", "bad%00id", "has%20space", "-leading-dash", "x" * 129, "tab%09id"]
)
def test_an_unknown_doc_id_of_any_shape_is_404(client: TestClient, doc_id: str) -> None:
    """Reads take any id a citation can give (a BEIR corpus keeps its own ids), so an id outside the rule
    for new documents is simply not found."""
    response = client.get(f"/documents/{doc_id}")
    assert response.status_code == 404, doc_id
    assert response.json()["error"] == "not_found" and "no document" in response.json()["message"]
    assert client.get(f"/documents/{doc_id}/view").status_code == 404
    assert client.get(f"/documents/{BAILEY_ID}/view").status_code == 200


def test_a_doc_id_longer_than_any_citation_gives_is_422(client: TestClient) -> None:
    response = client.get(f"/documents/{'x' * 1025}")
    assert response.status_code == 422 and response.json()["error"] == "invalid_doc_id"
    assert "1024" in response.json()["message"]


@pytest.mark.parametrize("path", ["/health", "/ready", "/documents", "/metrics", "/no-such-route", "/"])
def test_security_headers_on_every_response(client: TestClient, path: str) -> None:
    response = client.get(path)
    assert response.headers["x-content-type-options"] == "nosniff"
    assert response.headers["referrer-policy"]
    if path == "/":
        assert "default-src 'self'" in response.headers["content-security-policy"]


def test_unexpected_error_is_an_opaque_500(app_settings: Settings, answerer: Answerer) -> None:
    app = app_with(app_settings, answerer)

    def broken() -> Answerer:
        raise RuntimeError(f"secret detail in {__file__}")

    app.dependency_overrides[get_responses] = broken
    with TestClient(app, raise_server_exceptions=False) as client:
        response = client.post("/query", json={"question": QUESTION}, headers={"X-Request-ID": "boom-1"})
    assert response.status_code == 500
    assert response.json() == {"error": "internal_error", "message": "internal error; see server log"}
    assert "Traceback" not in response.text and "secret" not in response.text and ".py" not in response.text
    assert response.headers["x-request-id"] == "boom-1"
    assert response.headers["x-content-type-options"] == "nosniff"


# --- API keys --------------------------------------------------------------------------------------------


def keyed_app(app_settings: Settings, answerer: Answerer, keys: list[str], **changes: Any) -> FastAPI:
    """The real app plus a tiny write endpoint guarded by the write dependency (none exists yet)."""
    app = app_with(app_settings, answerer, api_keys=[SecretStr(k) for k in keys], **changes)
    router = APIRouter()

    @router.post("/test-write", dependencies=[WriteAccess])
    def write() -> dict[str, bool]:
        return {"written": True}

    app.include_router(router)
    return app


def test_write_needs_a_valid_key(app_settings: Settings, answerer: Answerer) -> None:
    with TestClient(keyed_app(app_settings, answerer, ["k-one", "k-two"])) as client:
        missing = client.post("/test-write")
        assert missing.status_code == 401
        assert missing.headers["www-authenticate"] == "Bearer"
        assert missing.json()["error"] == "unauthorized"
        wrong = client.post("/test-write", headers={"Authorization": "Bearer k-three"})
        assert wrong.status_code == 403
        assert wrong.json()["error"] == "forbidden"
        assert client.post("/test-write", headers={"Authorization": "Basic k-one"}).status_code == 401
        for key in ("k-one", "k-two"):
            ok = client.post("/test-write", headers={"Authorization": f"Bearer {key}"})
            assert ok.status_code == 200 and ok.json() == {"written": True}
        # Reads stay open by default.
        assert client.post("/query", json={"question": QUESTION}).status_code == 200


def test_write_is_refused_when_no_key_is_configured(app_settings: Settings, answerer: Answerer) -> None:
    with TestClient(keyed_app(app_settings, answerer, [])) as client:
        response = client.post("/test-write", headers={"Authorization": "Bearer anything"})
        assert response.status_code == 403
        assert "CITEQA_API_KEYS" in response.json()["message"]


def test_keys_for_reads(app_settings: Settings, answerer: Answerer) -> None:
    app = keyed_app(app_settings, answerer, ["reader"], require_key_for_reads=True)
    with TestClient(app) as client:
        body = {"question": QUESTION}
        assert client.post("/query", json=body).status_code == 401
        assert client.post("/query", json=body, headers={"Authorization": "Bearer nope"}).status_code == 403
        answered = client.post("/query", json=body, headers={"Authorization": "Bearer reader"})
        assert answered.status_code == 200 and answered.json()["results"]
        assert client.get("/search", params={"q": QUESTION}).status_code == 401
        assert client.get(f"/documents/{BAILEY_ID}").status_code == 401
        for open_path in ("/health", "/ready", "/", "/static/style.css"):
            assert client.get(open_path).status_code == 200, open_path


def test_search_answers_that_need_a_key_are_kept_from_shared_caches(
    app_settings: Settings, answerer: Answerer
) -> None:
    """With CITEQA_REQUIRE_KEY_FOR_READS, GET /search said "Cache-Control: public", which lets a proxy or
    CDN store a key holder's answer and serve it to a request without a key (RFC 9111 3.5)."""
    app = keyed_app(app_settings, answerer, ["reader"], require_key_for_reads=True)
    with TestClient(app) as client:
        answered = client.get("/search", params={"q": QUESTION}, headers={"Authorization": "Bearer reader"})
        assert answered.status_code == 200
        cache_control = answered.headers["cache-control"]
        assert "private" in cache_control and "public" not in cache_control
        assert "max-age=60" in cache_control and answered.headers["etag"]
        revalidated = client.get(
            "/search",
            params={"q": QUESTION},
            headers={"Authorization": "Bearer reader", "If-None-Match": answered.headers["etag"]},
        )
        assert revalidated.status_code == 304 and revalidated.headers["cache-control"] == cache_control
    with TestClient(keyed_app(app_settings, answerer, ["reader"])) as open_reads:
        assert open_reads.get("/search", params={"q": QUESTION}).headers["cache-control"] == (
            "public, max-age=60"
        )


def test_api_keys_setting_is_comma_separated_and_secret(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CITEQA_API_KEYS", " k3y-alpha , k3y-beta,, ")
    monkeypatch.setenv("CITEQA_REQUIRE_KEY_FOR_READS", "true")
    settings = Settings()
    assert [k.get_secret_value() for k in settings.api_keys] == ["k3y-alpha", "k3y-beta"]
    assert settings.require_key_for_reads
    assert "k3y" not in repr(settings)


def test_a_body_that_is_not_utf8_is_422(client: TestClient) -> None:
    # Found by the schemathesis run: FastAPI answered 400 "There was an error parsing the body".
    response = client.post(
        "/query", content=b'{"question": "\xff\xfe"}', headers={"Content-Type": "application/json"}
    )
    assert response.status_code == 422
    assert response.json()["error"] == "invalid_request"
    assert "UTF-8" in response.json()["message"]


def test_metrics_are_served_while_the_index_folder_cannot_be_opened(index_copy: Any, encoder: Any) -> None:
    """A manifest.json broken under a running service (a botched edit, a full disk): queries get 503
    naming it, as they should, but GET /metrics answered that 503 too, so the scrape that would show the
    503s failed. The metrics now report the commit last served; the gauges follow the folder again once
    it opens."""
    from support import writable_client

    manifest = index_copy / "manifest.json"
    good = manifest.read_text(encoding="utf-8")
    with writable_client(index_copy, encoder) as client:
        assert client.post("/query", json={"question": "what are milia"}).status_code == 200
        manifest.write_text('{"format": ', encoding="utf-8")
        refused = client.post("/query", json={"question": "are milia contagious"})
        assert refused.status_code == 503 and "manifest.json is not valid JSON" in refused.json()["message"]
        scraped = client.get("/metrics")
        assert scraped.status_code == 200, scraped.text
        families = {f.name: f for f in text_string_to_metric_families(scraped.text)}
        assert families["citeqa_index_documents"].samples[0].value == 2
        statuses = {
            (s.labels["route"], s.labels["status"]): s.value
            for s in families["citeqa_http_requests"].samples
            if s.name == "citeqa_http_requests_total"
        }
        assert statuses[("/query", "503")] == 1
        manifest.write_text(good, encoding="utf-8")
        assert client.post("/query", json={"question": "are milia contagious"}).status_code == 200
        assert client.get("/metrics").status_code == 200


def test_health_says_the_process_is_up_while_the_index_folder_cannot_be_opened(
    index_copy: Any, encoder: Any
) -> None:
    """GET /health "says the process is up" (README), but it answered 503 with the queries while the
    manifest could not be read, so a liveness probe would restart a process that fixing the folder brings
    back (found by a probe of damaged folders). It now answers 200, "degraded", saying what is wrong;
    /ready stays 503, as the readiness probe should."""
    from support import writable_client

    manifest = index_copy / "manifest.json"
    good = manifest.read_text(encoding="utf-8")
    with writable_client(index_copy, encoder) as client:
        healthy = client.get("/health")
        assert healthy.status_code == 200 and healthy.json()["status"] == "ok"
        assert healthy.json()["message"] is None
        manifest.write_text('{"format": ', encoding="utf-8")
        degraded = client.get("/health")
        assert degraded.status_code == 200, degraded.text
        body = degraded.json()
        assert body["status"] == "degraded" and "manifest.json is not valid JSON" in body["message"]
        assert body["index"]["documents"] == 2  # the commit last served
        assert client.get("/ready").status_code == 503
        manifest.write_text(good, encoding="utf-8")
        assert client.get("/health").json()["status"] == "ok"
        assert client.get("/ready").status_code == 200


def test_the_longest_question_is_taken_however_its_json_escapes_it(client: TestClient) -> None:
    """10,000 characters are allowed; as json.dumps writes them by default (ASCII, surrogate pairs), 10,000
    emoji are 120 kB, which the default body limit refused with 413 before (64 KiB)."""
    body = json.dumps({"question": "\N{BREAD}" * 9_995 + "milia", "top_k": 1})
    assert len(body.encode()) > 110_000
    response = client.post("/query", content=body, headers={"Content-Type": "application/json"})
    assert response.status_code == 200, response.text
    assert response.json()["question"].endswith("milia")


def test_the_article_page_tells_no_one_without_a_key_which_documents_exist(
    app_settings: Settings, answerer: Answerer
) -> None:
    """Found by the security probe: with CITEQA_REQUIRE_KEY_FOR_READS, GET /documents/{doc_id} answers 401
    without a key, but its article page answered 200 for a doc_id that exists and 404 for one that does
    not, so anyone could test which documents the index holds. Without a valid key the page is 200 either
    way (its module's own read then gets the 401); with one, and without the setting, 404 stays."""
    app = keyed_app(app_settings, answerer, ["reader"], require_key_for_reads=True)
    with TestClient(app) as client:
        for headers in ({}, {"Authorization": "Bearer nope"}):
            for doc_id in (BAILEY_ID, "no-such-document"):
                page = client.get(f"/documents/{doc_id}/view", headers=headers)
                assert page.status_code == 200, (doc_id, headers)
                assert page.headers["content-type"].startswith("text/html")
            assert client.get(f"/documents/{BAILEY_ID}", headers=headers).status_code in (401, 403)
        reader = {"Authorization": "Bearer reader"}
        assert client.get(f"/documents/{BAILEY_ID}/view", headers=reader).status_code == 200
        assert client.get("/documents/no-such-document/view", headers=reader).status_code == 404
    with TestClient(app_with(app_settings, answerer)) as client:
        assert client.get("/documents/no-such-document/view").status_code == 404
