"""The search library over the default index: every mode, ranking invariants, citations, seed questions,
and invalid queries; plus the rank-fusion functions on hand-computed cases."""

from __future__ import annotations

from typing import get_args

import numpy as np
import pytest
from support import BAILEY_ID, OVERVIEW_ID

from citeqa.errors import InvalidQueryError
from citeqa.fusion import FusionMethod, FusionSettings, convex_fusion, reciprocal_rank_fusion, zscore
from citeqa.search import MAX_QUESTION_CHARS, Searcher
from citeqa.types import SEARCH_MODES, Hit, SearchMode
from corpus.types import Document
from eval.seed_set import EvalQuestion, load_eval_set
from indexer.embedding import SentenceTransformerEncoder
from indexer.load import LoadedIndex
from indexer.vector_index import NumpyIndex

QUESTIONS = [
    "what are milia",
    "can milia turn up on a babys skin out of nowhere without any rash first",
    "does laser work on milia",
    "Dr. Bailey's advice for my son's chin? 😀 «milk spots»",
]


@pytest.fixture(scope="module")
def seed_questions() -> dict[str, EvalQuestion]:
    return {q.qid: q for q in load_eval_set()}


def fused_searcher(index: LoadedIndex, encoder: SentenceTransformerEncoder, method: str) -> Searcher:
    return Searcher(index, encoder, FusionSettings(method=method, dense_weight=0.6))  # type: ignore[arg-type]


def check_ranking(hits: list[Hit], top_k: int, index: LoadedIndex) -> None:
    assert len(hits) <= top_k
    assert [h.rank for h in hits] == list(range(1, len(hits) + 1))
    assert all(type(h.score) is float and np.isfinite(h.score) for h in hits)
    scores = [h.score for h in hits]
    assert scores == sorted(scores, reverse=True), "scores must not increase down the ranking"
    ids = [h.passage.passage_id for h in hits]
    assert len(set(ids)) == len(ids), "a passage appears once"
    for hit in hits:
        document: Document = index.documents[hit.citation.doc_id]
        assert hit.passage == index.passages[hit.passage.passage_id]
        assert document.text[hit.citation.start : hit.citation.end] == hit.passage.text
        assert (hit.citation.start, hit.citation.end) == (hit.passage.start, hit.passage.end)
        assert hit.citation.title == document.title
        assert hit.citation.url == document.url
        assert hit.citation.author == document.author
        assert hit.citation.publisher == document.publisher


@pytest.mark.parametrize("mode", SEARCH_MODES)
@pytest.mark.parametrize("question", QUESTIONS)
def test_ranking_invariants(
    searcher: Searcher, loaded_index: LoadedIndex, mode: SearchMode, question: str
) -> None:
    for top_k in (1, 3, 5, 50):
        hits = searcher.search(question, top_k, mode)
        check_ranking(hits, top_k, loaded_index)
        assert hits, f"{mode} finds something for {question!r}"


@pytest.mark.parametrize("mode", SEARCH_MODES)
def test_top_k_is_respected(searcher: Searcher, loaded_index: LoadedIndex, mode: SearchMode) -> None:
    n = len(loaded_index.passages)
    assert len(searcher.search("milia", 1, mode)) == 1
    assert len(searcher.search("milia", 7, mode)) == 7
    everything = searcher.search("milia in babies and adults", 50, mode)
    assert len(everything) <= n
    if mode != "bm25":  # BM25 returns only passages that share a term with the question
        assert len(everything) == n


@pytest.mark.parametrize("mode", SEARCH_MODES)
def test_a_shorter_list_is_a_prefix_of_a_longer_one(searcher: Searcher, mode: SearchMode) -> None:
    question = "how do you get rid of milia"
    short = [(h.passage.passage_id, h.score) for h in searcher.search(question, 3, mode)]
    long = [(h.passage.passage_id, h.score) for h in searcher.search(question, 10, mode)]
    assert [i for i, _ in short] == [i for i, _ in long[:3]]
    assert [s for _, s in short] == pytest.approx([s for _, s in long[:3]], abs=1e-6)


@pytest.mark.parametrize(("qid", "doc_id"), [("q014", BAILEY_ID), ("q045", OVERVIEW_ID)])
@pytest.mark.parametrize("mode", SEARCH_MODES)
def test_seed_question_finds_the_right_article(
    searcher: Searcher, seed_questions: dict[str, EvalQuestion], qid: str, doc_id: str, mode: SearchMode
) -> None:
    question = seed_questions[qid]
    assert question.doc_id == doc_id
    hits = searcher.search(question.question, 5, mode)
    assert hits[0].citation.doc_id == doc_id
    assert any(quote in hit.passage.text for hit in hits for quote in question.gold)


def test_dense_scores_are_cosine_similarities(
    searcher: Searcher, loaded_index: LoadedIndex, encoder: SentenceTransformerEncoder
) -> None:
    question = "are milia contagious"
    matrix = loaded_index.dense.vectors(np.arange(len(loaded_index.passages)))
    # Dense search uses the question's vector as retrieval does (through the query adapter, if any).
    query = searcher.search_vector(searcher.encode_question(question))
    oracle_scores, oracle_ids = NumpyIndex(matrix).search(query[None, :], 10)
    hits = searcher.search(question, 10, "dense")
    assert [h.passage.passage_id for h in hits] == oracle_ids[0].tolist()
    assert [h.score for h in hits] == pytest.approx(oracle_scores[0].tolist(), abs=1e-5)
    assert all(-1.0 - 1e-5 <= h.score <= 1.0 + 1e-5 for h in hits)


