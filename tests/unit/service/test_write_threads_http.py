"""Writes waiting for the index's write lock do not hold up the other routes (real HTTP, real model and
index): a burst of writes queued behind a long commit used to take every worker thread of the app, so
GET /health, /ready, /metrics and the document reads waited with them (minutes, under the lock's
120 s timeout each)."""

from __future__ import annotations

import asyncio
import threading
from pathlib import Path
from typing import Any

from support import writable_client

from indexer.commit_point import write_lock

KEY = "test-write-key"
AUTH = {"Authorization": f"Bearer {KEY}"}
WRITES = 50  # more than the app's worker threads (40)


def test_writes_queued_behind_the_write_lock_leave_the_other_routes_answering(
    index_copy: Path, encoder: Any
) -> None:
    # Every write is admitted here (the queue of writes holds them all): this is about the threads.
    with writable_client(index_copy, encoder, api_keys=[KEY], max_queued_writes=WRITES) as client:
        doc_id = client.get("/documents").json()["documents"][0]["doc_id"]
        assert client.get("/health").status_code == 200
        tasks_before = client.portal.call(lambda: len(asyncio.all_tasks()))
        statuses: list[int] = []

        def put(n: int) -> None:
            document = {"title": f"Note {n}", "text": f"Puffins nest in burrow number {n}."}
            statuses.append(client.put(f"/documents/note-{n}", json=document, headers=AUTH).status_code)

        writers = [threading.Thread(target=put, args=(n,)) for n in range(WRITES)]
        with write_lock(index_copy):  # a long commit: every write waits for it
            for writer in writers:
                writer.start()
            # Every write request has reached the app (one task each) before the reads are sent.
            while client.portal.call(lambda: len(asyncio.all_tasks())) < tasks_before + WRITES:
                threading.Event().wait(0.01)
            answers: dict[str, int] = {}

            def read() -> None:
                answers["health"] = client.get("/health").status_code
                answers["ready"] = client.get("/ready").status_code
                answers["metrics"] = client.get("/metrics").status_code
                answers["document"] = client.get(f"/documents/{doc_id}").status_code
                answers["query"] = client.post("/query", json={"question": "puffins"}).status_code

            reader = threading.Thread(target=read)
            reader.start()
            reader.join(timeout=60)
            answered_under_the_lock = dict(answers)
        reader.join()
        for writer in writers:
            writer.join()
        assert answered_under_the_lock == {
            "health": 200,
            "ready": 200,
            "metrics": 200,
            "document": 200,
            "query": 200,
        }
        assert statuses == [200] * WRITES
        listed = {d["doc_id"] for d in client.get("/documents").json()["documents"]}
        assert {f"note-{n}" for n in range(WRITES)} <= listed


def test_a_write_past_the_queue_of_writes_is_refused_with_503_before_its_body_is_read(
    index_copy: Path, encoder: Any
) -> None:
    """Each waiting write holds its body (up to 32 MiB): past CITEQA_MAX_QUEUED_WRITES admitted at once,
    one more is answered 503 with Retry-After and a message, and counted in /metrics."""
    queued = 2
    with writable_client(index_copy, encoder, api_keys=[KEY], max_queued_writes=queued) as client:
        statuses: list[int] = []
        refused: dict[str, Any] = {}

        def put(n: int) -> None:
            document = {"title": f"Note {n}", "text": f"Gannets dive from thirty metres, note {n}."}
            statuses.append(client.put(f"/documents/gannet-{n}", json=document, headers=AUTH).status_code)

        def one_more() -> None:
            answer = client.post(
                "/documents/upload",
                content=b"Kittiwakes nest on cliffs.",
                headers={**AUTH, "Content-Type": "text/plain"},
            )
            refused.update(status=answer.status_code, headers=answer.headers, body=answer.json())

        tasks_before = client.portal.call(lambda: len(asyncio.all_tasks()))
        writers = [threading.Thread(target=put, args=(n,)) for n in range(queued)]
        with write_lock(index_copy):  # a long commit: the admitted writes wait for it
            for writer in writers:
                writer.start()
            while client.portal.call(lambda: len(asyncio.all_tasks())) < tasks_before + queued:
                threading.Event().wait(0.01)
            extra = threading.Thread(target=one_more)
            extra.start()
            extra.join(timeout=60)  # answered at once when refused; without the bound it waits for the lock
            # A write without a valid key never takes a place (nor is refused as if the queue were full):
            # without a key, one could keep every writer out.
            note = {"title": "Note", "text": "Shags nest low."}
            keyless = client.put("/documents/shag", json=note)
            wrong = client.put("/documents/shag", json=note, headers={"Authorization": "Bearer wrong"})
        extra.join()
        for writer in writers:
            writer.join()
        assert refused["status"] == 503, refused
        assert keyless.status_code == 401, keyless.text
        assert keyless.headers["www-authenticate"] == "Bearer"
        assert keyless.json() == client.put("/documents/shag", json=note).json()  # as when not queued
        assert keyless.json()["error"] == "unauthorized"
        assert wrong.status_code == 403 and wrong.json()["message"] == "the API key is not valid"
        assert refused["headers"]["retry-after"] == "1"
        assert refused["body"]["error"] == "overloaded"
        message = refused["body"]["message"]
        assert "2 writes" in message and "CITEQA_MAX_QUEUED_WRITES" in message and "retry in 1 s" in message
        assert statuses == [200] * queued
        metrics = client.get("/metrics").text
        assert "citeqa_writes_shed_total 1.0" in metrics
        assert "citeqa_writes_queue_limit 2.0" in metrics
        assert "citeqa_writes_in_flight 0.0" in metrics
