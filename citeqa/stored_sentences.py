"""Sentence vectors stored in the index (indexer.sentences), seen by the answer layer as text -> vector.

Every segment written by this release holds the vectors of its passages' sentences (memory-mapped), so
scoring a response's sentences reads them instead of embedding: a fresh start embeds nothing. A segment
written before sentences were stored has none; its sentences come from the start-up pass of
citeqa.sentence_vectors (through the persistent embedding cache) or are embedded at query time.
Each segment's text -> row table is made once per process and shared by every commit that lists it.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping

import numpy as np

from indexer.load import LoadedIndex


class StoredSentenceVectors(Mapping[str, np.ndarray]):
    """Text -> stored vector of every sentence of the index's segments that store them (deleted documents'
    sentences included: a vector is a function of its text)."""

    def __init__(self, index: LoadedIndex) -> None:
        self._segments = [s.reader for s in index.segments if s.reader.has_sentences]

    def warm(self) -> None:
        """Make every segment's text table now (start-up), not on the first query."""
        for reader in self._segments:
            reader.sentence_rows_by_text()

    def _find(self, text: str) -> np.ndarray | None:
        for reader in reversed(self._segments):  # newest first, as documents are looked up
            row = reader.sentence_rows_by_text().get(text)
            if row is not None and reader.sentence_vectors is not None:
                return np.asarray(reader.sentence_vectors[row])
        return None

    def __getitem__(self, text: str) -> np.ndarray:
        found = self._find(text)
        if found is None:
            raise KeyError(text)
        return found

    def get(self, text: str, default: object = None) -> np.ndarray | None:  # type: ignore[override]
        found = self._find(text)
        return found if found is not None else default  # type: ignore[return-value]

    def __contains__(self, text: object) -> bool:
        return isinstance(text, str) and self._find(text) is not None

    def __iter__(self) -> Iterator[str]:
        seen: set[str] = set()
        for reader in self._segments:
            for text in reader.sentence_rows_by_text():
                if text not in seen:
                    seen.add(text)
                    yield text

    def __len__(self) -> int:
        return sum(1 for _ in self)
