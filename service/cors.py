"""Cross-origin requests: Starlette's CORS middleware, with a refused preflight answered in the JSON error
body every other refusal has (Starlette's own is plain text, "Disallowed CORS origin")."""

from __future__ import annotations

from fastapi.middleware.cors import CORSMiddleware
from starlette.datastructures import Headers
from starlette.responses import JSONResponse, Response

from service.errors import error_body


class JsonCorsMiddleware(CORSMiddleware):
    def preflight_response(self, request_headers: Headers) -> Response:
        response = super().preflight_response(request_headers)
        if response.status_code < 400:
            return response
        refused = bytes(response.body).decode("utf-8", "replace").removeprefix("Disallowed CORS ")
        headers = {k: v for k, v in response.headers.items() if k not in ("content-type", "content-length")}
        message = (
            f"this cross-origin request is not allowed: its {refused}; the service allows the origins, "
            "methods and headers of CITEQA_CORS_ORIGINS and its routes"
        )
        return JSONResponse(error_body("cors_refused", message), response.status_code, headers)
