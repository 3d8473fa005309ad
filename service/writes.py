"""How write requests are read: the limits, the upload query fields, bodies by Content-Type, and the
request bodies the write routes document themselves (the routes are in service/routes/documents.py;
multipart/form-data uploads are read by service/uploads.py)."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Annotated, Any

from fastapi import Depends, FastAPI, Query, Request
from fastapi.exceptions import RequestValidationError
from pydantic import BaseModel, ValidationError
from starlette.concurrency import run_in_threadpool

from corpus.doc_ids import DOC_ID_MAX_CHARS, DOC_ID_REGEX
from corpus.errors import UnsupportedFormatError
from corpus.formats import DOCX_MEDIA_TYPE
from corpus.ingest import document_from_upload, documents_from_jsonl
from corpus.types import Document
from corpus.unicode_check import LONE_SURROGATE_FIX, field_with_lone_surrogate
from service.limits import refuse_query_parameters
from service.schemas import ErrorOut
from service.uploads import JSON_LINES, MULTIPART, MULTIPART_BODY, documents_from_form, read_form
from service.write_schemas import DocumentBatch

TEXT_TYPES = ("text/plain", "text/markdown", "text/html")
BINARY_TYPES = ("application/pdf", DOCX_MEDIA_TYPE)
UPLOAD_TYPES = (*TEXT_TYPES, *BINARY_TYPES, JSON_LINES)
UPLOAD_BODY = {
    "requestBody": {
        "required": True,
        "content": {
            **{media: {"schema": {"type": "string"}} for media in ("text/plain", JSON_LINES)},
            # Markdown and HTML read any text, a JSON-looking body too: nothing sent as them is malformed.
            **{media: {"schema": {"description": f"the document as {media}"}} for media in TEXT_TYPES[1:]},
            **{media: {"schema": {"type": "string", "format": "binary"}} for media in BINARY_TYPES},
            MULTIPART: MULTIPART_BODY,
        },
    }
}
# POST /documents takes a JSON batch or any upload type (multipart/form-data files among them); the batch's
# schema is registered with the app's components (register_schema, called by service.app), because this
# route reads its body itself to choose by Content-Type.
DOCUMENTS_BODY = {
    "requestBody": {
        "required": True,
        "content": {
            "application/json": {"schema": {"$ref": "#/components/schemas/DocumentBatch"}},
            **UPLOAD_BODY["requestBody"]["content"],
        },
    }
}

WRITE_RESPONSES = {
    401: {"model": ErrorOut, "description": "missing API key"},
    403: {"model": ErrorOut, "description": "wrong API key, or no key configured (writes refused)"},
    413: {"model": ErrorOut, "description": "request body too large"},
    422: {"model": ErrorOut, "description": "invalid document or doc_id, or a limit exceeded"},
    507: {
        "model": ErrorOut,
        "description": (
            "the index's disk refused the write (full, read-only or not permitted); nothing was stored"
        ),
    },
}
# Writes with a body (POST/PUT under /documents) wait in a queue of their own (service.limits.WriteAdmission).
QUEUED_WRITE_RESPONSES = {
    **WRITE_RESPONSES,
    503: {
        "model": ErrorOut,
        "description": "the queue of writes is full (CITEQA_MAX_QUEUED_WRITES); retry after Retry-After",
    },
}
UPLOAD_RESPONSES = {
    **QUEUED_WRITE_RESPONSES,
    415: {"model": ErrorOut, "description": "a Content-Type or file type citeqa does not read"},
}


# Write requests computing at once per process, each in a thread of its own limiter (service.deps): writes
# wait for the index's write lock, so on the shared worker threads (40) a burst of them took every thread
# and GET /health, /ready, /metrics and the document reads waited behind it (minutes); queued writes now
# wait on the event loop instead. Their commits take turns anyway, and embedding is bound by the cores.
WRITE_THREADS = 4


@dataclass(frozen=True)
class WriteLimits:
    max_document_chars: int
    max_bulk: int


UPLOAD_QUERY = ("doc_id", "title", "author", "publisher", "url")


def refuse_unknown_query(request: Request, known: tuple[str, ...]) -> None:
    """A 422 naming every query parameter not in ``known`` (a misspelt "tilte" would otherwise be dropped
    without a word, while the multipart form refuses the same name)."""
    unknown = [name for name in dict.fromkeys(request.query_params) if name not in known]
    refuse_query_parameters(
        request, unknown, lambda name: f"unknown parameter {name!r}; known: {', '.join(known)}"
    )


class UploadFields:
    """The query parameters of an upload: its doc_id and metadata (JSON bodies carry their own; the fields
    of a multipart form win over these)."""

    def __init__(
        self,
        request: Request,
        doc_id: str | None = Query(
            None, pattern=DOC_ID_REGEX, max_length=DOC_ID_MAX_CHARS, description="default: from the title"
        ),
        title: str | None = Query(
            None, description="default: the file's own title (PDF, Word, HTML), else first heading or line"
        ),
        author: str | None = None,
        publisher: str | None = None,
        url: str | None = None,
    ) -> None:
        refuse_unknown_query(request, UPLOAD_QUERY)
        self.doc_id = doc_id
        self.fields = {"title": title, "author": author, "publisher": publisher, "url": url}

    def metadata(self) -> dict[str, str]:
        return {k: v for k, v in self.fields.items() if v is not None}

    def fields_given(self) -> dict[str, str]:
        """The metadata and the doc_id that were given."""
        return {**({"doc_id": self.doc_id} if self.doc_id is not None else {}), **self.metadata()}


UploadDep = Annotated[UploadFields, Depends()]


def media_type_of(request: Request) -> str:
    return request.headers.get("content-type", "").split(";")[0].strip().lower()


def parse_batch(content: bytes) -> list[Document]:
    """A JSON {"documents": [...]} body, validated as FastAPI validates a declared body (same 422s)."""
    try:
        return DocumentBatch.model_validate_json(content).as_documents()
    except ValidationError as err:
        errors = err.errors(include_url=False)
        if any(e["type"] == "json_invalid" for e in errors):
            refuse_lone_surrogate(content)
        raise RequestValidationError([{**e, "loc": ("body", *e["loc"])} for e in errors]) from None


def refuse_lone_surrogate(content: bytes) -> None:
    """A 422 naming the field of a JSON body that is valid JSON but escapes an unpaired surrogate
    ("\\ud800"): pydantic's JSON parser calls such a body invalid JSON, which it is not."""
    try:
        parsed = json.loads(content)
    except (ValueError, RecursionError):
        return
    field = field_with_lone_surrogate(parsed)
    if field is not None:
        raise RequestValidationError(
            [
                {
                    "type": "string_unicode",
                    "loc": ("body", field),
                    "msg": f"{LONE_SURROGATE_FIX}; write the character itself or remove it",
                    "input": None,
                }
            ]
        )


