"""The FAISS index type chosen by corpus size, how to build it, and its search-time parameter.

- flat (IndexFlatIP): exact; used up to FLAT_MAX_VECTORS per shard. Measured (python -m eval.scale_bench,
  shared 2-core machine, one search thread): 0.31 ms p50 at 10k, but 64 ms at 100k once the matrix no longer
  fits in cache, where IVF answers in 0.73 ms at recall@10 0.996.
- ivf (IndexIVFFlat, k-means coarse quantizer trained on a sample, nlist ~ 4*sqrt(n)): the ``auto`` choice
  above FLAT_MAX_VECTORS. At 100k it built in 41 s (HNSW: 146 s), stores ~1.57 kB per passage (HNSW: 1.81),
  and is the one type that memory-maps (load 2 ms, RSS grows only as cells are searched).
- hnsw (IndexHNSWFlat, inner product, M=32, efConstruction=80): available by name; slightly better recall,
  but the slowest build, and FAISS reads it whole into memory even with IO_FLAG_MMAP.

``tune_search_parameter`` raises efSearch / nprobe until recall@10 against exact search reaches the target on
queries made from the indexed vectors, so the parameter recorded in the manifest is measured, not guessed.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, replace
from typing import Any, Literal

import faiss
import numpy as np

IndexType = Literal["auto", "flat", "hnsw", "ivf"]
INDEX_TYPES: tuple[str, ...] = ("auto", "flat", "hnsw", "ivf")
FLAT_MAX_VECTORS = 50_000
HNSW_M = 32
HNSW_EF_CONSTRUCTION = 80
HNSW_EF_SEARCH = 128
IVF_TRAIN_PER_CELL = 64
IVF_NPROBE = 64
TARGET_RECALL = 0.95
TUNE_QUERIES = 200
TUNE_K = 10


@dataclass(frozen=True)
class IndexSpec:
    """One FAISS index type with its parameters; ``search_parameter`` is efSearch (hnsw) or nprobe (ivf)."""

    kind: Literal["flat", "hnsw", "ivf"]
    dimension: int
    hnsw_m: int = 0
    ef_construction: int = 0
    nlist: int = 0
    search_parameter: int = 0

    def manifest_view(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_manifest(cls, view: dict[str, Any] | None, dimension: int) -> IndexSpec:
        """The spec recorded in a manifest; an index written before index types existed is flat."""
        if not view:
            return cls("flat", dimension)
        return cls(**view)

    def with_search_parameter(self, value: int) -> IndexSpec:
        return replace(self, search_parameter=int(value))


def ivf_nlist(n_vectors: int) -> int:
    """~4*sqrt(n) cells, and never so many that a cell gets fewer than ~39 training points."""
    return max(1, min(int(4 * math.sqrt(n_vectors)), n_vectors // 39))


def choose_index_spec(n_vectors: int, dimension: int, index_type: str = "auto") -> IndexSpec:
    """The index for ``n_vectors`` of ``dimension``: exact up to FLAT_MAX_VECTORS, IVF above (``auto``)."""
    if index_type not in INDEX_TYPES:
        raise ValueError(f"index_type must be one of {', '.join(INDEX_TYPES)}, not {index_type!r}")
    kind = index_type
    if kind == "auto":
        kind = "flat" if n_vectors <= FLAT_MAX_VECTORS else "ivf"
    if kind == "hnsw":
        return IndexSpec("hnsw", dimension, HNSW_M, HNSW_EF_CONSTRUCTION, 0, HNSW_EF_SEARCH)
    if kind == "ivf":
        nlist = ivf_nlist(n_vectors)
        return IndexSpec("ivf", dimension, nlist=nlist, search_parameter=min(IVF_NPROBE, nlist))
    return IndexSpec("flat", dimension)


def build_typed(matrix: np.ndarray, spec: IndexSpec, seed: int = 0) -> faiss.Index:
    """A FAISS index of ``spec`` holding ``matrix`` (rows are ids 0..n-1), ready to search."""
    matrix = np.ascontiguousarray(matrix, dtype=np.float32)
    if spec.kind == "flat":
        index: faiss.Index = faiss.IndexFlatIP(spec.dimension)
    elif spec.kind == "hnsw":
        index = faiss.IndexHNSWFlat(spec.dimension, spec.hnsw_m, faiss.METRIC_INNER_PRODUCT)
        index.hnsw.efConstruction = spec.ef_construction
    else:
        quantizer = faiss.IndexFlatIP(spec.dimension)
        index = faiss.IndexIVFFlat(quantizer, spec.dimension, spec.nlist, faiss.METRIC_INNER_PRODUCT)
        index.cp.seed = seed
        sample = min(len(matrix), spec.nlist * IVF_TRAIN_PER_CELL)
        rows = np.random.default_rng(seed).choice(len(matrix), sample, replace=False)
        index.train(matrix[np.sort(rows)])
    index.add(matrix)
    prepare_loaded(index, spec)
    return index


def prepare_loaded(index: faiss.Index, spec: IndexSpec) -> faiss.Index:
    """Apply the search-time parameter; IVF also gets the direct map that ``reconstruct`` needs."""
    if spec.kind == "hnsw":
        faiss.downcast_index(index).hnsw.efSearch = max(spec.search_parameter, 1)
    elif spec.kind == "ivf":
        ivf = faiss.extract_index_ivf(index)
        ivf.nprobe = max(1, min(spec.search_parameter, ivf.nlist))
        if ivf.direct_map.type == faiss.DirectMap.NoMap:
            ivf.make_direct_map()
    return index


def selector_parameters(index: faiss.Index, selector: faiss.IDSelector) -> faiss.SearchParameters:
    """Search parameters carrying ``selector`` of the type ``index`` requires, keeping its efSearch/nprobe."""
    concrete = faiss.downcast_index(index)
    if isinstance(concrete, faiss.IndexHNSW):
        return faiss.SearchParametersHNSW(sel=selector, efSearch=concrete.hnsw.efSearch)
    if isinstance(concrete, faiss.IndexIVF):
        return faiss.SearchParametersIVF(sel=selector, nprobe=concrete.nprobe)
    return faiss.SearchParameters(sel=selector)


def recall_at_k(expected_ids: np.ndarray, found_ids: np.ndarray) -> float:
    """Mean share of each query's exact top k that the approximate search found (ids -1 never count)."""
    if expected_ids.size == 0:
        return 1.0
    hits = [
        len(set(e[e >= 0].tolist()) & set(f[f >= 0].tolist())) / max(int((e >= 0).sum()), 1)
        for e, f in zip(expected_ids, found_ids, strict=True)
    ]
    return float(np.mean(hits))


