"""The write endpoints: add, replace and remove documents, rebuild the index. Every one needs an API key
(service.auth.WriteAccess) and answers with the index version that contains the write."""

from __future__ import annotations

from dataclasses import dataclass

from fastapi import Depends, FastAPI, Query, Request
from starlette.concurrency import run_in_threadpool

from citeqa.errors import CorpusError
from corpus.ingest import document_from_upload, documents_from_jsonl
from indexer.live import LiveIndex
from service.auth import WriteAccess
from service.limits import valid_doc_id
from service.schemas import ErrorOut
from service.write_schemas import DOC_ID_REGEX, DocumentBatch, DocumentBody, WriteOut

UPLOAD_TYPES = ("text/plain", "text/markdown", "text/html", "application/x-ndjson")
UPLOAD_BODY = {
    "requestBody": {
        "required": True,
        "content": {media: {"schema": {"type": "string"}} for media in UPLOAD_TYPES},
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


def install_write_routes(app: FastAPI, limits: WriteLimits) -> None:
    @app.post("/documents", response_model=WriteOut, responses=WRITE_RESPONSES, dependencies=[WriteAccess])
    def add_documents(body: DocumentBatch, request: Request) -> WriteOut:
        """Add documents, or replace those with the same doc_id, in one write."""
        live = get_live(request)
        return WriteOut.of(live.put(body.as_documents(), limits.max_document_chars, limits.max_bulk))

    @app.post(
        "/documents/upload",
        response_model=WriteOut,
        responses=WRITE_RESPONSES,
        dependencies=[WriteAccess],
        openapi_extra=UPLOAD_BODY,
    )
    async def upload_documents(
        request: Request,
        doc_id: str | None = Query(None, pattern=DOC_ID_REGEX, description="default: from the title"),
        title: str | None = Query(None, description="default: the HTML title, first heading or line"),
        author: str | None = None,
        publisher: str | None = None,
        url: str | None = None,
    ) -> WriteOut:
        """One document as the raw body (text/plain, text/markdown, text/html), or many as JSON lines
        (application/x-ndjson: one {doc_id, title, text, ...} object a line)."""
        media_type = request.headers.get("content-type", "").split(";")[0].strip().lower()
        content = await request.body()
        if media_type == "application/x-ndjson":
            documents = documents_from_jsonl(content, max_documents=limits.max_bulk)
        elif media_type in UPLOAD_TYPES:
            fields = {"title": title, "author": author, "publisher": publisher, "url": url}
            metadata = {k: v for k, v in fields.items() if v is not None}
            documents = [
                document_from_upload(
                    content,
                    media_type=request.headers.get("content-type"),
                    doc_id=doc_id,
                    metadata=metadata,
                )
            ]
        else:
            raise CorpusError(
                f"Content-Type {media_type or '(none)'!r} is not accepted; send one of "
                f"{', '.join(UPLOAD_TYPES)} (or JSON to POST /documents)"
            )
        live = get_live(request)
        result = await run_in_threadpool(live.put, documents, limits.max_document_chars, limits.max_bulk)
        return WriteOut.of(result)

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
