"""Connecting to the ledger and migrating it: SQLite (WAL) by default, PostgreSQL for several replicas."""

from __future__ import annotations

import time
from collections.abc import Callable
from importlib import resources
from pathlib import Path
from typing import Any

from alembic import command
from alembic.config import Config
from pydantic_core import to_json
from sqlalchemy import Connection, Engine, create_engine, event, text
from sqlalchemy.engine import make_url
from sqlalchemy.exc import ArgumentError, DisconnectionError, SQLAlchemyError
from sqlalchemy.orm import Session, SessionTransaction, sessionmaker
from sqlalchemy.pool import ConnectionPoolEntry

from analyzer.errors import InputError

#: Any constant: held while migrating so that replicas starting together migrate one at a time.
_MIGRATION_LOCK = 0x6361_6E61  # "cana"


def normalise_url(url: str) -> str:
    """Pick the drivers we ship: psycopg 3 for PostgreSQL; SQLite as given."""
    try:
        parsed = make_url(url)
    except ArgumentError:
        raise InputError(f"database_url {url!r} is not a database URL (sqlite:///file.db, postgresql://…)") from None
    if parsed.drivername in {"postgresql", "postgres"}:
        parsed = parsed.set(drivername="postgresql+psycopg")
    if parsed.get_backend_name() not in {"sqlite", "postgresql"}:
        raise InputError(f"database_url: {parsed.get_backend_name()!r} is not supported; use SQLite or PostgreSQL")
    return parsed.render_as_string(hide_password=False)


#: The longest waits of any session: SQLite's busy wait on a lock, PostgreSQL's statement and lock
#: timeouts (ms). A session with a deadline (:meth:`Database.session`) waits at most what it leaves.
SQLITE_BUSY_MS = 5000
POSTGRESQL_STATEMENT_MS = 3000
POSTGRESQL_LOCK_MS = 2000

#: A stalled or vanished PostgreSQL must fail a look well inside its 8 s deadline: connect, each
#: statement and each lock wait are bounded, and TCP keepalives notice a dead peer in about 9 s.
POSTGRESQL_CONNECT_ARGS: dict[str, Any] = {
    "connect_timeout": 3,
    "options": f"-c statement_timeout={POSTGRESQL_STATEMENT_MS} -c lock_timeout={POSTGRESQL_LOCK_MS}"
    " -c idle_in_transaction_session_timeout=30000",
    "keepalives": 1,
    "keepalives_idle": 5,
    "keepalives_interval": 2,
    "keepalives_count": 2,
}


def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute(f"PRAGMA busy_timeout={SQLITE_BUSY_MS}")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.close()


#: Where a session keeps the deadline of its waits (``Session.info``).
_SECONDS_LEFT = "seconds_left"

#: A pooled PostgreSQL connection idle longer than this is pinged (``SELECT 1``) before it is handed out,
#: and replaced when the ping fails, so that a server restarted, failed over or closed by a proxy's idle
#: timeout while the connection sat in the pool costs no look. One used more recently goes out as it is:
#: SQLAlchemy's ``pool_pre_ping`` pinged at every checkout, a round trip per store access (three a look),
#: which under load bought nothing. A server lost in the last second fails the looks that were using it
#: (as before: they go on from the data alone), and that first failure invalidates the whole pool.
PING_AFTER_IDLE_SECONDS = 1.0
#: A transaction's own statement and lock timeouts (ms), parsed once.
_SET_TIMEOUTS = text(
    "SELECT set_config('statement_timeout', :statement, true), set_config('lock_timeout', :lock, true)"
)
#: Where a pooled connection keeps when it was last returned, and the SQLite busy wait it was last given.
_IDLE_SINCE, _BUSY_MS = "idle_since", "busy_timeout_ms"


def _ms(seconds_left: Callable[[], float] | None, most: int) -> int:
    """A wait in ms: ``most``, or less when the deadline leaves less (at least 1: 0 would mean no limit)."""
    return most if seconds_left is None else max(1, min(most, int(seconds_left() * 1000)))


def _json(value: Any) -> str:
    """A JSON column's text: pydantic-core's serializer, the same JSON as ``json.dumps`` (NaN and Infinity
    included) but compact and UTF-8, at a fifth of its CPU (a look stores four JSON values: 0.81 -> 0.15 ms)."""
    return to_json(value).decode()


def _returned(_dbapi_connection: Any, record: ConnectionPoolEntry) -> None:
    record.info[_IDLE_SINCE] = time.monotonic()


