"""Readers never block on writers and never see a half-written index: several clients query a real
uvicorn server (loopback, free port) while a writer streams puts and deletes and a full rebuild runs.
Zero failed requests; every response names a version that existed, and cites only documents that this
version holds (the document set of each version is known from the write responses)."""

from __future__ import annotations

import threading
from pathlib import Path
from typing import Any

import httpx

from citeqa.search import Searcher
from eval.bench import loopback_server
from indexer.embedding import DEFAULT_MODEL
from indexer.load import load_index
from service.app import create_app
from service.settings import Settings
from service.wiring import build_answerer

KEY = "concurrency-key"
AUTH = {"Authorization": f"Bearer {KEY}"}
READERS = 3
WRITES = 24
QUESTION = "what do okapis eat in the forest"


def okapi(n: int) -> dict[str, Any]:
    return {
        "doc_id": f"okapi-{n}",
        "title": f"Okapi note {n}",
        "text": f"Okapis eat leaves, buds and fungi in the forest. Note {n} says okapi number {n} eats clay.",
    }


def test_readers_during_writes_and_rebuild(index_copy: Path, encoder: Any) -> None:
    settings = Settings(index_path=index_copy, model=DEFAULT_MODEL, api_keys=[KEY])
    answerer = build_answerer(settings, Searcher(load_index(index_copy), encoder))
    initial = set(answerer.searcher.index.documents)
    ops: dict[int, tuple[str, str | None]] = {}  # version -> (op, doc_id)
    responses: list[dict[str, Any]] = []
    failures: list[str] = []
    done = threading.Event()
    with loopback_server(create_app(settings, answerer=answerer)) as url:
        try:

            def read() -> None:
                with httpx.Client(base_url=url, timeout=60, trust_env=False) as http:
                    while not done.is_set():
                        for response in (
                            http.post("/query", json={"question": QUESTION, "top_k": 10}),
                            http.get("/search", params={"q": QUESTION, "k": 10, "mode": "bm25"}),
                        ):
                            if response.status_code != 200:
                                failures.append(f"{response.status_code}: {response.text[:200]}")
                            else:
                                responses.append(response.json())

            def rebuild() -> None:
                with httpx.Client(base_url=url, headers=AUTH, timeout=300, trust_env=False) as http:
                    response = http.post("/index/rebuild")
                    assert response.status_code == 200, response.text
                    ops[response.json()["index_version"]] = ("rebuild", None)

            readers = [threading.Thread(target=read) for _ in range(READERS)]
            for reader in readers:
                reader.start()
            rebuilder = threading.Thread(target=rebuild)
            with httpx.Client(base_url=url, headers=AUTH, timeout=60, trust_env=False) as http:
                for n in range(WRITES):
                    if n == WRITES // 3:
                        rebuilder.start()
                    if n % 4 == 3:
                        response = http.delete(f"/documents/okapi-{n - 2}")
                        op = ("delete", f"okapi-{n - 2}")
                    else:
                        response = http.post("/documents", json={"documents": [okapi(n)]})
                        op = ("put", f"okapi-{n}")
                    assert response.status_code == 200, response.text
                    ops[response.json()["index_version"]] = op
            rebuilder.join(timeout=300)
            done.set()
            for reader in readers:
                reader.join(timeout=60)
        finally:
            done.set()

    assert not failures, failures[:3]
    versions = sorted(ops)
    assert versions == list(range(2, 2 + WRITES + 1))  # every write and the rebuild made one version
    doc_sets = {1: frozenset(initial)}
    current = set(initial)
    for version in versions:
        op, doc_id = ops[version]
        if op == "put":
            current.add(doc_id)
        elif op == "delete":
            current.discard(doc_id)
        doc_sets[version] = frozenset(current)
    seen_versions = {r["index_version"] for r in responses}
    assert seen_versions <= set(doc_sets)
    assert len(seen_versions) >= 3, f"readers saw too few versions to mean anything: {seen_versions}"
    okapi_hits = 0
    for response in responses:
        allowed = doc_sets[response["index_version"]]
        cited = {r["citation"]["doc_id"] for r in response["results"]}
        assert cited <= allowed, f"version {response['index_version']} cites {sorted(cited - allowed)}"
        okapi_hits += sum(d.startswith("okapi-") for d in cited)
    assert okapi_hits > 0
    print(
        f"\nconcurrency: {len(responses)} reads, {len(seen_versions)} versions seen, "
        f"{WRITES} writes + rebuild"
    )
