"""Snippets: what a search box shows of a result, the answering sentences with enough context to read
alone, at most SNIPPET_CHARS characters, as an exact span of the document (``text[start:end]``).

Built from the result's highlights (citeqa.answer_choice) and its sentences: the highlighted sentences
when they fit together (else the best one, as the answer choice ranks them: the answer in its result),
then whole neighbouring sentences of the result, the next one first, while they fit. A sentence longer
than the limit is cut to the window of whole words that holds the most distinct terms of the question
(``asked``), the latest such window; from its start when no word is asked for or nothing says which
words are.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Callable, Sequence

from citeqa.types import Highlight, Snippet
from indexer.chunking import Span

SNIPPET_CHARS = 300


def cut_to_words(text: str, start: int, end: int, limit: int) -> int:
    """The end of ``text[start:end]`` cut to at most ``limit`` characters at a space (or hard, if none)."""
    if end - start <= limit:
        return end
    space = text.rfind(" ", start, start + limit + 1)
    stop = space if space > start else start + limit
    return len(text[start:stop].rstrip()) + start


TOKEN = re.compile(r"\S+")  # whole tokens: a window never splits "forty-two" or "42.50"


def asked_window(
    text: str, start: int, end: int, limit: int, asked: Callable[[str], str | None]
) -> tuple[int, int]:
    """The span of at most ``limit`` characters of whole tokens (runs of non-space) of ``text[start:end]``
    that holds the most distinct question terms (``asked`` maps a token to a question term it holds, or
    None), the latest such window (an answer tends to follow the words that ask for it), grown back to the
    limit. A token longer than the limit is in no window. (start, cut at the limit) when no token is asked
    for."""
    words = [(m.start(), m.end()) for m in TOKEN.finditer(text, start, end)]
    keys = [asked(text[a:b]) for a, b in words]
    held: Counter[str] = Counter()
    best, best_count, last = None, 0, -1  # the window is words[first : last + 1]
    for first in range(len(words)):
        leaving = keys[first - 1] if first > 0 and first - 1 <= last else None
        if leaving is not None:
            held[leaving] -= 1
            if not held[leaving]:
                del held[leaving]
        if last < first:  # the window is empty: start it here, unless this token alone is too long
            if words[first][1] - words[first][0] > limit:
                continue
            last = first
            if keys[first] is not None:
                held[keys[first]] += 1
        while last + 1 < len(words) and words[last + 1][1] - words[first][0] <= limit:
            last += 1
            if keys[last] is not None:
                held[keys[last]] += 1
        if held and len(held) >= best_count:
            best, best_count = (first, last), len(held)
    if best is None:
        return start, cut_to_words(text, start, end, limit)
    first, last = best
    while first > 0 and words[last][1] - words[first - 1][0] <= limit:  # fill the limit before it
        first -= 1
    return words[first][0], words[last][1]


def make_snippet(
    text: str,
    sentences: Sequence[Span],
    highlights: Sequence[Highlight],
    bounds: tuple[int, int],
    limit: int = SNIPPET_CHARS,
    asked: Callable[[str], str | None] | None = None,
    lead: Highlight | None = None,
) -> Snippet:
    """The snippet of a result spanning ``text[bounds[0]:bounds[1]]``, whose sentences are ``sentences``
    (document offsets, in order) and answering sentences ``highlights``, of which ``lead`` is the best (the
    one shown when they do not fit together; by default the highest ``score``); ``asked`` maps a word to
    the question's term it is, or None (where a sentence too long for the snippet is cut, see
    asked_window)."""
    low, high = bounds
    spans = [s for s in sentences if low <= s.start and s.end <= high]
    if highlights:
        first, last = min(h.start for h in highlights), max(h.end for h in highlights)
        if last - first > limit:
            best = lead if lead is not None else max(highlights, key=lambda h: h.score)
            first, last = best.start, best.end
    elif spans:
        first, last = spans[0].start, spans[0].end
    else:
        first, last = low, high
    if last - first > limit:
        if asked is None:
            last = cut_to_words(text, first, last, limit)
        else:
            first, last = asked_window(text, first, last, limit, asked)
        return Snippet(first, last, text[first:last])
    after = [s for s in spans if s.start >= last]
    before = [s for s in reversed(spans) if s.end <= first]
    grew = True
    while grew:
        grew = False
        if after and after[0].end - first <= limit:
            last = after.pop(0).end
            grew = True
        if before and last - before[0].start <= limit:
            first = before.pop(0).start
            grew = True
    return Snippet(first, last, text[first:last])
