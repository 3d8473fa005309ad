"""The service under load, over real HTTP (uvicorn on loopback, the real model): questions of concurrent
requests are encoded together and answered as they would be alone; a full queue answers 503 with
Retry-After and counts the shed request; a request whose client disconnects while it waits is not computed
and is counted as skipped.

No test here sleeps for a duration: the server's encoder is held on one question (a threading.Event) to
fill the queue, and every wait polls a condition (bounded)."""

from __future__ import annotations

import json
import re
import socket
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import asdict
from typing import Any
from urllib.parse import urlsplit

import httpx
import numpy as np

from citeqa.search import Searcher
from eval.bench import loopback_server
from indexer.batching_encoder import BatchingEncoder
from indexer.embedding import Encoder
from service.app import create_app
from service.settings import Settings
from service.wiring import build_answerer

HOLD = "hold: "
POLLS = 600  # bounded waits: at most POLLS * POLL_SECONDS
POLL_SECONDS = 0.05
QUESTIONS = [
    "what are milia?",
    "do milia go away on their own?",
    "how are milia treated",
    "what causes white bumps on a baby's nose",
    "is infant acne the same as milia",
    "when should I see a dermatologist",
    "capital of France",
    "are milia contagious",
]


class HeldEncoder:
    """The real encoder; an encode of a question starting with HOLD waits until ``release`` is set."""

    def __init__(self, inner: Encoder) -> None:
        self.inner, self.name, self.dimension = inner, inner.name, inner.dimension
        self.tokenizer = getattr(inner, "tokenizer", None)
        self.held = threading.Event()
        self.release = threading.Event()
        self.seen: list[str] = []

    def encode(self, texts: Sequence[str], batch_size: int = 32) -> np.ndarray:
        if len(texts) == 1:
            self.seen.append(texts[0])
        if any(t.startswith(HOLD) for t in texts):
            self.held.set()
            self.release.wait(timeout=POLLS * POLL_SECONDS)
        return self.inner.encode(texts, batch_size=batch_size)


def poll(condition: Callable[[], bool], what: str) -> None:
    for _ in range(POLLS):
        if condition():
            return
        time.sleep(POLL_SECONDS)
    raise AssertionError(f"never happened: {what}")


def metric(url: str, name: str) -> float:
    text = httpx.get(f"{url}/metrics", trust_env=False).text
    found = re.search(rf"^{name} ([0-9.e+-]+)$", text, re.MULTILINE)
    return float(found.group(1)) if found else 0.0


@contextmanager
def held_server(
    app_settings: Settings, searcher: Searcher, **settings: Any
) -> Iterator[tuple[str, HeldEncoder]]:
    settings = app_settings.model_copy(
        update={"response_cache_size": 0, "question_cache_size": 0, "query_concurrency": 1, **settings}
    )
    held = HeldEncoder(searcher.question_encoder)
    answerer = build_answerer(
        settings,
        Searcher(searcher.index, searcher.encoder, searcher.fusion, None, searcher.query_adapter, held),
    )
    with loopback_server(create_app(settings, answerer=answerer)) as url:
        try:
            yield url, held
        finally:
            held.release.set()


def post(url: str, question: str) -> httpx.Response:
    return httpx.post(f"{url}/query", json={"question": question}, timeout=60, trust_env=False)


def test_a_full_queue_answers_503_with_retry_after_and_counts_the_shed_request(
    app_settings, searcher
) -> None:
    with (
        held_server(app_settings, searcher, max_queued_queries=2) as (url, held),
        ThreadPoolExecutor(2) as pool,
    ):
        computing = pool.submit(post, url, HOLD + "what are milia?")
        assert held.held.wait(POLLS * POLL_SECONDS)
        queued = pool.submit(post, url, "do milia go away?")
        poll(lambda: metric(url, "citeqa_queries_in_flight") == 2, "the second query waits in the queue")

        shed = post(url, "are milia contagious")
        shed_search = httpx.get(f"{url}/search", params={"q": "milia"}, trust_env=False)
        for response in (shed, shed_search):
            assert response.status_code == 503
            assert response.headers["Retry-After"] == "1"
            body = response.json()
            assert body["error"] == "overloaded" and "retry in 1 s" in body["message"]
        assert metric(url, "citeqa_queries_shed_total") == 2
        assert metric(url, "citeqa_queries_queue_limit") == 2

        held.release.set()
        assert computing.result().status_code == 200 and queued.result().status_code == 200
        assert metric(url, "citeqa_queries_in_flight") == 0
        assert post(url, "are milia contagious").status_code == 200  # room again


