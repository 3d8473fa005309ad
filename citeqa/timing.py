"""Per-stage timings of a query, reported to whoever listens (the service's metrics), with no dependency
on any metrics library.

The listener is held in a context variable, so concurrent requests each report to their own listener and
library code needs no extra argument: ``with stage("encode"): ...`` costs nothing when nobody listens.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar

STAGES = ("encode", "turn", "dense", "bm25", "fusion", "rerank", "highlight")

StageListener = Callable[[str, float], None]
"""Called with a stage name (one of STAGES) and its duration in seconds."""

_listener: ContextVar[StageListener | None] = ContextVar("citeqa_stage_listener", default=None)


@contextmanager
def stage(name: str) -> Iterator[None]:
    """Time the block as stage ``name`` if a listener is set (see ``listen_to_stages``)."""
    listener = _listener.get()
    if listener is None:
        yield
        return
    started = time.perf_counter()
    try:
        yield
    finally:
        listener(name, time.perf_counter() - started)


@contextmanager
def listen_to_stages(listener: StageListener) -> Iterator[None]:
    """Report every ``stage`` run inside the block (and in threads started from its context)."""
    token = _listener.set(listener)
    try:
        yield
    finally:
        _listener.reset(token)
