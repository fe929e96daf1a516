"""caplog on one of our loggers itself: the service's logging setup (run by other tests) may stop
``canary_analyzer`` records from propagating to the root logger, where caplog listens."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from contextlib import contextmanager

import pytest


@contextmanager
def logged(
    caplog: pytest.LogCaptureFixture, name: str, level: int = logging.INFO
) -> Iterator[pytest.LogCaptureFixture]:
    """``caplog`` receiving the records of logger ``name`` (each once) from ``level`` up, while inside."""
    logger = logging.getLogger(name)
    logger.addHandler(caplog.handler)
    saved = logger.level, logger.propagate
    logger.setLevel(level)
    logger.propagate = False  # each record once, whether or not the root logger would see it too
    try:
        yield caplog
    finally:
        logger.removeHandler(caplog.handler)
        logger.level, logger.propagate = saved