def _ping_if_idle(dbapi_connection: Any, record: ConnectionPoolEntry, _proxy: Any) -> None:
    """Ping a connection idle past :data:`PING_AFTER_IDLE_SECONDS`; a failed ping makes the pool discard it
    and hand out another (DisconnectionError: a new connection, up to three tries)."""
    idle_since = record.info.get(_IDLE_SINCE)
    if idle_since is None or time.monotonic() - idle_since <= PING_AFTER_IDLE_SECONDS:
        return  # new, or just used
    try:
        with dbapi_connection.cursor() as cursor:
            cursor.execute("SELECT 1")
        dbapi_connection.rollback()  # the ping's implicit transaction ends here: the connection goes out idle
    except Exception as error:  # any failure of the driver: the connection is not usable
        raise DisconnectionError(f"a pooled connection did not answer a ping: {type(error).__name__}") from error


class Database:
    """An engine, a session factory, and the Alembic migrations that shape the schema."""

    def __init__(self, url: str) -> None:
        self.url = normalise_url(url)
        self.is_sqlite = self.url.startswith("sqlite")
        options: dict[str, Any] = {"json_serializer": _json}
        if self.is_sqlite:
            options["connect_args"] = {"check_same_thread": False, "timeout": 5}
        else:
            options.update(pool_size=10, max_overflow=20, connect_args=POSTGRESQL_CONNECT_ARGS)
        self.engine: Engine = create_engine(self.url, **options)
        if self.is_sqlite:
            event.listen(self.engine, "connect", _sqlite_pragmas)
        else:
            event.listen(self.engine.pool, "checkin", _returned)
            event.listen(self.engine.pool, "checkout", _ping_if_idle)
        self.sessions = sessionmaker(self.engine, expire_on_commit=False)
        event.listen(self.sessions, "after_begin", self._bound_waits)

    def _bound_waits(self, session: Session, _transaction: SessionTransaction, connection: Connection) -> None:
        """Set this transaction's waits from its session's deadline: SQLite's busy wait (a pooled connection
        keeps a PRAGMA: set whenever it is not the one this connection last had), PostgreSQL's statement and
        lock timeouts (local to the transaction: set only when the deadline leaves less than the
        connection's own, so a look with time to spare sends no extra statement)."""
        seconds_left = session.info.get(_SECONDS_LEFT)
        if self.is_sqlite:
            busy = _ms(seconds_left, SQLITE_BUSY_MS)
            if connection.info.get(_BUSY_MS) != busy:
                connection.exec_driver_sql(f"PRAGMA busy_timeout={busy}")
                connection.info[_BUSY_MS] = busy
            return
        if seconds_left is None:
            return
        statement, lock = _ms(seconds_left, POSTGRESQL_STATEMENT_MS), _ms(seconds_left, POSTGRESQL_LOCK_MS)
        if (statement, lock) != (POSTGRESQL_STATEMENT_MS, POSTGRESQL_LOCK_MS):
            connection.execute(_SET_TIMEOUTS, {"statement": str(statement), "lock": str(lock)})

    @property
    def sqlite_path(self) -> Path | None:
        """The SQLite file, for a SQLite URL that names one."""
        name = make_url(self.url).database
        return Path(name) if self.is_sqlite and name and name != ":memory:" else None

    def session(self, seconds_left: Callable[[], float] | None = None) -> Session:
        """A session; with ``seconds_left`` (what a deadline leaves, in seconds, when a transaction begins)
        its lock and statement waits end by then, so that a locked or stalled database cannot hold a look
        past its deadline."""
        return self.sessions(info={_SECONDS_LEFT: seconds_left} if seconds_left is not None else {})

    def migrate(self) -> None:
        """Upgrade the schema to the newest revision (under an advisory lock on PostgreSQL)."""
        config = Config()
        config.set_main_option("script_location", str(resources.files("analyzer.store") / "migrations"))
        with self.engine.begin() as connection:
            if not self.is_sqlite:
                connection.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": _MIGRATION_LOCK})
            config.attributes["connection"] = connection
            command.upgrade(config, "head")

    def ping(self) -> None:
        """Raise SQLAlchemyError unless the database answers."""
        with self.engine.connect() as connection:
            connection.execute(text("SELECT 1"))

    def dispose(self) -> None:
        self.engine.dispose()


__all__ = ["Database", "SQLAlchemyError"]
