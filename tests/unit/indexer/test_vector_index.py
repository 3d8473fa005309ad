"""The real embedding model, and FAISS checked against the NumPy oracle: one shard, several shards,
reconstruction of stored vectors, on random unit vectors and on the real embeddings of the corpus."""

from __future__ import annotations

from pathlib import Path

import faiss
import numpy as np
import pytest

from corpus.errors import CiteqaError
from eval.seed_set import load_eval_set
from indexer.build import IndexSettings, embedding_text
from indexer.embedding import DEFAULT_MODEL, SentenceTransformerEncoder, embed_batches
from indexer.load import LoadedIndex
from indexer.vector_index import FaissIndex, NumpyIndex

SCORE_TOLERANCE = 1e-5


def unit_vectors(rng: np.random.Generator, n: int, dimension: int) -> np.ndarray:
    matrix = rng.standard_normal((n, dimension)).astype(np.float32)
    return matrix / np.linalg.norm(matrix, axis=1, keepdims=True)


def flat_shard(matrix: np.ndarray) -> faiss.Index:
    shard = faiss.IndexFlatIP(matrix.shape[1])
    shard.add(np.ascontiguousarray(matrix, dtype=np.float32))
    return shard


def assert_same_results(
    expected: tuple[np.ndarray, np.ndarray], actual: tuple[np.ndarray, np.ndarray], n: int, k: int
) -> None:
    """Same ids in the same order; same scores where an id was found; -1 for the slots past n."""
    (expected_scores, expected_ids), (scores, ids) = expected, actual
    assert ids.shape == scores.shape == expected_ids.shape == (expected_ids.shape[0], k)
    np.testing.assert_array_equal(ids, expected_ids)
    found = ids >= 0
    assert found.sum(axis=1).tolist() == [min(n, k)] * ids.shape[0]
    np.testing.assert_allclose(scores[found], expected_scores[found], atol=SCORE_TOLERANCE)
    assert np.all(np.diff(scores[:, : min(n, k)], axis=1) <= SCORE_TOLERANCE)  # best first


# --- the embedding model --------------------------------------------------------------------------


def test_default_model_loads_offline(encoder: SentenceTransformerEncoder) -> None:
    assert encoder.name == DEFAULT_MODEL
    assert encoder.dimension == 384


def test_embeddings_are_normalized_float32(encoder: SentenceTransformerEncoder) -> None:
    texts = ["milia in newborns", "Milia are tiny white bumps.", "日本語 😀", "x" * 3000]
    vectors = encoder.encode(texts)
    assert vectors.dtype == np.float32
    assert vectors.shape == (len(texts), encoder.dimension)
    assert vectors.flags["C_CONTIGUOUS"]
    np.testing.assert_allclose(np.linalg.norm(vectors, axis=1), 1.0, atol=1e-5)


def test_embeddings_are_deterministic_and_meaningful(encoder: SentenceTransformerEncoder) -> None:
    query, related, unrelated = encoder.encode(
        [
            "white bumps on a newborn's face",
            "Milia are tiny white bumps common in babies.",
            "tax return deadline",
        ]
    )
    np.testing.assert_allclose(encoder.encode(["white bumps on a newborn's face"])[0], query, atol=1e-5)
    assert query @ related > query @ unrelated + 0.2


def test_embed_batches_keeps_input_order(encoder: SentenceTransformerEncoder) -> None:
    texts = [
        "a",
        "a much longer text about milia and keratin cysts in adults",
        "medium length text",
        "zz top",
    ]
    calls: list[int] = []
    batched = embed_batches(encoder, texts, batch_size=3, on_batch=calls.append)
    one_by_one = np.vstack([encoder.encode([t]) for t in texts])
    np.testing.assert_allclose(batched, one_by_one, atol=1e-5)
    assert calls == [3, 1]


def test_unknown_model_is_a_clear_error() -> None:
    with pytest.raises(CiteqaError, match="cannot load embedding model"):
        SentenceTransformerEncoder("/nonexistent/model-folder")


# --- FAISS against the NumPy oracle on random unit vectors ----------------------------------------


@pytest.mark.parametrize("seed", [0, 1, 2])
@pytest.mark.parametrize("k", [1, 5, 37, 100, 130])
def test_faiss_matches_numpy_on_random_vectors(seed: int, k: int) -> None:
    rng = np.random.default_rng(seed)
    n, dimension = 100, 32
    matrix, queries = unit_vectors(rng, n, dimension), unit_vectors(rng, 9, dimension)
    oracle = NumpyIndex(matrix)
    assert_same_results(oracle.search(queries, k), FaissIndex.build(matrix).search(queries, k), n, k)


