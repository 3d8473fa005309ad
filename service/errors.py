"""The one place where domain errors and bad requests become HTTP responses."""

from __future__ import annotations

import logging

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, Response
from starlette.exceptions import HTTPException as StarletteHTTPException

from citeqa.errors import CalibrationError, InvalidQueryError
from corpus.errors import CiteqaError, CorpusError, InvalidDocumentIdError, UnsupportedFormatError
from corpus.unicode_check import LONE_SURROGATE_FIX
from indexer.errors import (
    DocumentNotFoundError,
    IndexMismatchError,
    VersionNotReachedError,
    disk_refusal,
    unwritable,
)
from service.admission import ClientGone, Overloaded

logger = logging.getLogger("citeqa.service")

STATUS_BY_ERROR: tuple[tuple[type[CiteqaError], int, str], ...] = (
    (InvalidDocumentIdError, 422, "invalid_doc_id"),
    (UnsupportedFormatError, 415, "unsupported_media_type"),
    (InvalidQueryError, 422, "invalid_query"),
    (DocumentNotFoundError, 404, "not_found"),
    (VersionNotReachedError, 409, "version_not_reached"),
    (CorpusError, 422, "invalid_corpus"),
    (IndexMismatchError, 503, "index_unavailable"),
    (CalibrationError, 503, "calibration_unavailable"),
)


CLIENT_CLOSED_REQUEST = 499
INSUFFICIENT_STORAGE = 507
FASTAPI_BODY_PARSE_ERROR = "There was an error parsing the body"
QUERY_BODY = '{"question": "..."}'
BATCH_BODY = '{"documents": [{"doc_id": "...", "title": "...", "text": "..."}]}'
DOCUMENT_BODY = '{"title": "...", "text": "..."}'
HTTP_ERROR_CODES = {
    401: "unauthorized",
    403: "forbidden",
    404: "not_found",
    405: "method_not_allowed",
    413: "payload_too_large",
    415: "unsupported_media_type",
}


def error_body(error: str, message: str, detail: list | None = None) -> dict:
    body: dict = {"error": error, "message": message}
    if detail is not None:
        body["detail"] = detail
    return body


def body_example(request: Request) -> str:
    """The JSON body the route takes, for messages about a body it could not read."""
    path = request.url.path.rstrip("/")
    if path == "/documents":
        return BATCH_BODY
    if path.startswith("/documents/"):
        return DOCUMENT_BODY
    return QUERY_BODY


def sent_as_json(request: Request) -> bool:
    media = request.headers.get("content-type", "").split(";")[0].strip().lower()
    return media == "application/json" or media.endswith("+json")


def unreadable_body(request: Request) -> str:
    return (
        "request body could not be read as JSON (bytes that are not UTF-8, a number of more than "
        "4,300 digits, or nested too deeply); "
        f"send a JSON object such as {body_example(request)}"
    )


def describe_validation_error(exc: RequestValidationError, request: Request) -> tuple[str, list]:
    detail = []
    messages = []
    example = body_example(request)
    for item in exc.errors():
        location = ".".join(str(part) for part in item.get("loc", ()) if part not in ("body", "query"))
        message = str(item.get("msg", "invalid value")).removeprefix("Value error, ")
        if item.get("type") == "json_invalid":
            message = f"request body is not valid JSON; send a JSON object such as {example}"
            location = ""
        elif item.get("type") == "string_unicode":  # a JSON body's string escapes an unpaired surrogate
            message = f"{LONE_SURROGATE_FIX}; write the character itself or remove it"
        elif item.get("type") == "model_attributes_type" and not sent_as_json(request):
            sent = request.headers.get("content-type") or "no Content-Type"
            message = f"request body was sent as {sent}; send it with Content-Type: application/json"
        elif item.get("type") == "model_attributes_type":
            message = f"request body must be a JSON object such as {example}"
        elif item.get("type") == "missing" and not location:  # no body at all ("Field required" said nothing)
            message = f"request body is empty; send a JSON object such as {example}"
        detail.append({"field": location or None, "message": message, "type": item.get("type")})
        messages.append(f"{location}: {message}" if location else message)
    return "; ".join(messages) or "invalid request", detail


