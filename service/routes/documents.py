"""The document routes: list and read (GET), and the writes (add, replace, remove, rebuild). Every write
needs an API key (service.auth.WriteAccess) and answers with the index version that contains it."""

from __future__ import annotations

from itertools import islice
from typing import Annotated

from anyio import CapacityLimiter, to_thread
from fastapi import APIRouter, Depends, Query, Request

from corpus.types import Document
from indexer.errors import DocumentNotFoundError
from indexer.live import LiveIndex
from service.auth import WriteAccess
from service.deps import DocumentsDep, LiveDep, WriteLimitsDep, WriteThreadsDep
from service.limits import cited_doc_id, no_query_parameters, refuse_any_query_parameter, valid_doc_id
from service.query_contract import DocumentsPage
from service.routes import ERROR_RESPONSES, READ_ACCESS, READ_RESPONSES
from service.schemas import DocumentList, DocumentOut, DocumentSummary, ErrorOut
from service.write_schemas import DocumentBody, WriteOut
from service.writes import (
    DOCUMENTS_BODY,
    QUEUED_WRITE_RESPONSES,
    UPLOAD_BODY,
    UPLOAD_RESPONSES,
    WRITE_RESPONSES,
    UploadDep,
    WriteLimits,
    media_type_of,
    parse_batch,
    read_upload,
)

router = APIRouter()


def each_page_parameter_once(request: Request) -> None:
    DocumentsPage.check_single([name for name, _ in request.query_params.multi_items()])


@router.get(
    "/documents",
    response_model=DocumentList,
    responses={422: {"model": ErrorOut}, **READ_RESPONSES},
    dependencies=[*READ_ACCESS, Depends(each_page_parameter_once)],
)
def documents(found: DocumentsDep, page: Annotated[DocumentsPage, Query()]) -> DocumentList:
    """The stored documents with their metadata (not their text), a page at a time (``limit`` each, 1000
    unless asked; ``next_offset`` gives the next page, null on the last)."""
    end = page.offset + page.limit
    # Skip by id (held in memory): a document is read (its text, or a shard's answer) only on its page.
    ids = list(islice(iter(found), page.offset, end))
    listed = [DocumentSummary.from_document(found[doc_id]) for doc_id in ids]
    more = end < len(found)
    return DocumentList(
        documents=listed, total=len(found), offset=page.offset, next_offset=end if more else None
    )


@router.get(
    "/documents/{doc_id:cited_id}",
    response_model=DocumentOut,
    responses={**ERROR_RESPONSES, **READ_RESPONSES},
    dependencies=[
        *READ_ACCESS,
        Depends(cited_doc_id),
        Depends(
            no_query_parameters(
                "the document is named by the path and its whole text sent: a citation's start and end "
                "index into it (/documents/{doc_id}/view?start=&end= shows a span)"
            )
        ),
    ],
)
def document(doc_id: str, found: DocumentsDep) -> DocumentOut:
    one = found.get(doc_id)
    if one is None:
        raise DocumentNotFoundError(f"no document with doc_id {doc_id!r}; GET /documents lists them")
    summary = DocumentSummary.from_document(one).model_dump()
    return DocumentOut(**summary, text=one.text, page_starts=list(one.page_starts))


def json_batch_reads_no_query(request: Request) -> None:
    """A JSON batch's documents carry their own fields: any query parameter is refused with one message,
    before the upload's own parameters (doc_id, title, ...; for a raw body) are read and judged."""
    if media_type_of(request) == "application/json":
        refuse_any_query_parameter(request, "a JSON batch carries each document's fields in its body")


async def write(
    live: LiveIndex, batch: list[Document], limits: WriteLimits, threads: CapacityLimiter
) -> WriteOut:
    result = await to_thread.run_sync(
        live.put, batch, limits.max_document_chars, limits.max_bulk, limiter=threads
    )
    return WriteOut.of(result)


@router.post(
    "/documents",
    response_model=WriteOut,
    responses=UPLOAD_RESPONSES,
    dependencies=[WriteAccess, Depends(json_batch_reads_no_query)],
    openapi_extra=DOCUMENTS_BODY,
)
async def add_documents(
    request: Request, upload: UploadDep, live: LiveDep, limits: WriteLimitsDep, threads: WriteThreadsDep
) -> WriteOut:
    """Add documents, or replace those with the same doc_id, in one write: a JSON batch
    ({"documents": [...]}); files as multipart/form-data (field `file`, repeatable: .txt, .md, .html,
    .pdf, .docx, and .jsonl, whose lines are documents; for one file the fields doc_id, title, author,
    publisher, url); one document as the raw
    body (text/plain, text/markdown, text/html, application/pdf, Word .docx; its metadata in the query);
    or many as JSON lines (application/x-ndjson). A file type citeqa does not read: 415."""
    if media_type_of(request) == "application/json":
        return await write(live, parse_batch(await request.body()), limits, threads)
    return await write(live, await read_upload(request, upload, limits.max_bulk), limits, threads)


@router.post(
    "/documents/upload",
    response_model=WriteOut,
    responses=UPLOAD_RESPONSES,
    dependencies=[WriteAccess],
    openapi_extra=UPLOAD_BODY,
)
async def upload_documents(
    request: Request, upload: UploadDep, live: LiveDep, limits: WriteLimitsDep, threads: WriteThreadsDep
) -> WriteOut:
    """Files as multipart/form-data, one document as the raw body (text/plain, text/markdown, text/html,
    application/pdf, Word .docx), or many as JSON lines (application/x-ndjson: one {doc_id, title, text,
    ...} object a line), as POST /documents takes them too."""
    batch = await read_upload(request, upload, limits.max_bulk, json_batch=False)
    return await write(live, batch, limits, threads)


@router.put(
    "/documents/{doc_id:cited_id}",
    response_model=WriteOut,
    responses=QUEUED_WRITE_RESPONSES,
    dependencies=[
        WriteAccess,
        Depends(valid_doc_id),
        Depends(no_query_parameters("send title, text and the other fields in the JSON body")),
    ],
)
async def put_document(
    doc_id: str, body: DocumentBody, live: LiveDep, limits: WriteLimitsDep, threads: WriteThreadsDep
) -> WriteOut:
    """Add or replace the document ``doc_id``."""
    batch = [body.document(doc_id)]
    return WriteOut.of(await to_thread.run_sync(live.put, batch, limits.max_document_chars, limiter=threads))


@router.delete(
    "/documents/{doc_id:cited_id}",
    response_model=WriteOut,
    responses={
        **WRITE_RESPONSES,
        404: {"model": ErrorOut, "description": "no such document"},
    },
    dependencies=[
        WriteAccess,
        Depends(cited_doc_id),
        Depends(no_query_parameters("the document is named by the path")),
    ],
)
async def delete_document(doc_id: str, live: LiveDep, threads: WriteThreadsDep) -> WriteOut:
    return WriteOut.of(await to_thread.run_sync(live.delete, [doc_id], limiter=threads))


@router.post(
    "/index/rebuild",
    response_model=WriteOut,
    responses=WRITE_RESPONSES,
    dependencies=[WriteAccess, Depends(no_query_parameters("it takes no input"))],
)
async def rebuild_index(live: LiveDep, threads: WriteThreadsDep) -> WriteOut:
    """Re-embed every stored document beside the live index and swap the result in; queries and
    writes carry on meanwhile."""
    return WriteOut.of(await to_thread.run_sync(live.rebuild, limiter=threads))
