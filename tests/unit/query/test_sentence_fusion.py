"""Sentence-level evidence in hybrid fusion (an option: FusionSettings.sentence_weight): each candidate
passage's best stored sentence score, computed from the index's sentence vectors, and fused by hand."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from support import remove_sentence_files

from citeqa.fusion import Candidates, FusionSettings, fuse, fuse_ranking, minmax
from citeqa.search import Searcher
from indexer.load import load_index

QUESTIONS = (
    "what are milia",
    "is it safe to pop the white bumps on my baby's nose?",
    "how are milia removed",
)


def best_by_hand(searcher: Searcher, ids: np.ndarray, query: np.ndarray) -> list[float]:
    """Each passage's best sentence score, row by row of the stored sentence table."""
    index = searcher.index
    out = []
    for passage_id in ids:
        passage = index.passages[int(passage_id)]
        best = -np.inf
        for segment in index.segments:
            reader = segment.reader
            assert reader.sentences is not None and reader.sentence_vectors is not None
            for row in range(len(reader.sentences)):
                p = reader.passage(int(reader.sentences.passage_rows[row]), 0)
                if (p.doc_id, p.start, p.end) == (passage.doc_id, passage.start, passage.end):
                    best = max(best, float(reader.sentence_vectors[row] @ query))
        out.append(best)
    return out


@pytest.mark.parametrize("question", QUESTIONS)
def test_best_sentence_scores_are_the_best_stored_sentence_of_each_passage(
    searcher: Searcher, question: str
) -> None:
    query = searcher.encode_question(question)
    candidates = searcher.candidates(question, 10, query=query, sentences=True)
    assert candidates.sentence_scores is not None and len(candidates.sentence_scores) == len(candidates.ids)
    searched = searcher.search_vector(query)  # what retrieval scores with (the query adapter's, if any)
    np.testing.assert_allclose(
        candidates.sentence_scores, best_by_hand(searcher, candidates.ids, searched), atol=1e-5
    )
    # A passage's best sentence is at least about as close as the passage itself, usually closer.
    assert np.mean(candidates.sentence_scores >= candidates.dense_scores - 0.05) > 0.5
    assert searcher.candidates(question, 10, query=query).sentence_scores is None  # not asked: not computed


def test_sentence_fusion_by_hand() -> None:
    ids = np.array([0, 1, 2, 3])
    dense = np.array([0.9, 0.5, 0.4, 0.1])
    bm25 = np.array([1.0, 3.0, 0.0, 2.0])
    sentences = np.array([0.6, 0.5, 0.95, np.nan])  # the last passage stores no sentences: its dense score
    candidates = Candidates(ids, ids, ids, dense, bm25, sentences)
    got_ids, got = fuse(candidates, FusionSettings("convex_minmax", dense_weight=0.8, sentence_weight=0.5))
    expected = 0.8 * (0.5 * minmax(dense) + 0.5 * minmax(np.array([0.6, 0.5, 0.95, 0.1]))) + 0.2 * minmax(
        bm25
    )
    assert got_ids.tolist() == np.lexsort((ids, -expected)).tolist()
    np.testing.assert_allclose(got, np.sort(expected)[::-1])
    # No sentence weight: exactly today's fusion, whatever the candidates carry.
    plain = Candidates(ids, ids, ids, dense, bm25)
    for settings in (FusionSettings(), FusionSettings("convex", dense_weight=0.6)):
        assert [a.tolist() for a in fuse(candidates, settings)] == [a.tolist() for a in fuse(plain, settings)]
    with pytest.raises(ValueError, match="convex"):
        FusionSettings("rrf", sentence_weight=0.5)
    with pytest.raises(ValueError, match="sentence_weight"):
        FusionSettings(sentence_weight=1.5)


def test_sentence_fusion_ranks_over_a_segment_without_sentences(searcher: Searcher, index_copy: Path) -> None:
    remove_sentence_files(index_copy)
    old = Searcher(load_index(index_copy), searcher.encoder, FusionSettings(sentence_weight=0.5))
    question = QUESTIONS[0]
    candidates = old.candidates(question, 100)
    assert candidates.sentence_scores is not None and np.isnan(candidates.sentence_scores).all()
    # With no sentence stored, each passage stands for its own best sentence: today's ranking.
    today = Searcher(old.index, searcher.encoder).rank(question, 10, "hybrid")
    assert old.rank(question, 10, "hybrid").ids.tolist() == today.ids.tolist()
    assert fuse_ranking(candidates, old.fusion, 10)[0].tolist() == today.ids.tolist()
