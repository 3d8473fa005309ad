"""Web pages by their main content, with trafilatura (offline: the page is never fetched).

trafilatura finds the article and leaves out page chrome (navigation, cookie banners, share bars,
related-article lists, comment threads); ``corpus.formats.markup`` turns what it keeps into text. Before
that, what the page itself marks as not content is pruned: hidden elements, <nav>, <aside>, <footer>,
ARIA landmarks of chrome, and, when the page has a <main>, everything outside it. The page's title,
author, site name, canonical URL and publication date come from its metadata (<title>, og:*, meta tags,
JSON-LD), as trafilatura reads them.
"""

from __future__ import annotations

import codecs
import re
from configparser import ConfigParser
from functools import cache
from typing import Any

from lxml import etree, html

from corpus.formats import Extracted, optional
from corpus.formats.markup import TEI_ROLES, render
from corpus.formats.text import decode

_ROLES = "navigation banner contentinfo complementary search menu menubar dialog"
_CHROME_ROLES = " or ".join(f"@role='{role}'" for role in _ROLES.split())
# The style attribute lower-cased and without spaces (translate drops characters it has no match for).
_STYLE = "translate(@style, 'ABCDEFGHIJKLMNOPQRSTUVWXYZ ', 'abcdefghijklmnopqrstuvwxyz')"
PRUNE_XPATH = [
    "//*[@hidden or @aria-hidden='true']",
    f"//*[contains({_STYLE}, 'display:none') or contains({_STYLE}, 'visibility:hidden')]",
    "//nav | //aside | //footer",
    f"//*[{_CHROME_ROLES}]",
]
_MAIN = "*[self::main or @role='main']"
OUTSIDE_MAIN = f"//body//*[not(ancestor-or-self::{_MAIN})][not(descendant::{_MAIN})]"
_META_CHARSET = re.compile(rb"""<meta[^>]*?charset\s*=\s*["']?\s*([A-Za-z0-9._:-]+)""", re.IGNORECASE)
_XML_DECLARATION = re.compile(r"^\s*<\?xml[^>]*\?>")
# trafilatura's MIN_EXTRACTED_SIZE: below it, it tries its fallbacks.
SHORT_PAGE_CHARS = 250


def html_extract(content: bytes, charset: str | None, source: str) -> Extracted:
    tree = parse(decode_page(content, charset, source))
    if tree is None:
        return Extracted("")
    prune = PRUNE_XPATH + ([OUTSIDE_MAIN] if tree.xpath(f"//{_MAIN}") else [])
    page = _trafilatura(tree, prune, short_pages=False)
    rendered = render(page.body, TEI_ROLES) if page is not None else None
    if rendered is None or len(rendered.text) < SHORT_PAGE_CHARS:
        # On a short page trafilatura falls back to the text of the whole page (or of its <article>),
        # flattened, share bars and all; extracting without that fallback keeps the structure. Taken
        # when it keeps at least half the text.
        strict = _trafilatura(tree, prune, short_pages=True)
        kept = render(strict.body, TEI_ROLES) if strict is not None else None
        if kept is not None and 2 * len(kept.text) >= len(rendered.text if rendered else ""):
            page, rendered = strict, kept
    if page is None or rendered is None:
        return Extracted("")
    date = optional(page.date)
    return Extracted(
        rendered.text,
        title=optional(page.title),
        heading=rendered.first_heading,
        author=optional(page.author),
        publisher=optional(page.sitename),
        url=optional(page.url),
        metadata={"date": date} if date else {},
    )


def _trafilatura(tree: html.HtmlElement, prune: list[str], *, short_pages: bool) -> Any:
    import trafilatura

    return trafilatura.bare_extraction(
        tree,
        with_metadata=True,
        include_comments=False,
        include_tables=True,
        include_images=False,
        include_links=False,
        include_formatting=False,
        prune_xpath=prune,
        # Only dates the page states (meta tags, JSON-LD, its URL), never one guessed from its text.
        date_extraction_params={"extensive_search": False, "original_date": True},
        config=_short_page_config() if short_pages else _default_config(),
    )


@cache
def _default_config() -> ConfigParser:
    from trafilatura.settings import use_config

    return use_config()


@cache
def _short_page_config() -> ConfigParser:
    config = _default_config()
    short = ConfigParser()
    short.read_dict({section: dict(config[section]) for section in config})
    # No "too short, try the fallbacks" below one character: the main extractor's result stands.
    short["DEFAULT"]["MIN_EXTRACTED_SIZE"] = "1"
    return short


def parse(page: str) -> html.HtmlElement | None:
    page = _XML_DECLARATION.sub("", page, count=1)
    if not page.strip():
        return None
    try:
        return html.document_fromstring(page)
    except (etree.ParserError, ValueError):
        return None


def decode_page(content: bytes, charset: str | None, source: str) -> str:
    """The page as text: by ``charset`` when the upload names one (an unknown or wrong one is an error),
    else by its byte-order mark, else by its own <meta> declaration, else UTF-8, else Windows-1252."""
    if charset:
        return decode(content, charset, source)
    for bom, encoding in (
        (codecs.BOM_UTF8, "utf-8-sig"),
        (codecs.BOM_UTF16_LE, "utf-16"),
        (codecs.BOM_UTF16_BE, "utf-16"),
    ):
        if content.startswith(bom):
            return content.decode(encoding, errors="replace")
    declared = _META_CHARSET.search(content[:4096])
    if declared:
        try:
            return content.decode(declared.group(1).decode("ascii"), errors="replace")
        except LookupError:
            pass
    try:
        return content.decode("utf-8")
    except UnicodeDecodeError:
        return content.decode("cp1252", errors="replace")
