"""PDF by pypdf: the text layer of each page, the pages joined by a blank line, where each page begins
kept in ``page_starts``; title and author from the document information.

A page's text is normalized before offsets are taken (so they index the final text): Unicode NFKC (the
``ﬁ`` ligature becomes ``fi``), control characters dropped, trailing spaces and runs of blank lines removed,
a word hyphenated at a line's end is joined ("compre-\nhensive" is "comprehensive"; "well-\nknown" is
"well-known" when the page writes it so elsewhere), and a line break inside a sentence (the next line starts
with a lower-case letter) becomes a space, so the chunker's sentences are the PDF's sentences and BM25 reads
the PDF's words. There is no OCR: a PDF without a text layer is refused.
"""

from __future__ import annotations

import re
import unicodedata
from io import BytesIO
from typing import Any

from corpus.errors import CorpusError
from corpus.formats import MAX_REQUEST_PAGES, SEVERAL_REQUESTS, Extracted, RequestBudget, optional
from corpus.pages import join_pages
from corpus.records import MAX_DOCUMENT_CHARS

_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f]")
_TRAILING_SPACE = re.compile(r"[ \t\u00a0]+\n")
_BLANK_LINES = re.compile(r"\n{3,}")
# Far more than a document of the longest text taken (1,000,000 characters) has: 400 dense pages hold it.
MAX_PAGES = 10_000
_WRAPPED_LINE = re.compile(r"(?<=[^\s-])\n(?=[^\W\d_])")
# Letters, a hyphen ending the line, and the word's lower-case rest on the next line.
_HYPHENATED = re.compile(r"(?<![\w-])([^\W\d_]+)-\n([^\W\d_]+)")
_WORD = re.compile(r"(?<![\w-])[^\W\d_]+(?:-[^\W\d_]+)*(?![\w-])")  # "well-known" one word


def pdf_extract(content: bytes, source: str, budget: RequestBudget | None = None) -> Extracted:
    from pypdf import PdfReader

    try:
        reader = PdfReader(BytesIO(content))
        if reader.is_encrypted:
            _decrypt(reader, source)
        pages = list(reader.pages)
    except CorpusError:
        raise
    except Exception as err:
        raise CorpusError(
            f"{source}: not a readable PDF ({_reason(err)}); check that the file is a PDF"
        ) from None
    if budget is not None:
        _charge(budget, len(pages), source)
    texts = _page_texts(pages, source)
    if not any(texts):
        raise CorpusError(
            f"{source}: no text layer on any of its {len(pages)} page(s): a scanned PDF? citeqa does not run "
            "OCR; add a PDF with a text layer (e.g. made by ocrmypdf)"
        )
    text, page_starts = join_pages(texts)
    info = _info(reader)
    empty = [str(number) for number, page_text in enumerate(texts, 1) if not page_text]
    return Extracted(
        text,
        title=optional(info.get("/Title")),
        author=optional(info.get("/Author")),
        metadata={"pages_without_text": ",".join(empty)} if empty else {},
        page_starts=page_starts,
    )


def _page_texts(pages: list[Any], source: str) -> list[str]:
    """The text of each page. Each page costs pypdf a parse of its content stream, and a page may be
    listed many times over (a few bytes each in the page tree): more than MAX_PAGES pages are refused
    before any is read, and the reading stops once the text is longer than a document may be."""
    if len(pages) > MAX_PAGES:
        raise CorpusError(
            f"{source}: the PDF has {len(pages):,} pages, more than the {MAX_PAGES:,} a PDF may have; "
            "split the document"
        )
    texts: list[str] = []
    chars = 0
    for number, page in enumerate(pages, 1):
        texts.append(_page_text(page, number, source))
        chars += len(texts[-1])
        if chars > MAX_DOCUMENT_CHARS:
            raise CorpusError(
                f"{source}: field 'text' has {chars:,} characters by page {number:,} of {len(pages):,}, more "
                f"than the {MAX_DOCUMENT_CHARS:,} allowed; split the document"
            )
    return texts


def _charge(budget: RequestBudget, pages: int, source: str) -> None:
    """Count ``pages`` against the request's budget before any is read; refused past MAX_REQUEST_PAGES
    (a file over MAX_PAGES alone is refused by ``_page_texts`` in its own words)."""
    budget.pages += pages
    if budget.pages > MAX_REQUEST_PAGES and budget.pages > pages:
        raise CorpusError(
            f"{source}: the PDFs of this request have {budget.pages:,} pages together, more than the "
            f"{MAX_REQUEST_PAGES:,} one request may have; {SEVERAL_REQUESTS}"
        )


def clean_page(raw: str) -> str:
    text = unicodedata.normalize("NFKC", raw.replace("\r\n", "\n").replace("\r", "\n"))
    text = _TRAILING_SPACE.sub("\n", _CONTROL.sub("", text.replace("\t", " ")) + "\n")
    text = _BLANK_LINES.sub("\n\n", text).strip()
    text = dehyphenated(text)
    return _WRAPPED_LINE.sub(lambda m: " " if text[m.end()].islower() else "\n", text)


def dehyphenated(text: str) -> str:
    """``text`` with each word hyphenated at a line's end written whole, as PyMuPDF's dehyphenate flag
    writes it. Typesetting hyphenates words wherever it must, so the hyphen goes, unless ``text`` writes
    the same word with a hyphen elsewhere and never without ("well-known")."""
    if "-\n" not in text:
        return text

    written = set(_WORD.findall(text.lower()))  # once: a page may hold thousands of such breaks

    def whole(match: re.Match[str]) -> str:
        if not match[2][0].islower():  # "X-\nRay", a name: as the page writes it
            return match[0]
        hyphened, joined = f"{match[1]}-{match[2]}", match[1] + match[2]
        keeps = hyphened.lower() in written and joined.lower() not in written
        return hyphened if keeps else joined

    return _HYPHENATED.sub(whole, text)


def _page_text(page: Any, number: int, source: str) -> str:
    try:
        return clean_page(page.extract_text() or "")
    except Exception as err:
        raise CorpusError(f"{source}: page {number} cannot be read ({_reason(err)})") from None


def _decrypt(reader: Any, source: str) -> None:
    from pypdf.errors import DependencyError

    try:
        opened = reader.decrypt("")
    except DependencyError:
        raise CorpusError(
            f"{source}: the PDF is encrypted (AES) and cannot be opened here; save an unencrypted copy "
            "(e.g. print it to PDF) and add that"
        ) from None
    if not opened:
        raise CorpusError(
            f"{source}: the PDF is encrypted with a password; save a copy without the password and add that"
        )


def _info(reader: Any) -> dict[str, Any]:
    try:
        return dict(reader.metadata or {})
    except Exception:  # a broken information dictionary: the text is still good
        return {}


def _reason(err: Exception) -> str:
    return str(err).strip() or type(err).__name__
