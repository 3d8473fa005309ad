"""Near-duplicate removal over a ranking of passages, as pure functions: the results of one response never
show the same text twice.

Two kinds of duplication occur: passages of one document that overlap (the chunker overlaps neighbours by
up to 30 words), and the same text twice (normalized whitespace and case), e.g. a page captured twice.
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

Every rule except ``none`` also drops a passage whose normalized text equals a better one's.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from functools import lru_cache
from typing import Literal, get_args

from indexer.types import Passage

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
    """Same normalized text, or one document's passages sharing more than ``max_shared`` of the shorter."""
    if normalized_text(a.text) == normalized_text(b.text):
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
    # Groups sit in slots, in the order they were made; a group merged into another is dropped.
    slots: list[Group] = []
    dropped: set[int] = set()
    count = 0
    # The slots of each document's groups in rank order: only these can overlap.
    by_doc: dict[str, list[int]] = {}
    seen_texts: set[str] = set()
    for position, passage in enumerate(ranked):
        if count == limit:
            break
        same_doc = by_doc.get(passage.doc_id)
        if same_doc is None:  # the common case: the first passage of its document
            same_doc = by_doc[passage.doc_id] = []
        touching = [s for s in same_doc if slots[s].overlaps(passage)] if same_doc else []
        if not touching:
            text = normalized_text(passage.text)
            if text in seen_texts:
                continue
            seen_texts.add(text)
            same_doc.append(len(slots))
            slots.append(Group(passage.doc_id, passage.start, passage.end, (position,)))
            count += 1
            continue
        groups = [slots[s] for s in touching]
        if max_merged is not None and (len(groups) > 1 or len(groups[0].members) >= max_merged):
            trimmed = uncovered_part(passage, groups)
            if trimmed is not None and trimmed[1] - trimmed[0] >= MIN_TRIMMED_FRACTION * len(passage.text):
                same_doc.append(len(slots))
                slots.append(Group(passage.doc_id, trimmed[0], trimmed[1], (position,)))
                count += 1
            continue
        # The passage joins the best group it overlaps; a passage bridging several groups joins them all.
        first = groups[0]
        members = tuple(sorted({m for g in groups for m in g.members} | {position}))
        slots[touching[0]] = Group(
            first.doc_id,
            min([passage.start, *(g.start for g in groups)]),
            max([passage.end, *(g.end for g in groups)]),
            members,
        )
        if len(touching) > 1:
            dropped.update(touching[1:])
            count -= len(touching) - 1
            same_doc[:] = [s for s in same_doc if s not in touching[1:]]
        seen_texts.add(normalized_text(passage.text))
    return [g for slot, g in enumerate(slots) if slot not in dropped]


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
