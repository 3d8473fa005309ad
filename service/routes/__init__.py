"""The HTTP routes, one APIRouter per area (query, documents, pages, ops), included by service.app, and
the response documentation and access rule the read routes share."""

from __future__ import annotations

from service.auth import ReadAccess
from service.schemas import ErrorOut

INVALID_RESPONSES = {422: {"model": ErrorOut}}
ERROR_RESPONSES = {404: {"model": ErrorOut}, **INVALID_RESPONSES}
READ_RESPONSES = {401: {"model": ErrorOut}, 403: {"model": ErrorOut}}
READ_ACCESS = [ReadAccess]  # a key is needed only with CITEQA_REQUIRE_KEY_FOR_READS (see service/auth.py)
VERSION_RESPONSES = {409: {"model": ErrorOut, "description": "min_version is above every index version"}}
NOT_MODIFIED = {304: {"description": "not modified: If-None-Match named the current ETag"}}
