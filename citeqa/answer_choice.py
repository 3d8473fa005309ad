"""Answer choice: which sentences may answer, which of them a result highlights, and which one is the
answer to the question. Everything that decides the answer sentence is here; the sentence scores it
chooses by come from citeqa.sentence_scoring.

- A sentence may answer when it is sentence-like (``is_sentence_like``): headings and fragments answer
  nothing on their own, so they count only in a result that has nothing sentence-like.
- Sentences are ranked by the learned choice score (citeqa.answer_model) when the answerer has a model,
  else by the similarity mix of citeqa.sentence_scoring.
- A question that a sentence of its result answers (an FAQ's question, a heading that asks) and a line
  without a sentence's end alone in its paragraph (a heading, however long: "How to request paid time off
  in the HR portal") are neither highlighted nor the answer while their result has another candidate
  (``choosable``): the answer follows them.
- An answer or a highlight that is a list item quotes it without its marker ("- ", "3. "; LIST_MARKER).
- A result highlights its best candidate sentence and the others within the margin of it
  (``HIGHLIGHT_MARGIN`` on the similarity mix, ``CHOICE_MARGIN`` on the choice's log-odds), at most
  ``MAX_HIGHLIGHTS``, in text order.
- The answer is the best candidate sentence of the first ``ANSWER_DEPTH`` results, whatever page is asked
  for (so the same question always gets the same answer, at any top_k and offset, and it is always a
  highlight of its result); none when they have no sentence.
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING

import numpy as np

from citeqa.types import Answer, Citation, Highlight
from corpus.types import Document
from indexer.chunking import Span
from indexer.cjk import CJK_CLOSERS, CJK_SENTENCE_STOPS

if TYPE_CHECKING:
    from citeqa.sentence_scoring import Sentences

# A sentence is highlighted when it scores within this margin of the result's best sentence.
HIGHLIGHT_MARGIN = 0.05
# With the learned choice, a second sentence is highlighted when it is at least e^-1 as likely as the best.
CHOICE_MARGIN = 1.0
# The answer is chosen among the sentences of this many first results, whatever top_k and offset are.
ANSWER_DEPTH = 5
MAX_HIGHLIGHTS = 2
# Shorter "sentences" are headings or fragments ("Bumps on your face?"), and so are short lines without a
# full stop ("Baby Milia from Baby Acne"): they answer nothing on their own, so they are highlighted only
# when a passage has nothing sentence-like.
MIN_ANSWER_WORDS = 5
SENTENCE_ENDS = (".", "!", "?", ":", "\uff1a", *CJK_SENTENCE_STOPS)
CLOSERS = "\"'\u201d\u2019)]" + CJK_CLOSERS
UNPUNCTUATED_ANSWER_WORDS = 8
# A list item's marker ("- ", "• ", "3. ", "2) ") in a plain text file: list chrome, not the answer's words;
# an answer and a highlight quote the item from its first word.
LIST_MARKER = re.compile(r"(?:[-*\u2022\u00b7\u25aa\u2013]|\d{1,3}[.)])[ \t\u00a0]+(?=\S)")


def is_sentence_like(span: Span, text: str) -> bool:
    """At least MIN_ANSWER_WORDS words ending like a sentence, or a long line (a list item without a full
    stop): a heading ("Baby Milia from Baby Acne") or a fragment does not answer."""
    ends = ends_like_sentence(text)
    return span.words >= UNPUNCTUATED_ANSWER_WORDS or (span.words >= MIN_ANSWER_WORDS and ends)


def ends_like_sentence(text: str) -> bool:
    return text.rstrip(CLOSERS).endswith(SENTENCE_ENDS)


def alone_in_paragraph(document: str, start: int, end: int) -> bool:
    """Whether ``document[start:end]`` is a paragraph of its own: a blank line (or the document's edge)
    before and after it."""
    return blank_line(document, start - 1, -1) and blank_line(document, end, 1)


def blank_line(document: str, i: int, step: int) -> bool:
    """Whether only spaces and two line breaks lie from ``i`` to the next text in direction ``step`` (or
    only spaces and line breaks to the document's edge)."""
    breaks = 0
    while 0 <= i < len(document) and document[i] in " \t\r\n":
        breaks += document[i] == "\n"
        i += step
    return breaks >= 2 or not 0 <= i < len(document)


def heading_lines(document: str, spans: Sequence[Span], texts: Sequence[str]) -> np.ndarray:
    """Mask of the sentences that are headings: a line without a sentence's end, alone in its paragraph
    (a list item has its list around it; a heading of 8 words or more is sentence-like all the same)."""
    return np.array(
        [
            not ends_like_sentence(text) and alone_in_paragraph(document, span.start, span.end)
            for span, text in zip(spans, texts, strict=True)
        ],
        dtype=bool,
    )


def answer_candidates(spans: Sequence[Span], texts: Sequence[str]) -> np.ndarray:
    """Mask of the sentences (of one result) that may answer: sentence-like, or all of them when none is."""
    fit = np.array([is_sentence_like(s, t) for s, t in zip(spans, texts, strict=True)], dtype=bool)
    return fit if fit.any() else np.ones(len(spans), dtype=bool)


def asks(text: str) -> bool:
    """Whether the sentence is a question (ends with "?", closers aside)."""
    return text.rstrip(CLOSERS + " ").endswith(("?", "\uff1f"))


def answered_questions(texts: Sequence[str], results: np.ndarray) -> np.ndarray:
    """Mask of the questions followed, in their result, by a sentence that is not a question: an FAQ's
    question (or a heading that asks), whose answer is what follows it."""
    asking = np.array([asks(text) for text in texts], dtype=bool)
    answered = np.zeros(len(texts), dtype=bool)
    if len(texts) > 1:
        answered[:-1] = asking[:-1] & ~asking[1:] & (results[1:] == results[:-1])
    return answered


def choosable(
    texts: Sequence[str], candidates: np.ndarray, results: np.ndarray, headings: np.ndarray | None = None
) -> np.ndarray:
    """The candidates the answer and the highlights are chosen from: less the questions their result
    answers (``answered_questions``) and the ``headings`` (``heading_lines``), unless a result would be
    left with no candidate."""
    chosen = candidates & ~answered_questions(texts, results)
    if headings is not None:
        chosen &= ~headings
    for position in np.unique(results[candidates & ~chosen]):
        mine = results == position
        if not chosen[mine].any():
            chosen[mine] = candidates[mine]
    return chosen


def candidates_by_result(spans: Sequence[Span], texts: Sequence[str], results: np.ndarray) -> np.ndarray:
    """``answer_candidates`` of the sentences of several results (``results``: each one's result), each
    result decided on its own sentences."""
    candidate = np.zeros(len(spans), dtype=bool)
    for position in np.unique(results):
        mine = np.flatnonzero(results == position)
        candidate[mine] = answer_candidates([spans[i] for i in mine], [texts[i] for i in mine])
    return candidate


def highlight_indices(
    scores: np.ndarray, candidates: np.ndarray, margin: float = HIGHLIGHT_MARGIN, limit: int = MAX_HIGHLIGHTS
) -> list[int]:
    """Indices of the best candidate and of the others within ``margin`` of it (at most ``limit``), in
    text order."""
    # Plain floats: a result has a dozen sentences, too few for numpy's per-call cost to pay.
    values = np.asarray(scores, dtype=np.float64).tolist()
    allowed = np.asarray(candidates, dtype=bool).tolist()
    masked = [value if ok else -math.inf for value, ok in zip(values, allowed, strict=True)]
    if not masked:
        return []
    best = max(masked)
    # Best first, ties in text order (sorted is stable, reversed too).
    order = sorted(range(len(masked)), key=masked.__getitem__, reverse=True)[:limit]
    return sorted(i for i in order if masked[i] >= best - margin)


def pick_highlights(
    spans: Sequence[Span],
    scores: np.ndarray,
    candidates: np.ndarray,
    margin: float = HIGHLIGHT_MARGIN,
    limit: int = MAX_HIGHLIGHTS,
) -> list[Highlight]:
    """The best candidate sentence and others within ``margin`` of it (at most ``limit``), in text order;
    ``candidates`` masks the sentences that may be picked (see answer_candidates)."""
    chosen = highlight_indices(scores, candidates, margin, limit)
    return [Highlight(spans[i].start, spans[i].end, float(scores[i])) for i in chosen]


def highlight_rows(sentences: Sentences, position: int) -> list[int]:
    """The rows (of ``sentences``) of the highlights of the result at ``position``, in text order."""
    mine = np.flatnonzero(sentences.result == position)
    margin = HIGHLIGHT_MARGIN if sentences.choice is None else CHOICE_MARGIN
    texts = [sentences.texts[i] for i in mine]
    headings = None if sentences.heading is None else sentences.heading[mine]
    allowed = choosable(texts, sentences.candidate[mine], sentences.result[mine], headings)
    return mine[highlight_indices(sentences.ranking()[mine], allowed, margin)].tolist()


def result_highlights(sentences: Sentences, position: int) -> tuple[Highlight, ...]:
    """The highlights of the result at ``position`` (of the scored results)."""
    return highlights_and_lead(sentences, position)[0]


def highlights_and_lead(
    sentences: Sentences, position: int
) -> tuple[tuple[Highlight, ...], Highlight | None]:
    """The highlights of the result at ``position``, in text order, and the one of them ranked first by what
    chose them (in the answer's result, the answer): the one a snippet shows when they do not fit together."""
    rows = highlight_rows(sentences, position)
    if not rows:
        return (), None
    ranking = sentences.ranking()
    lead = max(rows, key=lambda i: ranking[i])
    return tuple(as_highlight(sentences, i) for i in rows), as_highlight(sentences, lead)


def as_highlight(sentences: Sentences, row: int) -> Highlight:
    # A highlight's score is the similarity mix, whatever ranked it.
    span = sentences.spans[row]
    start = span.start + marker_length(sentences.texts[row])
    return Highlight(start, span.end, float(sentences.score[row]))


def marker_length(text: str) -> int:
    """How many leading characters of a sentence are a list item's marker and its spaces (LIST_MARKER)."""
    marker = LIST_MARKER.match(text)
    return 0 if marker is None else marker.end()


def answer_sentence(
    scores: np.ndarray,
    candidates: np.ndarray,
    results: np.ndarray,
    first: int,
    also: np.ndarray | None = None,
) -> int | None:
    """Index of the best-scoring candidate sentence of the ``first`` results (and of the results whose
    sentences ``also`` marks: found by sentence-level retrieval), or None when they have none."""
    eligible = candidates & ((results < first) if also is None else ((results < first) | also))
    if not eligible.any():
        return None
    return int(np.argmax(np.where(eligible, scores, -np.inf)))


def best_answer(
    sentences: Sentences, first: int, documents: Mapping[str, Document], also: np.ndarray | None = None
) -> Answer | None:
    """The answer among the sentences of the ``first`` scored results (and those ``also`` marks), cited
    to its sentence only."""
    allowed = choosable(sentences.texts, sentences.candidate, sentences.result, sentences.heading)
    best = answer_sentence(sentences.ranking(), allowed, sentences.result, first, also)
    if best is None:
        return None
    span, text = sentences.spans[best], sentences.texts[best]
    marker = marker_length(text)
    citation = Citation.of(documents[sentences.doc_ids[best]], span.start + marker, span.end)
    return Answer(text[marker:], float(sentences.score[best]), citation)
