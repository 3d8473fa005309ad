"""Stable paging: every page of one query is cut from the same fixed-depth ranking, grouped once.

A ranking of depth N is not always a prefix of a deeper one (hybrid fusion past its head, ties at a
retriever's cut-off), and near-duplicate grouping lets a lower passage join a better result, so pages cut
from rankings of different depths could repeat or skip passages. Every request ranks PAGE_DEPTH passages
and groups them into distinct results (``distinct_results``; dedup is greedy in rank order, see
citeqa.dedup), then cuts the page (``page_window``). So the same query always gives the same results in the
same order, the pages of one query are disjoint and gap-free, and page 0 of GET /search is POST /query.
Grouping reads the ranking only as deep as the head and the page need (citeqa.dedup.MergeGrouping): its
first results are those of grouping all PAGE_DEPTH passages.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Protocol, overload

import numpy as np

from citeqa.dedup import MAX_MERGED, DedupRule, Group, MergeGrouping, group_passages
from citeqa.errors import InvalidQueryError
from citeqa.search import ScoredIds
from citeqa.types import Citation, Result
from corpus.types import Document
from indexer.load import LoadedIndex
from indexer.types import Passage, PassageLayout

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
    passages, layout = ranked_passages(index.passages, ranked.ids)
    if dedup in ("merge", "merge_chain"):
        grouping = MergeGrouping(passages, MAX_MERGED if dedup == "merge" else None, layout)
    else:
        grouping = Grouped(group_passages(passages, len(passages), dedup))
    return DistinctResults(grouping, ranked, index.documents)


def ranked_passages(passages: Sequence[Passage], ids: np.ndarray) -> tuple[Sequence[Passage], PassageLayout]:
    """The passages of ``ids`` in order, each built when first read where the index offers it
    (indexer.segment_views), and where they lie."""
    ranked = getattr(passages, "ranked", None)
    if ranked is not None:
        found = ranked(ids)
        return found, found.layout
    listed = [passages[int(i)] for i in ids]
    return listed, PassageLayout.of(listed)


class Grouping(Protocol):
    def groups(self, n: int) -> list[Group]:
        """The first ``n`` groups (fewer when there are fewer), final."""
        ...

    def count(self) -> int: ...


@dataclass(frozen=True)
class Grouped:
    """Groups made all at once (the rules that do not merge)."""

    all: Sequence[Group]

    def groups(self, n: int) -> list[Group]:
        return list(self.all[:n])

    def count(self) -> int:
        return len(self.all)


class DistinctResults(Sequence[Result]):
    """The results of a ranking's groups, each made when first read: a query reads its head and its page,
    a few of the up to PAGE_DEPTH groups, and the grouping reads only as deep as they need (``at_least``
    for a count; ``len`` groups the whole ranking)."""

    def __init__(self, grouping: Grouping, ranked: ScoredIds, documents: Mapping[str, Document]) -> None:
        self._grouping, self._ranked, self._documents = grouping, ranked, documents
        self._made: dict[int, Result] = {}

    def __len__(self) -> int:
        return self._grouping.count()

    def at_least(self, n: int) -> int:
        """``min(n, len(self))`` without grouping past the first ``n`` results."""
        return len(self._grouping.groups(n))

    @overload
    def __getitem__(self, position: int) -> Result: ...

    @overload
    def __getitem__(self, position: slice) -> list[Result]: ...

    def __getitem__(self, position: int | slice) -> Result | list[Result]:
        if isinstance(position, slice):
            if position.step in (None, 1) and (position.start or 0) >= 0 and (position.stop or -1) >= 0:
                stop = self.at_least(position.stop)
                return [self[i] for i in range(position.start or 0, stop)]
            return [self[i] for i in range(*position.indices(len(self)))]
        if position < 0:
            position += len(self)
        made = self._made.get(position)
        if made is None:
            groups = self._grouping.groups(position + 1) if position >= 0 else []
            if len(groups) <= position:
                raise IndexError("result position out of range")
            made = group_result(position + 1, groups[position], self._ranked, self._documents)
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
