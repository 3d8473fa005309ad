"""Cross-encoder reranking, with a real (tiny, randomly initialized) sentence-transformers CrossEncoder built
from a small BERT config and a vocabulary written here, saved to a folder and loaded the way a user's
reranker is: the real loading and scoring code runs, and the hybrid ranking must follow its scores."""

from __future__ import annotations

import itertools
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest
from fastapi.testclient import TestClient

from citeqa.answers import Answerer
from citeqa.rerank import CrossEncoderReranker, RerankerError, rerank_order
from citeqa.search import Searcher
from service.app import create_app
from service.settings import Settings
from service.wiring import build_searcher

QUESTION = "what are milia and how do you treat them in a baby"
WORDS = (
    "milia baby babies white bumps skin face acne newborn cream retinoid the a of and what are is how do you "
    "treat them in cyst cysts keratin dermatologist doctor rash sun go away on my son"
).split()


@pytest.fixture(scope="module")
def tiny_cross_encoder(tmp_path_factory: pytest.TempPathFactory) -> Path:
    import torch
    from transformers import BertConfig, BertForSequenceClassification, BertTokenizerFast

    folder = tmp_path_factory.mktemp("tiny-cross-encoder")
    vocab = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]", *WORDS]
    (folder / "vocab.txt").write_text("\n".join(vocab) + "\n", encoding="utf-8")
    tokenizer = BertTokenizerFast(vocab_file=str(folder / "vocab.txt"), do_lower_case=True)
    torch.manual_seed(0)
    config = BertConfig(
        vocab_size=len(vocab),
        hidden_size=16,
        num_hidden_layers=1,
        num_attention_heads=2,
        intermediate_size=32,
        max_position_embeddings=512,
        num_labels=1,
        initializer_range=0.5,  # wide weights, so passages get clearly different scores
    )
    BertForSequenceClassification(config).save_pretrained(folder)
    tokenizer.save_pretrained(folder)
    return folder


def test_rerank_order_is_by_score_then_id() -> None:
    ids, scores = rerank_order(np.array([7, 3, 5, 1]), np.array([0.2, 0.9, 0.2, -1.0]))
    assert ids.tolist() == [3, 5, 7, 1]
    assert scores.tolist() == [0.9, 0.2, 0.2, -1.0]


def test_the_tiny_cross_encoder_loads_and_scores(tiny_cross_encoder: Path) -> None:
    reranker = CrossEncoderReranker(tiny_cross_encoder, depth=5)
    scores = reranker.scores(QUESTION, ["milia are white bumps", "the sun", "acne on the face of a baby"])
    assert scores.shape == (3,)
    assert np.isfinite(scores).all()
    assert len(set(np.round(scores, 6).tolist())) == 3


def test_hybrid_ranking_follows_the_cross_encoder(tiny_cross_encoder: Path, searcher: Searcher) -> None:
    from sentence_transformers import CrossEncoder

    depth, top_k = 12, 5
    reranker = CrossEncoderReranker(tiny_cross_encoder, depth=depth)
    reranked = replace_reranker(searcher, reranker)
    fused = searcher.rank(QUESTION, depth, "hybrid")  # what the reranker reorders
    hits = reranked.search(QUESTION, top_k, "hybrid")

    # Score the same passages with an independently loaded copy of the model.
    model = CrossEncoder(str(tiny_cross_encoder), device="cpu")
    texts = reranked.rerank_texts(fused.ids)
    expected = np.asarray(model.predict([(QUESTION, t) for t in texts], show_progress_bar=False))
    order = np.lexsort((fused.ids, -expected))[:top_k]

    assert [h.passage.passage_id for h in hits] == fused.ids[order].tolist()
    np.testing.assert_allclose([h.score for h in hits], expected[order], rtol=1e-5, atol=1e-6)
    assert all(isinstance(h.score, float) for h in hits)
    assert [h.rank for h in hits] == list(range(1, top_k + 1))
    # The reranker changed the order here (else this test would not show it is used).
    assert [h.passage.passage_id for h in hits] != fused.ids[:top_k].tolist()


