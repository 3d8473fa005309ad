"""Plain text (kept verbatim but for newlines and a byte-order mark) and Markdown (rendered by markdown-it,
CommonMark + tables: headings lose the #, links keep their text)."""

from __future__ import annotations

from lxml import etree, html
from markdown_it import MarkdownIt

from corpus.errors import CorpusError
from corpus.formats import Extracted
from corpus.formats.markup import HTML_ROLES, Rendered, render


def text_extract(content: bytes, charset: str | None, source: str) -> Extracted:
    return Extracted(normalize_newlines(decode(content, charset, source)))


def markdown_extract(content: bytes, charset: str | None, source: str) -> Extracted:
    rendered = markdown_render(normalize_newlines(decode(content, charset, source)))
    return Extracted(rendered.text, heading=rendered.first_heading)


def markdown_render(source: str) -> Rendered:
    markup = MarkdownIt("commonmark").enable(["table", "strikethrough"]).render(source)
    root = html.fragment_fromstring(markup, create_parent="div") if markup.strip() else etree.Element("div")
    return render(root, HTML_ROLES)


def decode(data: bytes, charset: str | None, source: str) -> str:
    """The text of ``data``. NUL characters are refused: text files hold none, while a binary file (or text
    in UTF-16 without a byte-order mark, a NUL after every ASCII letter) can pass as UTF-8 and was indexed
    as a document of NULs."""
    try:
        text = data.decode(charset or "utf-8-sig")
    except LookupError:
        raise CorpusError(
            f"{source}: field 'charset' {charset!r} is not a known encoding; use utf-8"
        ) from None
    except UnicodeDecodeError as err:
        raise CorpusError(
            f"{source}: field 'text' is not valid {charset or 'UTF-8'} (byte {err.start}); "
            "save the file as UTF-8"
        ) from None
    if "\x00" in text:
        raise CorpusError(
            f"{source}: field 'text' holds NUL characters (the first at character {text.index(chr(0)):,}): "
            "a binary file, or text saved as UTF-16? save the file as UTF-8 text"
        )
    return text


def normalize_newlines(text: str) -> str:
    return text.replace("\r\n", "\n").replace("\r", "\n")
