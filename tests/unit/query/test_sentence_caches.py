"""The answer layer's caches (citeqa.sentence_caches), with a stand-in encoder: preloaded vectors first,
one encode call for the rest, term sets computed once, and shared stores across answerers."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from citeqa.sentence_caches import SentenceCaches


class LengthEncoder:
    """Encodes a text as [len(text)]; records the size of every encode call."""

    name = "length"
    dimension = 1

    def __init__(self) -> None:
        self.calls: list[int] = []

    def encode(self, texts: Sequence[str], batch_size: int = 32) -> np.ndarray:
        self.calls.append(len(texts))
        return np.array([[float(len(t))] for t in texts], dtype=np.float32)


def test_preloaded_vectors_come_first_and_the_rest_is_encoded_once() -> None:
    caches = SentenceCaches()
    caches.preloaded = {"known": np.array([-1.0], dtype=np.float32)}
    encoder = LengthEncoder()
    found = caches.sentence_vectors(["known", "new one", "two"], encoder)
    assert {t: float(v[0]) for t, v in found.items()} == {"known": -1.0, "new one": 7.0, "two": 3.0}
    assert encoder.calls == [2]
    caches.sentence_vectors(["two", "known"], encoder)
    assert encoder.calls == [2], "cached and preloaded sentences are not encoded again"


def test_term_sets_are_tokenized_once_per_text() -> None:
    caches = SentenceCaches()
    batches: list[list[str]] = []

    def tokenize(texts: Sequence[str]) -> list[frozenset[str]]:
        batches.append(list(texts))
        return [frozenset(t.split()) for t in texts]

    assert caches.term_sets(["a b", "c"], tokenize) == [frozenset({"a", "b"}), frozenset({"c"})]
    assert caches.term_sets(["c", "d"], tokenize) == [frozenset({"c"}), frozenset({"d"})]
    assert batches == [["a b", "c"], ["d"]]


def test_shared_caches_use_the_same_stores_but_preload_on_their_own() -> None:
    base = SentenceCaches()
    shared = base.shared()
    encoder = LengthEncoder()
    base.sentence_vectors(["milia"], encoder)
    shared.sentence_vectors(["milia"], encoder)
    assert encoder.calls == [1], "a vector computed by one is cached for the other"
    base.preloaded = {"later": np.array([0.0], dtype=np.float32)}
    assert "later" not in shared.preloaded
