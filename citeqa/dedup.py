"""Near-duplicate removal over a ranking of passages, as pure functions: the results of one response never
show the same text of one document twice.

Two kinds of duplication occur: passages of one document that overlap (the chunker overlaps neighbours by
up to 30 words), and the same text twice in one document (normalized whitespace and case), e.g. a
repetitive page. The same text in two documents is two results: each document is a source a citation
names (a BEIR corpus judges them apart: MedQuAD pages share sections word for word), and dropping the
lower one hid it from the results while ``citeqa eval --dataset`` counted it.
Rules (measured on the seed set, see ``citeqa eval --dedup``):

- ``merge`` (default): a passage overlapping a better result of its document joins it: the result's span
  becomes the union of theirs (still an exact slice of the document), ranked where its best passage
  ranked. A result holds at most ``MAX_MERGED`` passages, so that chains of neighbours do not grow into
  one huge result: a passage overlapping a full result (or two results) is trimmed to its longest part
  that no result shows yet, and dropped if that part is shorter than ``MIN_TRIMMED_FRACTION`` of it.
  No text is shown twice and little is lost: dropping a neighbour instead loses the sentences it does not
  share, which often hold the answer.
- ``merge_chain``: the same without the limit (a chain of neighbours becomes one result).
- ``contained``: drop a passage that shares more than half of the shorter one's characters with a better one.
- ``any_overlap``: drop a passage that shares any character with a better one (loses information).
- ``none``: keep everything.

Every rule except ``none`` also drops a passage whose normalized text equals a better one's of the same
document (``merge`` also a trimmed part whose text a better result of its document shows: a repetitive
document trims to one text at many offsets).
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from functools import lru_cache
from typing import Literal, get_args

import numpy as np

from indexer.types import Passage, PassageLayout

DedupRule = Literal["merge", "merge_chain", "contained", "any_overlap", "none"]
DEDUP_RULES: tuple[DedupRule, ...] = get_args(DedupRule)
DEFAULT_DEDUP_RULE: DedupRule = "merge"
# ``contained``: passages are duplicates when they share more than this fraction of the shorter one.
CONTAINED_FRACTION = 0.5
MAX_MERGED = 2
MIN_TRIMMED_FRACTION = 0.25
_SPACE = re.compile(r"\s+")


@dataclass(frozen=True)
class Group:
    """One result: a span of one document made of one or more ranked passages.

    ``members`` are positions in the ranked input, best first; ``start``/``end`` span all of them.
    """

    doc_id: str
    start: int
    end: int
    members: tuple[int, ...]

    def overlaps(self, passage: Passage) -> bool:
        return passage.doc_id == self.doc_id and min(self.end, passage.end) > max(self.start, passage.start)


# Every query normalizes its whole 200-deep ranking, and popular passages recur across queries.
@lru_cache(maxsize=65_536)
def normalized_text(text: str) -> str:
    return _SPACE.sub(" ", text).strip().casefold()


def shared_chars(a: Passage, b: Passage) -> int:
    """Characters of the document that both passages cover (0 across documents)."""
    if a.doc_id != b.doc_id:
        return 0
    return max(0, min(a.end, b.end) - max(a.start, b.start))


def is_near_duplicate(a: Passage, b: Passage, max_shared: float) -> bool:
    """One document's passages with the same normalized text, or sharing more than ``max_shared`` of the
    shorter."""
    if a.doc_id == b.doc_id and normalized_text(a.text) == normalized_text(b.text):
        return True
    shorter = min(a.end - a.start, b.end - b.start)
    return shorter > 0 and shared_chars(a, b) / shorter > max_shared


def group_passages(
    ranked: Sequence[Passage], limit: int, rule: DedupRule = DEFAULT_DEDUP_RULE
) -> list[Group]:
    """At most ``limit`` results from ``ranked`` (best first), in rank order, none duplicating another."""
    if rule not in DEDUP_RULES:
        raise ValueError(f"unknown dedup rule {rule!r}; use one of {', '.join(DEDUP_RULES)}")
    if rule in ("merge", "merge_chain"):
        return _merge(ranked, limit, MAX_MERGED if rule == "merge" else None)
    max_shared = {"contained": CONTAINED_FRACTION, "any_overlap": 0.0}.get(rule)
    kept: list[int] = []
    for position, passage in enumerate(ranked):
        if len(kept) == limit:
            break
        if max_shared is None or not any(is_near_duplicate(ranked[k], passage, max_shared) for k in kept):
            kept.append(position)
    return [Group(ranked[k].doc_id, ranked[k].start, ranked[k].end, (k,)) for k in kept]


def _merge(ranked: Sequence[Passage], limit: int, max_merged: int | None) -> list[Group]:
    """Read ``ranked`` until ``limit`` results are made (later passages no longer join them)."""
    grouping = MergeGrouping(ranked, max_merged)
    while grouping.made() < limit and grouping.read_one():
        pass
    return grouping.made_so_far()


class MergeGrouping:
    """The ``merge`` rules over a ranking, made only as deep as asked (``groups(n)``): the first n results
    are final once no lower passage of their documents overlaps one that can still grow, so a page near
    the top reads a few dozen passages of the 200 ranked, not all of them.

    Exact: results are made in rank order and, with a limit on merged passages, never move or vanish (a
    passage joins at most one result), so reading further only appends results or grows a result that
    still has room; ``layout`` finds the lowest passage that could still grow one of the first n. Without
    a limit (``merge_chain``) a passage can join two results into one, so everything is read."""

    def __init__(
        self, ranked: Sequence[Passage], max_merged: int | None, layout: PassageLayout | None = None
    ) -> None:
        self._ranked, self._max_merged = ranked, max_merged
        self._layout = layout
        self._read = 0  # passages read so far (a prefix of ``ranked``)
        self._slots: list[Group] = []  # results in the order they were made
        self._dropped: set[int] = set()  # slots of results merged into a better one (merge_chain only)
        self._by_doc: dict[str, list[int]] = {}  # each document's slots, in rank order
        self._seen_texts: set[tuple[str, str]] = set()  # (doc_id, normalized text) of what results show
        self._final = 0  # the first this many results are final

    def groups(self, n: int) -> list[Group]:
        """The first ``n`` results (fewer when the ranking holds fewer), final."""
        if n <= self._final:
            return self._slots[:n] if not self._dropped else self.made_so_far()[:n]
        if self._max_merged is None or self._layout is None:
            self._read_to(len(self._ranked))
        else:
            ranked, add, total = self._ranked, self._add, len(self._ranked)
            while len(self._slots) < n and self._read < total:
                add(self._read, ranked[self._read])
                self._read += 1
            while (threat := self._lowest_threat(n)) is not None:
                self._read_to(threat + 1)
        self._final = max(self._final, n)  # reading further can no longer change them
        return self.made_so_far()[:n]

    def made(self) -> int:
        return len(self._slots) - len(self._dropped)

    def made_so_far(self) -> list[Group]:
        if not self._dropped:
            return list(self._slots)
        return [g for slot, g in enumerate(self._slots) if slot not in self._dropped]

    def read_one(self) -> bool:
        """Read the next passage; False when every passage was read."""
        if self._read >= len(self._ranked):
            return False
        self._read_to(self._read + 1)
        return True

    def count(self) -> int:
        """How many results the whole ranking makes."""
        return len(self.groups(len(self._ranked)))

    def _lowest_threat(self, n: int) -> int | None:
        """The deepest unread position whose passage overlaps one of the first ``n`` results that can still
        take a passage (reading up to it settles them), or None. Overlap is tested on spans alone, a
        superset of the passages that would join: exact either way."""
        assert self._layout is not None and self._max_merged is not None
        open_groups = [g for g in self._slots[:n] if len(g.members) < self._max_merged]
        if not open_groups or self._read >= len(self._ranked):
            return None
        layout, tail = self._layout, slice(self._read, None)
        keys = np.asarray([layout.doc_keys[g.members[0]] for g in open_groups])[:, None]
        starts = np.asarray([g.start for g in open_groups])[:, None]
        ends = np.asarray([g.end for g in open_groups])[:, None]
        hits = (layout.doc_keys[tail] == keys) & (layout.starts[tail] < ends) & (layout.ends[tail] > starts)
        found = np.flatnonzero(hits.any(axis=0))
        return None if not len(found) else self._read + int(found[-1])

    def _read_to(self, stop: int) -> None:
        ranked, add = self._ranked, self._add
        for position in range(self._read, min(stop, len(ranked))):
            add(position, ranked[position])
        self._read = max(self._read, min(stop, len(ranked)))

    def _add(self, position: int, passage: Passage) -> None:
        slots, max_merged = self._slots, self._max_merged
        same_doc = self._by_doc.get(passage.doc_id)
        if same_doc is None:  # the common case: the first passage of its document
            same_doc = self._by_doc[passage.doc_id] = []
        touching = [s for s in same_doc if slots[s].overlaps(passage)] if same_doc else []
        if not touching:
            text = (passage.doc_id, normalized_text(passage.text))
            if text not in self._seen_texts:
                self._seen_texts.add(text)
                same_doc.append(len(slots))
                slots.append(Group(passage.doc_id, passage.start, passage.end, (position,)))
            return
        groups = [slots[s] for s in touching]
        if max_merged is not None and (len(groups) > 1 or len(groups[0].members) >= max_merged):
            trimmed = uncovered_part(passage, groups)
            if trimmed is None or trimmed[1] - trimmed[0] < MIN_TRIMMED_FRACTION * len(passage.text):
                return
            text = (
                passage.doc_id,
                normalized_text(passage.text[trimmed[0] - passage.start : trimmed[1] - passage.start]),
            )
            if text not in self._seen_texts:  # a repetitive document trims passages to the same text
                self._seen_texts.add(text)
                same_doc.append(len(slots))
                slots.append(Group(passage.doc_id, trimmed[0], trimmed[1], (position,)))
            return
        # The passage joins the best group it overlaps; a passage bridging several groups joins them all.
        first = groups[0]
        slots[touching[0]] = Group(
            first.doc_id,
            min([passage.start, *(g.start for g in groups)]),
            max([passage.end, *(g.end for g in groups)]),
            tuple(sorted({m for g in groups for m in g.members} | {position})),
        )
        if len(touching) > 1:
            self._dropped.update(touching[1:])
            same_doc[:] = [s for s in same_doc if s not in touching[1:]]
        self._seen_texts.add((passage.doc_id, normalized_text(passage.text)))


def uncovered_part(passage: Passage, groups: Sequence[Group]) -> tuple[int, int] | None:
    """(start, end) of the longest stretch of ``passage`` that no group covers, without surrounding
    whitespace (document offsets), or None when the groups cover all of it."""
    cuts = sorted(
        (max(g.start, passage.start), min(g.end, passage.end)) for g in groups if g.overlaps(passage)
    )
    gaps, cursor = [], passage.start
    for start, end in cuts:
        if start > cursor:
            gaps.append((cursor, start))
        cursor = max(cursor, end)
    if cursor < passage.end:
        gaps.append((cursor, passage.end))
    best = None
    for start, end in gaps:
        piece = passage.text[start - passage.start : end - passage.start]
        left = len(piece) - len(piece.lstrip())
        right = len(piece.rstrip())
        if right > left and (best is None or right - left > best[1] - best[0]):
            best = (start + left, start + right)
    return best
