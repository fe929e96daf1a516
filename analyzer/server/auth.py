"""Who calls: one identity model for every endpoint (bearer tokens with roles and a namespace scope).

Tokens come from the ledger (``canary-analyzer token create NAME --role ROLE [--namespace NS]``), from
the settings' ``api_tokens`` (each one an unscoped ``analysis`` identity, so that existing Argo Secrets
keep working) and, with ``token_review.enabled``, from Kubernetes: a service-account token the API server
vouches for (TokenReview) is the identity its grant says (``analyzer/grants.py``). Nothing is open:
without a token a request is 401, unless the service runs with ``insecure_no_auth``, where an anonymous
caller may judge and read (never write promotions).
"""

from __future__ import annotations

import hmac
import threading
from collections.abc import Callable
from typing import Annotated

from fastapi import Depends, HTTPException, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from analyzer.errors import ClusterError, InputError
from analyzer.server.tokenreview import TokenReviewer
from analyzer.settings import Settings
from analyzer.store.db import Database
from analyzer.store.tokens import Identity, allows, any_active_token, identify

_bearer = HTTPBearer(auto_error=False, description="a token from `token create` or the settings' api_tokens")

ANONYMOUS = Identity("anonymous", "analysis")


def static_identities(settings: Settings) -> list[tuple[bytes, Identity]]:
    """The settings' ``api_tokens`` as unscoped analysis identities, named by position (never by value)."""
    return [(t.get_secret_value().encode(), Identity(f"api-token-{i}", "analysis"))
            for i, t in enumerate(settings.api_tokens, 1)]


def _unauthenticated(why: str) -> HTTPException:
    return HTTPException(401, why, headers={"WWW-Authenticate": "Bearer"})


def resolve(request: Request, credentials: HTTPAuthorizationCredentials | None) -> Identity:
    """The caller's identity; 401 for a missing (unless insecure) or unknown token."""
    if credentials is None:
        if request.app.state.insecure:
            return ANONYMOUS
        raise _unauthenticated("A bearer token is required")
    offered = credentials.credentials.encode()
    found = None
    for token, identity in request.app.state.static_tokens:  # every one compared: constant time overall
        if hmac.compare_digest(offered, token):
            found = identity
    found = found or identify(request.app.state.analyzer.database, credentials.credentials)
    found = found or _service_account(request, credentials.credentials)
    if found is None:
        raise _unauthenticated("Unknown or revoked token")
    return found


_reviewers = threading.Lock()


def _reviewer(request: Request) -> TokenReviewer | None:
    """The app's TokenReview client, made at the first unknown token (None unless token_review.enabled)."""
    state = request.app.state
    with _reviewers:
        if not hasattr(state, "token_reviewer"):
            settings: Settings = state.analyzer.settings
            state.token_reviewer = None
            if settings.token_review.enabled:
                from analyzer.rollouts import Kube

                state.token_reviewer = TokenReviewer(
                    settings.token_review, lambda: Kube(settings.kube_context, settings.kubeconfig))
        reviewer: TokenReviewer | None = state.token_reviewer
        return reviewer


def _service_account(request: Request, token: str) -> Identity | None:
    """The identity a Kubernetes service-account token is granted; None for a token the API server does not
    vouch for; 403 for an account without a grant; 503 when the API server cannot be asked."""
    reviewer = _reviewer(request)
    if reviewer is None:
        return None
    try:
        username = reviewer.username(token)
    except ClusterError as error:
        raise HTTPException(503, f"cannot check the token: {error}", headers={"Retry-After": "5"}) from None
    if username is None:
        return None
    granted = reviewer.settings.grant_for(username)
    if granted is None:
        raise HTTPException(403, f"{username} is a valid Kubernetes identity without a grant in token_review.grants")
    account, grant = granted
    namespace = account.split("/", 1)[0]
    return Identity(f"sa:{account}", grant.role, grant.scope(namespace))


def role(needed: str, scoped: bool = True) -> Callable[..., Identity]:
    """A dependency admitting identities with at least the ``needed`` role (401 without one, 403 too weak);
    ``scoped=False``: a namespace-scoped token is refused too (promotion spans namespaces)."""

    def check(
        request: Request, credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)]
    ) -> Identity:
        caller = resolve(request, credentials)
        if not allows(caller.role, needed):
            if caller is ANONYMOUS:
                raise _unauthenticated(f"A bearer token with role {needed} is required")
            raise HTTPException(403, f"token {caller.name!r} has role {caller.role}; this needs {needed}")
        if not scoped and caller.namespaces is not None:
            raise HTTPException(403, f"token {caller.name!r} is scoped to namespaces; this needs an unscoped token")
        return caller

    return check


def require_token(request: Request, credentials: HTTPAuthorizationCredentials | None) -> Identity:
    """For routes that check by hand (report pages): any known identity, i.e. at least a viewer."""
    return role("viewer")(request, credentials)


Reader = Annotated[Identity, Depends(role("viewer"))]
AnalysisCaller = Annotated[Identity, Depends(role("analysis"))]
Viewer = Annotated[Identity, Depends(role("viewer", scoped=False))]
Operator = Annotated[Identity, Depends(role("operator", scoped=False))]
Approver = Annotated[Identity, Depends(role("approver", scoped=False))]


def refuse_open(settings: Settings, database: Database) -> None:
    """Raise :class:`InputError` when the service would start with no token at all and no explicit
    ``insecure_no_auth``: nothing is open by default."""
    if settings.insecure_no_auth or settings.api_tokens or any_active_token(database):
        return
    if settings.token_review.enabled and settings.token_review.grants:
        return
    raise InputError("no API token is configured (api_tokens, or `canary-analyzer token create`): the service "
                     "would be open to anyone; create a token, or set insecure_no_auth (--insecure-no-auth) "
                     "for a throwaway setup")
