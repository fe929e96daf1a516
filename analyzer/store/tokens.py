"""API tokens with roles and an optional namespace scope, stored as SHA-256 digests, never in clear.

One identity model for every endpoint and the CLI. Roles are ordered, each including the ones before:
``viewer`` (reads) < ``analysis`` (Argo's looks: judge and read judgments) < ``operator`` (promotion
work) < ``approver`` (may confirm another identity's forced promotion) < ``admin`` (may request one).
A token may be scoped to namespaces: it then judges and reads only those namespaces' canaries.

A token is 32 random bytes (URL-safe base64), shown once at creation. Looking one up hashes the
offered value and compares digests in constant time.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select

from analyzer.errors import InputError
from analyzer.grants import ROLES
from analyzer.store.db import Database
from analyzer.store.tables import TokenRow


@dataclass(frozen=True)
class Identity:
    """Who a token is: its name, role and namespace scope (None: every namespace)."""

    name: str
    role: str
    namespaces: frozenset[str] | None = None

    @property
    def actor(self) -> str:
        return f"token:{self.name}"

    def sees(self, namespace: str) -> bool:
        return self.namespaces is None or namespace in self.namespaces


def _digest(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def create_token(database: Database, name: str, role: str, now: datetime,
                 namespaces: list[str] | None = None) -> str:
    if role not in ROLES:
        raise InputError(f"role {role!r} is not one of {', '.join(ROLES)}")
    token = secrets.token_urlsafe(32)
    with database.session() as s:
        if s.get(TokenRow, name) is not None:
            raise InputError(f"a token named {name!r} exists; revoke it or pick another name")
        s.add(TokenRow(name=name, role=role, token_sha256=_digest(token), created_at=now,
                       namespaces=sorted(set(namespaces)) if namespaces else None))
        s.commit()
    return token


def revoke_token(database: Database, name: str, now: datetime) -> None:
    with database.session() as s:
        row = s.get(TokenRow, name)
        if row is None:
            raise InputError(f"no token named {name!r}")
        row.revoked_at = now
        s.commit()


def list_tokens(database: Database) -> list[TokenRow]:
    with database.session() as s:
        return list(s.scalars(select(TokenRow).order_by(TokenRow.name)))


def any_active_token(database: Database) -> bool:
    """Whether the ledger holds a token that is not revoked (the service is then not open)."""
    with database.session() as s:
        return s.scalars(select(TokenRow.name).where(TokenRow.revoked_at.is_(None)).limit(1)).first() is not None


def identify(database: Database, token: str, seconds_left: Callable[[], float] | None = None) -> Identity | None:
    """The identity of an active token, or None; ``seconds_left`` bounds the read's waits
    (:meth:`Database.session`)."""
    digest = _digest(token)
    with database.session(seconds_left) as s:
        row = s.scalars(select(TokenRow).where(TokenRow.token_sha256 == digest)).first()
    if row is None or row.revoked_at is not None or not hmac.compare_digest(row.token_sha256, digest):
        return None
    return Identity(row.name, row.role, frozenset(row.namespaces) if row.namespaces else None)


def allows(role: str, needed: str) -> bool:
    return ROLES.index(role) >= ROLES.index(needed)
