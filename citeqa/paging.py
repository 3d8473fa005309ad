"""Stable paging: every page of one query is cut from the same fixed-depth ranking.

A ranking of depth N is not always a prefix of a deeper one (hybrid fusion past its head, ties at a
retriever's cut-off), so pages cut from rankings of different depths could repeat or skip passages.
Ranking every request at the same depth makes the pages of one query disjoint and gap-free, and page 0
of GET /search identical to POST /query.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from citeqa.errors import InvalidQueryError
from citeqa.search import Searcher
from citeqa.types import Hit, SearchMode

PAGE_DEPTH = 200  # how deep a search box can page: the best PAGE_DEPTH passages of a query


@dataclass(frozen=True)
class Page:
    hits: tuple[Hit, ...]
    offset: int
    has_more: bool


def page_window(available: int, offset: int, k: int) -> tuple[int, int, bool]:
    """(start, stop, has_more) of the page of ``k`` items after ``offset`` in a list of ``available``."""
    if offset < 0 or k < 1:
        raise InvalidQueryError("offset must be at least 0 and k at least 1")
    start = min(offset, available)
    stop = min(offset + k, available)
    return start, stop, stop < available


def search_page(
    searcher: Searcher,
    question: str,
    k: int,
    mode: SearchMode = "hybrid",
    offset: int = 0,
    depth: int = PAGE_DEPTH,
    filters: Any = None,
) -> Page:
    """The ``k`` passages ranked after the first ``offset`` (ranks stay global: page 2 of k=5 starts at 6)."""
    if not 0 <= offset <= depth:
        raise InvalidQueryError(
            f"offset {offset} is out of range; use 0 to {depth} "
            f"(search pages through the best {depth} passages)"
        )
    hits = searcher.search(question, depth, mode, filters)
    start, stop, has_more = page_window(len(hits), offset, k)
    return Page(tuple(hits[start:stop]), offset, has_more)
