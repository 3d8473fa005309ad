"""multipart/form-data uploads (``curl -F file=@report.pdf``, an HTML form): one or many files in the
field ``file``, and for one file the optional metadata fields doc_id, title, author, publisher and url.

Each file becomes a document through ``corpus.ingest.document_from_upload``: its type comes from the
part's Content-Type, else from its filename's suffix (``UnsupportedFormatError``, HTTP 415, when neither
names a type citeqa reads). Fields not given come from the file (see corpus.records). The body size limit
(413) applies to the whole request before anything is parsed (service.limits.BodySizeLimit).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import PurePath

from fastapi import Request
from starlette.datastructures import UploadFile
from starlette.exceptions import HTTPException

from corpus.doc_ids import DOC_ID_MAX_CHARS, DOC_ID_REGEX
from corpus.errors import CorpusError
from corpus.formats import RequestBudget
from corpus.ingest import JSONL_SUFFIX, document_from_upload, documents_from_jsonl
from corpus.loader import check_unique_ids
from corpus.types import Document

MULTIPART = "multipart/form-data"
JSON_LINES = "application/x-ndjson"
FILE_FIELD = "file"
METADATA_FIELDS = ("doc_id", "title", "author", "publisher", "url")
HOW = "send each file as a part named 'file' (curl -F file=@report.pdf)"
DUPLICATE_UPLOAD_FIX = (
    "each document needs its own doc_id: upload one of them in a request of its own with the field doc_id, "
    "or rename the file"
)

MULTIPART_BODY = {
    "schema": {
        "type": "object",
        "required": [FILE_FIELD],
        "properties": {
            FILE_FIELD: {
                "type": "array",
                "minItems": 1,
                "items": {"type": "string", "format": "binary"},
                "description": "one or more files (.txt, .md, .html, .pdf, .docx), the field repeated",
            },
            "doc_id": {
                "type": "string",
                "pattern": DOC_ID_REGEX,
                "maxLength": DOC_ID_MAX_CHARS,
                "description": "one file only; default: from the filename",
            },
            "title": {
                "type": "string",
                "description": "one file only; default: the file's own title, else its first heading or line",
            },
            **{
                name: {"type": "string", "description": "one file only; default: from the file when it says"}
                for name in ("author", "publisher", "url")
            },
        },
    },
}


@dataclass(frozen=True)
class FilePart:
    content: bytes
    filename: str | None
    media_type: str | None


@dataclass(frozen=True)
class Form:
    files: tuple[FilePart, ...]
    fields: Mapping[str, str]


async def read_form(request: Request, max_files: int) -> Form:
    """The files and metadata fields of a multipart/form-data body; ``CorpusError`` (422) for a body that
    cannot be parsed, a field citeqa does not know, a field given twice, or more than ``max_files`` files."""
    files: list[FilePart] = []
    fields: dict[str, str] = {}
    try:
        async with request.form(max_files=max_files, max_fields=2 * len(METADATA_FIELDS)) as form:
            for name, value in form.multi_items():
                if isinstance(value, UploadFile):
                    if name != FILE_FIELD:
                        raise CorpusError(f"multipart field {name!r} is a file; {HOW}")
                    files.append(FilePart(await value.read(), value.filename, value.content_type))
                elif name == FILE_FIELD:
                    raise CorpusError(f"multipart field 'file' is text, not a file; {HOW}")
                elif name not in METADATA_FIELDS:
                    raise CorpusError(
                        f"multipart field {name!r} is not known; the fields are 'file' and "
                        f"{', '.join(METADATA_FIELDS)}"
                    )
                elif name in fields:
                    raise CorpusError(f"multipart field {name!r} is given twice; give it once")
                elif value.strip():  # a form's empty field is a field not given
                    fields[name] = value
    except HTTPException as err:  # starlette's parser: a malformed body, too many files or fields
        raise CorpusError(f"the {MULTIPART} body cannot be read: {err.detail}; {HOW}") from None
    return Form(tuple(files), fields)


def documents_from_form(form: Form, defaults: Mapping[str, str]) -> list[Document]:
    """The documents of the files, in order; ``defaults`` (the query's fields) yield to the form's.
    Synchronous: PDF and Word extraction is CPU work, run it in the thread pool."""
    if not form.files:
        raise CorpusError(f"the {MULTIPART} body has no file; {HOW}")
    fields = {**defaults, **form.fields}
    if len(form.files) > 1 and fields:
        raise CorpusError(
            f"{', '.join(sorted(fields))} {'describe' if len(fields) > 1 else 'describes'} one file, and "
            f"{len(form.files)} files were sent; send a "
            "file with its own metadata in a request of its own"
        )
    metadata = {k: v for k, v in fields.items() if k != "doc_id"}
    budget = RequestBudget()  # the files' PDF pages and Word paragraphs, together
    documents: list[Document] = []
    sources: list[str] = []
    for number, part in enumerate(form.files, 1):
        name = f"file {number} ({part.filename or 'no name'})"
        if is_json_lines(part.filename, part.media_type):
            if fields:
                raise CorpusError(
                    f"{part.filename or 'upload'}: a JSON lines file gives each document its own fields; "
                    f"send {', '.join(sorted(fields))} inside its lines instead"
                )
            lines = documents_from_jsonl(part.content, source=part.filename or "upload")
            documents += lines
            sources += [f"{name}, doc_id {d.doc_id!r}" for d in lines]
            continue
        documents.append(
            document_from_upload(
                part.content,
                filename=part.filename,
                media_type=part.media_type,
                doc_id=fields.get("doc_id"),
                metadata=metadata,
                budget=budget,
            )
        )
        sources.append(name)
    # Files of one name (a/notes.txt and b/notes.txt) get one doc_id from it: say which, and what to do.
    check_unique_ids(documents, sources, fix=DUPLICATE_UPLOAD_FIX)
    return documents


def is_json_lines(filename: str | None, media_type: str | None) -> bool:
    """A .jsonl file part (or one sent as JSON_LINES, as a raw body may be): many documents, as a
    folder's .jsonl gives them."""
    essence = (media_type or "").split(";")[0].strip().lower()
    return essence == JSON_LINES or PurePath(filename or "").suffix.lower() == JSONL_SUFFIX
