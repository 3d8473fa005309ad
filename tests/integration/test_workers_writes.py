"""`citeqa serve --workers 2` takes writes on any worker: each write is one commit under the index's write
lock, every worker opens a new commit when the manifest changes, and a client that wrote version v and
asks for min_version=v reads its own write from whichever worker answers. Queries that run while writes
stream in never fail and each answers from one version."""

from __future__ import annotations

import threading
from pathlib import Path

import httpx

from eval import load_bench

KEY = "workers-key"
AUTH = {"Authorization": f"Bearer {KEY}"}
WRITES = 12


def test_two_workers_take_writes_and_read_their_own(index_copy: Path) -> None:
    env = {"CITEQA_API_KEYS": KEY, "CITEQA_MERGE_SEGMENTS_PER_TIER": "3"}
    with load_bench.running_server(index_copy, workers=2, extra_env=env) as server:
        load_bench.wait_until_ready(server, workers=2)
        failures: list[str] = []
        versions_seen: list[int] = []
        stop = threading.Event()

        def read_while_writing() -> None:
            while not stop.is_set():
                # A new connection per request, so that both workers answer.
                response = httpx.post(
                    f"{server.url}/query", json={"question": "harbor seal note"}, trust_env=False
                )
                if response.status_code != 200:
                    failures.append(response.text)
                    continue
                body = response.json()
                versions_seen.append(body["index_version"])

        reader = threading.Thread(target=read_while_writing)
        reader.start()
        written: dict[str, int] = {}
        try:
            for n in range(WRITES):
                doc_id = f"seal-note-{n}"
                text = f"Harbor seal note {n}: seal {n} rested on rock {n} for {n + 10} minutes."
                put = httpx.put(
                    f"{server.url}/documents/{doc_id}",
                    json={"title": f"Seal note {n}", "text": text},
                    headers=AUTH,
                    trust_env=False,
                    timeout=60,
                )
                assert put.status_code == 200, put.text
                version = put.json()["index_version"]
                written[doc_id] = version
                for _ in range(2):  # two fresh connections: likely both workers
                    asked = {"question": f"seal {n} rested on rock {n}", "top_k": 3, "min_version": version}
                    found = httpx.post(f"{server.url}/query", json=asked, trust_env=False).json()
                    assert found["index_version"] >= version
                    assert doc_id in [r["citation"]["doc_id"] for r in found["results"]]
                    listed = httpx.get(f"{server.url}/documents/{doc_id}", trust_env=False)
                    assert listed.status_code == 200
            too_new = httpx.post(
                f"{server.url}/query",
                json={"question": "seal", "min_version": max(written.values()) + 50},
                trust_env=False,
            )
            assert too_new.status_code == 409 and "does not exist yet" in too_new.json()["message"]
        finally:
            stop.set()
            reader.join()
        assert failures == []
        assert sorted(written.values()) == list(range(2, 2 + WRITES))  # one version per write, in order
        assert versions_seen and max(versions_seen) <= max(written.values())
        final = httpx.get(f"{server.url}/documents", trust_env=False).json()["documents"]
        assert set(written) <= {d["doc_id"] for d in final}
