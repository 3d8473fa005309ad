"""The linear query adapter (citeqa.query_adapter): loaded only for its own model and intact, applied to
the question vector in Searcher.encode_question, and adapted search still returns exact citations."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from citeqa.query_adapter import QueryAdapter, QueryAdapterError, load_query_adapter
from citeqa.search import Searcher
from citeqa.types import SEARCH_MODES
from eval.adapter_fit import write_adapter
from indexer.embedding import DEFAULT_MODEL, SentenceTransformerEncoder
from indexer.load import LoadedIndex
from service.settings import Settings

DIMENSION = 384


def perturbed(seed: int = 0, scale: float = 0.05) -> np.ndarray:
    rng = np.random.default_rng(seed)
    return (np.eye(DIMENSION) + scale * rng.normal(size=(DIMENSION, DIMENSION))).astype(np.float32)


def written(folder: Path, matrix: np.ndarray, model: str = DEFAULT_MODEL) -> Path:
    return write_adapter(folder / "adapter.npy", matrix, {"model": model, "command": "test"})


def test_loads_for_its_model_and_maps_to_unit_vectors(tmp_path: Path) -> None:
    matrix = perturbed()
    adapter = load_query_adapter(written(tmp_path, matrix), DEFAULT_MODEL, DIMENSION)
    vector = np.random.default_rng(1).normal(size=DIMENSION).astype(np.float32)
    vector /= np.linalg.norm(vector)
    adapted = adapter.apply(vector)
    assert adapted.dtype == np.float32
    np.testing.assert_allclose(np.linalg.norm(adapted), 1.0, rtol=1e-5)
    expected = matrix @ vector
    np.testing.assert_allclose(adapted, expected / np.linalg.norm(expected), rtol=1e-4, atol=1e-6)


def test_refused_for_another_model(tmp_path: Path) -> None:
    path = written(tmp_path, perturbed(), model="sentence-transformers/all-mpnet-base-v2")
    with pytest.raises(QueryAdapterError, match=r"all-mpnet-base-v2.*not the configured.*all-MiniLM-L6-v2"):
        load_query_adapter(path, DEFAULT_MODEL, DIMENSION)


def test_refused_when_corrupt_missing_or_of_another_dimension(tmp_path: Path) -> None:
    path = written(tmp_path, perturbed())
    with pytest.raises(QueryAdapterError, match="does not match the checksum"):
        np.save(path, perturbed(seed=2), allow_pickle=False)
        load_query_adapter(path, DEFAULT_MODEL, DIMENSION)
    with pytest.raises(QueryAdapterError, match="cannot read"):
        load_query_adapter(tmp_path / "missing.npy", DEFAULT_MODEL, DIMENSION)
    small = write_adapter(tmp_path / "small.npy", np.eye(8, dtype=np.float32), {"model": DEFAULT_MODEL})
    with pytest.raises(QueryAdapterError, match="384 dimensions"):
        load_query_adapter(small, DEFAULT_MODEL, DIMENSION)


def test_setting_is_read_at_the_edge_and_empty_is_off(
    tmp_path: Path,
    app_settings: Settings,
    encoder: SentenceTransformerEncoder,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from service.wiring import build_searcher

    monkeypatch.setenv("CITEQA_QUERY_ADAPTER_PATH", "")
    assert Settings().query_adapter_path is None
    path = written(tmp_path, perturbed())
    monkeypatch.setenv("CITEQA_QUERY_ADAPTER_PATH", str(path))
    assert Settings().query_adapter_path == path
    configured = app_settings.model_copy(update={"query_adapter_path": path, "question_tower_path": None})
    searcher = build_searcher(configured, encoder)
    assert isinstance(searcher.query_adapter, QueryAdapter)
    raw = encoder.encode(["what are milia"])[0]
    # The answer layer keeps the model's own vector; retrieval searches with the adapted one.
    np.testing.assert_allclose(searcher.encode_question("what are milia"), raw, rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(
        searcher.search_vector(raw), searcher.query_adapter.apply(raw), rtol=1e-5, atol=1e-6
    )
    other = written(tmp_path / "other", perturbed(), model="some/other-model")
    with pytest.raises(QueryAdapterError, match="fitted for model 'some/other-model'"):
        build_searcher(app_settings.model_copy(update={"query_adapter_path": other}), encoder)


@pytest.mark.parametrize("mode", SEARCH_MODES)
def test_adapted_search_returns_exact_citations(
    tmp_path: Path, loaded_index: LoadedIndex, encoder: SentenceTransformerEncoder, mode: str
) -> None:
    adapter = load_query_adapter(written(tmp_path, perturbed()), DEFAULT_MODEL, DIMENSION)
    searcher = Searcher(loaded_index, encoder, query_adapter=adapter)
    hits = searcher.search("can milia turn up on a babys skin", top_k=5, mode=mode)  # type: ignore[arg-type]
    assert hits and [h.rank for h in hits] == list(range(1, len(hits) + 1))
    scores = [h.score for h in hits]
    assert scores == sorted(scores, reverse=True)
    for hit in hits:
        document = loaded_index.documents[hit.citation.doc_id]
        assert document.text[hit.citation.start : hit.citation.end] == hit.passage.text
        assert (hit.citation.start, hit.citation.end) == (hit.passage.start, hit.passage.end)


def test_identity_adapter_changes_nothing(
    tmp_path: Path, loaded_index: LoadedIndex, encoder: SentenceTransformerEncoder
) -> None:
    adapter = load_query_adapter(
        written(tmp_path, np.eye(DIMENSION, dtype=np.float32)), DEFAULT_MODEL, DIMENSION
    )
    plain = Searcher(loaded_index, encoder)
    adapted = Searcher(loaded_index, encoder, query_adapter=adapter)
    question = "does laser work on milia"
    assert [h.passage.passage_id for h in plain.search(question, 5)] == [
        h.passage.passage_id for h in adapted.search(question, 5)
    ]


def test_packaged_adapter_is_off_by_default_and_off_for_other_models(app_settings: Settings) -> None:
    """The question tower replaced the adapter as the default; the packaged adapter still loads when
    configured, for its own model only."""
    from citeqa.query_adapter import DEFAULT_QUERY_ADAPTER_PATH, adapter_model
    from service.wiring import build_query_adapter

    assert Settings.model_fields["query_adapter_path"].default is None
    assert adapter_model(DEFAULT_QUERY_ADAPTER_PATH) == DEFAULT_MODEL
    packaged = build_query_adapter(
        app_settings.model_copy(update={"query_adapter_path": DEFAULT_QUERY_ADAPTER_PATH}), DIMENSION
    )
    assert packaged is not None and packaged.matrix.shape == (DIMENSION, DIMENSION)
    other = app_settings.model_copy(
        update={"model": "some/other-model", "query_adapter_path": DEFAULT_QUERY_ADAPTER_PATH}
    )
    assert build_query_adapter(other, 768) is None


def test_the_adapter_is_part_of_what_etags_and_cached_responses_key_on(
    tmp_path: Path, loaded_index: LoadedIndex, encoder: SentenceTransformerEncoder
) -> None:
    """Answers differ with the adapter, so a GET /search ETag must too (service.caching keys on
    settings_view): none, one adapter and another give three identities."""
    from citeqa.answers import Answerer
    from service.caching import answerer_identity

    first = load_query_adapter(written(tmp_path / "a", perturbed(0)), DEFAULT_MODEL, DIMENSION)
    second = load_query_adapter(written(tmp_path / "b", perturbed(1)), DEFAULT_MODEL, DIMENSION)
    answerers = [Answerer(Searcher(loaded_index, encoder, query_adapter=a)) for a in (None, first, second)]
    assert len({answerer_identity(a) for a in answerers}) == 3
