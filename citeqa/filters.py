"""Metadata filters: which passages a search may return, as a pure function of the filters and the index.

A filter maps a key to the values it accepts, e.g. ``{"doc_id": ["a", "b"], "publisher": ["NHS"]}``. A
document matches when, for every key, its value is one of the listed values (AND across keys, OR within a
key). Keys are the Document fields ``doc_id``, ``title``, ``author``, ``publisher``, ``url`` and every key
of ``Document.metadata`` found in the index. A document with no value for a key (``None`` or a missing
metadata key) never matches a filter on that key. An empty filter object means no filter.

The allowed passage ids are computed once per distinct filter and index (``PassageFilter``), and handed to
both retrievers, which search only those passages (see citeqa.search).
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from citeqa.errors import InvalidQueryError
from corpus.types import Document
from corpus.unicode_check import LONE_SURROGATE_FIX, has_lone_surrogate
from indexer.types import Passage

DOCUMENT_FIELDS = ("doc_id", "title", "author", "publisher", "url")
NEVER_EMPTY = ("doc_id",)  # no document has an empty doc_id (an author, say, may be stored as "")
CACHE_SIZE = 256

# A validated filter: sorted (key, sorted values) pairs, hashable so it can key a cache.
NormalizedFilters = tuple[tuple[str, tuple[str, ...]], ...]


def known_filter_keys(documents: Mapping[str, Document] | Sequence[Document]) -> tuple[str, ...]:
    """The Document fields, then every metadata key present in ``documents`` (sorted)."""
    values = documents.values() if isinstance(documents, Mapping) else documents
    metadata_keys = sorted({key for d in values for key in d.metadata} - set(DOCUMENT_FIELDS))
    return (*DOCUMENT_FIELDS, *metadata_keys)


def normalize_filters(filters: Any, known_keys: Sequence[str]) -> NormalizedFilters:
    """Check ``filters`` (a mapping of known key -> non-empty list of strings); raise InvalidQueryError
    saying what to fix otherwise."""
    if not isinstance(filters, Mapping):
        raise InvalidQueryError(
            'filters must be an object mapping a key to a list of values, e.g. {"doc_id": ["my-doc"]}'
        )
    known = ", ".join(known_keys)
    normalized = []
    for key, values in filters.items():
        if key not in known_keys:
            raise InvalidQueryError(f"unknown filter key {key!r}; known keys: {known}")
        if isinstance(values, str) or not isinstance(values, Sequence):
            raise InvalidQueryError(f'filters.{key} must be a list of strings, e.g. {{"{key}": ["value"]}}')
        if not values:
            raise InvalidQueryError(
                f"filters.{key} is an empty list, which no document matches; list at least one value "
                "or leave the key out"
            )
        if not all(isinstance(v, str) for v in values):
            raise InvalidQueryError(f"filters.{key} must hold only strings")
        if any(has_lone_surrogate(v) for v in values):  # no stored text can hold one: it matches nothing
            raise InvalidQueryError(
                f"a value of filters.{key}: {LONE_SURROGATE_FIX}; write the character itself"
            )
        if key in NEVER_EMPTY and "" in values:
            raise InvalidQueryError(
                f"filters.{key} holds an empty value, which no document has; give a value or leave the "
                "key out"
            )
        normalized.append((key, tuple(sorted(set(values)))))
    return tuple(sorted(normalized))


def document_value(document: Document, key: str) -> str | None:
    if key in DOCUMENT_FIELDS:
        return getattr(document, key)
    return document.metadata.get(key)


def matching_documents(filters: NormalizedFilters, documents: Mapping[str, Document]) -> set[str]:
    return {
        doc_id
        for doc_id, document in documents.items()
        if all(document_value(document, key) in values for key, values in filters)
    }


def allowed_passages(
    filters: Any, documents: Mapping[str, Document], passages: Sequence[Passage]
) -> np.ndarray:
    """Sorted ids (int64) of the passages whose document matches ``filters``."""
    normalized = normalize_filters(filters, known_filter_keys(documents))
    return _allowed(normalized, documents, passages)


def _allowed(
    filters: NormalizedFilters, documents: Mapping[str, Document], passages: Sequence[Passage]
) -> np.ndarray:
    docs = matching_documents(filters, documents)
    ids_of_documents = getattr(passages, "ids_of_documents", None)
    if ids_of_documents is not None:  # a segmented index finds them per segment, vectorized
        return ids_of_documents(docs)
    return np.asarray([p.passage_id for p in passages if p.doc_id in docs], dtype=np.int64)


class PassageFilter:
    """``allowed_passages`` over one index, with the results of recent filters cached (thread-safe: the
    service answers requests from a thread pool)."""

    def __init__(self, documents: Mapping[str, Document], passages: Sequence[Passage]) -> None:
        self._documents = documents
        self._passages = passages
        self._known_keys: tuple[str, ...] | None = None
        self._cache: OrderedDict[NormalizedFilters, np.ndarray] = OrderedDict()
        self._lock = threading.Lock()

    @property
    def known_keys(self) -> tuple[str, ...]:
        """The filter keys of the index, found on first use (a commit's searcher is made per write)."""
        if self._known_keys is None:
            self._known_keys = known_filter_keys(self._documents)
        return self._known_keys

    def allowed(self, filters: Any) -> np.ndarray | None:
        """Allowed passage ids, or None when ``filters`` is None or empty (every passage is allowed)."""
        if filters is None:
            return None
        normalized = normalize_filters(filters, self.known_keys)
        if not normalized:
            return None
        with self._lock:
            cached = self._cache.get(normalized)
            if cached is not None:
                self._cache.move_to_end(normalized)
                return cached
        ids = _allowed(normalized, self._documents, self._passages)
        ids.setflags(write=False)
        with self._lock:
            self._cache[normalized] = ids
            if len(self._cache) > CACHE_SIZE:
                self._cache.popitem(last=False)
        return ids
