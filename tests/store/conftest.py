from __future__ import annotations

from collections.abc import Iterator

import pytest

from analyzer.store import Database


@pytest.fixture
def database(database_url: str) -> Iterator[Database]:
    """A migrated ledger on SQLite and on the real PostgreSQL (``database_url``)."""
    db = Database(database_url)
    db.migrate()
    yield db
    db.dispose()
