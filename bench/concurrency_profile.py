"""Where a look's CPU goes when many callers look at once: the service in process, profiled per thread.

    python bench/concurrency_profile.py [--callers 50] [--looks 600] [--database postgresql|sqlite]
                                        [--ledger-token] [--profile] [--top 25]

One run starts a real Prometheus (promtool-backfilled: one canary with a 30-step window, the shape of
``bench/service_load.py``'s shortest) and, unless ``--database sqlite``, a real PostgreSQL, on free ports;
then the app itself (``create_app``, its lifespan run: gc frozen as in ``serve``) in this process, driven
through httpx's ASGI transport — no sockets, no uvicorn, so the figures are the app's own — first with
``--looks`` looks one by one, then the same number with ``--callers`` at once. Side by side it prints,
per look, the CPU time of this process (``time.process_time``: the app and the in-process client),
Prometheus and PostgreSQL (utime + stime from /proc), and thread switches (this process' voluntary and
involuntary context switches): on a shared 2-core machine, CPU time is the figure to compare, not wall
time. The caller's bearer token is an ``api_tokens`` one (Argo's usual Secret), or with
``--ledger-token`` one made by ``token create`` (looked up in the database).

``--profile`` repeats both runs under cProfile on each thread's own CPU clock
(``time.thread_time``; one profile per thread, merged: the event loop's, AnyIO's worker threads' — the
look pool and synchronous dependencies — and thread pool executors', where the Prometheus client
sends its requests): the CPU per look by package, one by one beside concurrent, and the functions with
the most CPU of their own. Profiling inflates every figure (about 2-3x), so that some concurrent looks
find no free look worker in time and are refused (figures are per look answered); the shares and the
difference between the sides are what it is for.
"""

from __future__ import annotations

import argparse
import asyncio
import concurrent.futures
import contextlib
import cProfile
import logging
import os
import pstats
import sys
import tempfile
import threading
import time
from collections.abc import Awaitable, Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import anyio.to_thread
import httpx
from sqlalchemy import Engine, event

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from analyzer.server import logs  # noqa: E402
from analyzer.server.app import create_app  # noqa: E402
from analyzer.settings import Settings  # noqa: E402
from bench.service_load import TOKEN, backfilled, cpu_seconds, look_path, postmaster, prometheus_pid  # noqa: E402
from tests.support.postgres import postgres  # noqa: E402
from tests.support.prometheus import free_port, prometheus  # noqa: E402

WINDOW = 30

#: Where a function's own CPU is counted, by the first of these its file path contains (else "other").
PACKAGES = (
    "analyzer/server", "analyzer/service", "analyzer/judging", "analyzer/stats", "analyzer/sources",
    "analyzer/store", "analyzer/model", "analyzer/", "sqlalchemy", "psycopg", "fastapi", "starlette", "pydantic",
    "anyio", "asyncio", "httpx", "httpcore", "requests", "urllib3", "http/client", "json", "logging", "numpy",
    "threading", "concurrent", "socket", "ssl", "selectors", "~",
)


@dataclass
class Spent:
    """What one run of looks cost, per look."""

    looks: int
    refused: int
    cpu: dict[str, float]  # process -> CPU seconds per look
    switches: float  # this process' context switches per look
    statements: float  # SQL statements the app sent per look (pool checkouts' pings included)
    checkouts: float  # database connections taken from the pool per look


def switches() -> int:
    """Voluntary + involuntary context switches of this process' threads so far."""
    total = 0
    for task in Path("/proc/self/task").iterdir():
        with contextlib.suppress(OSError):
            for line in (task / "status").read_text().splitlines():
                if "ctxt_switches:" in line:
                    total += int(line.split()[1])
    return total


