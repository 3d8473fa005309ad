"""indexer.lru.LRU: bounded, least recently used out first, misses computed once, safe under threads."""

from __future__ import annotations

import threading

import pytest

from indexer.lru import LRU


def test_least_recently_used_goes_first_and_lookups_are_counted() -> None:
    cache: LRU[str, int] = LRU(2)
    cache.put("a", 1)
    cache.put("b", 2)
    assert cache.get("a") == 1  # a is now the most recent
    cache.put("c", 3)  # evicts b
    assert "b" not in cache and cache.get("b") is None
    assert (cache.get("a"), cache.get("c"), len(cache)) == (1, 3, 2)
    assert (cache.hits, cache.misses) == (3, 1)


def test_get_many_computes_only_the_missing_keys_once_and_keeps_the_order() -> None:
    calls: list[list[str]] = []

    def compute(keys: list[str]) -> list[int]:
        calls.append(keys)
        return [len(k) for k in keys]

    cache: LRU[str, int] = LRU(10)
    assert cache.get_many(["aa", "b", "aa"], compute) == [2, 1, 2]
    assert cache.get_many(["b", "ccc"], compute) == [1, 3]
    assert calls == [["aa", "b"], ["ccc"]]


def test_size_zero_keeps_nothing_and_negative_is_refused() -> None:
    cache: LRU[str, int] = LRU(0)
    cache.put("a", 1)
    assert cache.get("a") is None and cache.get_many(["a"], lambda keys: [7] * len(keys)) == [7]
    with pytest.raises(ValueError):
        LRU(-1)


def test_threads_sharing_a_small_cache_always_get_their_values() -> None:
    cache: LRU[int, int] = LRU(8)
    errors: list[BaseException] = []

    def work(offset: int) -> None:
        try:
            for i in range(3000):
                keys = [(i + offset + j) % 40 for j in range(5)]
                assert cache.get_many(keys, lambda missing: [k * 10 for k in missing]) == [
                    k * 10 for k in keys
                ]
                cache.put(i % 40, (i % 40) * 10)
                value = cache.get((i + 1) % 40)
                assert value is None or value == ((i + 1) % 40) * 10
        except BaseException as err:  # reported below: an assertion in a thread would be lost
            errors.append(err)

    threads = [threading.Thread(target=work, args=(n * 7,)) for n in range(6)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert not errors, errors[:1]
    assert len(cache) <= 8
