"""Sentence vectors computed ahead of queries: a query then embeds only its question, and the response is
the one computed with sentences embedded at query time."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from support import CountingEncoder

from citeqa.answers import Answerer
from citeqa.search import Searcher
from citeqa.sentence_vectors import index_sentences, precompute_sentence_vectors
from citeqa.types import SEARCH_MODES
from indexer.embedding_cache import EmbeddingCache


def test_every_passage_sentence_is_listed_once(answerer: Answerer) -> None:
    index = answerer.searcher.index
    texts = index_sentences(index)
    assert len(texts) == len(set(texts)) > len(index.passages)
    assert all(any(t in d.text for d in index.documents.values()) for t in texts)


@pytest.mark.parametrize("mode", SEARCH_MODES)
def test_preloaded_sentences_leave_only_the_question_to_embed(
    answerer: Answerer, mode: str, tmp_path: Path
) -> None:
    counting = CountingEncoder(answerer.searcher.encoder)
    searcher = Searcher(answerer.searcher.index, counting, answerer.searcher.fusion)  # type: ignore[arg-type]
    cold = Answerer(searcher, answerer.calibration)
    expected = cold.respond("what are milia", 5, mode)  # type: ignore[arg-type]

    warm = Answerer(searcher, answerer.calibration)
    warm.preload_sentences(precompute_sentence_vectors(counting, searcher.index, EmbeddingCache(tmp_path)))  # type: ignore[arg-type]
    counting.calls.clear()
    got = warm.respond("what are milia", 5, mode)  # type: ignore[arg-type]
    assert counting.calls == [1]  # the question (every mode scores sentences against it)
    assert [(r.citation, r.highlights and [(h.start, h.end) for h in r.highlights]) for r in got.results] == [
        (r.citation, r.highlights and [(h.start, h.end) for h in r.highlights]) for r in expected.results
    ]
    assert got.answerable == expected.answerable
    assert got.answer == expected.answer or np.isclose(got.answer.score, expected.answer.score)  # type: ignore[union-attr]


def test_a_second_start_reads_the_sentences_from_the_cache(answerer: Answerer, tmp_path: Path) -> None:
    index, encoder = answerer.searcher.index, CountingEncoder(answerer.searcher.encoder)
    first = precompute_sentence_vectors(encoder, index, EmbeddingCache(tmp_path))  # type: ignore[arg-type]
    assert sum(encoder.calls) == len(first)
    encoder.calls.clear()
    second = precompute_sentence_vectors(encoder, index, EmbeddingCache(tmp_path))  # type: ignore[arg-type]
    assert encoder.calls == []
    assert second.keys() == first.keys()
    assert all(np.array_equal(second[t], first[t]) for t in first)
