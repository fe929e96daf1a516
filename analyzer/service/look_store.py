"""The store as one look sees it: every access bounded by the look's deadline, and a look that goes on
from the data when the store fails.

Each access runs in its own session whose lock and statement waits end by half of what the look's
deadline leaves (:meth:`analyzer.store.Database.session`): a locked SQLite or a stalled PostgreSQL
gives up in time for the look to judge from Prometheus alone, or to answer 503, inside Argo's
timeout. No access starts once the deadline has passed (a look answered 503 records nothing).

After the first failure the look stops asking the store and takes each access's *otherwise* value:
what the data says (the window start from the canary's first data, a retried canary's new start) or
nothing (no step start the process has not read before: no pass; nothing recorded).
:attr:`LookStore.failure` says why, for the answer.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import TypeVar

from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import Session

from analyzer.sources.promapi import Deadline
from analyzer.store import Database

T = TypeVar("T")

_log = logging.getLogger(__name__)


class StoreUnavailableError(Exception):
    """The database could not be read or written (in time)."""

    @classmethod
    def of(cls, error: SQLAlchemyError) -> StoreUnavailableError:
        return cls(f"the database is unavailable: {type(error).__name__}")


class LookStore:
    """One look's access to the store, under its deadline; ``failure`` once the store has failed it."""

    def __init__(self, database: Database, deadline: Deadline) -> None:
        self.database = database
        self.deadline = deadline
        self.failure: StoreUnavailableError | None = None

    def _waits(self) -> float:
        """What a transaction may wait: half of what the deadline leaves, the other half is the data's."""
        return self.deadline.remaining() / 2

    def use(self, work: Callable[[Session], T], otherwise: T) -> T:
        """``work`` done in a bounded session; ``otherwise`` when the store fails (now or earlier in this look).

        Raises :class:`StoreUnavailableError` when the deadline has passed: too late to start anything."""
        if self.deadline.remaining() <= 0:
            raise StoreUnavailableError(
                f"the look's deadline of {self.deadline.seconds:g} s passed before the database was reached"
            )
        if self.failure is not None:
            return otherwise
        try:
            with self.database.session(self._waits) as session:
                return work(session)
        except SQLAlchemyError as error:
            self.failure = StoreUnavailableError.of(error)
            _log.warning("%s: this look goes on from the data alone and records nothing", self.failure)
            return otherwise
