"""HEAD is answered wherever GET is: the request is served as a GET and the body left out (RFC 9110
9.3.2), so the headers are the GET's, Content-Length included. The OpenAPI document lists GET only."""

from __future__ import annotations

from starlette.types import ASGIApp, Message, Receive, Scope, Send

BODY_MESSAGES = ("http.response.body", "http.response.pathsend")


class HeadAsGet:
    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["method"] != "HEAD":
            await self.app(scope, receive, send)
            return
        # A copy: the server and the request log outside still see HEAD.
        as_get = {**scope, "method": "GET"}

        async def send_headers_only(message: Message) -> None:
            if message["type"] in BODY_MESSAGES:
                if message.get("more_body", False):
                    return
                message = {"type": "http.response.body", "body": b"", "more_body": False}
            await send(message)

        try:
            await self.app(as_get, receive, send_headers_only)
        finally:
            if "route" in as_get:
                scope["route"] = as_get["route"]  # so the request log and metrics name the route
