"""A bounded LRU of question embeddings: an Encoder wrapping another, keyed by the exact text.

Only single-text calls are cached (a query embeds its question alone; sentence and passage batches have
their own caches, see citeqa.answers and indexer.embedding_cache). Vectors depend on the model only, not
on the index, so the cache survives index changes.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from indexer.embedding import Encoder
from indexer.lru import LRU


class CachedEncoder:
    """``inner`` with the vectors of the last ``size`` distinct single texts kept; ``hits``/``misses`` count
    single-text calls."""

    def __init__(self, inner: Encoder, size: int) -> None:
        if size < 1:
            raise ValueError("size must be at least 1")
        self.inner, self.size = inner, size
        self.name, self.dimension = inner.name, inner.dimension
        self._vectors: LRU[str, np.ndarray] = LRU(size)

    @property
    def hits(self) -> int:
        return self._vectors.hits

    @property
    def misses(self) -> int:
        return self._vectors.misses

    @property
    def tokenizer(self) -> Any:
        return getattr(self.inner, "tokenizer", None)

    def encode(self, texts: Sequence[str], batch_size: int = 32) -> np.ndarray:
        if len(texts) != 1:
            return self.inner.encode(texts, batch_size=batch_size)
        [text] = texts
        vector = self._vectors.get(text)
        if vector is None:
            vector = self.inner.encode([text], batch_size=batch_size)[0]
            vector.setflags(write=False)  # shared by every caller that asks for this text
            self._vectors.put(text, vector)
        return vector[None, :]
