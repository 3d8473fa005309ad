"""Vector search behind one small protocol: an exact FAISS index and a brute-force NumPy index.

The NumPy version is the test oracle for FAISS. Vectors are L2-normalized, so the inner product
is the cosine similarity. Ids are row numbers 0..n-1 (the passage ids).

``search(queries, k, allowed)`` with ``allowed`` (an array of ids) searches only those ids, inside the
index: FAISS through an IDSelectorBatch in the search parameters, so the top k allowed vectors come back
whenever k of them exist (filtering after the search would lose them).
"""

from __future__ import annotations

from pathlib import Path
from typing import Protocol

import faiss
import numpy as np

from indexer.faiss_factory import IndexSpec, build_typed, prepare_loaded, selector_parameters

EXACT_ALLOWED_MAX = 20_000


class VectorIndex(Protocol):
    dimension: int

    def __len__(self) -> int: ...

    def search(
        self, queries: np.ndarray, k: int, allowed: np.ndarray | None = None
    ) -> tuple[np.ndarray, np.ndarray]:
        """(scores, ids), each of shape (len(queries), k), best first; missing slots have id -1.
        With ``allowed``, only those ids are searched."""
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

    def search(
        self, queries: np.ndarray, k: int, allowed: np.ndarray | None = None
    ) -> tuple[np.ndarray, np.ndarray]:
        scores = queries.astype(np.float32) @ self._matrix.T
        if allowed is None:
            k_eff = min(k, len(self))
            ids = np.argsort(-scores, axis=1, kind="stable")[:, :k_eff]
        else:
            allowed = np.unique(np.asarray(allowed, dtype=np.int64))
            k_eff = min(k, len(allowed))
            order = np.argsort(-scores[:, allowed], axis=1, kind="stable")[:, :k_eff]
            ids = allowed[order]
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
    def build_typed(cls, matrix: np.ndarray, spec: IndexSpec) -> FaissIndex:
        return cls([build_typed(matrix, spec)])

    @classmethod
    def load(cls, paths: list[Path], specs: list[IndexSpec] | None = None, mmap: bool = False) -> FaissIndex:
        """Read the shards; each shard's spec sets its search-time parameter; ``mmap`` maps the files
        read-only instead of reading them into memory."""
        flags = faiss.IO_FLAG_MMAP | faiss.IO_FLAG_READ_ONLY if mmap else 0
        shards = [faiss.read_index(str(path), flags) for path in paths]
        for shard, spec in zip(shards, specs or [], strict=False):
            prepare_loaded(shard, spec)
        return cls(shards)

    def shard(self, number: int) -> faiss.Index:
        return self._shards[number]

    def save(self, path: Path) -> None:
        """Write a single-shard index to ``path``."""
        if len(self._shards) != 1:
            raise ValueError("save writes one shard; save each shard of a sharded index on its own")
        faiss.write_index(self._shards[0], str(path))

    def __len__(self) -> int:
        return int(self._offsets[-1])

    def search(
        self, queries: np.ndarray, k: int, allowed: np.ndarray | None = None
    ) -> tuple[np.ndarray, np.ndarray]:
        queries = np.ascontiguousarray(queries, dtype=np.float32)
        if allowed is None:
            return self._searcher.search(queries, k)
        return self._search_allowed(queries, k, np.asarray(allowed, dtype=np.int64))

    def _search_allowed(
        self, queries: np.ndarray, k: int, allowed: np.ndarray
    ) -> tuple[np.ndarray, np.ndarray]:
        """Each shard searched with a selector of its own local ids, then the shards' lists merged.

        (faiss.IndexShards hands one selector to every shard, which tests it against shard-local ids, so
        a selector of global ids would pick the wrong vectors in every shard but the first.)
        """
        all_scores, all_ids = [], []
        for shard, first, end in zip(self._shards, self._offsets[:-1], self._offsets[1:], strict=True):
            local = allowed[(allowed >= first) & (allowed < end)] - first
            if not len(local):
                continue
            approximate = not isinstance(faiss.downcast_index(shard), faiss.IndexFlat)
            if approximate and len(local) <= EXACT_ALLOWED_MAX:
                scores, ids = _exact_among(shard, queries, min(k, len(local)), np.unique(local))
            else:
                params = selector_parameters(shard, faiss.IDSelectorBatch(local))
                scores, ids = shard.search(queries, min(k, len(local)), params=params)
            all_scores.append(scores)
            all_ids.append(np.where(ids >= 0, ids + first, -1))
        scores = np.full((len(queries), k), -np.inf, dtype=np.float32)
        ids = np.full((len(queries), k), -1, dtype=np.int64)
        if all_ids:
            merged_scores = np.concatenate(all_scores, axis=1)
            merged_ids = np.concatenate(all_ids, axis=1)
            merged_scores[merged_ids < 0] = -np.inf
            order = np.argsort(-merged_scores, axis=1, kind="stable")[:, :k]
            width = order.shape[1]
            scores[:, :width] = np.take_along_axis(merged_scores, order, axis=1)
            ids[:, :width] = np.take_along_axis(merged_ids, order, axis=1)
            ids[~np.isfinite(scores)] = -1
        return scores, ids

    def vectors(self, ids: np.ndarray) -> np.ndarray:
        """Reconstructed in one call per shard (a call per id cost more than the fusion it feeds)."""
        ids = np.asarray(ids, dtype=np.int64)
        out = np.empty((len(ids), self.dimension), dtype=np.float32)
        shard_of = np.searchsorted(self._offsets, ids, side="right") - 1
        for shard in np.unique(shard_of):
            rows = np.flatnonzero(shard_of == shard)
            local = ids[rows] - self._offsets[shard]
            out[rows] = self._shards[int(shard)].reconstruct_batch(local)
        return out


def _exact_among(
    shard: faiss.Index, queries: np.ndarray, k: int, local: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """Exact top k of ``queries`` among the shard-local ids ``local`` (sorted, unique), stored vectors."""
    scores, rows = NumpyIndex(shard.reconstruct_batch(local)).search(queries, k)
    return scores, local[rows]
