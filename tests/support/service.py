"""The service wired for tests: real Prometheus, a real database, a clock the test moves."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass

import uvicorn
from fastapi import FastAPI

from analyzer.config import query_profiles
from analyzer.server import create_app
from analyzer.service.analysis import Analyzer, prometheus_source
from analyzer.settings import Settings
from analyzer.store import Database
from tests.support.prometheus import free_port


@dataclass
class Clock:
    now: float

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


def make_analyzer(settings: Settings, clock: Clock) -> Analyzer:
    database = Database(settings.database_url)
    database.migrate()
    return Analyzer(
        settings=settings,
        profiles=query_profiles(settings.profiles_dir),
        source=prometheus_source(settings),
        database=database,
        clock=clock,
    )


def make_app(settings: Settings, clock: Clock) -> tuple[FastAPI, Analyzer]:
    analyzer = make_analyzer(settings, clock)
    return create_app(settings, analyzer), analyzer


@contextmanager
def live_server(app: FastAPI) -> Iterator[str]:
    """Serve ``app`` with uvicorn on a free loopback port in a thread; yield its base URL."""
    port = free_port()
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning", lifespan="on"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 10
    while not server.started:
        if time.monotonic() > deadline:
            raise RuntimeError("uvicorn did not start")
        time.sleep(0.01)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(timeout=10)
