"""Admission of query work: a bounded queue in front of the threads that compute answers.

At most ``max_queued`` queries are admitted at once (computing or waiting); one more is shed at once with
503 and ``Retry-After`` (``Overloaded``), so latency under overload stays bounded instead of growing with
the queue. At most ``concurrency`` admitted queries compute at once, each in a thread (their questions meet
in the encoder's batcher, see indexer.batching_encoder); the others wait here, on the event loop, where a
query whose client disconnects is dropped before any work is done (``ClientGone``, counted as skipped).
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import TypeVar

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request

T = TypeVar("T")


class Overloaded(Exception):
    """The queue is full: answered 503 with Retry-After (service.errors)."""

    def __init__(self, limit: int, retry_after: int) -> None:
        self.limit, self.retry_after = limit, retry_after
        super().__init__(
            f"the service is busy (its queue of {limit} queries is full); retry in {retry_after} s"
        )


class ClientGone(Exception):
    """The client disconnected before its query was computed: nothing is sent (logged as 499)."""


async def disconnected(request: Request) -> None:
    """Return once the client has disconnected. A request body message may come first (a GET's empty body,
    replayed by the body limit and never read by the route): it is passed over."""
    while (await request.receive())["type"] != "http.disconnect":
        pass


class QueryGate:
    """The bounded queue. ``shed`` and ``skipped`` count refused and abandoned queries; ``in_flight`` is
    the number admitted now."""

    def __init__(self, max_queued: int, concurrency: int, retry_after: int = 1) -> None:
        if max_queued < 1 or concurrency < 1:
            raise ValueError("max_queued and concurrency must be at least 1")
        self.max_queued, self.concurrency, self.retry_after = max_queued, concurrency, retry_after
        self.in_flight = 0
        self.shed = 0
        self.skipped = 0
        self._slots = asyncio.Semaphore(concurrency)

    async def run(self, request: Request, work: Callable[[], T]) -> T:
        """``work()`` in a thread once a slot is free; Overloaded when the queue is full, ClientGone when the
        client left while the query waited."""
        if self.in_flight >= self.max_queued:
            self.shed += 1
            raise Overloaded(self.max_queued, self.retry_after)
        self.in_flight += 1
        try:
            await self._turn(request)
            try:
                return await run_in_threadpool(work)
            finally:
                self._slots.release()
        finally:
            self.in_flight -= 1

    async def _turn(self, request: Request) -> None:
        """Hold a slot on return. A free slot is taken at once; otherwise wait for one or for the client to
        go, whichever comes first."""
        if not self._slots.locked():
            await self._slots.acquire()
            return
        slot = asyncio.ensure_future(self._slots.acquire())
        gone = asyncio.ensure_future(disconnected(request))
        try:
            await asyncio.wait((slot, gone), return_when=asyncio.FIRST_COMPLETED)
        except BaseException:  # this request was cancelled while it waited
            gone.cancel()
            self._drop(slot)
            raise
        gone.cancel()
        if not gone.done() or gone.cancelled() or gone.exception() is not None:
            await slot  # the slot came first (or the disconnect watch failed: wait for the slot alone)
            return
        self._drop(slot)
        self.skipped += 1
        raise ClientGone

    def _drop(self, slot: asyncio.Future[bool]) -> None:
        """Give up a slot being waited for: release it if it was taken, else stop waiting (a cancelled
        acquire takes nothing)."""
        if slot.done() and not slot.cancelled():
            self._slots.release()
        else:
            slot.cancel()
