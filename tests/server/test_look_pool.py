"""The look pool: a look runs on one of the pool's threads in the request's context; a look that finds no
slot within the queue time is refused, one that overruns its deadline is given up on and frees its slot."""

from __future__ import annotations

import asyncio
import contextvars
import threading
import time

import pytest

from analyzer.server import look_pool
from analyzer.server.look_pool import LookPool, LookRefusedError
from analyzer.sources.promapi import Deadline

REQUEST = contextvars.ContextVar("request", default="-")


def test_a_look_runs_on_a_pool_thread_in_the_requests_context_and_answers_or_raises():
    def look() -> tuple[str, str]:
        return REQUEST.get(), threading.current_thread().name

    def fails() -> None:
        raise TimeoutError("the look's own")  # not taken for an overrun

    async def main() -> tuple[str, str]:
        pool = LookPool(2, 1.0)
        REQUEST.set("abc")
        with pytest.raises(TimeoutError, match="the look's own"):
            await pool.run(fails, Deadline(5))
        return await pool.run(look, Deadline(5))

    request, thread = asyncio.run(main())
    assert request == "abc"
    assert thread.startswith("look") and thread != threading.main_thread().name


def test_a_look_without_a_free_slot_is_refused_after_the_queue_time_and_the_slot_comes_back():
    release = threading.Event()

    async def main() -> float:
        pool = LookPool(1, 0.2)
        holding = asyncio.ensure_future(pool.run(release.wait, Deadline(5)))
        await asyncio.sleep(0.05)
        started = time.monotonic()
        with pytest.raises(LookRefusedError, match="all 1 look workers are busy"):
            await pool.run(lambda: "late", Deadline(5))
        waited = time.monotonic() - started
        release.set()
        assert await holding is True
        assert await pool.run(lambda: "next", Deadline(5)) == "next"
        return waited

    waited = asyncio.run(main())
    assert 0.15 < waited < 1.0


def test_a_look_past_its_deadline_is_given_up_on_and_the_next_one_runs(monkeypatch):
    monkeypatch.setattr(look_pool, "OVERRUN_SECONDS", 0.1)
    release = threading.Event()

    async def main() -> tuple[float, str]:
        pool = LookPool(1, 0.5)
        started = time.monotonic()
        with pytest.raises(LookRefusedError, match=r"overran its deadline of 0\.2 s"):
            await pool.run(release.wait, Deadline(0.2))
        overran = time.monotonic() - started
        answer = await pool.run(lambda: "next", Deadline(5))  # the given-up look still holds its thread
        release.set()
        return overran, answer

    overran, answer = asyncio.run(main())
    assert 0.25 < overran < 1.0
    assert answer == "next"
