"""Ledger tokens are read once per ``token_cache_seconds``: a revoked token stops working within it.

The cache is keyed by the token's SHA-256 (never the token), keeps the ledger's "no such token" too,
and with ``token_cache_seconds: 0`` every request reads the ledger (a revocation takes effect at once).
A lookup waits at most ``TOKEN_LOOKUP_SECONDS`` on a locked ledger (then 503).
"""

from __future__ import annotations

import time
from datetime import UTC, datetime

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import create_engine, event, text

from analyzer.server.auth import TOKEN_LOOKUP_SECONDS
from analyzer.server.expiring import Expiring, digest
from analyzer.store.tokens import create_token, revoke_token
from tests.conftest import STEP
from tests.server.conftest import settings_for
from tests.support.service import Clock, make_app


def _service(backfilled, tmp_path, **overrides):
    settings = settings_for(backfilled.url, tmp_path, api_tokens=["argo-static"], **overrides)
    return make_app(settings, Clock(backfilled.start + 20 * STEP + 5))


def _lookups(analyzer) -> list[str]:
    """The token lookups the app sends to the ledger from now on."""
    sent: list[str] = []

    def seen(*args: object) -> None:
        if "WHERE api_tokens.token_sha256 =" in str(args[2]):
            sent.append(str(args[2]))

    event.listen(analyzer.database.engine, "before_cursor_execute", seen)
    return sent


def _status(client: TestClient, token: str) -> int:
    return client.get("/api/v1/judgments", headers={"Authorization": f"Bearer {token}"}).status_code


def test_a_revoked_token_works_until_its_answer_expires_then_is_refused(backfilled, tmp_path):
    app, analyzer = _service(backfilled, tmp_path, token_cache_seconds=10)
    token = create_token(analyzer.database, "ci", "viewer", datetime.now(UTC))
    clock = Clock(1000.0)
    with TestClient(app) as client:
        app.state.known_tokens = Expiring(100, clock)
        lookups = _lookups(analyzer)
        assert _status(client, token) == 200 and len(lookups) == 1
        revoke_token(analyzer.database, "ci", datetime.now(UTC))
        clock.advance(9)
        assert _status(client, token) == 200 and len(lookups) == 1  # within token_cache_seconds: still known
        clock.advance(2)
        assert _status(client, token) == 401 and len(lookups) == 2


def test_unknown_tokens_are_remembered_by_digest_and_static_tokens_never_read_the_ledger(backfilled, tmp_path):
    app, analyzer = _service(backfilled, tmp_path)
    with TestClient(app) as client:
        lookups = _lookups(analyzer)
        assert [_status(client, "guessed") for _ in range(3)] == [401, 401, 401]
        assert _status(client, "argo-static") == 200
        assert len(lookups) == 1
        kept = app.state.known_tokens
        assert len(kept) == 1 and kept.get(digest("guessed")) == (None,)
        assert all(b"guessed" not in key for key in kept._kept)


def test_without_a_cache_a_revocation_takes_effect_at_once(backfilled, tmp_path):
    app, analyzer = _service(backfilled, tmp_path, token_cache_seconds=0)
    token = create_token(analyzer.database, "ci", "viewer", datetime.now(UTC))
    with TestClient(app) as client:
        assert _status(client, token) == 200
        revoke_token(analyzer.database, "ci", datetime.now(UTC))
        assert _status(client, token) == 401


@pytest.mark.parametrize("database_url", ["postgresql"], indirect=True)
def test_a_token_lookup_on_a_locked_ledger_is_a_503_within_its_bound(backfilled, tmp_path, database_url):
    app, analyzer = _service(backfilled, tmp_path, database_url=database_url)
    token = create_token(analyzer.database, "ci", "viewer", datetime.now(UTC))
    holder = create_engine(database_url.replace("postgresql://", "postgresql+psycopg://"))
    with TestClient(app) as client, holder.connect() as connection:
        connection.execute(text("LOCK TABLE api_tokens IN ACCESS EXCLUSIVE MODE"))  # a migration, a stuck backup
        started = time.monotonic()
        answer = client.get("/api/v1/judgments", headers={"Authorization": f"Bearer {token}"})
        took = time.monotonic() - started
        connection.rollback()
    holder.dispose()
    assert answer.status_code == 503 and answer.headers["Retry-After"] == "5"
    assert took < TOKEN_LOOKUP_SECONDS + 1, took  # not the connection's 2 s lock timeout, nor the 10 s of Argo
