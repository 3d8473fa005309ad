"""indexer.batching_encoder.BatchingEncoder: concurrent single questions are encoded in one call of the
real model, each caller gets its own question's vector (as unbatched, within float tolerance), a lone call
goes straight through, and an error reaches every caller of its batch."""

from __future__ import annotations

import threading
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor

import numpy as np
import pytest

from indexer.batching_encoder import BatchingEncoder, ready_for_load
from indexer.cached_encoder import CachedEncoder
from indexer.embedding import Encoder

QUESTIONS = [
    "what are milia?",
    "how long should a dense rye loaf bake?",
    "Do milia go away on their own without treatment in newborn babies?",
    "🍞 bread notes",
    "what causes the tiny white bumps on a baby's nose",
    "is it acne",
    "Milia: cysts filled with keratin. Are they contagious?",
    "when should I see a dermatologist",
]
TOLERANCE = 1e-5


class Recording:
    """The real encoder, recording every call; the first single-text call is held until ``waiting`` texts
    are pending in the batcher, so that the next batch is known to hold all of them."""

    def __init__(self, inner: Encoder) -> None:
        self.inner, self.name, self.dimension = inner, inner.name, inner.dimension
        self.calls: list[list[str]] = []
        self.batcher: BatchingEncoder | None = None
        self.waiting = 0

    def encode(self, texts: Sequence[str], batch_size: int = 32) -> np.ndarray:
        self.calls.append(list(texts))
        if len(self.calls) == 1 and self.batcher is not None:
            with self.batcher._ready:
                while len(self.batcher._pending) < self.waiting:
                    self.batcher._ready.wait(0.005)  # appends notify only a full batch
        return self.inner.encode(texts, batch_size=batch_size)


def test_concurrent_questions_are_encoded_together_with_the_vectors_of_unbatched_encodes(encoder) -> None:
    expected = np.stack([encoder.encode([q])[0] for q in QUESTIONS])
    recording = Recording(encoder)
    batcher = BatchingEncoder(recording, max_batch_size=32)
    recording.batcher, recording.waiting = batcher, len(QUESTIONS) - 1
    with ThreadPoolExecutor(len(QUESTIONS)) as pool:
        vectors = np.stack(list(pool.map(lambda q: batcher.encode([q])[0], QUESTIONS)))
    # The first call led alone (nothing was pending); the other seven met in the second call.
    assert sorted(len(call) for call in recording.calls) == [1, len(QUESTIONS) - 1]
    assert (batcher.batches, batcher.batched_texts) == (2, len(QUESTIONS))
    np.testing.assert_allclose(vectors, expected, atol=TOLERANCE)
    assert np.all(np.sum(vectors * expected, axis=1) > 1 - TOLERANCE)


def test_no_batch_is_larger_than_the_limit(encoder) -> None:
    recording = Recording(encoder)
    batcher = BatchingEncoder(recording, max_batch_size=3)
    recording.batcher, recording.waiting = batcher, len(QUESTIONS) - 1
    with ThreadPoolExecutor(len(QUESTIONS)) as pool:
        vectors = list(pool.map(lambda q: batcher.encode([q])[0], QUESTIONS))
    assert max(len(call) for call in recording.calls) == 3
    assert sum(len(call) for call in recording.calls) == len(QUESTIONS)
    expected = encoder.encode(QUESTIONS)
    np.testing.assert_allclose(np.stack(vectors), expected, atol=TOLERANCE)


def test_a_lone_question_and_text_batches_go_straight_through(encoder) -> None:
    recording = Recording(encoder)
    batcher = BatchingEncoder(recording, max_batch_size=8, max_wait_ms=50.0)
    one = batcher.encode(["what are milia?"])
    many = batcher.encode(QUESTIONS[:3], batch_size=2)
    assert one.shape == (1, encoder.dimension) and many.shape == (3, encoder.dimension)
    assert recording.calls == [["what are milia?"], QUESTIONS[:3]]
    assert (batcher.batches, batcher.batched_texts) == (1, 1)  # only single texts are batched


class Failing:
    name, dimension = "failing", 4

    def __init__(self) -> None:
        self.started = threading.Event()
        self.release = threading.Event()

    def encode(self, texts: Sequence[str], batch_size: int = 32) -> np.ndarray:
        self.started.set()
        self.release.wait()
        raise RuntimeError(f"cannot encode {len(texts)}")


def test_an_error_reaches_every_caller_of_the_batch_and_the_encoder_recovers() -> None:
    failing = Failing()
    batcher = BatchingEncoder(failing, max_batch_size=8)
    with ThreadPoolExecutor(4) as pool:
        first = pool.submit(batcher.encode, ["a"])
        failing.started.wait()
        others = [pool.submit(batcher.encode, [t]) for t in "bcd"]
        with batcher._ready:
            while len(batcher._pending) < 3:
                batcher._ready.wait(0.005)
        failing.release.set()
        for future in [first, *others]:
            with pytest.raises(RuntimeError, match="cannot encode"):
                future.result()
    assert batcher.batches == 2 and not batcher._busy and not batcher._pending


def with_under_load(encoder: Encoder) -> tuple[BatchingEncoder, Recording, Recording, list[Recording]]:
    """A batcher of ``lone`` questions whose under-load encoder ``loaded`` is listed in ``made`` each time
    it is made."""
    lone, loaded = Recording(encoder), Recording(encoder)
    made: list[Recording] = []

    def make() -> Recording:
        made.append(loaded)
        return loaded

    return BatchingEncoder(lone, max_batch_size=32, under_load=make), lone, loaded, made


def test_a_batch_under_load_goes_to_the_under_load_encoder_made_once(encoder) -> None:
    batcher, lone, loaded, made = with_under_load(encoder)
    lone.batcher, lone.waiting = batcher, len(QUESTIONS) - 1
    with ThreadPoolExecutor(len(QUESTIONS)) as pool:
        vectors = np.stack(list(pool.map(lambda q: batcher.encode([q])[0], QUESTIONS)))
    # The first question led alone, on the encoder of lone questions; the seven that met went under load.
    assert [len(call) for call in lone.calls] == [1]
    assert [len(call) for call in loaded.calls] == [len(QUESTIONS) - 1]
    np.testing.assert_allclose(vectors, encoder.encode(QUESTIONS), atol=TOLERANCE)
    batcher.encode(["a lone question"])
    assert len(lone.calls) == 2 and len(made) == 1


def test_ready_for_load_makes_the_under_load_encoder_ahead_through_the_question_cache(encoder) -> None:
    batcher, lone, loaded, made = with_under_load(encoder)
    ready_for_load(CachedEncoder(batcher, 8))  # as the service's question encoder wraps it
    assert made == [loaded] and not loaded.calls
    ready_for_load(batcher)
    lone.batcher, lone.waiting = batcher, len(QUESTIONS) - 1
    with ThreadPoolExecutor(len(QUESTIONS)) as pool:
        list(pool.map(lambda q: batcher.encode([q]), QUESTIONS))
    # The first batch under load found it made: nothing was made again.
    assert made == [loaded] and [len(call) for call in loaded.calls] == [len(QUESTIONS) - 1]
    ready_for_load(encoder)  # no batcher inside: nothing to do
