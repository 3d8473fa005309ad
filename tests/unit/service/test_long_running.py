"""What a service that runs for a long time must not keep: the commit it served at start, once writes
and merges have replaced it, and every document it has read."""

from __future__ import annotations

import gc
import weakref
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from support import writable_client

from indexer import segment

KEY = "test-write-key"
AUTH = {"Authorization": f"Bearer {KEY}"}


def deleted_files_mapped(folder: Path) -> list[str]:
    """This process's memory maps of files under ``folder`` that were deleted."""
    maps = Path("/proc/self/maps")
    if not maps.exists():
        return []
    lines = maps.read_text(encoding="utf-8", errors="replace").splitlines()
    return [line for line in lines if str(folder) in line and line.endswith("(deleted)")]


def test_the_commit_served_at_start_is_freed_once_writes_replace_it(index_copy: Path, encoder: Any) -> None:
    with writable_client(index_copy, encoder, api_keys=[KEY]) as client:
        live = client.app.state.citeqa.live
        first = weakref.ref(live.current)
        first_segment = weakref.ref(live.current.segments[0].reader)
        doc_ids = list(live.current.documents)
        for doc_id in doc_ids:  # the start's only segment loses every document: the commit drops it
            assert client.delete(f"/documents/{doc_id}", headers=AUTH).status_code == 200
        seals = {"title": "Harbor seals", "text": "Harbor seals can hold their breath for thirty minutes."}
        assert client.put("/documents/harbor-seals", json=seals, headers=AUTH).status_code == 200
        assert client.post("/query", json={"question": "harbor seals"}).status_code == 200
        assert live.wait_for_merges(60)
        gc.collect()
        assert first() is None and first_segment() is None
        assert deleted_files_mapped(index_copy) == []


def test_a_listing_of_every_document_leaves_only_a_bounded_few_built(
    index_copy: Path, encoder: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(segment, "DOCUMENTS_CACHED", 2, raising=False)
    animals = ["seals", "walruses", "puffins", "gannets", "otters"]
    batch = [
        {"doc_id": name, "title": name.title(), "text": f"{name.title()} live on the coast. They eat fish."}
        for name in animals
    ]
    with writable_client(index_copy, encoder, api_keys=[KEY]) as client:
        assert client.post("/documents", json={"documents": batch}, headers=AUTH).status_code == 200
        listed = client.get("/documents").json()["documents"]
        assert {d["doc_id"] for d in listed} >= set(animals) and len(listed) == len(animals) + 2
        for doc_id in animals:  # read whole, twice over: each is rebuilt from the table once dropped
            assert client.get(f"/documents/{doc_id}").json()["text"].startswith(doc_id.title())
        readers = [s.reader for s in client.app.state.citeqa.live.current.segments]
        assert sum(r.n_documents for r in readers) == len(animals) + 2
        assert all(len(r._cache) <= 2 for r in readers)


def test_distinct_questions_leave_no_term_sets_in_the_sentences_cache(client: TestClient) -> None:
    # Up to 10,000 characters each: kept among the 20,000 term sets sized for sentences, every distinct
    # long question held about 180 KiB until 20,000 of them had been asked.
    questions = [
        f"are milia {word} in babies? " + "why " * 2_000 + word for word in ("cysts", "bumps", "spots")
    ]
    for question in questions:
        assert client.post("/query", json={"question": question}).status_code == 200
    terms = client.app.state.citeqa.answerer.caches.terms
    assert len(terms) > 0  # the results' sentences are kept
    assert not any(question in terms for question in questions)


def test_long_questions_leave_no_tokens_in_the_bm25_question_cache(client: TestClient) -> None:
    # 4,096 distinct long questions kept about 66-110 KiB of tokens each (hundreds of MB).
    long_ones = [f"are milia {word} in babies? " + "why " * 2_000 + word for word in ("cysts", "bumps")]
    short = "are milia cysts in newborn babies?"
    for question in [*long_ones, short]:
        assert client.post("/query", json={"question": question, "mode": "bm25"}).status_code == 200
    tokens = client.app.state.citeqa.answerer.searcher.index.bm25._tokens
    assert short in tokens
    assert not any(question in tokens for question in long_ones)


def test_long_questions_are_answered_afresh_and_not_kept_with_their_analysis(client: TestClient) -> None:
    # A cached response holds its question's analysis: 333 KiB for a 10,000-character question, so 1,024
    # of them held about 340 MB.
    responses = client.app.state.citeqa.responses
    long_one = "are milia contagious in newborn babies? " + "why " * 2_000 + "now"
    short = "are milia contagious in newborn babies, and why?"
    hits = responses.hits
    for question in (long_one, long_one):
        assert client.post("/query", json={"question": question, "top_k": 2}).status_code == 200
    assert responses.hits == hits  # computed both times
    for question in (short, short):
        assert client.post("/query", json={"question": question, "top_k": 2}).status_code == 200
    assert responses.hits == hits + 1  # kept after its first answer
    keys = list(responses._responses._items)
    assert any(short in key for key in keys) and not any(long_one in key for key in keys)
