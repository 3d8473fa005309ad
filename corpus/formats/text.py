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
    try:
        return data.decode(charset or "utf-8-sig")
    except LookupError:
        raise CorpusError(
            f"{source}: field 'charset' {charset!r} is not a known encoding; use utf-8"
        ) from None
    except UnicodeDecodeError as err:
        raise CorpusError(
            f"{source}: field 'text' is not valid {charset or 'UTF-8'} (byte {err.start}); "
            "save the file as UTF-8"
        ) from None


def normalize_newlines(text: str) -> str:
    return text.replace("\r\n", "\n").replace("\r", "\n")
