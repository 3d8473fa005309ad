"""Answer choice (citeqa.answer_choice): which sentences may answer or be highlighted, and which one is the
answer. Pure functions over spans, texts and hand-made sentence scores."""

from __future__ import annotations

import numpy as np

from citeqa.answer_choice import (
    answer_candidates,
    answer_sentence,
    best_answer,
    candidates_by_result,
    is_sentence_like,
    pick_highlights,
    result_highlights,
)
from citeqa.sentence_scoring import Sentences
from citeqa.types import Answer, Citation, Highlight
from corpus.types import Document
from indexer.chunking import sentence_spans

TEXT = (
    "Baby Milia from Baby Acne\n\n"
    "Ask Dermatologist Blogger Dr Bailey\n\n"
    "Key takeaways:\n"
    "Milia are harmless and usually go away on their own without treatment.\n"
    "Gentle cleansing with a soft wash cloth helps the skin shed them sooner\n"
    "Bumps on your face?"
)


def spans_and_texts() -> tuple[list, list[str]]:
    spans = sentence_spans(TEXT)
    return spans, [TEXT[s.start : s.end] for s in spans]


def test_headings_and_fragments_are_not_sentence_like() -> None:
    spans, texts = spans_and_texts()
    verdict = {t: is_sentence_like(s, t) for s, t in zip(spans, texts, strict=True)}
    assert verdict == {
        "Baby Milia from Baby Acne": False,  # a heading: five words, no full stop
        "Ask Dermatologist Blogger Dr Bailey": False,
        "Key takeaways:": False,  # too short
        "Milia are harmless and usually go away on their own without treatment.": True,
        "Gentle cleansing with a soft wash cloth helps the skin shed them sooner": True,  # long list line
        "Bumps on your face?": False,
    }


def test_all_sentences_are_candidates_when_none_is_sentence_like() -> None:
    spans, texts = spans_and_texts()
    headings = [0, 1]
    mask = answer_candidates([spans[i] for i in headings], [texts[i] for i in headings])
    assert mask.tolist() == [True, True]


def test_highlights_pick_only_candidates_within_the_margin() -> None:
    spans, texts = spans_and_texts()
    candidates = answer_candidates(spans, texts)
    scores = np.array([0.99, 0.5, 0.4, 0.80, 0.78, 0.95])  # the heading and the fragment score highest
    picked = pick_highlights(spans, scores, candidates)
    assert [TEXT[p.start : p.end] for p in picked] == [texts[3], texts[4]]
    assert pick_highlights(spans, scores, candidates, margin=0.01) == picked[:1]


def scored(scores: list[float], results: list[int], candidates: list[bool] | None = None) -> Sentences:
    """The sentences of TEXT (one document, "d"), each given a score and a result position."""
    spans, texts = spans_and_texts()
    owners = np.array(results, dtype=np.int64)
    mask = candidates_by_result(spans, texts, owners) if candidates is None else np.array(candidates)
    values = np.array(scores, dtype=np.float64)
    return Sentences(("d",) * len(spans), tuple(spans), tuple(texts), owners, values, values, values, mask)


def test_candidates_are_decided_within_each_result() -> None:
    spans, texts = spans_and_texts()
    # The headings alone make a result of their own: there, they are all it has, so they may answer.
    mask = candidates_by_result(spans, texts, np.array([0, 0, 1, 1, 1, 1]))
    assert mask.tolist() == [True, True, False, True, True, False]


def test_each_result_highlights_its_own_best_sentences() -> None:
    spans, _ = spans_and_texts()
    sentences = scored([0.9, 0.1, 0.2, 0.70, 0.68, 0.99], [0, 0, 1, 1, 1, 1])
    assert result_highlights(sentences, 0) == (Highlight(spans[0].start, spans[0].end, 0.9),)
    assert [h.score for h in result_highlights(sentences, 1)] == [0.70, 0.68]
    assert result_highlights(sentences, 2) == ()


def test_the_answer_is_the_best_candidate_of_the_first_results() -> None:
    scores = np.array([0.9, 0.5, 0.8, 0.95])
    candidates = np.array([False, True, True, True])
    results = np.array([0, 0, 1, 2])
    assert answer_sentence(scores, candidates, results, first=3) == 3
    assert answer_sentence(scores, candidates, results, first=2) == 2  # the non-candidate 0.9 never
    assert answer_sentence(scores, candidates, results, first=1) == 1
    assert answer_sentence(scores, candidates, results, first=0) is None


def test_best_answer_quotes_and_cites_its_sentence_only() -> None:
    document = Document("d", "Baby milia", TEXT, url="http://example.test/milia")
    # The heading (0.99) and the fragment (0.95) score highest, but only sentences answer.
    sentences = scored([0.99, 0.5, 0.4, 0.80, 0.78, 0.95], [0, 0, 0, 0, 1, 1])
    spans, texts = spans_and_texts()
    answer = best_answer(sentences, 2, {"d": document})
    assert answer == Answer(texts[3], 0.80, Citation.of(document, spans[3].start, spans[3].end))
    assert TEXT[answer.citation.start : answer.citation.end] == answer.text
    assert best_answer(sentences, 0, {"d": document}) is None
