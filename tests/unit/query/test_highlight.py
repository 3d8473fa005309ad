"""Which sentences may answer or be highlighted: pure functions over spans and texts."""

from __future__ import annotations

import numpy as np

from citeqa.highlight import answer_candidates, is_sentence_like, pick_highlights
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
