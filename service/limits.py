"""Request limits and protective headers: the queue of document writes (503), the body size limit (413),
doc_id checks on document paths, and security headers on every response (pages add their CSP themselves,
see service/routes/pages.py)."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Annotated

from fastapi import Path, Request
from fastapi.exceptions import RequestValidationError
from starlette.convertors import Convertor, register_url_convertor
from starlette.datastructures import Headers, MutableHeaders
from starlette.responses import JSONResponse
from starlette.routing import BaseRoute
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from corpus.doc_ids import DOC_ID_MAX_CHARS, DOC_ID_REGEX, DOC_ID_RULE, check_doc_id
from corpus.errors import InvalidDocumentIdError
from service.auth import key_refusal
from service.errors import HTTP_ERROR_CODES, error_body
from service.methods import flat_routes, path_methods

SECURITY_HEADERS = {"X-Content-Type-Options": "nosniff", "Referrer-Policy": "same-origin"}
# The rule is stated in the OpenAPI document; valid_doc_id says what is wrong in its own words.
DOC_ID_SCHEMA = {"pattern": DOC_ID_REGEX, "maxLength": DOC_ID_MAX_CHARS}
DocIdPath = Annotated[
    str, Path(description=f"the document's id: {DOC_ID_RULE}", json_schema_extra=DOC_ID_SCHEMA)
]


def refuse_query_parameters(request: Request, names: list[str], message_of: Callable[[str], str]) -> None:
    """A 422 naming each of ``names`` (query parameters of ``request``), each with ``message_of(name)``;
    nothing when there are none."""
    if names:
        raise RequestValidationError(
            [
                {
                    "type": "unknown_parameter",
                    "loc": ("query", name),
                    "msg": message_of(name),
                    "input": request.query_params[name],
                }
                for name in names
            ]
        )


def refuse_any_query_parameter(request: Request, reads: str) -> None:
    """A 422 naming each query parameter of ``request`` and saying where the route reads its input
    (``reads``); nothing when there is none."""
    message = f"{request.method} {request.url.path} reads no query parameter; {reads}"
    refuse_query_parameters(request, list(dict.fromkeys(request.query_params)), lambda _: message)


def no_query_parameters(reads: str) -> Callable[[Request], Awaitable[None]]:
    """Dependency for a route that reads no query parameter: any is refused with a 422 naming it and saying
    where the route reads its input (``reads``), as GET /search and the uploads refuse a name they do not
    know, so that POST /query?top_k=10 or PUT /documents/x?title=New is not answered as if it were obeyed.
    A coroutine: FastAPI runs a plain function dependency in a worker thread, a hop per request."""

    async def refuse(request: Request) -> None:
        refuse_any_query_parameter(request, reads)

    return refuse


def valid_doc_id(doc_id: DocIdPath) -> str:
    """Dependency for routes that name a new document by its {doc_id} path parameter (PUT)."""
    return check_doc_id(doc_id, "the URL path")


class CitedIdConvertor(Convertor[str]):
    """A path segment or several: an id may hold "/" (BEIR ids do), but not begin or end with one, so that
    /documents/ and /documents/x/ still redirect to /documents and /documents/x as Starlette does."""

    regex = "[^/](?:.*[^/])?"

    def convert(self, value: str) -> str:
        return value

    def to_string(self, value: str) -> str:
        return value


register_url_convertor("cited_id", CitedIdConvertor())  # routes name it: /documents/{doc_id:cited_id}

# A BEIR corpus keeps its own ids (its qrels name them): "Harry_Potter_(film_series)", "Beyoncé". Routes
# that read or delete a document take any id a citation can give, and answer 404 for one not indexed.
CITED_ID_MAX_CHARS = 1024
CitedIdPath = Annotated[
    str,
    Path(
        description="the document's id, as its citations give it",
        json_schema_extra={"minLength": 1, "maxLength": CITED_ID_MAX_CHARS},
    ),
]


def cited_doc_id(doc_id: CitedIdPath) -> str:
    """Dependency for routes that read or delete a document by its {doc_id} path parameter."""
    if not doc_id or len(doc_id) > CITED_ID_MAX_CHARS:
        raise InvalidDocumentIdError(
            f"the URL path: doc_id must be 1 to {CITED_ID_MAX_CHARS} characters, as a citation gives it"
        )
    return doc_id


def too_large(limit: int) -> JSONResponse:
    return JSONResponse(
        status_code=413,
        content=error_body(
            "payload_too_large", f"request body is larger than the limit of {limit} bytes; send less"
        ),
    )


def is_document_write(scope: Scope) -> bool:
    """POST/PUT under /documents: uploads of documents, which may be far larger than a question."""
    path = scope.get("path", "")
    return scope.get("method") in ("POST", "PUT") and (path == "/documents" or path.startswith("/documents/"))


class BodySizeLimit:
    """Refuses bodies over ``limit`` bytes (``write_limit`` for document writes) with 413: at once when
    Content-Length says so, else while reading (the body is read here, at most the limit, and replayed
    to the app)."""

    def __init__(self, app: ASGIApp, limit: int, write_limit: int | None = None) -> None:
        self.app = app
        self.read_limit = limit
        self.write_limit = write_limit or limit

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        limit = self.write_limit if is_document_write(scope) else self.read_limit
        declared = Headers(scope=scope).get("content-length")
        if declared is not None and declared.isdigit() and int(declared) > limit:
            await too_large(limit)(scope, receive, send)
            return
        chunks: list[bytes] = []
        size = 0
        while True:
            message = await receive()
            if message["type"] != "http.request":
                break
            chunk = message.get("body", b"")
            size += len(chunk)
            if size > limit:
                await too_large(limit)(scope, receive, send)
                return
            chunks.append(chunk)
            if not message.get("more_body", False):
                break
        replay: list[Message] = [{"type": "http.request", "body": b"".join(chunks), "more_body": False}]

        async def replayed() -> Message:
            return replay.pop() if replay else await receive()

        await self.app(scope, replayed, send)


class WriteQueue:
    """The document writes admitted now (``in_flight``, at most ``limit``) and those refused (``shed``),
    read by /metrics (service.metrics)."""

    def __init__(self, limit: int, retry_after: int = 1) -> None:
        if limit < 1:
            raise ValueError("the queue of writes must hold at least 1")
        self.limit, self.retry_after = limit, retry_after
        self.in_flight = 0
        self.shed = 0


class WriteAdmission:
    """Admits at most ``queue.limit`` document writes (POST/PUT under /documents) at once, from their
    first byte to their answer; one more is answered 503 with Retry-After before its body is read, and
    one whose API key is refused is answered 401/403 at once, without a place. Only a
    few writes compute at once (service.writes.WRITE_THREADS); the others wait, each holding a body of up
    to CITEQA_MAX_WRITE_BODY_BYTES, so the bound is what keeps their memory bounded."""

    def __init__(self, app: ASGIApp, queue: WriteQueue) -> None:
        self.app, self.queue = app, queue
        self._routes: list[BaseRoute] | None = None  # read at the first write: routes come after middleware

    def takes(self, scope: Scope) -> bool:
        """Whether a route takes this method at this path (else the method guard answers 405, unqueued)."""
        if self._routes is None:
            self._routes = list(flat_routes(scope["app"].router.routes))
        found = path_methods(self._routes, scope["path"])
        return found is not None and scope["method"] in found[0]

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or not is_document_write(scope) or not self.takes(scope):
            await self.app(scope, receive, send)
            return
        # A write whose key is refused never takes a place: without a key, one could fill the queue.
        policy = scope["app"].state.access
        if (refused := key_refusal(policy, Headers(scope=scope).get("authorization"))) is not None:
            body = error_body(HTTP_ERROR_CODES[refused.status_code], str(refused.detail))
            answer = JSONResponse(body, refused.status_code, headers=refused.headers)
            await answer(scope, receive, send)
            return
        queue = self.queue
        if queue.in_flight >= queue.limit:
            queue.shed += 1
            message = (
                f"the service is busy (its queue of {queue.limit} writes is full); retry in "
                f"{queue.retry_after} s (CITEQA_MAX_QUEUED_WRITES sets how many writes wait at once)"
            )
            refused = JSONResponse(
                status_code=503,
                content=error_body("overloaded", message),
                headers={"Retry-After": str(queue.retry_after)},
            )
            await refused(scope, receive, send)
            return
        queue.in_flight += 1
        try:
            await self.app(scope, receive, send)
        finally:
            queue.in_flight -= 1


class SecurityHeaders:
    """Adds SECURITY_HEADERS to every HTTP response that does not set them itself."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = MutableHeaders(scope=message)
                for name, value in SECURITY_HEADERS.items():
                    if name not in headers:
                        headers.append(name, value)
            await send(message)

        await self.app(scope, receive, send_with_headers)
