"""Word (.docx) by python-docx: the body's paragraphs and tables in order. Headings and paragraphs are
paragraphs (separated by a blank line), the items of a list are lines, a table is its rows as lines with
cells joined by `` | ``. Title and author from the core properties, else the first heading."""

from __future__ import annotations

import zipfile
from collections.abc import Callable, Iterator
from io import BytesIO
from typing import Any

from corpus.errors import CorpusError
from corpus.formats import MAX_REQUEST_BLOCKS, SEVERAL_REQUESTS, Extracted, RequestBudget, optional

# python-docx's own template names itself the author of every document made from it.
TEMPLATE_AUTHOR = "python-docx"
# python-docx unpacks every part into memory and parses the XML whole: a few hundred kilobytes of
# repeated markup unpack to gigabytes (a "zip bomb"). A .docx larger than this unpacked is refused first.
MAX_UNPACKED_BYTES = 128 * 1024 * 1024
MAX_XML_BYTES = 32 * 1024 * 1024
XML_SUFFIXES = (".xml", ".rels")
# Each paragraph costs python-docx microseconds and memory whether it holds text or not: sixty kilobytes of
# empty paragraphs (<w:p/>, millions of them) took half a minute and a gigabyte. More are refused; a
# document of the longest text taken (1,000,000 characters) has far fewer.
MAX_BLOCKS = 250_000


def docx_extract(content: bytes, source: str, budget: RequestBudget | None = None) -> Extracted:
    import docx

    _check_unpacked_size(content, source)
    try:
        document = docx.Document(BytesIO(content))
    except Exception as err:
        reason = str(err).strip() or type(err).__name__
        raise CorpusError(
            f"{source}: not a readable Word .docx file ({reason}); an old .doc file must be saved as .docx"
        ) from None
    style_of = _paragraph_style_names(document)
    pieces: list[tuple[bool, str]] = []  # (is a list item or table, text)
    headings: list[tuple[int, str]] = []
    spent = budget.blocks if budget is not None else 0  # by the request's Word files before this one
    blocks = 0
    for block in _body_blocks(document):
        blocks += 1
        if hasattr(block, "rows"):
            rows = []
            for row in block.rows:
                blocks += len(row._tr.tc_lst)
                _check_blocks(blocks, spent, source)
                rows.append(_row_text(row))
            pieces.append((False, "\n".join(row for row in rows if row)))
            continue
        _check_blocks(blocks, spent, source)
        text = "\n".join(line.strip() for line in block.text.splitlines() if line.strip())
        style = style_of(block)
        level = _heading_level(style)
        if text and level is not None:
            headings.append((level, " ".join(text.split())))
        pieces.append((level is None and _is_list_item(block, style), text))
    if budget is not None:
        budget.blocks += blocks
    parts: list[str] = []
    previous_item = False
    for is_item, text in pieces:
        if text:
            parts.append(("\n" if is_item and previous_item else "\n\n") if parts else "")
            parts.append(text)
        previous_item = is_item and bool(text)
    properties = document.core_properties
    author = optional(properties.author)
    return Extracted(
        "".join(parts),
        title=optional(properties.title),
        heading=min(headings, key=lambda h: h[0])[1] if headings else None,
        author=None if author == TEMPLATE_AUTHOR else author,
    )


def _body_blocks(document: Any) -> Iterator[Any]:
    """The body's paragraphs and tables in order, as python-docx's ``iter_inner_content`` gives them, one
    at a time: that one first lists every element of the body (a million empty paragraphs held in memory
    at once), this one walks them lazily, so that MAX_BLOCKS bounds the work."""
    from docx.oxml.ns import qn
    from docx.table import Table
    from docx.text.paragraph import Paragraph

    body = document._body
    paragraph = qn("w:p")
    for element in body._element.iterchildren(paragraph, qn("w:tbl")):
        yield Paragraph(element, body) if element.tag == paragraph else Table(element, body)


def _check_blocks(blocks: int, spent: int, source: str) -> None:
    """``blocks`` read so far of this file, ``spent`` by the Word files of its request before it."""
    if blocks > MAX_BLOCKS:
        raise CorpusError(
            f"{source}: the Word file holds more than {MAX_BLOCKS:,} paragraphs and table cells, the most "
            "a .docx may hold; split the document"
        )
    if spent + blocks > MAX_REQUEST_BLOCKS:
        raise CorpusError(
            f"{source}: the Word files of this request hold more than {MAX_REQUEST_BLOCKS:,} paragraphs and "
            f"table cells together, the most one request may hold; {SEVERAL_REQUESTS}"
        )


def _check_unpacked_size(content: bytes, source: str) -> None:
    """``CorpusError`` for a .docx whose parts unpack to more than MAX_UNPACKED_BYTES, or whose XML parts
    (parsed whole, some twenty bytes of memory a byte) to more than MAX_XML_BYTES. The sizes are those its
    zip directory declares; zipfile never unpacks a part past its declared size."""
    try:
        with zipfile.ZipFile(BytesIO(content)) as archive:
            entries = archive.infolist()
    except (zipfile.BadZipFile, OSError, ValueError):
        return  # not a zip: python-docx says the file is not a readable .docx
    unpacked = sum(entry.file_size for entry in entries)
    xml = sum(entry.file_size for entry in entries if entry.filename.lower().endswith(XML_SUFFIXES))
    for what, size, limit in (("", unpacked, MAX_UNPACKED_BYTES), ("'s XML", xml, MAX_XML_BYTES)):
        if size > limit:
            raise CorpusError(
                f"{source}: the Word file{what} unpacks to {size:,} bytes, more than the {limit:,} a .docx "
                "may unpack to; split the document or save it again in Word"
            )


def _row_text(row: Any) -> str:
    cells: list[str] = []
    seen: list[Any] = []  # lxml elements compare by identity
    for cell in row.cells:
        if cell._tc in seen:  # a merged cell is listed once for every column it spans
            continue
        seen.append(cell._tc)
        cells.append(" ".join(cell.text.split()))
    return " | ".join(cells) if any(cells) else ""


def _paragraph_style_names(document: Any) -> Callable[[Any], str]:
    """The style name of a paragraph, by the rule of python-docx's ``paragraph.style`` (an id that names
    no paragraph style, or none, is the default paragraph style), from a table made once: python-docx
    looks the default up by scanning every style for each paragraph, about a millisecond each, so a
    Word file of 20,000 short paragraphs took over a minute to read."""
    from docx.enum.style import WD_STYLE_TYPE

    try:
        styles = document.styles
        default = styles.default(WD_STYLE_TYPE.PARAGRAPH)
        default_name = (default.name or "") if default is not None else ""
        names: dict[str, str] = {}
        for style in styles:  # an id given twice is its first style's, as python-docx finds it
            if style.style_id is not None and style.style_id not in names:
                paragraph_style = style.type == WD_STYLE_TYPE.PARAGRAPH
                names[style.style_id] = (style.name or "") if paragraph_style else default_name
    except Exception:  # a styles part python-docx cannot read: no headings or list styles
        return lambda _: ""
    return lambda paragraph: names.get(paragraph._p.style, default_name)


def _heading_level(name: str) -> int | None:
    if name == "Title":
        return 0
    if name.startswith("Heading"):
        digits = name.removeprefix("Heading").strip()
        return int(digits) if digits.isdigit() else 1
    return None


def _is_list_item(paragraph: Any, style: str) -> bool:
    properties = paragraph._p.pPr
    if properties is not None and properties.numPr is not None:
        return True
    return style.startswith("List")
