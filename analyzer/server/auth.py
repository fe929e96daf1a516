"""Who calls: one identity model for every endpoint (bearer tokens with roles and a namespace scope).

Tokens come from the ledger (``canary-analyzer token create NAME --role ROLE [--namespace NS]``), from
the settings' ``api_tokens`` (each one an unscoped ``analysis`` identity, so that existing Argo Secrets
keep working) and, with ``token_review.enabled``, from Kubernetes: a service-account token the API server
vouches for (TokenReview) is the identity its grant says (``analyzer/grants.py``). Nothing is open:
without a token a request is 401, unless the service runs with ``insecure_no_auth``, where an anonymous
caller may judge and read (never write promotions).

A ledger token's answer is kept per process for ``token_cache_seconds`` (10 s by default), by the
token's SHA-256, so that a look does not read the ledger for its caller every time: a token revoked
with ``token revoke`` stops working within that (every replica's cache expires on its own). TokenReview
answers are kept for ``token_review.cache_seconds`` (``analyzer/server/tokenreview.py``).
"""

from __future__ import annotations

import hmac
import threading
from collections.abc import Awaitable, Callable
from typing import Annotated

import anyio.to_thread
from fastapi import Depends, HTTPException, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from analyzer.errors import ClusterError, InputError
from analyzer.server.expiring import Expiring, digest
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


_UNKNOWN = "Unknown or revoked token"
#: Ledger answers kept at most per process (the least recently kept go first).
MAX_KNOWN_TOKENS = 10_000
#: How long a ledger read for a token may wait (a stalled database: 503 well inside Argo's timeout).
TOKEN_LOOKUP_SECONDS = 1.0


def known_tokens() -> Expiring[Identity | None]:
    """The app's ledger answers: a token's identity, or None for a token the ledger does not hold (a
    token's value is random and made at creation, so no later ``token create`` can make such an answer
    wrong; a revoked token's identity is dropped when its ``token_cache_seconds`` are up)."""
    return Expiring(MAX_KNOWN_TOKENS)


def _known(request: Request, credentials: HTTPAuthorizationCredentials | None) -> Identity | str:
    """The caller's identity when no blocking work finds it (anonymous, a static token, a ledger answer
    kept); else the token, for :func:`_looked_up`. 401 for a missing token (unless insecure), and for one
    the ledger is known not to hold when there is no TokenReview to ask."""
    state = request.app.state
    if credentials is None:
        if state.insecure:
            return ANONYMOUS
        raise _unauthenticated("A bearer token is required")
    offered = credentials.credentials
    static: list[tuple[bytes, Identity]] = state.static_tokens
    found = None
    for token, identity in static:  # every one compared: constant time overall
        if hmac.compare_digest(offered.encode(), token):
            found = identity
    kept = _ledger(request).get(digest(offered))
    if found is None and kept is not None:
        found = kept[0]
        if found is None and not state.analyzer.settings.token_review.enabled:
            raise _unauthenticated(_UNKNOWN)
    return found or offered


def _ledger(request: Request) -> Expiring[Identity | None]:
    known: Expiring[Identity | None] = request.app.state.known_tokens
    return known


def _looked_up(request: Request, token: str) -> Identity:
    """Blocking: the ledger's identity of ``token`` (its answer kept for ``token_cache_seconds``), else
    Kubernetes' (TokenReview); 401 for a token neither knows. The ledger read waits at most
    :data:`TOKEN_LOOKUP_SECONDS` (a stalled database: 503, from the app's SQLAlchemyError handler)."""
    analyzer = request.app.state.analyzer
    key = digest(token)
    kept = _ledger(request).get(key)
    if kept is not None:
        found = kept[0]
    else:
        found = identify(analyzer.database, token, seconds_left=lambda: TOKEN_LOOKUP_SECONDS)
        _ledger(request).keep(key, found, analyzer.settings.token_cache_seconds)
    return found or _not_in_ledger(request, token)


def _not_in_ledger(request: Request, token: str) -> Identity:
    found = _service_account(request, token)
    if found is None:
        raise _unauthenticated(_UNKNOWN)
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


def _admitted(caller: Identity, needed: str, scoped: bool) -> Identity:
    """``caller`` if its role (and scope) suffice; 401 for anonymous, else 403."""
    if not allows(caller.role, needed):
        if caller is ANONYMOUS:
            raise _unauthenticated(f"A bearer token with role {needed} is required")
        raise HTTPException(403, f"token {caller.name!r} has role {caller.role}; this needs {needed}")
    if not scoped and caller.namespaces is not None:
        raise HTTPException(403, f"token {caller.name!r} is scoped to namespaces; this needs an unscoped token")
    return caller


def role(needed: str, scoped: bool = True) -> Callable[..., Awaitable[Identity]]:
    """A dependency admitting identities with at least the ``needed`` role (401 without one, 403 too weak);
    ``scoped=False``: a namespace-scoped token is refused too (promotion spans namespaces).

    A coroutine: a static token or a ledger answer kept is checked on the event loop, with no trip
    through the thread pool every synchronous route shares; only a token to look up (the ledger, a
    TokenReview) goes to a worker thread."""

    async def check(
        request: Request, credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)]
    ) -> Identity:
        found = _known(request, credentials)
        caller = found if isinstance(found, Identity) else await anyio.to_thread.run_sync(_looked_up, request, found)
        return _admitted(caller, needed, scoped)

    return check


def require_token(request: Request, credentials: HTTPAuthorizationCredentials | None) -> Identity:
    """For synchronous routes that check by hand (report pages): any known identity, i.e. at least a viewer."""
    found = _known(request, credentials)
    return _admitted(found if isinstance(found, Identity) else _looked_up(request, found), "viewer", True)


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