@pytest.mark.parametrize("cuts", [[50], [7, 30], [1, 2, 3, 99], [33, 66]])
@pytest.mark.parametrize("k", [1, 10, 100, 120])
def test_sharded_faiss_matches_one_shard_and_numpy(cuts: list[int], k: int) -> None:
    rng = np.random.default_rng(sum(cuts))
    n, dimension = 100, 24
    matrix, queries = unit_vectors(rng, n, dimension), unit_vectors(rng, 11, dimension)
    sharded = FaissIndex([flat_shard(part) for part in np.split(matrix, cuts)])
    assert len(sharded) == n and sharded.dimension == dimension
    expected = NumpyIndex(matrix).search(queries, k)
    assert_same_results(expected, sharded.search(queries, k), n, k)
    assert_same_results(expected, FaissIndex.build(matrix).search(queries, k), n, k)


@pytest.mark.parametrize("cuts", [[], [7, 30], [1, 2, 3, 99]])
def test_vectors_reconstructs_stored_rows(cuts: list[int]) -> None:
    rng = np.random.default_rng(5)
    matrix = unit_vectors(rng, 100, 16)
    index = FaissIndex([flat_shard(part) for part in np.split(matrix, cuts)])
    ids = np.array([0, 1, 2, 3, 6, 7, 29, 30, 98, 99, 50, 0], dtype=np.int64)
    np.testing.assert_array_equal(index.vectors(ids), matrix[ids])
    np.testing.assert_array_equal(NumpyIndex(matrix).vectors(ids), matrix[ids])
    assert index.vectors(np.array([], dtype=np.int64)).shape == (0, 16)


def test_faiss_save_and_load_round_trip(tmp_path: Path) -> None:
    rng = np.random.default_rng(9)
    matrix, queries = unit_vectors(rng, 40, 8), unit_vectors(rng, 3, 8)
    parts = np.split(matrix, [15])
    paths = []
    for number, part in enumerate(parts):
        path = tmp_path / f"dense-{number:03d}.faiss"
        FaissIndex.build(part).save(path)
        paths.append(path)
    loaded = FaissIndex.load(paths)
    assert_same_results(NumpyIndex(matrix).search(queries, 10), loaded.search(queries, 10), 40, 10)
    with pytest.raises(ValueError):
        loaded.save(tmp_path / "both.faiss")


def test_faiss_index_needs_a_shard() -> None:
    with pytest.raises(ValueError):
        FaissIndex([])


# --- FAISS against the NumPy oracle on the real embeddings ----------------------------------------


@pytest.fixture(scope="module")
def corpus_vectors(loaded_index: LoadedIndex, encoder: SentenceTransformerEncoder) -> np.ndarray:
    """The passages of the default index embedded afresh, as the build embeds them."""
    settings = IndexSettings()
    titles = {doc_id: d.title for doc_id, d in loaded_index.documents.items()}
    texts = [embedding_text(p, titles[p.doc_id], settings.embed_title) for p in loaded_index.passages]
    return embed_batches(encoder, texts, settings.batch_size)


@pytest.fixture(scope="module")
def question_vectors(encoder: SentenceTransformerEncoder) -> np.ndarray:
    return encoder.encode([q.question for q in load_eval_set()])


def test_index_stores_the_real_embeddings(loaded_index: LoadedIndex, corpus_vectors: np.ndarray) -> None:
    stored = loaded_index.dense.vectors(np.arange(len(loaded_index.passages)))
    np.testing.assert_allclose(stored, corpus_vectors, atol=1e-4)


@pytest.mark.parametrize("k", [1, 5, 25, 60])
def test_loaded_faiss_matches_numpy_on_real_embeddings(
    loaded_index: LoadedIndex, corpus_vectors: np.ndarray, question_vectors: np.ndarray, k: int
) -> None:
    n = len(loaded_index.passages)
    expected = NumpyIndex(corpus_vectors).search(question_vectors, k)
    assert_same_results(expected, loaded_index.dense.search(question_vectors, k), n, k)


@pytest.mark.parametrize("cuts", [[1], [10, 11, 20]])
def test_sharded_faiss_matches_numpy_on_real_embeddings(
    corpus_vectors: np.ndarray, question_vectors: np.ndarray, cuts: list[int]
) -> None:
    n, k = len(corpus_vectors), 10
    sharded = FaissIndex([flat_shard(part) for part in np.split(corpus_vectors, cuts)])
    expected = NumpyIndex(corpus_vectors).search(question_vectors, k)
    assert_same_results(expected, sharded.search(question_vectors, k), n, k)
    assert_same_results(expected, FaissIndex.build(corpus_vectors).search(question_vectors, k), n, k)
    ids = np.arange(n)[::-1].copy()
    np.testing.assert_array_equal(sharded.vectors(ids), corpus_vectors[ids])
