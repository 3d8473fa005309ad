"""The write endpoints: add, replace and remove documents, rebuild the index. Every one needs an API key
(service.auth.WriteAccess) and answers with the index version that contains the write."""

from __future__ import annotations

from dataclasses import dataclass

from fastapi import Depends, FastAPI, Request

from indexer.live import LiveIndex
from service.auth import WriteAccess
from service.limits import valid_doc_id
from service.schemas import ErrorOut
from service.write_schemas import DocumentBatch, DocumentBody, WriteOut

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
    app.state.write_limits = limits

    @app.post("/documents", response_model=WriteOut, responses=WRITE_RESPONSES, dependencies=[WriteAccess])
    def add_documents(body: DocumentBatch, request: Request) -> WriteOut:
        """Add documents, or replace those with the same doc_id, in one write."""
        limits = request.app.state.write_limits
        live = get_live(request)
        return WriteOut.of(live.put(body.as_documents(), limits.max_document_chars, limits.max_bulk))

    @app.put(
        "/documents/{doc_id}",
        response_model=WriteOut,
        responses=WRITE_RESPONSES,
        dependencies=[WriteAccess, Depends(valid_doc_id)],
    )
    def put_document(doc_id: str, body: DocumentBody, request: Request) -> WriteOut:
        """Add or replace the document ``doc_id``."""
        limits = request.app.state.write_limits
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
