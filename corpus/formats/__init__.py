"""File formats a document can come in, and what is extracted from each: its text (with page starts
for paged formats) and the metadata the file itself carries.

One module a format: ``text`` (plain text and Markdown), ``html`` (web pages, by trafilatura), ``pdf``
(pypdf) and ``docx`` (python-docx). Libraries are imported when a file of their format is read.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Literal

from corpus.errors import CorpusError

Format = Literal["text", "markdown", "html", "pdf", "docx"]
SUFFIX_FORMATS: dict[str, Format] = {
    ".txt": "text",
    ".text": "text",
    ".md": "markdown",
    ".markdown": "markdown",
    ".html": "html",
    ".htm": "html",
    ".xhtml": "html",
    ".pdf": "pdf",
    ".docx": "docx",
}
DOCX_MEDIA_TYPE = "application/vnd.openxmlformats-officedocument.wordprocessingml.document"
MEDIA_TYPE_FORMATS: dict[str, Format] = {
    "text/plain": "text",
    "text/markdown": "markdown",
    "text/x-markdown": "markdown",
    "text/html": "html",
    "application/xhtml+xml": "html",
    "application/pdf": "pdf",
    DOCX_MEDIA_TYPE: "docx",
}
SUPPORTED_SUFFIXES = ".txt, .md, .html, .pdf or .docx"
SUPPORTED_MEDIA_TYPES = "text/plain, text/markdown, text/html, application/pdf or " + DOCX_MEDIA_TYPE
# The files of one upload request (up to 1,000) share one budget, the most one file may cost: each file's
# limits held, but added up (500 PDFs each listing a page 10,000 times) they were twenty minutes of CPU.
MAX_REQUEST_PAGES = 10_000  # PDF pages, all the PDFs together (corpus.formats.pdf.MAX_PAGES a file)
MAX_REQUEST_BLOCKS = 250_000  # Word paragraphs and table cells, all the .docx together (MAX_BLOCKS a file)
SEVERAL_REQUESTS = "send the files in several requests"
# A document's text holds at most 1,000,000 characters (corpus.records.MAX_DOCUMENT_CHARS): 3 MB of UTF-8
# even in Chinese or Japanese. HTML and Markdown were parsed up to the 20 MB any file may be, and an 18 MB
# page took a minute to parse before its 422 (trafilatura's parse grows faster than the page); a page
# five times the longest text is mostly markup. Larger ones are refused before they are parsed.
MAX_MARKUP_BYTES = 5_000_000


class RequestBudget:
    """What the files of one request have cost so far: PDF pages and Word paragraphs and table cells. Each
    format's reader charges it (``CorpusError``, HTTP 422, past MAX_REQUEST_PAGES or MAX_REQUEST_BLOCKS);
    one budget per request, passed to ``extract`` for each of its files."""

    def __init__(self) -> None:
        self.pages = 0
        self.blocks = 0


@dataclass(frozen=True)
class Extracted:
    """What a file gives: its text and the metadata it states itself (None or empty when it does not).

    ``title`` is the file's own title (PDF info, DOCX core properties, HTML <title>/og:title);
    ``heading`` its first heading; ``metadata`` extra facts such as ``date``.
    """

    text: str
    title: str | None = None
    heading: str | None = None
    author: str | None = None
    publisher: str | None = None
    url: str | None = None
    metadata: Mapping[str, str] = field(default_factory=dict)
    page_starts: tuple[int, ...] = ()


def extract(
    content: bytes, kind: Format, charset: str | None, source: str, budget: RequestBudget | None = None
) -> Extracted:
    """The text and metadata of ``content`` read as ``kind``; ``source`` names it in errors. ``budget``:
    that of the request the file came in, shared with its other files (none: the file's own limits)."""
    if kind in ("html", "markdown") and len(content) > MAX_MARKUP_BYTES:
        raise CorpusError(
            f"{source}: the {'HTML' if kind == 'html' else 'Markdown'} file is {len(content):,} bytes, more "
            f"than the {MAX_MARKUP_BYTES:,} bytes an HTML or Markdown file may be (its text may hold at "
            "most 1,000,000 characters: the rest is markup, slow to parse); save the article alone, or "
            "split the document"
        )
    if kind == "pdf":
        from corpus.formats.pdf import pdf_extract

        return pdf_extract(content, source, budget)
    if kind == "docx":
        from corpus.formats.docx import docx_extract

        return docx_extract(content, source, budget)
    if kind == "html":
        from corpus.formats.html import html_extract

        return html_extract(content, charset, source)
    from corpus.formats.text import markdown_extract, text_extract

    return (
        markdown_extract(content, charset, source)
        if kind == "markdown"
        else text_extract(content, charset, source)
    )


def optional(value: object) -> str | None:
    """A metadata value as a stripped, non-empty string, or None."""
    text = " ".join(str(value).split()) if value is not None else ""
    return text or None