def test_a_deeper_request_reranks_the_head_and_keeps_the_fused_order_below(
    tiny_cross_encoder: Path, searcher: Searcher
) -> None:
    reranked = replace_reranker(searcher, CrossEncoderReranker(tiny_cross_encoder, depth=3))
    hits = reranked.search(QUESTION, 8, "hybrid")
    fused = searcher.rank(QUESTION, 8, "hybrid").ids.tolist()
    ids = [h.passage.passage_id for h in hits]
    assert len(hits) == 8
    assert set(ids[:3]) == set(fused[:3]) and ids[3:] == fused[3:]
    assert all(a.score > b.score for a, b in itertools.pairwise(hits))


def test_rerank_respects_filters(tiny_cross_encoder: Path, searcher: Searcher) -> None:
    reranked = replace_reranker(searcher, CrossEncoderReranker(tiny_cross_encoder, depth=20))
    hits = reranked.search(QUESTION, 10, "hybrid", {"doc_id": ["bailey-baby-milia"]})
    assert hits and {h.citation.doc_id for h in hits} == {"bailey-baby-milia"}


def test_single_retriever_modes_are_not_reranked(tiny_cross_encoder: Path, searcher: Searcher) -> None:
    reranked = replace_reranker(searcher, CrossEncoderReranker(tiny_cross_encoder, depth=20))
    for mode in ("dense", "bm25"):
        assert reranked.rank(QUESTION, 5, mode).ids.tolist() == searcher.rank(QUESTION, 5, mode).ids.tolist()


def test_the_service_loads_the_reranker_from_its_setting(
    tiny_cross_encoder: Path, app_settings: Settings, searcher: Searcher
) -> None:
    settings = app_settings.model_copy(update={"reranker": tiny_cross_encoder, "rerank_depth": 10})
    built = build_searcher(settings, encoder=searcher.encoder)
    assert isinstance(built.reranker, CrossEncoderReranker) and built.reranker.depth == 10
    with TestClient(create_app(settings, built)) as client:
        assert client.get("/health").json()["index"]["reranker"] is True
        body = client.post("/query", json={"question": QUESTION, "top_k": 3}).json()
    expected = Answerer(built).results(QUESTION, "hybrid")[:3]
    assert [r["citation"]["start"] for r in body["results"]] == [r.citation.start for r in expected]
    assert [r["score"] for r in body["results"]] == pytest.approx([r.score for r in expected])
    # Each result is headed by the passage the reranked search puts there.
    reranked = [h.passage.passage_id for h in built.search(QUESTION, 25, "hybrid")]
    heads = [r.passage_ids[0] for r in expected]
    assert heads == [pid for pid in reranked if pid in heads]
    assert heads[0] == reranked[0]


def test_reranker_setting_reads_the_environment(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("CITEQA_RERANKER", str(tmp_path))
    monkeypatch.setenv("CITEQA_RERANK_DEPTH", "30")
    settings = Settings()
    assert settings.reranker == tmp_path and settings.rerank_depth == 30
    monkeypatch.setenv("CITEQA_RERANKER", "")
    assert Settings().reranker is None


def test_a_folder_without_a_model_is_a_clear_error(tmp_path: Path) -> None:
    with pytest.raises(RerankerError, match=r"has no config\.json; set CITEQA_RERANKER"):
        CrossEncoderReranker(tmp_path)


def replace_reranker(searcher: Searcher, reranker: CrossEncoderReranker) -> Searcher:
    """A searcher over the same index, model and fusion, with ``reranker``."""
    return Searcher(
        searcher.index,
        searcher.encoder,
        replace(searcher.fusion),
        reranker,
        searcher.query_adapter,
        searcher.question_encoder,
    )


def test_only_the_head_is_reranked_and_scores_stay_best_first() -> None:
    from citeqa.search import below_head

    ids, scores = below_head(
        np.array([7, 3]), np.array([0.9, 0.2]), np.array([5, 1, 4]), np.array([3.0, 2.5, 2.0])
    )
    assert ids.tolist() == [7, 3, 5, 1, 4]
    assert np.all(np.diff(scores) < 0)
    assert scores[2:].tolist() == pytest.approx([-0.8, -1.3, -1.8])
