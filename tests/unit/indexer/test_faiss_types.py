"""FAISS index types by size (flat, HNSW, IVF) against the NumPy oracle: recall@10, filtered search,
memory-mapped loading, the manifest record, and an index folder built and loaded with each type."""

from __future__ import annotations

import json
from pathlib import Path

import faiss
import numpy as np
import pytest
from support import write_synthetic_index

from corpus.types import Document
from indexer import vector_index
from indexer.build import IndexSettings, build_index
from indexer.embedding import DEFAULT_MODEL
from indexer.faiss_factory import (
    FLAT_MAX_VECTORS,
    IndexSpec,
    choose_index_spec,
    ivf_nlist,
    recall_at_k,
    tune_search_parameter,
)
from indexer.load import load_index
from indexer.vector_index import FaissIndex, NumpyIndex

DIMENSION = 32
KINDS = ("flat", "hnsw", "ivf")


def clustered_unit_vectors(rng: np.random.Generator, n: int, clusters: int = 40) -> np.ndarray:
    """Unit vectors around random centres: structured like embeddings, unlike isotropic noise."""
    centres = rng.standard_normal((clusters, DIMENSION)).astype(np.float32)
    centres /= np.linalg.norm(centres, axis=1, keepdims=True)
    noise = rng.standard_normal((n, DIMENSION)).astype(np.float32) * (0.5 / np.sqrt(DIMENSION))
    matrix = centres[rng.integers(0, clusters, n)] + noise
    return (matrix / np.linalg.norm(matrix, axis=1, keepdims=True)).astype(np.float32)


@pytest.fixture(scope="module")
def data() -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(7)
    vectors = clustered_unit_vectors(rng, 6000)
    queries = clustered_unit_vectors(rng, 100)
    return vectors, queries


def test_choose_index_spec_by_size_and_by_name() -> None:
    assert choose_index_spec(10, 384).kind == "flat"
    assert choose_index_spec(FLAT_MAX_VECTORS, 384).kind == "flat"
    large = choose_index_spec(FLAT_MAX_VECTORS + 1, 384)
    assert large.kind == "ivf" and large.nlist == ivf_nlist(FLAT_MAX_VECTORS + 1)
    assert large.search_parameter > 0
    hnsw = choose_index_spec(10, 384, "hnsw")
    assert hnsw.kind == "hnsw" and hnsw.hnsw_m > 0 and hnsw.ef_construction > 0 and hnsw.search_parameter > 0
    ivf = choose_index_spec(1_000_000, 384, "ivf")
    assert ivf.kind == "ivf" and ivf.nlist == 4000 and 0 < ivf.search_parameter <= ivf.nlist
    assert choose_index_spec(10, 8, "ivf").nlist == ivf_nlist(10) == 1
    assert choose_index_spec(FLAT_MAX_VECTORS * 10, 384, "flat").kind == "flat"
    with pytest.raises(ValueError, match="index_type must be one of"):
        choose_index_spec(10, 8, "lsh")
    with pytest.raises(ValueError, match="index_type must be one of"):
        IndexSettings(index_type="lsh")


def test_spec_round_trips_through_the_manifest_and_old_manifests_are_flat() -> None:
    spec = choose_index_spec(50_000, 384, "hnsw")
    assert IndexSpec.from_manifest(spec.manifest_view(), 384) == spec
    assert IndexSpec.from_manifest(None, 384) == IndexSpec("flat", 384)


def test_recall_at_k_counts_shared_ids() -> None:
    expected = np.array([[1, 2, 3, 4], [5, 6, -1, -1]])
    assert recall_at_k(expected, np.array([[4, 3, 9, 8], [6, 5, 7, -1]])) == pytest.approx((0.5 + 1.0) / 2)


@pytest.mark.parametrize("kind", KINDS)
def test_each_type_reaches_the_recall_target_against_the_oracle(
    kind: str, data: tuple[np.ndarray, np.ndarray]
) -> None:
    vectors, queries = data
    spec = choose_index_spec(len(vectors), DIMENSION, kind)
    index = FaissIndex.build_typed(vectors, spec)
    tuned, tuned_recall = tune_search_parameter(index.shard(0), vectors, spec)
    _, expected = NumpyIndex(vectors).search(queries, 10)
    scores, found = index.search(queries, 10)
    recall = recall_at_k(expected, found)
    assert 0.0 <= tuned_recall <= 1.0
    assert recall >= (1.0 if kind == "flat" else 0.9), (tuned, recall)
    assert np.all(np.diff(scores, axis=1) <= 1e-6)  # best first
    assert np.array_equal(index.vectors(np.array([0, 17, 5999])), vectors[[0, 17, 5999]])


