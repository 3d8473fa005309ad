"""In-memory caches of the query path: question vectors (CachedEncoder) and responses (ResponseCache), over
the real model, index and HTTP app; hits and misses in /metrics."""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Iterator

import numpy as np
import pytest
from fastapi.testclient import TestClient
from support import CountingEncoder

from citeqa.answers import Answerer
from citeqa.search import Searcher
from indexer.cached_encoder import CachedEncoder
from service.app import create_app
from service.response_cache import normalize_question
from service.settings import Settings

QUESTION = "what are milia"


def counter(metrics: str, kind: str, cache: str) -> float:
    match = re.search(rf'^citeqa_cache_{kind}_total\{{cache="{cache}"\}} (\S+)$', metrics, re.MULTILINE)
    assert match, f"citeqa_cache_{kind}_total for {cache} missing"
    return float(match.group(1))


@pytest.fixture
def fresh(answerer: Answerer) -> Iterator[tuple[TestClient, Answerer]]:
    """An app of its own (its own caches) over a private Searcher and Answerer sharing the loaded index."""
    served = answerer.searcher
    questions = CachedEncoder(served.question_encoder, 8)
    searcher = Searcher(served.index, served.encoder, question_encoder=questions)
    own = Answerer(searcher, answerer.calibration, answerer.dedup)
    with TestClient(create_app(Settings(response_cache_size=16), answerer=own)) as client:
        yield client, own


def comparable(body: dict) -> dict:
    return {k: v for k, v in body.items() if k not in ("took_ms", "question")}


def test_a_repeated_query_is_served_from_the_cache(fresh: tuple[TestClient, Answerer]) -> None:
    client, _ = fresh
    first = client.post("/query", json={"question": QUESTION}).json()
    second = client.post("/query", json={"question": QUESTION}).json()
    assert comparable(second) == comparable(first)
    metrics = client.get("/metrics").text
    assert counter(metrics, "hits", "response") == 1
    assert counter(metrics, "misses", "response") == 1
    # Other parameters are other entries.
    client.post("/query", json={"question": QUESTION, "top_k": 3})
    client.get("/search", params={"q": QUESTION, "offset": 5})
    assert counter(client.get("/metrics").text, "misses", "response") == 3


def test_normalized_variants_share_an_entry_and_get_the_same_answer(
    fresh: tuple[TestClient, Answerer], answerer: Answerer
) -> None:
    client, _ = fresh
    variant = "  What   are\tMILIA "
    assert normalize_question(variant, fold_case=True) == QUESTION
    assert normalize_question(variant, fold_case=False) == "What are MILIA"
    cached = client.post("/query", json={"question": QUESTION}).json()
    served = client.post("/query", json={"question": variant}).json()
    assert served["question"] == variant  # echoed as sent
    assert counter(client.get("/metrics").text, "hits", "response") == 1
    # What the variant gets without any cache is what the cache served.
    computed = answerer.respond(variant, 5, "hybrid")
    assert [r["citation"]["start"] for r in served["results"]] == [r.citation.start for r in computed.results]
    assert [r["text"] for r in served["results"]] == [r.text for r in computed.results]
    assert served["answerable"] == computed.answerable and comparable(served) == comparable(cached)


@pytest.mark.parametrize("joiner", ["\x1c", "\x1f", "\x0b"])
def test_a_control_character_between_words_is_not_a_space_to_the_cache(
    fresh: tuple[TestClient, Answerer], answerer: Answerer, joiner: str
) -> None:
    """str.split() reads \\x1c-\\x1f, \\x0b and \\x0c as whitespace, but the tokenizer deletes them
    ('are\\x1cmilia' is read 'aremilia'): the variant shared the plain question's entry and was served its
    answer, though computed alone it gets another confidence."""
    client, _ = fresh
    variant = QUESTION.replace(" milia", joiner + "milia")
    client.post("/query", json={"question": QUESTION})
    served = client.post("/query", json={"question": variant}).json()
    computed = answerer.respond(variant, 5, "hybrid")
    assert served["confidence"] == pytest.approx(computed.confidence)
    assert [r["citation"]["start"] for r in served["results"]] == [r.citation.start for r in computed.results]


def test_a_new_index_version_misses(fresh: tuple[TestClient, Answerer]) -> None:
    client, own = fresh
    first = client.post("/query", json={"question": QUESTION}).json()
    index = own.searcher.index
    own.searcher.index = dataclasses.replace(index, manifest={**index.manifest, "version": 2})
    second = client.post("/query", json={"question": QUESTION}).json()
    assert (first["index_version"], second["index_version"]) == (1, 2)
    metrics = client.get("/metrics").text
    assert counter(metrics, "hits", "response") == 0
    assert counter(metrics, "misses", "response") == 2
    # The question's vector does not depend on the index: the second query reused it.
    assert counter(metrics, "hits", "question") == 1


def test_question_vectors_are_cached_bounded_and_equal_to_the_model(answerer: Answerer) -> None:
    counting = CountingEncoder(answerer.searcher.encoder)
    cached = CachedEncoder(counting, size=2)  # type: ignore[arg-type]
    a = cached.encode(["alpha"])
    assert np.array_equal(cached.encode(["alpha"]), a) and counting.calls == [1]
    cached.encode(["beta"])
    cached.encode(["gamma"])  # evicts alpha, the least recently used
    cached.encode(["alpha"])
    assert (cached.hits, cached.misses) == (1, 4)
    assert np.allclose(a, counting.inner.encode(["alpha"]), atol=1e-6)
    cached.encode(["one", "two"])  # batches pass through uncached
    assert counting.calls[-1] == 2 and (cached.hits, cached.misses) == (1, 4)
    with pytest.raises(ValueError):
        CachedEncoder(counting, 0)  # type: ignore[arg-type]
