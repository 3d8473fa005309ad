"""Stable paging (citeqa.paging): the page window arithmetic, and pages of real searches that neither
repeat nor skip passages and keep one order."""

from __future__ import annotations

import pytest

from citeqa.answers import Answerer
from citeqa.errors import InvalidQueryError
from citeqa.paging import PAGE_DEPTH, page_window
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


def result_keys(results: tuple) -> list[tuple[str, int, int]]:
    return [(r.citation.doc_id, r.citation.start, r.citation.end) for r in results]


@pytest.mark.parametrize("mode", SEARCH_MODES)
def test_pages_cover_the_results_once_in_order(answerer: Answerer, mode: str) -> None:
    question = "how do you get rid of milia"
    everything = answerer.results(question, mode)
    assert everything, "the question should match passages"
    seen: list = []
    offset, k = 0, 3
    while True:
        page = answerer.respond(question, k, mode, offset)
        assert page.offset == offset
        assert [r.rank for r in page.results] == list(range(offset + 1, offset + 1 + len(page.results)))
        seen.extend(page.results)
        if not page.has_more:
            break
        assert len(page.results) == k
        offset += k
    assert result_keys(tuple(seen)) == result_keys(tuple(everything))
    assert len(set(result_keys(tuple(seen)))) == len(seen), "a result was repeated"
    again = answerer.respond(question, k, mode, 0)
    assert result_keys(again.results) == result_keys(tuple(seen[:k]))


def test_the_answer_and_decision_do_not_depend_on_the_page(answerer: Answerer) -> None:
    question = "will the white spots on my newborn's nose go away"
    first, later = answerer.respond(question, 3, "hybrid", 0), answerer.respond(question, 3, "hybrid", 6)
    assert (first.answer, first.answerable, first.confidence) == (
        later.answer,
        later.answerable,
        later.confidence,
    )
    assert result_keys(first.results) != result_keys(later.results)


def test_offset_past_the_end_is_an_empty_last_page(answerer: Answerer) -> None:
    total = len(answerer.searcher.index.passages)
    page = answerer.respond("milia", 5, "dense", min(total + 3, PAGE_DEPTH))
    assert page.results == () and page.has_more is False


@pytest.mark.parametrize("offset", [-1, PAGE_DEPTH + 1])
def test_offset_out_of_range_is_refused(answerer: Answerer, offset: int) -> None:
    with pytest.raises(InvalidQueryError, match="offset"):
        answerer.respond("milia", 5, "hybrid", offset)
