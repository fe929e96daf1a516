"""Fixtures of the promotion flow's tests: a fresh ledger on SQLite and on PostgreSQL, a clock tests move."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from analyzer.promotion.stages import DEFAULT
from analyzer.service import promotion as flow
from analyzer.store import Database


class Clock:
    def __init__(self) -> None:
        self.now = datetime(2026, 11, 23, 10, 0, tzinfo=UTC)

    def __call__(self) -> datetime:
        return self.now


@pytest.fixture
def p(database_url):
    """The flow with the default stages on a migrated ledger (both backends, see ``database_url``)."""
    database = Database(database_url)
    database.migrate()
    yield flow.Promotions(database, DEFAULT, Clock())
    database.dispose()
