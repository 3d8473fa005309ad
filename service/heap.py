"""The loaded model and index kept out of the garbage collector's full passes while the service runs.

A loaded index is hundreds of thousands of long-lived Python objects (millions for a large corpus), none of
them ever garbage. CPython's full (generation 2) collection still traverses every one of them whenever
enough new objects have survived, which under load is every few seconds: on the default corpus each pass
took about 150 ms with the GIL held, so every query in flight waited for it (the p99 of
``eval.load_bench`` at concurrency 32). ``gc.freeze`` moves what is alive after loading into the permanent
generation, which collections skip (the pass then takes about 4 ms); reference counting still frees those
objects as before. The heap is unfrozen when the app stops, so a process that starts apps one after another
(the tests) can collect the cycles of those it stopped.
"""

from __future__ import annotations

import gc
from collections.abc import Iterator
from contextlib import contextmanager


@contextmanager
def loaded_heap_frozen() -> Iterator[int]:
    """Collect, then freeze every live object for the duration; yields how many objects were frozen."""
    gc.collect()
    gc.freeze()
    try:
        yield gc.get_freeze_count()
    finally:
        gc.unfreeze()
