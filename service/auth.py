"""API keys: ``Authorization: Bearer <key>`` checked against CITEQA_API_KEYS.

``require_api_key`` guards write endpoints: with no key configured, writes are refused outright.
``read_access`` guards the read endpoints, but only when CITEQA_REQUIRE_KEY_FOR_READS is on.
"""

from __future__ import annotations

import hmac
from dataclasses import dataclass
from typing import Annotated

from fastapi import Depends, FastAPI, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from fastapi.security.utils import get_authorization_scheme_param
from pydantic import SecretStr
from starlette.exceptions import HTTPException

from service.settings import Settings

bearer = HTTPBearer(auto_error=False, description="an API key from CITEQA_API_KEYS")
BearerCredentials = Annotated[HTTPAuthorizationCredentials | None, Depends(bearer)]


@dataclass(frozen=True)
class AccessPolicy:
    keys: tuple[SecretStr, ...] = ()
    require_key_for_reads: bool = False

    def accepts(self, presented: str) -> bool:
        """True if ``presented`` equals a configured key (every key compared in constant time)."""
        given = presented.encode()
        matches = [hmac.compare_digest(given, key.get_secret_value().encode()) for key in self.keys]
        return any(matches)


def install_access_policy(app: FastAPI, settings: Settings) -> None:
    app.state.access = AccessPolicy(tuple(settings.api_keys), settings.require_key_for_reads)


def check_key(policy: AccessPolicy, credentials: HTTPAuthorizationCredentials | None) -> None:
    if not policy.keys:
        raise HTTPException(403, "this endpoint needs an API key but none is configured; set CITEQA_API_KEYS")
    if credentials is None or not credentials.credentials:
        raise HTTPException(
            401,
            "missing API key; send the header 'Authorization: Bearer <key>'",
            headers={"WWW-Authenticate": "Bearer"},
        )
    if not policy.accepts(credentials.credentials):
        raise HTTPException(403, "the API key is not valid")


def key_refusal(policy: AccessPolicy, authorization: str | None) -> HTTPException | None:
    """The refusal ``check_key`` gives a request whose Authorization header is ``authorization`` (read as
    ``bearer`` reads it), or None when its key is accepted: for the write queue, which answers it before
    the body is read and before the write takes a place (service.limits.WriteAdmission)."""
    scheme, token = get_authorization_scheme_param(authorization)
    given = scheme.lower() == "bearer" and token
    credentials = HTTPAuthorizationCredentials(scheme=scheme, credentials=token) if given else None
    try:
        check_key(policy, credentials)
    except HTTPException as refused:
        return refused
    return None


def may_read(policy: AccessPolicy, credentials: HTTPAuthorizationCredentials | None) -> bool:
    """True if a request with ``credentials`` may read the index: always, unless CITEQA_REQUIRE_KEY_FOR_READS
    is on; then only with a valid key."""
    if not policy.require_key_for_reads:
        return True
    return (
        credentials is not None and bool(credentials.credentials) and policy.accepts(credentials.credentials)
    )


async def require_api_key(request: Request, credentials: BearerCredentials) -> None:
    """Dependency for write endpoints: a valid key, always."""
    check_key(request.app.state.access, credentials)


async def read_access(request: Request, credentials: BearerCredentials) -> None:
    """Dependency for read endpoints: a valid key if CITEQA_REQUIRE_KEY_FOR_READS is on, else anyone."""
    policy: AccessPolicy = request.app.state.access
    if policy.require_key_for_reads:
        check_key(policy, credentials)


WriteAccess = Depends(require_api_key)
ReadAccess = Depends(read_access)
