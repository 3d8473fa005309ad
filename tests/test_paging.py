"""Stable paging (citeqa.paging): the page window arithmetic, and pages of real searches that neither
repeat nor skip passages and keep one order."""

from __future__ import annotations

import pytest

from citeqa.errors import InvalidQueryError
from citeqa.paging import PAGE_DEPTH, page_window, search_page
from citeqa.search import Searcher
from citeqa.types import SEARCH_MODES


@pytest.mark.parametrize(
    ("available", "offset", "k", "expected"),
    [
        (10, 0, 5, (0, 5, True)),
        (10, 5, 5, (5, 10, False)),
        (10, 8, 5, (8, 10, False)),
        (10, 10, 5, (10, 10, False)),
        (10, 25, 5, (10, 10, False)),
        (0, 0, 5, (0, 0, False)),
        (6, 0, 5, (0, 5, True)),
    ],
)
def test_page_window(available: int, offset: int, k: int, expected: tuple[int, int, bool]) -> None:
    assert page_window(available, offset, k) == expected


@pytest.mark.parametrize(("offset", "k"), [(-1, 5), (0, 0)])
def test_page_window_rejects_bad_arguments(offset: int, k: int) -> None:
    with pytest.raises(InvalidQueryError):
        page_window(10, offset, k)


def passage_keys(hits: tuple) -> list[tuple[str, int, int]]:
    return [(h.citation.doc_id, h.citation.start, h.citation.end) for h in hits]


@pytest.mark.parametrize("mode", SEARCH_MODES)
def test_pages_cover_the_ranking_once_in_order(searcher: Searcher, mode: str) -> None:
    question = "how do you get rid of milia"
    everything = searcher.search(question, PAGE_DEPTH, mode)
    assert everything, "the question should match passages"
    seen: list = []
    offset, k = 0, 3
    while True:
        page = search_page(searcher, question, k, mode, offset)
        assert page.offset == offset
        assert [h.rank for h in page.hits] == list(range(offset + 1, offset + 1 + len(page.hits)))
        seen.extend(page.hits)
        if not page.has_more:
            break
        assert len(page.hits) == k
        offset += k
    assert passage_keys(tuple(seen)) == passage_keys(tuple(everything))
    assert len(set(passage_keys(tuple(seen)))) == len(seen), "a passage was repeated"
    again = search_page(searcher, question, k, mode, 0)
    assert passage_keys(again.hits) == passage_keys(tuple(seen[:k]))


def test_first_page_equals_a_plain_search(searcher: Searcher) -> None:
    for mode in SEARCH_MODES:
        page = search_page(searcher, "milia on a baby's chin", 5, mode)
        assert passage_keys(page.hits) == passage_keys(
            tuple(searcher.search("milia on a baby's chin", 5, mode))
        )


def test_offset_past_the_end_is_an_empty_last_page(searcher: Searcher) -> None:
    total = len(searcher.index.passages)
    page = search_page(searcher, "milia", 5, "dense", min(total + 3, PAGE_DEPTH))
    assert page.hits == () and page.has_more is False


@pytest.mark.parametrize("offset", [-1, PAGE_DEPTH + 1])
def test_offset_out_of_range_is_refused(searcher: Searcher, offset: int) -> None:
    with pytest.raises(InvalidQueryError, match="offset"):
        search_page(searcher, "milia", 5, "hybrid", offset)
