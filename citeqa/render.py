"""Text rendering of answers for the terminal: the answering sentences of a result marked inline."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol

OPEN_MARK = "\u00bb"  # »
CLOSE_MARK = "\u00ab"  # «


class SpanLike(Protocol):
    start: int
    end: int


def marked_segments(text: str, offset: int, highlights: Sequence[SpanLike]) -> list[tuple[str, bool]]:
    """``text`` (which starts at document offset ``offset``) cut into (piece, highlighted) segments."""
    segments: list[tuple[str, bool]] = []
    position = 0
    for h in sorted(highlights, key=lambda h: h.start):
        start, end = max(h.start - offset, position), min(h.end - offset, len(text))
        if start >= end:
            continue
        if start > position:
            segments.append((text[position:start], False))
        segments.append((text[start:end], True))
        position = end
    if position < len(text):
        segments.append((text[position:], False))
    return segments


def plain_marked(text: str, offset: int, highlights: Sequence[SpanLike]) -> str:
    """The text with each highlighted sentence wrapped in »…« (for output that is not a terminal)."""
    return "".join(
        f"{OPEN_MARK}{piece}{CLOSE_MARK}" if marked else piece
        for piece, marked in marked_segments(text, offset, highlights)
    )
