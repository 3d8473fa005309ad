"""Text out of a tree of block markup: Markdown rendered to HTML by markdown-it, or the XML that
trafilatura extracts from a web page (``head``, ``p``, ``list``/``item``, ``table``/``row``/``cell``, ...).

Headings, paragraphs and other blocks become paragraphs (separated by a blank line); list items, table
rows and line breaks become lines; table cells are joined by `` | ``. Inline whitespace collapses to single
spaces, preformatted text keeps its own. A block inside a line (a list nested in a list item) is a line.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from enum import Enum

from lxml import etree


class Role(Enum):
    INLINE = "inline"
    DROP = "drop"
    HEADING = "heading"
    BLOCK = "block"
    LINE = "line"
    CELL = "cell"
    BREAK = "break"
    VERBATIM = "verbatim"


# Break strengths between two pieces of text, weakest first.
SPACE, CELL, LINE, PARAGRAPH = 0, 1, 2, 3
_SEPARATORS = {CELL: " | ", LINE: "\n", PARAGRAPH: "\n\n"}
_STRENGTHS = {
    Role.HEADING: PARAGRAPH,
    Role.BLOCK: PARAGRAPH,
    Role.VERBATIM: PARAGRAPH,
    Role.LINE: LINE,
    Role.BREAK: LINE,
    Role.CELL: CELL,
}
# Inside a line, blocks are lines; inside a cell, anything is a space.
_CAPS = {Role.LINE: LINE, Role.CELL: SPACE}

_BLOCKS = (
    "address article blockquote body center details div dl fieldset figure hgroup hr html main ol p "
    "section table tbody tfoot thead ul header footer"
)
HTML_ROLES: dict[str, Role] = {
    **{tag: Role.BLOCK for tag in _BLOCKS.split()},
    **{tag: Role.LINE for tag in "li dt dd tr caption figcaption summary".split()},
    **{f"h{level}": Role.HEADING for level in range(1, 7)},
    **{tag: Role.DROP for tag in "script style template noscript iframe object embed svg head title".split()},
    "td": Role.CELL,
    "th": Role.CELL,
    "br": Role.BREAK,
    "pre": Role.VERBATIM,
}
TEI_ROLES: dict[str, Role] = {
    **{tag: Role.BLOCK for tag in "body doc main div p list quote table".split()},
    **{tag: Role.LINE for tag in "item row".split()},
    "head": Role.HEADING,
    "cell": Role.CELL,
    "lb": Role.BREAK,
    "code": Role.VERBATIM,
    "graphic": Role.DROP,
}
_LEVEL = re.compile(r"h([1-6])")


@dataclass(frozen=True)
class Rendered:
    """The text of a tree and its first heading (the highest level, first of that level)."""

    text: str
    first_heading: str | None


def render(root: etree._Element, roles: dict[str, Role]) -> Rendered:
    writer = _Writer(roles)
    writer.element(root, PARAGRAPH)
    text = writer.text()
    headings = sorted(writer.headings, key=lambda h: h[0])
    return Rendered(text, headings[0][1] if headings else None)


def collapse(text: str) -> str:
    return " ".join(text.split())


def _heading_level(element: etree._Element) -> int:
    tag = element.tag if isinstance(element.tag, str) else ""
    match = _LEVEL.fullmatch(tag) or _LEVEL.fullmatch(str(element.get("rend", "")))
    return int(match.group(1)) if match else 7


@dataclass
class _Writer:
    """Collects text runs and the strongest break seen between each run and the next."""

    roles: dict[str, Role]
    pieces: list[str] = field(default_factory=list)
    inline: list[str] = field(default_factory=list)
    pending: int = SPACE
    headings: list[tuple[int, str]] = field(default_factory=list)

    def element(self, node: etree._Element, cap: int) -> None:
        if not isinstance(node.tag, str):  # a comment or processing instruction: only its tail is text
            return
        role = self.roles.get(etree.QName(node).localname.lower(), Role.INLINE)
        if role is Role.DROP:
            return
        strength = min(_STRENGTHS.get(role, SPACE), cap)
        if role is Role.BREAK:
            self.brk(strength)
            return
        if role is Role.VERBATIM:
            self.brk(strength)
            self.verbatim("".join(node.itertext()))
            self.brk(strength)
            return
        if role is not Role.INLINE:
            self.brk(strength)
        if role is Role.HEADING:
            heading = collapse("".join(node.itertext()))
            if heading:
                self.headings.append((_heading_level(node), heading))
        child_cap = min(cap, _CAPS.get(role, PARAGRAPH))
        self.inline.append(node.text or "")
        for child in node:
            self.element(child, child_cap)
            self.inline.append(child.tail or "")
        if role is not Role.INLINE:
            self.brk(strength)

    def brk(self, strength: int) -> None:
        self.flush()
        self.pending = max(self.pending, strength)

    def flush(self) -> None:
        run = collapse("".join(self.inline))
        self.inline.clear()
        self.add(run)

    def verbatim(self, text: str) -> None:
        self.flush()
        lines = [line.rstrip() for line in text.replace("\r\n", "\n").replace("\r", "\n").split("\n")]
        self.add("\n".join(lines).strip("\n"))

    def add(self, run: str) -> None:
        if not run.strip():
            return
        if self.pieces and self.pending > SPACE:
            self.pieces.append(_SEPARATORS[self.pending])
        elif self.pieces and not self.pieces[-1][-1:].isspace() and not run[:1].isspace():
            self.pieces.append(" ")
        self.pieces.append(run)
        self.pending = SPACE

    def text(self) -> str:
        self.flush()
        return "".join(self.pieces)
