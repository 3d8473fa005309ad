"""Text rendering of answers for the terminal: the answering sentences of a result marked inline, and the
span (and pages) a citation names."""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import Protocol

OPEN_MARK = "\u00bb"  # »
CLOSE_MARK = "\u00ab"  # «
# C0 controls but the line break and the tab, DEL and C1 controls: a terminal obeys them (ESC starts a
# sequence that clears the screen, sets the window title or makes a hidden link), so document text never
# reaches it raw.
CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f]")


class SpanLike(Protocol):
    start: int
    end: int


class PagedLike(Protocol):
    page: int | None
    page_end: int | None


class CitedLike(PagedLike, Protocol):
    doc_id: str
    start: int
    end: int


def terminal_safe(text: str) -> str:
    """``text`` with every control character a terminal would obey written out as ``\\x1b`` (its code):
    a document's title, text or URL is shown, never run."""
    return CONTROL.sub(lambda m: f"\\x{ord(m.group()):02x}", text)


def page_label(citation: PagedLike) -> str:
    """The pages of a citation into a paged document (a PDF): "p. 12", "pp. 12-13" (an en dash); else ""."""
    if citation.page is None:
        return ""
    return f"pp. {citation.page}\u2013{citation.page_end}" if citation.page_end else f"p. {citation.page}"


def cited_span(citation: CitedLike) -> str:
    """The span of a citation: "doc-id 120:480", and ", p. 3" for a paged document."""
    label = page_label(citation)
    span = f"{terminal_safe(citation.doc_id)} {citation.start}:{citation.end}"
    return span + (f", {label}" if label else "")


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
        f"{OPEN_MARK}{terminal_safe(piece)}{CLOSE_MARK}" if marked else terminal_safe(piece)
        for piece, marked in marked_segments(text, offset, highlights)
    )
