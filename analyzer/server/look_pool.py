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

import asyncio
import contextvars
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import TypeVar

from analyzer.sources.promapi import Deadline

T = TypeVar("T")

#: How long after its deadline a running look is given up on (its own bounds end it well before).
OVERRUN_SECONDS = 1.0


class LookRefusedError(Exception):
    """No worker took the look in time, or it overran its deadline: answer 503, Argo retries."""


class LookPool:
    """``workers`` looks at a time; the rest wait up to ``queue_seconds`` for a slot, then are refused.

    Plain asyncio (the server's loop is asyncio's): a semaphore of slots, taken at once when one is free,
    and an executor of the pool's own threads, the look running in a copy of the request's context (its
    request id in the log lines). AnyIO's thread hop, with a capacity limiter for the slots, another for
    its threads and a cancel scope around each wait, cost ~75 us of CPU a look, this one ~45."""

    def __init__(self, workers: int, queue_seconds: float) -> None:
        self.workers = workers
        self.queue_seconds = queue_seconds
        self._slots = asyncio.Semaphore(workers)
        # A look given up on keeps its thread until its own bounds end it, and gives its slot back: twice
        # the slots in threads, so that as many such looks as there are slots do not hold back the next ones
        # (past that, a look waits for a thread within its deadline).
        self._threads = ThreadPoolExecutor(2 * workers, thread_name_prefix="look")

    async def run(self, look: Callable[[], T], deadline: Deadline) -> T:
        """``look()`` on a worker thread, or :class:`LookRefusedError` when none frees up in time."""
        await self._slot(min(self.queue_seconds, max(deadline.remaining(), 0.0)))
        context = contextvars.copy_context()
        running = asyncio.get_running_loop().run_in_executor(self._threads, context.run, look)
        try:
            await asyncio.wait((running,), timeout=max(deadline.remaining(), 0.0) + OVERRUN_SECONDS)
        finally:
            self._slots.release()
            if not running.done():
                running.cancel()  # given up on: the thread finishes on its own, and its answer is dropped
        if running.cancelled():
            raise LookRefusedError(f"the look overran its deadline of {deadline.seconds:g} s")
        return running.result()

    async def _slot(self, seconds: float) -> None:
        """Take a slot: at once when one is free, else within ``seconds``."""
        if seconds > 0 and not self._slots.locked():
            await self._slots.acquire()  # free: taken without waiting
            return
        if seconds > 0:
            try:
                async with asyncio.timeout(seconds):
                    await self._slots.acquire()
                    return
            except TimeoutError:
                pass
        raise LookRefusedError(
            f"all {self.workers} look workers are busy (a slow metrics source?): no worker was free within"
            f" {self.queue_seconds:g} s"
        )
