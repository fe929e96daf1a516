"""API tokens with roles (viewer < operator < admin), stored as SHA-256 digests, never in clear.

A token is 32 random bytes (URL-safe base64), shown once at creation. Looking one up hashes the
offered value and compares digests in constant time.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from datetime import datetime

from sqlalchemy import select

from analyzer.errors import InputError
from analyzer.store.db import Database
from analyzer.store.tables import TokenRow

ROLES = ("viewer", "operator", "admin")


def _digest(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def create_token(database: Database, name: str, role: str, now: datetime) -> str:
    if role not in ROLES:
        raise InputError(f"role {role!r} is not one of {', '.join(ROLES)}")
    token = secrets.token_urlsafe(32)
    with database.session() as s:
        if s.get(TokenRow, name) is not None:
            raise InputError(f"a token named {name!r} exists; revoke it or pick another name")
        s.add(TokenRow(name=name, role=role, token_sha256=_digest(token), created_at=now))
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


def identify(database: Database, token: str) -> tuple[str, str] | None:
    """(name, role) of an active token, or None."""
    digest = _digest(token)
    with database.session() as s:
        row = s.scalars(select(TokenRow).where(TokenRow.token_sha256 == digest)).first()
    if row is None or row.revoked_at is not None or not hmac.compare_digest(row.token_sha256, digest):
        return None
    return row.name, row.role


def allows(role: str, needed: str) -> bool:
    return ROLES.index(role) >= ROLES.index(needed)
