"""Snippets: what a search box shows of a result, the answering sentences with enough context to read
alone, at most SNIPPET_CHARS characters, as an exact span of the document (``text[start:end]``).

Built from the result's highlights (citeqa.answer_choice) and its sentences: the highlighted sentences
when they fit together (else the best one), then whole neighbouring sentences of the result, the next one
first, while they fit. A sentence longer than the limit is cut at the last space before it.
"""

from __future__ import annotations

from collections.abc import Sequence

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


def make_snippet(
    text: str,
    sentences: Sequence[Span],
    highlights: Sequence[Highlight],
    bounds: tuple[int, int],
    limit: int = SNIPPET_CHARS,
) -> Snippet:
    """The snippet of a result spanning ``text[bounds[0]:bounds[1]]``, whose sentences are ``sentences``
    (document offsets, in order) and answering sentences ``highlights``."""
    low, high = bounds
    spans = [s for s in sentences if low <= s.start and s.end <= high]
    if highlights:
        first, last = min(h.start for h in highlights), max(h.end for h in highlights)
        if last - first > limit:
            best = max(highlights, key=lambda h: h.score)
            first, last = best.start, best.end
    elif spans:
        first, last = spans[0].start, spans[0].end
    else:
        first, last = low, high
    if last - first > limit:
        last = cut_to_words(text, first, last, limit)
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
