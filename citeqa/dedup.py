"""Remove near-duplicate passages from a ranking: overlapping spans of one document (chunk overlap)
or the same text twice. The better-ranked passage stays."""

from __future__ import annotations

import re
from collections.abc import Sequence

from citeqa.types import Passage

# Two passages of one document that share more than this fraction of the shorter one are duplicates:
# any shared character, so the sentences of a chunk overlap are never shown twice.
MAX_SHARED_FRACTION = 0.0
_SPACE = re.compile(r"\s+")


def normalized_text(text: str) -> str:
    return _SPACE.sub(" ", text).strip().casefold()


def is_near_duplicate(a: Passage, b: Passage, max_shared: float = MAX_SHARED_FRACTION) -> bool:
    if normalized_text(a.text) == normalized_text(b.text):
        return True
    if a.doc_id != b.doc_id:
        return False
    shared = min(a.end, b.end) - max(a.start, b.start)
    shorter = min(a.end - a.start, b.end - b.start)
    return shorter > 0 and shared / shorter > max_shared


def drop_near_duplicates(ranked: Sequence[Passage], limit: int) -> list[int]:
    """Positions in ``ranked`` (best first) to keep: at most ``limit``, none a near-duplicate of a
    better one."""
    kept: list[int] = []
    for position, passage in enumerate(ranked):
        if all(not is_near_duplicate(ranked[k], passage) for k in kept):
            kept.append(position)
            if len(kept) == limit:
                break
    return kept
