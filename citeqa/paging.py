"""Stable paging: every page of one query is cut from the same fixed-depth ranking, grouped once.

A ranking of depth N is not always a prefix of a deeper one (hybrid fusion past its head, ties at a
retriever's cut-off), and near-duplicate grouping lets a lower passage join a better result, so pages cut
from rankings of different depths could repeat or skip passages. Every request ranks PAGE_DEPTH passages
and groups all of them into distinct results (``distinct_results``; dedup is greedy in rank order, see
citeqa.dedup), then cuts the page (``page_window``). So the same query always gives the same results in the
same order, the pages of one query are disjoint and gap-free, and page 0 of GET /search is POST /query.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from typing import overload

import numpy as np

from citeqa.dedup import DedupRule, Group, group_passages
from citeqa.errors import InvalidQueryError
from citeqa.search import ScoredIds
from citeqa.types import Citation, Result
from corpus.types import Document
from indexer.load import LoadedIndex
from indexer.types import Passage

PAGE_DEPTH = 200  # how deep a search box can page: the results of a query's best PAGE_DEPTH passages


def validate_offset(offset: int) -> None:
    if not 0 <= offset <= PAGE_DEPTH:
        raise InvalidQueryError(
            f"offset {offset} is out of range; use 0 to {PAGE_DEPTH} "
            f"(results page through the best {PAGE_DEPTH} passages)"
        )


def page_window(available: int, offset: int, k: int) -> tuple[int, int, bool]:
    """(start, stop, has_more) of the page of ``k`` items after ``offset`` in a list of ``available``."""
    if offset < 0 or k < 1:
        raise InvalidQueryError("offset must be at least 0 and k at least 1")
    start = min(offset, available)
    stop = min(offset + k, available)
    return start, stop, stop < available


def distinct_results(ranked: ScoredIds, index: LoadedIndex, dedup: DedupRule) -> DistinctResults:
    """The distinct results (no highlights) of a ranking of ``index``'s passages, best first."""
    passages = passages_of(index.passages, ranked.ids)
    groups = group_passages(passages, len(passages), dedup)
    return DistinctResults(groups, ranked, index.documents)


def passages_of(passages: Sequence[Passage], ids: np.ndarray) -> list[Passage]:
    """``[passages[i] for i in ids]``, in one call where the passages offer it (indexer.segment_views)."""
    many = getattr(passages, "many", None)
    if many is not None:
        return many(ids)
    return [passages[int(i)] for i in ids]


class DistinctResults(Sequence[Result]):
    """The results of a ranking's groups, each made when first read: a query reads its head and its page,
    a few of the up to PAGE_DEPTH groups (grouping needs the whole ranking, a page only its results)."""

    def __init__(self, groups: Sequence[Group], ranked: ScoredIds, documents: Mapping[str, Document]) -> None:
        self._groups, self._ranked, self._documents = groups, ranked, documents
        self._made: list[Result | None] = [None] * len(groups)

    def __len__(self) -> int:
        return len(self._groups)

    @overload
    def __getitem__(self, position: int) -> Result: ...

    @overload
    def __getitem__(self, position: slice) -> list[Result]: ...

    def __getitem__(self, position: int | slice) -> Result | list[Result]:
        if isinstance(position, slice):
            return [self[i] for i in range(*position.indices(len(self)))]
        if position < 0:
            position += len(self)
        if not 0 <= position < len(self):
            raise IndexError("result position out of range")
        made = self._made[position]
        if made is None:
            made = group_result(position + 1, self._groups[position], self._ranked, self._documents)
            self._made[position] = made
        return made

    def __iter__(self) -> Iterator[Result]:
        return (self[i] for i in range(len(self)))


def group_result(rank: int, group: Group, ranked: ScoredIds, documents: Mapping[str, Document]) -> Result:
    """The result of a group of ``ranked`` passages: its text, citation and passage ids, and the score of
    its best passage."""
    document = documents[group.doc_id]
    return Result(
        rank=rank,
        score=float(ranked.scores[group.members[0]]),
        text=document.text[group.start : group.end],
        citation=Citation.of(document, group.start, group.end),
        passage_ids=tuple(int(ranked.ids[m]) for m in group.members),
    )