def tuning_queries(matrix: np.ndarray, n: int, seed: int = 0) -> np.ndarray:
    """Queries between pairs of indexed vectors (normalized sums): near the data, but not on it."""
    rng = np.random.default_rng(seed)
    a, b = rng.integers(0, len(matrix), size=(2, n))
    queries = matrix[a] + matrix[b]
    norms = np.linalg.norm(queries, axis=1, keepdims=True)
    return (queries / np.where(norms > 0, norms, 1)).astype(np.float32)


def tune_search_parameter(
    index: faiss.Index, matrix: np.ndarray, spec: IndexSpec, target: float = TARGET_RECALL, seed: int = 0
) -> tuple[IndexSpec, float]:
    """Double efSearch / nprobe from the spec's value until recall@10 vs exact reaches ``target``.

    Returns the spec with the parameter found, and the recall measured with it (1.0 for flat).
    """
    if spec.kind == "flat" or len(matrix) == 0:
        return spec, 1.0
    queries = tuning_queries(matrix, min(TUNE_QUERIES, len(matrix)), seed)
    exact = faiss.IndexFlatIP(spec.dimension)
    exact.add(np.ascontiguousarray(matrix, dtype=np.float32))
    k = min(TUNE_K, len(matrix))
    _, expected = exact.search(queries, k)
    limit = faiss.extract_index_ivf(index).nlist if spec.kind == "ivf" else 4096
    value = max(spec.search_parameter, 1)
    while True:
        current = spec.with_search_parameter(min(value, limit))
        prepare_loaded(index, current)
        recall = recall_at_k(expected, index.search(queries, k)[1])
        if recall >= target or value >= limit:
            return current, recall
        value *= 2
