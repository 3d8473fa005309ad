"""Vector search behind one small protocol: an exact FAISS index and a brute-force NumPy index.

The NumPy version is the test oracle for FAISS. Vectors are L2-normalized, so the inner product
is the cosine similarity. Ids are row numbers 0..n-1 (the passage ids).
"""

from __future__ import annotations

from pathlib import Path
from typing import Protocol

import faiss
import numpy as np


class VectorIndex(Protocol):
    dimension: int

    def __len__(self) -> int: ...

    def search(self, queries: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
        """(scores, ids), each of shape (len(queries), k), best first; missing slots have id -1."""
        ...

    def vectors(self, ids: np.ndarray) -> np.ndarray:
        """The stored vectors of ``ids``, to score candidates found by another retriever."""
        ...


class NumpyIndex:
    """Exact inner-product search by matrix product: simple, and the reference for FAISS."""

    def __init__(self, matrix: np.ndarray) -> None:
        self._matrix = np.ascontiguousarray(matrix, dtype=np.float32)
        self.dimension = self._matrix.shape[1]

    def __len__(self) -> int:
        return self._matrix.shape[0]

    def search(self, queries: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
        scores = queries.astype(np.float32) @ self._matrix.T
        k_eff = min(k, len(self))
        ids = np.argsort(-scores, axis=1, kind="stable")[:, :k_eff]
        top = np.take_along_axis(scores, ids, axis=1)
        pad = k - k_eff
        if pad:
            top = np.pad(top, ((0, 0), (0, pad)), constant_values=-np.inf)
            ids = np.pad(ids, ((0, 0), (0, pad)), constant_values=-1)
        return top, ids.astype(np.int64)

    def vectors(self, ids: np.ndarray) -> np.ndarray:
        return self._matrix[ids]


class FaissIndex:
    """A FAISS inner-product index over one shard, or several searched together as one.

    Shard i holds the ids that follow those of shard i-1, as listed in the index manifest.
    """

    def __init__(self, shards: list[faiss.Index]) -> None:
        if not shards:
            raise ValueError("a FaissIndex needs at least one shard")
        self._shards = shards
        self._offsets = np.cumsum([0] + [s.ntotal for s in shards])
        self.dimension = shards[0].d
        if len(shards) == 1:
            self._searcher = shards[0]
        else:
            self._searcher = faiss.IndexShards(self.dimension, False, True)  # successive ids
            for shard in shards:
                self._searcher.add_shard(shard)

    @classmethod
    def build(cls, matrix: np.ndarray) -> FaissIndex:
        index = faiss.IndexFlatIP(matrix.shape[1])
        index.add(np.ascontiguousarray(matrix, dtype=np.float32))
        return cls([index])

    @classmethod
    def load(cls, paths: list[Path]) -> FaissIndex:
        return cls([faiss.read_index(str(path)) for path in paths])

    def save(self, path: Path) -> None:
        """Write a single-shard index to ``path``."""
        if len(self._shards) != 1:
            raise ValueError("save writes one shard; save each shard of a sharded index on its own")
        faiss.write_index(self._shards[0], str(path))

    def __len__(self) -> int:
        return int(self._offsets[-1])

    def search(self, queries: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
        return self._searcher.search(np.ascontiguousarray(queries, dtype=np.float32), k)

    def vectors(self, ids: np.ndarray) -> np.ndarray:
        out = np.empty((len(ids), self.dimension), dtype=np.float32)
        for row, passage_id in enumerate(ids):
            shard = int(np.searchsorted(self._offsets, passage_id, side="right")) - 1
            out[row] = self._shards[shard].reconstruct(int(passage_id - self._offsets[shard]))
        return out