def install_error_handlers(app: FastAPI) -> None:
    @app.exception_handler(RequestValidationError)
    async def on_validation_error(request: Request, exc: RequestValidationError) -> JSONResponse:
        message, detail = describe_validation_error(exc, request)
        return JSONResponse(status_code=422, content=error_body("invalid_request", message, detail))

    @app.exception_handler(CiteqaError)
    async def on_domain_error(_: Request, exc: CiteqaError) -> JSONResponse:
        for error_type, status, code in STATUS_BY_ERROR:
            if isinstance(exc, error_type):
                return JSONResponse(status_code=status, content=error_body(code, str(exc)))
        return JSONResponse(status_code=400, content=error_body("bad_request", str(exc)))

    @app.exception_handler(Overloaded)
    async def on_overloaded(_: Request, exc: Overloaded) -> JSONResponse:
        return JSONResponse(
            status_code=503,
            content=error_body("overloaded", str(exc)),
            headers={"Retry-After": str(exc.retry_after)},
        )

    @app.exception_handler(ClientGone)
    async def on_client_gone(_: Request, __: ClientGone) -> Response:
        # Nobody reads it: the status (nginx's "client closed request") is for the request log and metrics.
        return Response(status_code=CLIENT_CLOSED_REQUEST)

    @app.exception_handler(StarletteHTTPException)
    async def on_http_error(request: Request, exc: StarletteHTTPException) -> JSONResponse:
        code = HTTP_ERROR_CODES.get(exc.status_code, "http_error")
        message = str(exc.detail)
        if exc.status_code == 400 and message == FASTAPI_BODY_PARSE_ERROR:
            # e.g. bytes that are not UTF-8: the same answer as for malformed JSON.
            body = error_body("invalid_request", unreadable_body(request))
            return JSONResponse(status_code=422, content=body)
        if exc.status_code == 404 and message == "Not Found":
            message = "no such endpoint; see /docs for the API"
        elif exc.status_code == 405:
            message = f"{request.method} is not allowed on {request.url.path}; see /docs for the API"
        return JSONResponse(
            status_code=exc.status_code,
            content=error_body(code, message),
            headers=getattr(exc, "headers", None),
        )

    @app.exception_handler(Exception)
    async def on_unexpected_error(request: Request, exc: Exception) -> JSONResponse:
        # Logged with its traceback for the operator; the client never sees internals.
        logger.exception("unhandled error on %s %s", request.method, request.url.path)
        return internal_error_response(exc)


def internal_error_response(error: BaseException | None = None) -> JSONResponse:
    """The only body an unexpected error gets: no traceback, no paths (those go to the server log). A write
    the index's disk refused (full, or over a quota) is 507: the write left nothing behind (see
    indexer.writer), so freeing space and sending it again is the fix."""
    if error is not None and (reason := disk_refusal(error)) is not None:
        message = (
            f"the index's disk refused the write ({reason}); nothing of it was stored: free space on the "
            "disk that holds the index folder and send it again"
        )
        return JSONResponse(
            status_code=INSUFFICIENT_STORAGE, content=error_body("insufficient_storage", message)
        )
    if error is not None and (refused := unwritable(error)) is not None:
        message = (
            f"the index folder cannot be written ({refused}); nothing of the write was stored: make the "
            "folder writable by the service's user (then send it again), or serve it read-only, without "
            "API keys"
        )
        return JSONResponse(
            status_code=INSUFFICIENT_STORAGE, content=error_body("insufficient_storage", message)
        )
    return JSONResponse(
        status_code=500, content=error_body("internal_error", "internal error; see server log")
    )