def raw_post(url: str, question: str) -> socket.socket:
    """A POST /query sent on a raw socket whose response is never read."""
    parts = urlsplit(url)
    body = json.dumps({"question": question}).encode()
    sock = socket.create_connection((parts.hostname, parts.port))
    sock.sendall(
        b"POST /query HTTP/1.1\r\nHost: test\r\nContent-Type: application/json\r\n"
        + f"Content-Length: {len(body)}\r\n\r\n".encode()
        + body
    )
    return sock


def test_a_query_whose_client_left_while_it_waited_is_not_computed(app_settings, searcher) -> None:
    with (
        held_server(app_settings, searcher, max_queued_queries=8) as (url, held),
        ThreadPoolExecutor(1) as pool,
    ):
        computing = pool.submit(post, url, HOLD + "what are milia?")
        assert held.held.wait(POLLS * POLL_SECONDS)
        for n, question in enumerate(("a question nobody waits for", "nor for this one"), start=1):
            sock = raw_post(url, question)
            poll(lambda: metric(url, "citeqa_queries_in_flight") == 2, f"query {n} waits in the queue")
            sock.close()  # the client goes away while its query waits
            poll(lambda n=n: metric(url, "citeqa_queries_skipped_total") == n, f"query {n} is skipped")
            assert metric(url, "citeqa_queries_in_flight") == 1  # it left the queue at once
        held.release.set()
        assert computing.result().status_code == 200
        assert post(url, "do milia go away?").status_code == 200
        assert not any("nobody" in q or "nor for" in q for q in held.seen)  # never encoded
        status = httpx.get(f"{url}/metrics", trust_env=False).text
        assert re.search(
            r'citeqa_http_requests_total\{method="POST",route="/query",status="499"\} 2.0', status
        )


class GatheringEncoder(HeldEncoder):
    """Once armed, the first single question is held until ``waiting`` others are pending in the batcher."""

    def __init__(self, inner: Encoder, waiting: int) -> None:
        super().__init__(inner)
        self.waiting = waiting
        self.batcher: BatchingEncoder | None = None
        self.armed = False

    def encode(self, texts: Sequence[str], batch_size: int = 32) -> np.ndarray:
        if self.armed and len(texts) == 1 and self.batcher is not None:
            self.armed = False
            batcher = self.batcher
            poll(lambda: len(batcher._pending) >= self.waiting, "the other questions are pending")
        return self.inner.encode(texts, batch_size=batch_size)


def test_questions_of_concurrent_requests_are_encoded_together_and_answered_as_alone(
    app_settings, searcher, answerer
) -> None:
    settings = app_settings.model_copy(update={"response_cache_size": 0, "question_cache_size": 0})
    gathering = GatheringEncoder(searcher.question_encoder, waiting=len(QUESTIONS) - 1)
    batcher = BatchingEncoder(gathering, max_batch_size=32)
    served = build_answerer(
        settings,
        Searcher(searcher.index, searcher.encoder, searcher.fusion, None, searcher.query_adapter, batcher),
    )
    gathering.batcher, gathering.armed = batcher, True
    with (
        loopback_server(create_app(settings, answerer=served)) as url,
        ThreadPoolExecutor(len(QUESTIONS)) as pool,
    ):
        responses = list(pool.map(lambda q: post(url, q), QUESTIONS))
        # The first question alone (nothing was pending), then the seven others in one encode call.
        assert metric(url, "citeqa_question_batches_total") == 2
        assert metric(url, "citeqa_question_batched_total") == len(QUESTIONS)
    assert [r.status_code for r in responses] == [200] * len(QUESTIONS)
    for question, response in zip(QUESTIONS, responses, strict=True):
        alone = answerer.respond(question)  # unbatched, in process
        body = response.json()
        assert [r["citation"] for r in body["results"]] == [asdict(r.citation) for r in alone.results]
        got = [r["score"] for r in body["results"]] + [r["relevance"] for r in body["results"]]
        want = [r.score for r in alone.results] + [r.relevance for r in alone.results]
        np.testing.assert_allclose(got, want, atol=1e-5)
        assert abs(body["confidence"] - alone.confidence) < 1e-5 and body["answerable"] == alone.answerable
