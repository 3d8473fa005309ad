"""A bounded least-recently-used map that many request threads may share.

Sync FastAPI routes run in a thread pool, so a cache of the query path is read and written concurrently:
every step (look up and refresh, insert and evict) happens under one lock, and values are computed
outside it so that a slow computation never holds the others up.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Callable, Hashable, Sequence
from typing import Generic, TypeVar

K = TypeVar("K", bound=Hashable)
V = TypeVar("V")


class LRU(Generic[K, V]):
    """At most ``size`` entries (``size`` 0: nothing is kept); ``hits`` and ``misses`` count lookups."""

    def __init__(self, size: int) -> None:
        if size < 0:
            raise ValueError("size must be at least 0")
        self.size = size
        self.hits = self.misses = 0
        self._items: OrderedDict[K, V] = OrderedDict()
        self._lock = threading.Lock()

    def __len__(self) -> int:
        return len(self._items)

    def __contains__(self, key: object) -> bool:
        return key in self._items

    def get(self, key: K) -> V | None:
        with self._lock:
            value = self._items.get(key)
            if value is None:
                self.misses += 1
            else:
                self.hits += 1
                self._items.move_to_end(key)
            return value

    def put(self, key: K, value: V) -> None:
        with self._lock:
            self._put(key, value)

    def get_many(self, keys: Sequence[K], compute: Callable[[list[K]], Sequence[V]]) -> list[V]:
        """The value of every key, in order; the missing ones computed in one ``compute`` call."""
        found: dict[K, V] = {}
        with self._lock:
            for key in dict.fromkeys(keys):
                value = self._items.get(key)
                if value is not None:
                    self._items.move_to_end(key)
                    found[key] = value
            self.hits += len(found)
        missing = [k for k in dict.fromkeys(keys) if k not in found]
        if missing:
            computed = compute(missing)
            with self._lock:
                self.misses += len(missing)
                for key, value in zip(missing, computed, strict=True):
                    found[key] = value
                    self._put(key, value)
        return [found[k] for k in keys]

    def _put(self, key: K, value: V) -> None:
        if self.size < 1:
            return
        self._items[key] = value
        self._items.move_to_end(key)
        while len(self._items) > self.size:
            self._items.popitem(last=False)