@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("exact_allowed_max", [20_000, 0])  # small sets scored exactly / selector in search
def test_filtered_search_returns_only_allowed_ids(
    kind: str, exact_allowed_max: int, data: tuple[np.ndarray, np.ndarray], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(vector_index, "EXACT_ALLOWED_MAX", exact_allowed_max)
    vectors, queries = data
    index = FaissIndex.build_typed(vectors, choose_index_spec(len(vectors), DIMENSION, kind))
    allowed = np.random.default_rng(3).choice(len(vectors), 2500, replace=False)
    _, ids = index.search(queries, 10, allowed)
    assert np.isin(ids, allowed).all()
    _, expected = NumpyIndex(vectors).search(queries, 10, allowed)
    assert recall_at_k(expected, ids) >= (1.0 if kind == "flat" or exact_allowed_max else 0.8)
    few = np.array([3, 4000, 5999])
    _, ids = index.search(queries[:5], 10, few)
    found = ids[ids >= 0]
    assert np.isin(found, few).all()
    if exact_allowed_max:
        assert (ids[:, :3] >= 0).all() and (ids[:, 3:] == -1).all()


@pytest.mark.parametrize("kind", KINDS)
def test_segments_written_then_loaded_with_and_without_mmap_search_alike(
    kind: str, data: tuple[np.ndarray, np.ndarray], tmp_path: Path
) -> None:
    vectors, queries = data
    folder = write_synthetic_index(tmp_path / "index", vectors, [4000, 2000], kind)
    manifest = json.loads((folder / "manifest.json").read_text())
    assert [s["passages"] for s in manifest["segments"]] == [4000, 2000]
    specs = [IndexSpec.from_manifest(s["index"], DIMENSION) for s in manifest["segments"]]
    assert {s.kind for s in specs} == {kind}
    assert all(0.0 <= s["tuned_recall_at_10"] <= 1.0 for s in manifest["segments"])
    read = load_index(folder)
    mapped = load_index(folder, mmap=True)
    for segment, spec in zip(mapped.segments, specs, strict=True):
        shard = faiss.downcast_index(segment.reader.dense)
        if kind == "hnsw":
            assert shard.hnsw.efSearch == spec.search_parameter
        if kind == "ivf":
            assert shard.nprobe == spec.search_parameter
    first, second = read.dense.search(queries, 10), mapped.dense.search(queries, 10)
    np.testing.assert_array_equal(first[1], second[1])
    allowed = np.arange(3000, 5000)
    in_memory, in_map = (
        read.dense.search(queries, 10, allowed)[1],
        mapped.dense.search(queries, 10, allowed)[1],
    )
    np.testing.assert_array_equal(in_memory, in_map)
    assert np.isin(in_map, allowed).all()
    if kind == "flat":  # exact: the segments searched together are one exact index
        np.testing.assert_array_equal(first[1], NumpyIndex(vectors).search(queries, 10)[1])


def test_an_index_folder_built_with_hnsw_loads_mapped_and_records_its_type(
    default_documents: list[Document], encoder, tmp_path: Path
) -> None:
    path = tmp_path / "index"
    build_index(default_documents, encoder, path, IndexSettings(index_type="hnsw"))
    loaded = load_index(path, expected_model=DEFAULT_MODEL, mmap=True, checksums=False)
    assert loaded.manifest["index_type"] == "hnsw"
    (segment,) = loaded.manifest["segments"]
    assert segment["index"]["kind"] == "hnsw" and segment["tuned_recall_at_10"] >= 0.95
    assert isinstance(faiss.downcast_index(loaded.segments[0].reader.dense), faiss.IndexHNSWFlat)
    query = encoder.encode(["How do I treat dry skin?"])
    _, expected = NumpyIndex(loaded.dense.vectors(np.arange(len(loaded.passages)))).search(query, 10)
    assert recall_at_k(expected, loaded.dense.search(query, 10)[1]) >= 0.9