async def drive(client: httpx.AsyncClient, path: str, looks: int, callers: int) -> int:
    """``looks`` looks by ``callers`` concurrent callers; how many were not 200."""
    remaining = looks
    refused = 0

    async def caller() -> None:
        nonlocal remaining, refused
        while remaining > 0:
            remaining -= 1
            answer = await client.get(path)
            if answer.status_code != 200:
                refused += 1

    await asyncio.gather(*(caller() for _ in range(callers)))
    return refused


class SqlCount:
    """Statements sent and connections checked out on an engine, counted by SQLAlchemy's events."""

    def __init__(self, engine: Engine) -> None:
        self.statements = self.checkouts = 0
        event.listen(engine, "before_cursor_execute", self._statement)
        event.listen(engine.pool, "checkout", self._checkout)

    def _statement(self, *_: object) -> None:
        self.statements += 1

    def _checkout(self, *_: object) -> None:
        self.checkouts += 1


async def measured(run: Callable[[], Awaitable[int]], looks: int, processes: dict[str, int], sql: SqlCount) -> Spent:
    before = {name: cpu_seconds(pid) for name, pid in processes.items()}
    ours, switched, sent, taken = time.process_time(), switches(), sql.statements, sql.checkouts
    refused = await run()
    cpu = {"this process": (time.process_time() - ours) / looks}
    cpu |= {name: (cpu_seconds(pid) - before[name]) / looks for name, pid in processes.items()}
    return Spent(looks, refused, cpu, (switches() - switched) / looks, (sql.statements - sent) / looks,
                 (sql.checkouts - taken) / looks)


