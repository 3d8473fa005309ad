"""Pages of a paged document (a PDF): joining page texts with their starts, and the pages of a span."""

from __future__ import annotations

from bisect import bisect_right
from collections.abc import Sequence

from corpus.types import Document

PAGE_SEPARATOR = "\n\n"


def join_pages(page_texts: Sequence[str]) -> tuple[str, tuple[int, ...]]:
    """The text of the pages, non-empty ones joined by a blank line, and the offset where each page
    begins (an empty page begins where the next non-empty one does, or at the end)."""
    parts: list[str] = []
    starts: list[int | None] = []
    length = 0
    for page in page_texts:
        if page and length:
            parts.append(PAGE_SEPARATOR)
            length += len(PAGE_SEPARATOR)
        starts.append(length if page else None)
        parts.append(page)
        length += len(page)
    filled: list[int] = []
    for start in reversed(starts):
        filled.append(start if start is not None else (filled[-1] if filled else length))
    return "".join(parts), tuple(reversed(filled))


def drop_prefix(page_starts: Sequence[int], removed: int) -> tuple[int, ...]:
    """``page_starts`` after the first ``removed`` characters of the text were cut off (pages that lay
    wholly in the cut begin at 0, where the next page does)."""
    return tuple(max(0, start - removed) for start in page_starts)


def page_span(document: Document, start: int, end: int) -> tuple[int | None, int | None]:
    """(page, page_end) of ``document.text[start:end]``, 1-based: ``page`` holds the first character,
    ``page_end`` the last when it is on a later page, else None. (None, None) for a document without pages.
    """
    if not 0 <= start <= end <= len(document.text):
        raise ValueError(f"span {start}:{end} is outside the text of {document.doc_id!r}")
    starts = document.page_starts
    if not starts:
        return None, None
    first = bisect_right(starts, start)
    last = bisect_right(starts, max(start, end - 1))
    return first, (last if last > first else None)
