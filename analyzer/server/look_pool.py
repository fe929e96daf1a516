"""A bounded pool for looks, so that a hanging Prometheus cannot starve the service.

A look is blocking work (the Prometheus client and the store are synchronous), so it runs on a
worker thread; but not on AnyIO's default pool of 40 threads that every synchronous route shares:
looks waiting on a Prometheus that hangs would hold all 40 and queue everything behind them, until
health checks, reads and healthy looks time out too. Looks get their own ``workers`` slots instead,
and a look that finds none free within ``queue_seconds`` (or within what its deadline leaves) is
refused at once with 503 and ``Retry-After``: Argo counts an Error and asks again at its next
interval, far better than an answer after its 10 s timeout. A look that has a slot gets what remains
of its deadline, started when the request arrived, so the wait for a slot counts too.

The look's own bounds (:class:`~analyzer.sources.promapi.Deadline` on every Prometheus call, deadline
bounded store waits) end it in time; should one overrun anyway, the answer is a 503 a little after the
deadline, and the thread is left to finish (it records nothing once the deadline has passed).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TypeVar

import anyio
import anyio.to_thread

from analyzer.sources.promapi import Deadline

T = TypeVar("T")

#: How long after its deadline a running look is given up on (its own bounds end it well before).
OVERRUN_SECONDS = 1.0


class LookRefusedError(Exception):
    """No worker took the look in time, or it overran its deadline: answer 503, Argo retries."""


class LookPool:
    """``workers`` looks at a time; the rest wait up to ``queue_seconds`` for a slot, then are refused."""

    def __init__(self, workers: int, queue_seconds: float) -> None:
        self.workers = workers
        self.queue_seconds = queue_seconds
        self._slots = anyio.CapacityLimiter(workers)
        self._threads = anyio.CapacityLimiter(workers)  # not AnyIO's default limiter, which other routes share

    async def run(self, look: Callable[[], T], deadline: Deadline) -> T:
        """``look()`` on a worker thread, or :class:`LookRefusedError` when none frees up in time."""
        borrower = object()
        held = False
        with anyio.move_on_after(min(self.queue_seconds, max(deadline.remaining(), 0.0))):
            await self._slots.acquire_on_behalf_of(borrower)
            held = True
        if not held:
            raise LookRefusedError(
                f"all {self.workers} look workers are busy (a slow metrics source?): no worker was free within"
                f" {self.queue_seconds:g} s"
            )
        try:
            with anyio.move_on_after(max(deadline.remaining(), 0.0) + OVERRUN_SECONDS):
                return await anyio.to_thread.run_sync(look, abandon_on_cancel=True, limiter=self._threads)
        finally:
            self._slots.release_on_behalf_of(borrower)
        raise LookRefusedError(f"the look overran its deadline of {deadline.seconds:g} s")