class ThreadProfiles:
    """cProfile on every thread that runs work (the event loop's, AnyIO's worker threads), each on its own
    CPU clock: ``time.process_time`` would charge a thread with what the others spent meanwhile."""

    def __init__(self) -> None:
        self.profiles: list[cProfile.Profile] = []
        self._mine = threading.local()
        self._lock = threading.Lock()

    def of_this_thread(self) -> cProfile.Profile:
        profile: cProfile.Profile | None = getattr(self._mine, "profile", None)
        if profile is None:
            profile = self._mine.profile = cProfile.Profile(time.thread_time)
            with self._lock:
                self.profiles.append(profile)
        return profile

    def profiled(self, func: Callable[..., Any]) -> Callable[..., Any]:
        """``func`` profiled on whichever thread runs it."""

        def run(*args: Any, **kwargs: Any) -> Any:
            profile = self.of_this_thread()
            profile.enable()
            try:
                return func(*args, **kwargs)
            finally:
                profile.disable()

        return run

    @contextlib.contextmanager
    def on_worker_threads(self) -> Iterator[None]:
        """Profile what ``anyio.to_thread.run_sync`` runs (the look pool, FastAPI's sync dependencies) and what
        thread pool executors run (the Prometheus client's requests)."""
        run_sync, submit = anyio.to_thread.run_sync, concurrent.futures.ThreadPoolExecutor.submit

        async def profiled_run_sync(func: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
            return await run_sync(self.profiled(func), *args, **kwargs)

        def profiled_submit(executor: concurrent.futures.ThreadPoolExecutor, func: Callable[..., Any], /,
                            *args: Any, **kwargs: Any) -> concurrent.futures.Future[Any]:
            return submit(executor, self.profiled(func), *args, **kwargs)

        anyio.to_thread.run_sync = profiled_run_sync  # type: ignore[assignment]
        concurrent.futures.ThreadPoolExecutor.submit = profiled_submit  # type: ignore[assignment,method-assign]
        try:
            yield
        finally:
            anyio.to_thread.run_sync = run_sync
            concurrent.futures.ThreadPoolExecutor.submit = submit  # type: ignore[method-assign]

    def merged(self) -> pstats.Stats:
        return pstats.Stats(*self.profiles)


def by_package(stats: dict[Any, Any]) -> dict[str, float]:
    """Own CPU seconds by the package of each function's file."""
    spent: dict[str, float] = {}
    for (file, _, _), (_, _, tottime, _, _) in stats.items():
        package = next((p for p in PACKAGES if p in file), "other")
        package = "builtins (C)" if package == "~" else package
        spent[package] = spent.get(package, 0.0) + tottime
    return spent


def report(sides: dict[str, tuple[ThreadProfiles, int]], top: int, callers_of: str | None) -> None:
    """Own CPU per look by package, each side in a column, and the functions the concurrent side spends most
    in beside what they cost one by one: where the concurrency's extra CPU goes. Per look answered: slowed
    by the profiler, some concurrent looks find no free worker in time and are refused (503, cheap)."""
    merged = {label: profiles.merged() for label, (profiles, _) in sides.items()}
    stats = {label: m.stats for label, m in merged.items()}  # type: ignore[attr-defined]
    answered = {label: looks for label, (_, looks) in sides.items()}
    packages = {label: {name: spent / answered[label] for name, spent in by_package(s).items()}
                for label, s in stats.items()}
    single, concurrent = list(sides)
    seen = ", ".join(f"{answered[label]} looks answered {label}" for label in sides)
    print(f"\nprofiled (cProfile per thread, on each thread's CPU clock; {seen}): own CPU by package, ms per look")
    print(f"  {'package':<20}{single:>12}{concurrent:>14}{'extra':>9}")
    totals = {label: sum(p.values()) for label, p in packages.items()}
    for package in sorted(packages[concurrent], key=lambda name: -packages[concurrent][name]):
        one, many = (packages[label].get(package, 0.0) * 1e3 for label in sides)
        print(f"  {package:<20}{one:12.3f}{many:14.3f}{many - one:+9.3f}")
    one, many = (totals[label] * 1e3 for label in sides)
    print(f"  {'total':<20}{one:12.3f}{many:14.3f}{many - one:+9.3f}")
    print(f"\nthe {top} functions with the most own CPU {concurrent} (ms per look: own {single}, own {concurrent},"
          f" with callees {concurrent}; calls per look {concurrent}):")
    ranked = sorted(stats[concurrent].items(), key=lambda item: -item[1][2])[:top]
    one, many = answered[single], answered[concurrent]
    for key, (_, n, tottime, cumtime, _) in ranked:
        file, line, name = key
        alone = stats[single].get(key, (0, 0, 0.0, 0.0, None))[2]
        where = "/".join(Path(file).parts[-2:])
        print(f"  {alone / one * 1e3:7.3f} {tottime / many * 1e3:7.3f} {cumtime / many * 1e3:8.3f}"
              f" {n / many:7.1f}  {where}:{line} {name}")
    if callers_of:
        merged[concurrent].sort_stats("cumulative").print_callers(callers_of)  # totals over every look, in seconds


async def profiled_side(client: httpx.AsyncClient, path: str, looks: int, callers: int) -> tuple[ThreadProfiles, int]:
    """The profiles of ``looks`` looks by ``callers`` at once, and how many of them were answered (200)."""
    profiles = ThreadProfiles()
    with profiles.on_worker_threads():
        loop = profiles.of_this_thread()
        loop.enable()
        refused = await drive(client, path, looks, callers)
        loop.disable()
    return profiles, looks - refused


def settings_for(prom: str, database_url: str, args: argparse.Namespace) -> Settings:
    return Settings(prometheus_url=prom, database_url=database_url, lookback_seconds=100_000,
                    api_tokens=[] if args.ledger_token else [TOKEN], log_level=args.log_level,
                    look_workers=args.look_workers)


def quiet_logs(level: str) -> None:
    """The service's log setup (JSON lines, redaction), as ``serve`` makes it, written to /dev/null."""
    logs.configure(level)
    handler = logging.getLogger("canary_analyzer").handlers[0]
    assert isinstance(handler, logging.StreamHandler)
    handler.setStream(open(os.devnull, "w"))  # noqa: SIM115 -- lives as long as the run


def ledger_token(settings: Settings) -> str:
    from datetime import UTC, datetime

    from analyzer.store.db import Database
    from analyzer.store.tokens import create_token

    database = Database(settings.database_url)
    database.migrate()
    token = create_token(database, "bench", "analysis", datetime.now(UTC))
    database.dispose()
    return token


async def bench(settings: Settings, token: str, processes: dict[str, int], args: argparse.Namespace) -> None:
    app = create_app(settings)
    path = look_path(WINDOW)
    transport = httpx.ASGITransport(app=app)
    async with app.router.lifespan_context(app), httpx.AsyncClient(
        transport=transport, base_url="http://bench", headers={"Authorization": f"Bearer {token}"}, timeout=60
    ) as client:
        for _ in range(5):  # the first look finds the window start and fetches the whole window
            if (await client.get(path)).status_code == 200:
                break
        await drive(client, path, 20, 1)
        sql = SqlCount(app.state.analyzer.database.engine)
        sides = {
            "1 by 1": await measured(lambda: drive(client, path, args.looks, 1), args.looks, processes, sql),
            f"{args.callers} at once": await measured(
                lambda: drive(client, path, args.looks, args.callers), args.looks, processes, sql),
        }
        names = list(next(iter(sides.values())).cpu)
        print(f"\nCPU ms per look ({args.looks} looks a side, {WINDOW}-step window, {settings.look_workers} look"
              f" workers, log level {settings.log_level}, {'ledger' if args.ledger_token else 'api_tokens'} token):")
        print(f"{'side':<14}" + "".join(f"{n:>15}" for n in names)
              + f"{'total':>10}{'switches':>10}{'SQL':>6}{'checkouts':>10}{'not 200':>9}")
        for label, spent in sides.items():
            print(f"{label:<14}" + "".join(f"{spent.cpu[n] * 1e3:15.2f}" for n in names)
                  + f"{sum(spent.cpu.values()) * 1e3:10.2f}{spent.switches:10.1f}{spent.statements:6.1f}"
                  f"{spent.checkouts:10.1f}{spent.refused:9d}")
        if args.profile:
            profiled = {label: await profiled_side(client, path, args.looks, callers)
                        for label, callers in (("1 by 1", 1), (f"{args.callers} at once", args.callers))}
            report(profiled, args.top, args.callers_of)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--callers", type=int, default=50)
    parser.add_argument("--looks", type=int, default=600, help="looks per side")
    parser.add_argument("--database", choices=["postgresql", "sqlite"], default="postgresql")
    parser.add_argument("--ledger-token", action="store_true", help="a `token create` token, not an api_tokens one")
    parser.add_argument("--profile", action="store_true", help="also profile the concurrent side per thread")
    parser.add_argument("--top", type=int, default=25)
    parser.add_argument("--callers-of", help="with --profile: who calls the functions this regex names")
    parser.add_argument("--look-workers", type=int, default=Settings.model_fields["look_workers"].default)
    parser.add_argument("--log-level", default="info", help="the service's (default: the setting's default)")
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="canary-analyzer-concurrency-") as name, contextlib.ExitStack() as stack:
        work = Path(name)
        backfilled([WINDOW], work)
        prometheus_port = free_port()
        prom = stack.enter_context(prometheus(work, port=prometheus_port))
        processes = {"prometheus": prometheus_pid(prometheus_port)}
        if args.database == "postgresql":
            postgres_port = free_port()
            database_url = stack.enter_context(postgres(postgres_port))
            processes["postgresql"] = postmaster(postgres_port)
        else:
            database_url = f"sqlite:///{work / 'ledger.db'}"
        settings = settings_for(prom, database_url, args)
        quiet_logs(settings.log_level)
        token = ledger_token(settings) if args.ledger_token else TOKEN
        asyncio.run(bench(settings, token, processes, args))


if __name__ == "__main__":
    main()
