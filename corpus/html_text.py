"""Article text out of an HTML page (or of Markdown rendered to HTML), parsed with BeautifulSoup + lxml.

Page chrome is dropped: scripts, styles, navigation, page headers and footers, asides, forms, hidden
elements and their ARIA equivalents. When the page has a ``<main>``, only it is kept. Headings, list items,
table rows and other block elements become their own lines or paragraphs; inline whitespace collapses to
single spaces, ``<pre>`` keeps its own. The result is the text citations index into.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from bs4 import BeautifulSoup, NavigableString, Tag
from bs4.element import CData, PreformattedString
from markdown_it import MarkdownIt

DROPPED_TAGS = frozenset(
    "script style nav footer aside form noscript template iframe object embed svg canvas math button "
    "select textarea input label dialog menu head title link meta base".split()
)
# role="..." values that mark page chrome rather than content.
CHROME_ROLES = frozenset("navigation banner contentinfo complementary search menu menubar dialog".split())
HEADINGS = ("h1", "h2", "h3", "h4", "h5", "h6")
LINE_TAGS = frozenset("li dt dd tr caption figcaption summary option".split())
CELL_TAGS = frozenset(("td", "th"))
BLOCK_TAGS = frozenset(
    "address article blockquote body center details div dl fieldset figure header hgroup hr html main ol "
    "p section table tbody tfoot thead ul".split()
)

# Break strengths between two pieces of text, weakest first.
CELL, LINE, PARAGRAPH = 1, 2, 3
_SEPARATORS = {CELL: " | ", LINE: "\n", PARAGRAPH: "\n\n"}


@dataclass(frozen=True)
class HtmlText:
    """The text of a page and the title it names (None when it has neither a <title> nor a heading)."""

    text: str
    title: str | None


def parse_html(content: bytes | str, encoding: str | None = None) -> BeautifulSoup:
    """Parse with lxml; bytes are decoded by ``encoding``, else by the page's own declaration."""
    if isinstance(content, bytes):
        return BeautifulSoup(content, "lxml", from_encoding=encoding)
    return BeautifulSoup(content, "lxml")


def html_text(content: bytes | str, encoding: str | None = None) -> HtmlText:
    """The article text and title of an HTML document."""
    soup = parse_html(content, encoding)
    page_title = collapse(soup.title.get_text()) if soup.title is not None else ""
    for element in [e for e in soup.find_all(True) if is_chrome(e)]:
        if not element.decomposed:
            element.decompose()
    root = soup.find("main") or soup.body or soup
    text = _Writer().walk(root).text()
    return HtmlText(text=text, title=page_title or first_heading(root) or first_heading(soup))


def markdown_text(source: str) -> HtmlText:
    """Markdown rendered by markdown-it (CommonMark + tables): headings lose the #, links keep their text."""
    renderer = MarkdownIt("commonmark").enable(["table", "strikethrough"])
    return html_text(renderer.render(source))


def is_chrome(element: Tag) -> bool:
    if element.name in DROPPED_TAGS:
        return True
    # A page's <header> is chrome; an article's <header> holds its title and byline.
    if element.name == "header" and element.find_parent("article") is None:
        return True
    if element.has_attr("hidden") or str(element.get("aria-hidden", "")).lower() == "true":
        return True
    if str(element.get("role", "")).lower() in CHROME_ROLES:
        return True
    style = str(element.get("style", "")).replace(" ", "").lower()
    return "display:none" in style or "visibility:hidden" in style


def first_heading(root: Tag) -> str | None:
    for level in HEADINGS:
        for heading in root.find_all(level):
            text = collapse(heading.get_text(" "))
            if text:
                return text
    return None


def collapse(text: str) -> str:
    return " ".join(text.split())


@dataclass
class _Writer:
    """Collects text runs and the strongest break seen between each run and the next."""

    pieces: list[str] = field(default_factory=list)
    inline: list[str] = field(default_factory=list)
    pending: int = 0

    def walk(self, node: Tag) -> _Writer:
        for child in node.children:
            if isinstance(child, NavigableString):
                if not isinstance(child, PreformattedString) or isinstance(child, CData):
                    self.inline.append(str(child))
            elif isinstance(child, Tag):
                self.element(child)
        return self

    def element(self, tag: Tag) -> None:
        name = tag.name
        if name == "br":
            self.brk(LINE)
        elif name == "pre":
            self.brk(PARAGRAPH)
            self.verbatim(tag.get_text())
            self.brk(PARAGRAPH)
        elif name in HEADINGS:
            self.around(tag, PARAGRAPH)
        elif (name in ("ul", "ol") and tag.find_parent("li") is not None) or name in LINE_TAGS:
            self.around(tag, LINE)
        elif name in CELL_TAGS:
            self.around(tag, CELL)
        elif name in BLOCK_TAGS:
            self.around(tag, PARAGRAPH)
        else:
            self.walk(tag)

    def around(self, tag: Tag, strength: int) -> None:
        self.brk(strength)
        self.walk(tag)
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
        if self.pieces and self.pending:
            self.pieces.append(_SEPARATORS[self.pending])
        elif self.pieces and not self.pieces[-1][-1:].isspace() and not run[:1].isspace():
            self.pieces.append(" ")
        self.pieces.append(run)
        self.pending = 0

    def text(self) -> str:
        self.flush()
        return "".join(self.pieces)
