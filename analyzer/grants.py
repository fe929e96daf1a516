"""Kubernetes service accounts as callers: the ``token_review`` setting and who it lets in, as what.

With ``token_review.enabled``, a bearer token that is neither a static nor a ledger token is sent to the
Kubernetes API as a TokenReview (``analyzer/server/tokenreview.py``). A token the API server vouches for
names a user; a service account's is ``system:serviceaccount:NAMESPACE:NAME``. Only the service accounts
granted here get an identity: the grant gives the role, and the namespace scope (by default the account's
own namespace, so that a Rollout namespace's account judges and reads that namespace only).
"""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field, model_validator

#: The roles of the one identity model (analyzer/store/tokens.py), weakest first.
ROLES = ("viewer", "analysis", "operator", "approver", "admin")
_DNS_LABEL = r"[a-z0-9]([-a-z0-9]*[a-z0-9])?"
_SA_PREFIX = "system:serviceaccount:"


class ServiceAccountGrant(BaseModel):
    """A role for one service account (``namespace/name``) or every account of a namespace (``namespace/*``)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    service_account: str = Field(
        pattern=rf"^{_DNS_LABEL}/({_DNS_LABEL}|\*)$", description="namespace/name or namespace/*"
    )
    role: str = Field(description="viewer, analysis, operator, approver or admin")
    namespaces: list[str] | None = Field(
        default=None, description="the namespaces it may judge and read (default: the account's own)"
    )
    unscoped: bool = Field(default=False, description="every namespace (operator, approver, admin need it)")

    @model_validator(mode="after")
    def _consistent(self) -> ServiceAccountGrant:
        if self.role not in ROLES:
            raise ValueError(f"role {self.role!r} is not one of {', '.join(ROLES)}")
        if self.unscoped and self.namespaces is not None:
            raise ValueError("a grant is unscoped or scoped to namespaces, not both")
        return self

    def scope(self, namespace: str) -> frozenset[str] | None:
        """The namespaces the account may see (None: every one)."""
        if self.unscoped:
            return None
        return frozenset(self.namespaces if self.namespaces is not None else [namespace])


class TokenReviewSettings(BaseModel):
    """``token_review``: Kubernetes service-account tokens as bearer tokens, checked by TokenReview."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    enabled: bool = False
    audiences: list[str] = Field(
        default_factory=list,
        description="tokens must be issued for one of these (a projected token's audience); empty: the API server's",
    )
    cache_seconds: float = Field(default=60.0, ge=1, le=600, description="a reviewed token's answer is kept so long")
    grants: list[ServiceAccountGrant] = Field(default_factory=list)

    @model_validator(mode="after")
    def _one_grant_each(self) -> TokenReviewSettings:
        names = [g.service_account for g in self.grants]
        twice = sorted({n for n in names if names.count(n) > 1})
        if twice:
            raise ValueError(f"service accounts granted twice: {', '.join(twice)}")
        return self

    def grant_for(self, username: str) -> tuple[str, ServiceAccountGrant] | None:
        """(``namespace/name``, its grant) for a reviewed username; None for users and ungranted accounts."""
        if not username.startswith(_SA_PREFIX):
            return None
        namespace, _, name = username.removeprefix(_SA_PREFIX).partition(":")
        if not namespace or not name:
            return None
        account = f"{namespace}/{name}"
        by_name = {g.service_account: g for g in self.grants}
        grant = by_name.get(account) or by_name.get(f"{namespace}/*")
        return (account, grant) if grant is not None else None
