"""Sentence-level retrieval for the answer (citeqa.sentence_search, Answerer.sentence_candidates): the index's
sentences closest to the question, by brute force over the stored sentence vectors, checked against the
sentences embedded by hand; their results join the answer's candidates without changing the ranking, the
answer stays the same at every top_k and offset and its citation exact."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest
from support import remove_sentence_files

from citeqa.answer_model import AnswerModel, load_answer_model, save_answer_model
from citeqa.answers import Answerer, holding_results
from citeqa.search import Searcher
from citeqa.sentence_search import top_sentences
from indexer.load import load_index
from indexer.sentences import passage_sentences
from service.settings import Settings

QUESTIONS = (
    "is it safe to pop the white bumps on my baby's nose?",
    "what are milia",
    "how are milia removed",
)


@pytest.mark.parametrize("question", QUESTIONS)
def test_top_sentences_are_the_closest_sentences_of_the_index_embedded_by_hand(
    searcher: Searcher, question: str
) -> None:
    index = searcher.index
    spans = {
        (p.doc_id, s.start, s.end)
        for p in index.passages
        for s in passage_sentences(index.documents[p.doc_id].text, p.start, p.end)
    }
    keys = sorted(spans)
    texts = [index.documents[d].text[s:e] for d, s, e in keys]
    query = searcher.encode_question(question)
    by_hand = np.asarray(searcher.encoder.encode(texts)) @ query
    expected = sorted(zip(by_hand.tolist(), keys, strict=True), key=lambda x: -x[0])[:10]
    hits = top_sentences(index, query, 10)
    assert len(hits) == 10
    found = [(index.passages[h.passage_id].doc_id, h.start, h.end) for h in hits]
    assert len(set(found)) == 10
    assert [h.doc_id for h in hits] == [d for d, _, _ in found]
    assert [h.cosine for h in hits] == sorted((h.cosine for h in hits), reverse=True)
    np.testing.assert_allclose([h.cosine for h in hits], [c for c, _ in expected], atol=1e-4)
    # Each hit lies inside its passage.
    for hit in hits:
        passage = index.passages[hit.passage_id]
        assert passage.start <= hit.start < hit.end <= passage.end


def test_the_size_limit_and_a_segment_without_sentences_give_no_hits(
    searcher: Searcher, index_copy: Path
) -> None:
    query = searcher.encode_question(QUESTIONS[0])
    assert top_sentences(searcher.index, query, 10, max_rows=10) == []
    assert top_sentences(searcher.index, query, 0) == []
    remove_sentence_files(index_copy)
    # Questions encoded as the service encodes them (the question tower the answer model was fitted with).
    old = Searcher(
        load_index(index_copy), searcher.encoder, searcher.fusion, question_encoder=searcher.question_encoder
    )
    assert top_sentences(old.index, query, 10) == []
    answerer = Answerer(old, answer_model=load_answer_model(), sentence_candidates=10)
    analysis = answerer.analyze(QUESTIONS[1], 5)
    assert analysis.best is not None and analysis.best.text.startswith("Milia are tiny")


def test_the_baby_nose_advice_is_found_below_the_answer_depth(searcher: Searcher) -> None:
    """The sentence that answers is among the ten closest of the index, in a result below the first ten."""
    question = QUESTIONS[0]
    query = searcher.encode_question(question)
    answerer = Answerer(searcher, answer_model=load_answer_model(), sentence_candidates=10)
    ranking = answerer.results(question, "hybrid", query)
    hits = top_sentences(searcher.index, query, 10)
    extra, ranks = holding_results(ranking, hits, answerer.answer_depth)
    documents = searcher.index.documents
    advice = [key for key in ranks if "scarring or infection" in documents[key[0]].text[key[1] : key[2]]]
    assert advice, ranks
    holder = next(
        p
        for p, r in enumerate(ranking)
        if r.citation.doc_id == advice[0][0]
        and r.citation.start <= advice[0][1] < advice[0][2] <= r.citation.end
    )
    assert holder >= answerer.answer_depth and holder in extra
    sentences, matrix = answerer.answer_candidates(question, depth=answerer.answer_depth)
    assert len(matrix) == len(sentences.texts)
    assert any("scarring or infection" in t for t in sentences.texts)


@pytest.mark.parametrize("question", QUESTIONS)
def test_sentence_candidates_keep_the_ranking_and_one_exact_answer_at_every_page(
    searcher: Searcher, question: str
) -> None:
    model = replace(load_answer_model(), sentence_candidates=10)
    plain = Answerer(searcher, answer_model=model, sentence_candidates=0)
    wide = Answerer(searcher, answer_model=model)
    assert wide.sentence_candidates == 10
    answers = set()
    for top_k, offset in ((1, 0), (5, 0), (10, 0), (5, 5), (3, 12)):
        before = plain.analyze(question, top_k, offset=offset)
        after = wide.analyze(question, top_k, offset=offset)
        assert [(r.rank, r.citation) for r in after.results] == [(r.rank, r.citation) for r in before.results]
        assert after.best is not None
        citation = after.best.citation
        document = searcher.index.documents[citation.doc_id]
        assert document.text[citation.start : citation.end] == after.best.text
        answers.add((after.best.text, citation.doc_id, citation.start))
    assert len(answers) == 1


def test_an_answer_model_keeps_its_sentence_candidates(tmp_path: Path) -> None:
    model = replace(load_answer_model(), sentence_candidates=20)
    save_answer_model(model, tmp_path / "model.json")
    loaded = load_answer_model(tmp_path / "model.json")
    assert loaded.sentence_candidates == 20
    assert AnswerModel(features=(), weights=()).sentence_candidates == 0


def test_the_setting_and_the_sentence_model_reach_the_answerer(
    app_settings: Settings, searcher: Searcher, monkeypatch: pytest.MonkeyPatch
) -> None:
    from service.settings import Settings as Configured
    from service.wiring import build_answerer

    assert build_answerer(app_settings, searcher).sentence_candidates == 0  # the packaged model: off
    forced = app_settings.model_copy(update={"answer_sentence_candidates": 7})
    assert build_answerer(forced, searcher).sentence_candidates == 7
    packaged = Path(__file__).resolve().parents[3] / "citeqa" / "answer_model_sentences.json"
    fitted = app_settings.model_copy(update={"answer_model_path": packaged})
    assert build_answerer(fitted, searcher).sentence_candidates == 10
    monkeypatch.setenv("CITEQA_ANSWER_SENTENCE_CANDIDATES", "")
    assert Configured().answer_sentence_candidates is None
    monkeypatch.setenv("CITEQA_ANSWER_SENTENCE_CANDIDATES", "20")
    assert Configured().answer_sentence_candidates == 20