async def read_upload(
    request: Request, upload: UploadFields, max_bulk: int, json_batch: bool = True
) -> list[Document]:
    """The documents of an upload: multipart/form-data files (service.uploads), or one raw body by its
    Content-Type (``parse_upload``); files are read in the thread pool. ``json_batch``: whether the route
    also takes a JSON batch (POST /documents does, POST /documents/upload does not), for the 415's advice."""
    if media_type_of(request) == MULTIPART:
        form = await read_form(request, max_bulk)
        return await run_in_threadpool(documents_from_form, form, upload.fields_given())
    content = await request.body()
    content_type = request.headers.get("content-type", "")
    return await run_in_threadpool(parse_upload, content_type, content, upload, max_bulk, json_batch)


def parse_upload(
    content_type: str, content: bytes, upload: UploadFields, max_bulk: int, json_batch: bool = True
) -> list[Document]:
    """One document as a raw text, Markdown, HTML, PDF or Word body, or many as JSON lines
    (``UnsupportedFormatError`` for any other Content-Type). Synchronous: PDF and Word extraction is CPU
    work, so routes run it in the thread pool."""
    media_type = content_type.split(";")[0].strip().lower()
    if media_type == JSON_LINES:
        return documents_from_jsonl(content, max_documents=max_bulk)
    if media_type in UPLOAD_TYPES:
        return [
            document_from_upload(
                content, media_type=content_type, doc_id=upload.doc_id, metadata=upload.metadata()
            )
        ]
    accepted = f'{MULTIPART} files (the field "file") or one of ' + ", ".join(UPLOAD_TYPES)
    if not json_batch:  # a JSON batch goes to POST /documents
        raise UnsupportedFormatError(
            f"Content-Type {media_type or '(none)'!r} is not accepted here; send {accepted} "
            '(a JSON batch, {"documents": [...]}, goes to POST /documents)'
        )
    raise UnsupportedFormatError(
        f"Content-Type {media_type or '(none)'!r} is not accepted; send application/json "
        f'({{"documents": [...]}}), {accepted}'
    )


def register_schema(app: FastAPI, model: type[BaseModel]) -> None:
    """Put ``model``'s JSON schema (and the schemas it uses) into the app's OpenAPI components, for a
    route that documents a body it reads itself."""
    generate = app.openapi

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            schema = generate()
            own = model.model_json_schema(ref_template="#/components/schemas/{model}")
            components = schema.setdefault("components", {}).setdefault("schemas", {})
            components.update(own.pop("$defs", {}))
            components[model.__name__] = own
        return app.openapi_schema

    app.openapi = openapi  # type: ignore[method-assign]
