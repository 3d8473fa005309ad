"""Dynamic micro-batching of single-text encodes: an Encoder wrapping another, so that the questions of
requests served together (each in its own thread) are embedded in one ``inner.encode`` call, as Ray Serve's
``@serve.batch`` does.

No thread of its own: the first caller to find the encoder idle becomes the leader, takes every pending
text (at most ``max_batch_size``), encodes them in one call and hands each caller its row; callers that
arrive meanwhile wait and are taken by the next leader. A lone call goes straight through. The leader waits
(at most ``max_wait_ms``) for more texts only when others are already pending, i.e. under load.

Only single-text calls are batched (a query embeds its question alone); sentence and passage batches pass
through unchanged.

A batch of several questions means the service is under load. It may then go to ``under_load``, the same
model on one thread (made on first use): on a loaded machine a second intra-op thread competes with the
other requests' Python for the same cores (on this project's 2-vCPU machine one thread took 5.7 ms of the
server's CPU per request at concurrency 32 against 8.4 ms with two), while a lone question keeps every
thread for the lowest latency.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from indexer.embedding import Encoder

DEFAULT_MAX_BATCH_SIZE = 32
DEFAULT_MAX_WAIT_MS = 0.0


@dataclass
class _Pending:
    text: str
    vector: np.ndarray | None = None
    error: BaseException | None = None
    done: bool = False


class BatchingEncoder:
    """``inner`` with concurrent single-text calls encoded together. ``batches`` and ``batched_texts``
    count the inner calls made for single texts and the texts they held (their ratio is the mean batch)."""

    def __init__(
        self,
        inner: Encoder,
        max_batch_size: int = DEFAULT_MAX_BATCH_SIZE,
        max_wait_ms: float = DEFAULT_MAX_WAIT_MS,
        under_load: Callable[[], Encoder] | None = None,
    ) -> None:
        if max_batch_size < 1:
            raise ValueError("max_batch_size must be at least 1")
        if max_wait_ms < 0:
            raise ValueError("max_wait_ms must be at least 0")
        self.inner, self.max_batch_size, self.max_wait = inner, max_batch_size, max_wait_ms / 1000
        self.name, self.dimension = inner.name, inner.dimension
        self._ready = threading.Condition()
        self._pending: list[_Pending] = []
        self._busy = False
        self.batches = 0
        self.batched_texts = 0
        self._make_under_load = under_load
        self._under_load: Encoder | None = None

    @property
    def tokenizer(self) -> Any:
        return getattr(self.inner, "tokenizer", None)

    def encode(self, texts: Sequence[str], batch_size: int = 32) -> np.ndarray:
        if len(texts) != 1:
            return self.inner.encode(texts, batch_size=batch_size)
        item = _Pending(texts[0])
        with self._ready:
            self._pending.append(item)
            if self._busy and len(self._pending) >= self.max_batch_size:
                self._ready.notify_all()  # a leader waiting for a full batch has one
        while True:
            with self._ready:
                while not item.done and self._busy:
                    self._ready.wait()
                if item.done:
                    break
                self._busy = True  # the encoder is idle and this text not taken: lead the next batch
                batch = self._gather()
            self._run(batch)  # this text may be in a later batch when more than a batch was pending
        if item.error is not None:
            raise item.error
        assert item.vector is not None
        return item.vector[None, :]

    def _gather(self) -> list[_Pending]:
        """The next batch, taken from the pending texts (called holding the lock, as the leader). With other
        texts pending, wait up to max_wait for the batch to fill; alone, take it at once."""
        if 1 < len(self._pending) < self.max_batch_size and self.max_wait > 0:
            deadline = time.perf_counter() + self.max_wait
            while len(self._pending) < self.max_batch_size and (left := deadline - time.perf_counter()) > 0:
                self._ready.wait(left)
        batch = self._pending[: self.max_batch_size]
        del self._pending[: self.max_batch_size]
        return batch

    def ready_for_load(self) -> None:
        """Make the under-load encoder now rather than at the first batch, where the requests of the first
        burst would wait for it (and for the collections its loading sets off)."""
        if self._make_under_load is not None and self._under_load is None:
            self._under_load = self._make_under_load()

    def _encoder_for(self, size: int) -> Encoder:
        """``inner`` for a lone question, the under-load encoder (made now if not yet) for a batch of more."""
        if size == 1 or self._make_under_load is None:
            return self.inner
        if self._under_load is None:
            self._under_load = self._make_under_load()
        return self._under_load

    def _run(self, batch: list[_Pending]) -> None:
        """Encode ``batch`` outside the lock, hand out the rows, then let the next leader in."""
        try:
            encoder = self._encoder_for(len(batch))
            vectors = encoder.encode([p.text for p in batch], batch_size=len(batch))
            for p, vector in zip(batch, vectors, strict=True):
                p.vector = vector
        except BaseException as err:  # every waiting caller gets the error, none hangs
            for p in batch:
                p.error = err
        with self._ready:
            for p in batch:
                p.done = True
            self.batches += 1
            self.batched_texts += len(batch)
            self._busy = False
            self._ready.notify_all()


def ready_for_load(encoder: Encoder) -> None:
    """``ready_for_load`` on every BatchingEncoder among ``encoder`` and the encoders it wraps (``inner``,
    as indexer.cached_encoder's does)."""
    current: Any = encoder
    while current is not None:
        if isinstance(current, BatchingEncoder):
            current.ready_for_load()
        current = getattr(current, "inner", None)
