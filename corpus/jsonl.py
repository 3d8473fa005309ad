"""JSON lines batches: one document a line, ``{doc_id, title, text, author?, publisher?, url?, provenance?,
metadata?, ...}``, through the same checks as every other document (``corpus.records``)."""

from __future__ import annotations

from corpus.errors import CorpusError
from corpus.formats import Extracted
from corpus.formats.text import decode
from corpus.records import build_document, json_object, json_type
from corpus.types import Document
from corpus.unicode_check import is_blank

MAX_BULK_DOCUMENTS = 1_000


def documents_from_jsonl(
    data: bytes | str, *, max_documents: int = MAX_BULK_DOCUMENTS, source: str = "JSONL"
) -> list[Document]:
    """Blank lines are skipped; more than ``max_documents`` documents, or a doc_id twice, is an error."""
    lines = data.split(b"\n") if isinstance(data, bytes) else data.split("\n")
    documents: list[Document] = []
    first_line: dict[str, int] = {}
    for number, raw in enumerate(lines, 1):
        where = f"{source}, line {number}"
        line = decode(raw, "utf-8-sig" if number == 1 else None, where) if isinstance(raw, bytes) else raw
        if not line.strip():
            continue
        if len(documents) == max_documents:
            raise CorpusError(
                f"{where}: more than {max_documents:,} documents in one batch; split it into smaller batches"
            )
        record = json_object(line, where, "write one JSON object per line")
        for name in ("doc_id", "title", "text"):
            if name not in record:
                raise CorpusError(f"{where}: field '{name}' is missing; every line needs doc_id, title, text")
        text = record.pop("text")
        for name, value in (("text", text), ("title", record["title"])):
            if not isinstance(value, str) or is_blank(value):
                found = "an empty string" if isinstance(value, str) else json_type(value)
                raise CorpusError(f"{where}: field '{name}' must be a non-empty string, found {found}")
        document = build_document(where, Extracted(text), record, extra={})
        if document.doc_id in first_line:
            raise CorpusError(
                f"{where}: field 'doc_id' {document.doc_id!r} duplicates line {first_line[document.doc_id]}; "
                "doc_ids must be unique in a batch"
            )
        first_line[document.doc_id] = number
        documents.append(document)
    if not documents:
        raise CorpusError(f"{source}: no documents; write one JSON object per line")
    return documents
