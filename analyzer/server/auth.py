"""Optional bearer-token check for API callers (Argo sends the header from a Secret via args)."""

from __future__ import annotations

import hmac
from typing import Annotated

from fastapi import Depends, HTTPException, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

_bearer = HTTPBearer(auto_error=False, description="required when the service has api_tokens")


def require_token(
    request: Request, credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)]
) -> None:
    """Pass when no tokens are configured, or the request carries one of them (compared in constant time)."""
    tokens: list[bytes] = request.app.state.tokens
    if not tokens:
        return
    offered = credentials.credentials.encode() if credentials is not None else b""
    if not any(hmac.compare_digest(offered, token) for token in tokens):
        raise HTTPException(401, "Missing or wrong bearer token", headers={"WWW-Authenticate": "Bearer"})
