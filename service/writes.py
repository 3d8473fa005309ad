"""The write endpoints: add, replace and remove documents, rebuild the index. Every one needs an API key
(service.auth.WriteAccess) and answers with the index version that contains the write."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated, Any

from fastapi import Depends, FastAPI, Query, Request
from fastapi.exceptions import RequestValidationError
from pydantic import BaseModel, ValidationError
from starlette.concurrency import run_in_threadpool

from corpus.doc_ids import DOC_ID_MAX_CHARS, DOC_ID_REGEX
from corpus.errors import CorpusError
from corpus.ingest import document_from_upload, documents_from_jsonl
from corpus.types import Document
from indexer.live import LiveIndex
from service.auth import WriteAccess
from service.limits import valid_doc_id
from service.schemas import ErrorOut
from service.write_schemas import DocumentBatch, DocumentBody, WriteOut

UPLOAD_TYPES = ("text/plain", "text/markdown", "text/html", "application/x-ndjson")
UPLOAD_BODY = {
    "requestBody": {
        "required": True,
        "content": {media: {"schema": {"type": "string"}} for media in UPLOAD_TYPES},
    }
}
# POST /documents takes a JSON batch or any upload type; the batch's schema is registered with the app's
# components (see service.app), because this route reads its body itself to choose by Content-Type.
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
}


@dataclass(frozen=True)
class WriteLimits:
    max_document_chars: int
    max_bulk: int


def get_live(request: Request) -> LiveIndex:
    return request.app.state.citeqa.live


class UploadFields:
    """The query parameters of a raw upload: its doc_id and metadata (JSON bodies carry their own)."""

    def __init__(
        self,
        doc_id: str | None = Query(
            None, pattern=DOC_ID_REGEX, max_length=DOC_ID_MAX_CHARS, description="default: from the title"
        ),
        title: str | None = Query(None, description="default: the HTML title, first heading or line"),
        author: str | None = None,
        publisher: str | None = None,
        url: str | None = None,
    ) -> None:
        self.doc_id = doc_id
        self.fields = {"title": title, "author": author, "publisher": publisher, "url": url}

    def metadata(self) -> dict[str, str]:
        return {k: v for k, v in self.fields.items() if v is not None}


UploadDep = Annotated[UploadFields, Depends()]


def media_type_of(request: Request) -> str:
    return request.headers.get("content-type", "").split(";")[0].strip().lower()


def parse_batch(content: bytes) -> list[Document]:
    """A JSON {"documents": [...]} body, validated as FastAPI validates a declared body (same 422s)."""
    try:
        return DocumentBatch.model_validate_json(content).as_documents()
    except ValidationError as err:
        raise RequestValidationError(
            [{**e, "loc": ("body", *e["loc"])} for e in err.errors(include_url=False)]
        ) from None


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


def install_write_routes(app: FastAPI, limits: WriteLimits) -> None:
    register_schema(app, DocumentBatch)

    @app.post(
        "/documents",
        response_model=WriteOut,
        responses=WRITE_RESPONSES,
        dependencies=[WriteAccess],
        openapi_extra=DOCUMENTS_BODY,
    )
    async def add_documents(request: Request, upload: UploadDep) -> WriteOut:
        """Add documents, or replace those with the same doc_id, in one write: a JSON batch
        ({"documents": [...]}), one document as the raw body (text/plain, text/markdown, text/html; its
        metadata in the query), or many as JSON lines (application/x-ndjson)."""
        content = await request.body()
        if media_type_of(request) == "application/json":
            return await write(request, parse_batch(content))
        return await write(request, parse_upload(request, content, upload))

    @app.post(
        "/documents/upload",
        response_model=WriteOut,
        responses=WRITE_RESPONSES,
        dependencies=[WriteAccess],
        openapi_extra=UPLOAD_BODY,
    )
    async def upload_documents(request: Request, upload: UploadDep) -> WriteOut:
        """One document as the raw body (text/plain, text/markdown, text/html), or many as JSON lines
        (application/x-ndjson: one {doc_id, title, text, ...} object a line), as POST /documents takes
        them too."""
        return await write(request, parse_upload(request, await request.body(), upload))

    async def write(request: Request, documents: list[Document]) -> WriteOut:
        live = get_live(request)
        result = await run_in_threadpool(live.put, documents, limits.max_document_chars, limits.max_bulk)
        return WriteOut.of(result)

    def parse_upload(request: Request, content: bytes, upload: UploadFields) -> list[Document]:
        media_type = media_type_of(request)
        if media_type == "application/x-ndjson":
            return documents_from_jsonl(content, max_documents=limits.max_bulk)
        if media_type in UPLOAD_TYPES:
            return [
                document_from_upload(
                    content,
                    media_type=request.headers.get("content-type"),
                    doc_id=upload.doc_id,
                    metadata=upload.metadata(),
                )
            ]
        raise CorpusError(
            f"Content-Type {media_type or '(none)'!r} is not accepted; send application/json "
            f'({{"documents": [...]}}) or one of {", ".join(UPLOAD_TYPES)}'
        )

    @app.put(
        "/documents/{doc_id}",
        response_model=WriteOut,
        responses=WRITE_RESPONSES,
        dependencies=[WriteAccess, Depends(valid_doc_id)],
    )
    def put_document(doc_id: str, body: DocumentBody, request: Request) -> WriteOut:
        """Add or replace the document ``doc_id``."""
        return WriteOut.of(get_live(request).put([body.document(doc_id)], limits.max_document_chars))

    @app.delete(
        "/documents/{doc_id}",
        response_model=WriteOut,
        responses={**WRITE_RESPONSES, 404: {"model": ErrorOut, "description": "no such document"}},
        dependencies=[WriteAccess, Depends(valid_doc_id)],
    )
    def delete_document(doc_id: str, request: Request) -> WriteOut:
        return WriteOut.of(get_live(request).delete([doc_id]))

    @app.post(
        "/index/rebuild", response_model=WriteOut, responses=WRITE_RESPONSES, dependencies=[WriteAccess]
    )
    def rebuild_index(request: Request) -> WriteOut:
        """Re-embed every stored document beside the live index and swap the result in; queries and
        writes carry on meanwhile."""
        return WriteOut.of(get_live(request).rebuild())
