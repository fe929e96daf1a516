"""The ledger: SQLAlchemy tables, Alembic migrations and repositories (SQLite default, PostgreSQL for HA)."""

from analyzer.store.db import Database
from analyzer.store.judgments import JudgmentFilter, JudgmentRecord, WindowKey

__all__ = ["Database", "JudgmentFilter", "JudgmentRecord", "WindowKey"]
