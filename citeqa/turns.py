"""Turns: at most ``width`` threads at once inside, the others let in in the order they came.

The answer layer (everything of a query after its question is encoded) is Python that holds the GIL. Run by
many threads at once it gains no parallelism, but the threads take the GIL from each other every few
milliseconds, in no set order: each query is slowed by all the others, and the switching itself costs CPU.
Taken in turns, in arrival order, a query that came first is answered first, while the encoder (which
releases the GIL) keeps encoding the next questions in its batches.

``threading.Semaphore`` and ``threading.Lock`` wake their waiters in no set order, hence this small class:
each waiter sleeps on a lock of its own, and a leaving thread hands its place to the first of them.
"""

from __future__ import annotations

import threading
from collections import deque
from types import TracebackType


class Turns:
    """A context manager: ``with turns:`` enters at once while fewer than ``width`` threads are inside,
    else waits its turn (first come, first in). ``waited`` counts the entries that had to wait."""

    def __init__(self, width: int = 1) -> None:
        if width < 1:
            raise ValueError("width must be at least 1")
        self.width = width
        self.waited = 0
        self._lock = threading.Lock()
        self._free = width
        self._waiting: deque[threading.Lock] = deque()

    def wait(self) -> None:
        """Enter: at once if there is room and nobody waits, else when the place is handed over."""
        with self._lock:
            if self._free and not self._waiting:
                self._free -= 1
                return
            turn = threading.Lock()
            turn.acquire()
            self._waiting.append(turn)
            self.waited += 1
        turn.acquire()  # released by the thread that hands over its place

    def leave(self) -> None:
        """Leave, handing the place to the first thread waiting, if any."""
        with self._lock:
            if self._waiting:
                self._waiting.popleft().release()  # the place passes on; _free is unchanged
            else:
                self._free += 1

    def __enter__(self) -> Turns:
        self.wait()
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        trace: TracebackType | None,
    ) -> None:
        self.leave()
