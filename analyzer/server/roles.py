"""Role checks for the promotion API: bearer tokens from the ledger (viewer < operator < admin)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Annotated

from fastapi import Depends, HTTPException, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from analyzer.store.tokens import allows, identify

_bearer = HTTPBearer(auto_error=False, description="a ledger token (canary-analyzer token create NAME --role ROLE)")


@dataclass(frozen=True)
class Caller:
    name: str
    role: str

    @property
    def actor(self) -> str:
        return f"token:{self.name}"


ANONYMOUS = Caller("anonymous", "viewer")


def role(needed: str) -> Callable[..., Caller]:
    """A dependency that admits tokens with at least the ``needed`` role (401 without one, 403 too weak)."""

    def check(
        request: Request, credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)]
    ) -> Caller:
        if needed == "viewer" and not request.app.state.analyzer.settings.promotion_read_requires_token:
            return ANONYMOUS
        if credentials is None:
            raise HTTPException(401, "A bearer token is required", headers={"WWW-Authenticate": "Bearer"})
        found = identify(request.app.state.analyzer.database, credentials.credentials)
        if found is None:
            raise HTTPException(401, "Unknown or revoked token", headers={"WWW-Authenticate": "Bearer"})
        caller = Caller(*found)
        if not allows(caller.role, needed):
            raise HTTPException(403, f"token {caller.name!r} has role {caller.role}; this needs {needed}")
        return caller

    return check


Viewer = Annotated[Caller, Depends(role("viewer"))]
Operator = Annotated[Caller, Depends(role("operator"))]
