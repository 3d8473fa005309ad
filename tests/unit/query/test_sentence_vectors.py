"""Sentence vectors stored in the index: a fresh answerer embeds only the question, and answers as it did
when sentences were embedded at query time. An index written before sentence vectors were stored (format
2 without sentence files) still serves: its sentences are embedded once at start-up, saying so, through
the embedding cache (a second start embeds nothing)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from support import CountingEncoder, remove_sentence_files

from citeqa.answers import Answerer, Response
from citeqa.search import Searcher
from citeqa.sentence_vectors import index_sentences, unstored_segments
from citeqa.types import SEARCH_MODES
from indexer.load import load_index
from service.settings import Settings
from service.wiring import build_answerer


def key(response: Response) -> list[object]:
    return [
        (r.citation, r.highlights and [(h.start, h.end) for h in r.highlights], r.snippet)
        for r in response.results
    ] + [response.answerable, response.answer and (response.answer.citation, response.answer.text)]


def test_every_passage_sentence_is_listed_once(answerer: Answerer) -> None:
    index = answerer.searcher.index
    texts = index_sentences(index)
    assert len(texts) == len(set(texts)) > len(index.passages)
    assert all(any(t in d.text for d in index.documents.values()) for t in texts)
    assert set(texts) == set(answerer.stored_sentences)
    assert unstored_segments(index) == [] and index_sentences(index, unstored_only=True) == []


@pytest.mark.parametrize("mode", SEARCH_MODES)
def test_a_fresh_answerer_embeds_only_the_question(answerer: Answerer, mode: str) -> None:
    counting = CountingEncoder(answerer.searcher.encoder)
    searcher = Searcher(answerer.searcher.index, counting, answerer.searcher.fusion)  # type: ignore[arg-type]
    stored = Answerer(searcher, answerer.calibration, answer_model=answerer.answer_model)
    got = stored.respond("what are milia", 5, mode)  # type: ignore[arg-type]
    assert counting.calls == [1]  # the question (every mode scores sentences against it)

    # The same response as with every sentence embedded at query time (by the service's own backend).
    embedding = Answerer(searcher, answerer.calibration, answer_model=answerer.answer_model)
    embedding.caches.stored = {}
    expected = embedding.respond("what are milia", 5, mode)  # type: ignore[arg-type]
    assert len(counting.calls) == 3 and counting.calls[2] > 10
    assert key(got) == key(expected)
    assert np.isclose(got.confidence, expected.confidence, atol=1e-4)


def test_an_index_written_without_sentence_files_serves_after_one_embedding_pass(
    answerer: Answerer, index_copy: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    remove_sentence_files(index_copy)
    index = load_index(index_copy)
    assert len(unstored_segments(index)) == len(index.segments) == 1
    settings = Settings(
        index_path=index_copy, model=index.model_name, embedding_cache_path=tmp_path / "cache"
    )
    counting = CountingEncoder(answerer.searcher.encoder)  # sentences
    asking = CountingEncoder(answerer.searcher.question_encoder)  # questions (the question tower)
    searcher = Searcher(index, counting, answerer.searcher.fusion, question_encoder=asking)  # type: ignore[arg-type]

    old = build_answerer(settings, searcher)
    said = capsys.readouterr().err
    assert "written without sentence vectors" in said and f"citeqa rebuild --index {index_copy}" in said
    total = len(index_sentences(index))
    assert f"embedding its {total} sentences once" in said and f"sentence vectors: {total}/{total}" in said
    assert sum(counting.calls) == total
    counting.calls.clear()
    for question in ("what are milia", "is it safe to pop the white bumps on my baby's nose?"):
        got = old.respond(question, 5)
        assert counting.calls == [] and asking.calls == [1]
        asking.calls.clear()
        assert key(got) == key(answerer.respond(question, 5))

    # A second start reads the sentences from the embedding cache: nothing is embedded.
    build_answerer(settings, Searcher(index, counting, answerer.searcher.fusion))  # type: ignore[arg-type]
    assert counting.calls == []
