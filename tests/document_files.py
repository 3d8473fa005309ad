"""Real PDF (fpdf2) and Word (python-docx) files made by the tests themselves: no binary fixtures.
Imported as ``document_files`` (pytest puts tests/ on sys.path); tests/unit/corpus/conftest.py makes
fixtures of them."""

from __future__ import annotations

import io
from collections.abc import Sequence


def pdf_bytes(
    pages: Sequence[str],
    *,
    title: str | None = None,
    author: str | None = None,
    user_password: str | None = None,
    owner_password: str | None = None,
) -> bytes:
    """A PDF with one page per item of ``pages`` (an empty item is a page without text)."""
    from fpdf import FPDF

    pdf = FPDF()
    if title:
        pdf.set_title(title)
    if author:
        pdf.set_author(author)
    if owner_password or user_password:
        pdf.set_encryption(owner_password=owner_password or "owner", user_password=user_password)
    pdf.set_font("Helvetica", size=11)
    for text in pages:
        pdf.add_page()
        if text:
            pdf.multi_cell(0, 5, text)
        else:
            pdf.rect(20, 20, 60, 40)  # something on the page, but no text: a scan looks like this
    return bytes(pdf.output())


def docx_bytes(
    blocks: Sequence[tuple[str, str | list[list[str]]]],
    *,
    title: str | None = None,
    author: str | None = None,
) -> bytes:
    """A .docx of (kind, content) blocks: ("Heading 1", text), ("Title", text), ("p", text),
    ("List Bullet", text), ("table", rows)."""
    import docx

    document = docx.Document()
    document.core_properties.title = title or ""
    document.core_properties.author = author or ""
    for kind, content in blocks:
        if kind == "table":
            assert isinstance(content, list)
            table = document.add_table(rows=len(content), cols=len(content[0]))
            for row, values in zip(table.rows, content, strict=True):
                for cell, value in zip(row.cells, values, strict=True):
                    cell.text = value
        else:
            assert isinstance(content, str)
            document.add_paragraph(content, style=None if kind == "p" else kind)
    out = io.BytesIO()
    document.save(out)
    return out.getvalue()


PARAGRAPH = b"<w:p><w:r><w:t>" + b"Puffins nest in burrows on sea cliffs. " * 100 + b"</w:t></w:r></w:p>"
THUMBNAIL = "docProps/thumbnail.jpeg"  # a part of python-docx's template that it reads whole


def docx_bomb(unpacked_bytes: int, unit: bytes = PARAGRAPH, part: str = "word/document.xml") -> bytes:
    """A real .docx whose ``part`` repeats ``unit`` (in word/document.xml, inside its body) until it
    unpacks to more than ``unpacked_bytes``: kilobytes packed, every byte of it read by python-docx."""
    import zipfile

    packed = io.BytesIO(docx_bytes([("p", "Puffins nest in burrows on sea cliffs.")]))
    out = io.BytesIO()
    with zipfile.ZipFile(packed) as source, zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as bomb:
        for entry in source.infolist():
            data = source.read(entry.filename)
            if entry.filename != part:
                bomb.writestr(entry, data)
                continue
            head, tail = data.split(b"<w:body>") if part.endswith(".xml") else (b"", b"")
            with bomb.open(part, "w", force_zip64=True) as written:
                written.write(head + b"<w:body>" if head else b"")
                chunk = unit * max(1, (1024 * 1024) // len(unit))
                for _ in range(unpacked_bytes // len(chunk) + 1):
                    written.write(chunk)
                written.write(tail)
    return out.getvalue()


def pdf_one_page_many_times(pages: int, lines: Sequence[str]) -> bytes:
    """A PDF whose page tree lists one page ``pages`` times (a few bytes each): ``lines`` of text on it."""
    escaped = [line.replace("\\", "\\\\").replace("(", "\\(").replace(")", "\\)") for line in lines]
    content = b"BT /F1 10 Tf 12 TL 72 760 Td " + b"".join(f"({line}) '".encode() for line in escaped) + b" ET"
    objects = [
        b"<< /Type /Catalog /Pages 2 0 R >>",
        b"<< /Type /Pages /Kids [" + b"3 0 R " * pages + b"] /Count %d >>" % pages,
        b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] /Contents 4 0 R "
        b"/Resources << /Font << /F1 5 0 R >> >> >>",
        b"<< /Length %d >>\nstream\n" % len(content) + content + b"\nendstream",
        b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>",
    ]
    out = bytearray(b"%PDF-1.4\n")
    offsets = []
    for number, body in enumerate(objects, 1):
        offsets.append(len(out))
        out += b"%d 0 obj\n" % number + body + b"\nendobj\n"
    xref = len(out)
    out += b"xref\n0 %d\n0000000000 65535 f \n" % (len(objects) + 1)
    out += b"".join(b"%010d 00000 n \n" % offset for offset in offsets)
    out += b"trailer\n<< /Size %d /Root 1 0 R >>\nstartxref\n%d\n%%%%EOF\n" % (len(objects) + 1, xref)
    return bytes(out)