def test_bm25_scores_are_positive_and_need_a_known_term(searcher: Searcher) -> None:
    hits = searcher.search("retinoid", 10, "bm25")
    assert hits and all(h.score > 0 for h in hits)
    assert all("retinoid" in h.passage.text.lower() for h in hits)
    assert searcher.search("xylophone quasar zeppelin", 5, "bm25") == []
    assert searcher.search("the and of", 5, "bm25") == []  # stopwords only


def test_hybrid_rrf_scores(loaded_index: LoadedIndex, encoder: SentenceTransformerEncoder) -> None:
    """With reciprocal rank fusion every score is a sum of at most two 1/(k + rank) terms."""
    rrf = Searcher(loaded_index, encoder, FusionSettings(method="rrf", rrf_k=60.0))
    n = len(loaded_index.passages)
    hits = rrf.search("milia on the eyelids", 10, "hybrid")
    assert len(hits) == 10
    for hit in hits:
        assert 1 / (60 + n) - 1e-12 <= hit.score <= 2 / (60 + 1) + 1e-12


def test_hybrid_unites_dense_and_bm25(searcher: Searcher) -> None:
    question = "Dr. Bailey recommends which soap for a baby with milia"
    hybrid = {h.passage.passage_id for h in searcher.search(question, 50, "hybrid")}
    dense = {h.passage.passage_id for h in searcher.search(question, 50, "dense")}
    bm25 = {h.passage.passage_id for h in searcher.search(question, 50, "bm25")}
    assert hybrid == dense | bm25
    top = searcher.search(question, 1, "hybrid")[0].passage.passage_id
    assert top in {h.passage.passage_id for h in searcher.search(question, 3, "dense")} | {
        h.passage.passage_id for h in searcher.search(question, 3, "bm25")
    }


@pytest.mark.parametrize("method", get_args(FusionMethod))
def test_every_fusion_method_ranks_properly(
    loaded_index: LoadedIndex, encoder: SentenceTransformerEncoder, method: str
) -> None:
    fused = fused_searcher(loaded_index, encoder, method)
    for question in QUESTIONS[:2]:
        for top_k in (1, 5, 50):
            hits = fused.search(question, top_k, "hybrid")
            check_ranking(hits, top_k, loaded_index)
            assert len(hits) == min(top_k, len(loaded_index.passages))


def test_question_is_stripped_before_search(searcher: Searcher) -> None:
    plain = searcher.search("does laser work on milia", 5, "dense")
    padded = searcher.search("  does laser work on milia \n", 5, "dense")
    assert [h.passage.passage_id for h in plain] == [h.passage.passage_id for h in padded]


@pytest.mark.parametrize(
    ("question", "top_k", "mode", "fragment"),
    [
        ("", 5, "hybrid", "empty"),
        (" \n\t ", 5, "dense", "empty"),
        ("x" * (MAX_QUESTION_CHARS + 1), 5, "bm25", str(MAX_QUESTION_CHARS)),
        ("milia", 0, "hybrid", "top_k"),
        ("milia", -3, "dense", "top_k"),
        ("milia", 5, "sparse", "hybrid"),
    ],
)
def test_invalid_queries(searcher: Searcher, question: str, top_k: int, mode: str, fragment: str) -> None:
    with pytest.raises(InvalidQueryError, match=fragment):
        searcher.search(question, top_k, mode)  # type: ignore[arg-type]


def test_longest_allowed_question(searcher: Searcher) -> None:
    question = ("milia " * 2000)[:MAX_QUESTION_CHARS]
    assert len(searcher.search(question, 3, "hybrid")) == 3


# --- fusion functions -----------------------------------------------------------------------------


def test_reciprocal_rank_fusion_by_hand() -> None:
    ids, scores = reciprocal_rank_fusion([np.array([3, 1, 2]), np.array([1, 4])], k=10)
    assert ids.tolist() == [1, 3, 4, 2]
    assert scores.tolist() == pytest.approx([1 / 12 + 1 / 11, 1 / 11, 1 / 12, 1 / 13])


def test_reciprocal_rank_fusion_breaks_ties_by_id() -> None:
    ids, scores = reciprocal_rank_fusion([np.array([5, 2]), np.array([2, 5])], k=60)
    assert ids.tolist() == [2, 5]
    assert scores[0] == scores[1]
    empty_ids, empty_scores = reciprocal_rank_fusion([np.array([], dtype=np.int64)])
    assert len(empty_ids) == len(empty_scores) == 0


def test_convex_fusion_by_hand() -> None:
    ids = np.array([10, 11, 12])
    dense = np.array([0.9, 0.5, 0.1])
    bm25 = np.array([0.0, 6.0, 3.0])
    fused_ids, fused = convex_fusion(ids, dense, bm25, dense_weight=0.5)
    expected = 0.5 * zscore(dense) + 0.5 * zscore(bm25)
    order = np.argsort(-expected)
    assert fused_ids.tolist() == ids[order].tolist()
    assert fused.tolist() == pytest.approx(expected[order].tolist())
    only_dense, _ = convex_fusion(ids, dense, bm25, dense_weight=1.0)
    assert only_dense.tolist() == [10, 11, 12]
    only_bm25, _ = convex_fusion(ids, dense, bm25, dense_weight=0.0)
    assert only_bm25.tolist() == [11, 12, 10]


def test_zscore() -> None:
    assert zscore(np.array([2.0, 2.0, 2.0])).tolist() == [0.0, 0.0, 0.0]
    z = zscore(np.array([1.0, 2.0, 3.0]))
    assert z.mean() == pytest.approx(0.0)
    assert z.std() == pytest.approx(1.0)
