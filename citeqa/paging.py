"""Stable paging: every page of one query is cut from the same fixed-depth ranking.

A ranking of depth N is not always a prefix of a deeper one (hybrid fusion past its head, ties at a
retriever's cut-off), and near-duplicate grouping lets a lower passage join a better result, so pages cut
from rankings of different depths could repeat or skip passages. Every request ranks PAGE_DEPTH passages
and groups all of them (citeqa.answers), so the pages of one query are disjoint and gap-free, and page 0
of GET /search is POST /query.
"""

from __future__ import annotations

from citeqa.errors import InvalidQueryError

PAGE_DEPTH = 200  # how deep a search box can page: the results of a query's best PAGE_DEPTH passages


def page_window(available: int, offset: int, k: int) -> tuple[int, int, bool]:
    """(start, stop, has_more) of the page of ``k`` items after ``offset`` in a list of ``available``."""
    if offset < 0 or k < 1:
        raise InvalidQueryError("offset must be at least 0 and k at least 1")
    start = min(offset, available)
    stop = min(offset + k, available)
    return start, stop, stop < available
