"""The service's own metrics (prometheus-client), named as Prometheus recommends: prefix, base units, _total.

With ``serve --workers N`` each worker is its own process: prometheus-client's multiprocess mode
(``PROMETHEUS_MULTIPROC_DIR``, a directory per start that ``serve`` makes) has every worker write its
counters and histograms to files, and :func:`exposition` adds them up, so ``/metrics`` reports the
whole pod whichever worker answers the scrape. The ledger's per-Rollout gauges are read from the
database at the scrape (the same in every worker), and so is the build info: each once.
"""

from __future__ import annotations

import os
import platform

from prometheus_client import REGISTRY, CollectorRegistry, Counter, Histogram, Info, generate_latest
from prometheus_client.multiprocess import MultiProcessCollector

from analyzer import __version__
from analyzer.service.rollout_metrics import LEDGER

JUDGMENTS = Counter(
    "canary_analyzer_judgments_total", "Judgments answered, by verdict and query profile", ["verdict", "profile"]
)
JUDGE_SECONDS = Histogram(
    "canary_analyzer_judge_duration_seconds",
    "Time to judge one measurement (statistics only)",
    buckets=(0.0005, 0.001, 0.002, 0.005, 0.01, 0.025, 0.05, 0.1),
)
REPEATED_JUDGMENTS = Counter(
    "canary_analyzer_judgments_repeated_total",
    "Looks whose judge inputs were those of their window's last look, answered with its judgment without judging",
    ["profile"],
)
QUERY_SECONDS = Histogram(
    "canary_analyzer_query_duration_seconds",
    "Time to fetch one look's measurement from Prometheus (its one combined query)",
    ["profile"],
    buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0),
)
SOURCE_ERRORS = Counter(
    "canary_analyzer_source_errors_total",
    "Looks answered 503 because Prometheus failed, by profile and kind (unreachable, timeout, error, malformed)",
    ["profile", "kind"],
)
STORE_ERRORS = Counter("canary_analyzer_store_errors_total", "Requests answered 503 because the database failed")
BUILD = Info("canary_analyzer_build", "The running service's version")
BUILD.info({"version": __version__, "python": platform.python_version()})


def exposition() -> bytes:
    """The text ``/metrics`` answers: this process's metrics, or with several workers all of theirs."""
    if not os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        return generate_latest(REGISTRY)
    registry = CollectorRegistry()
    MultiProcessCollector(registry)  # type: ignore[no-untyped-call]
    registry.register(LEDGER)
    registry.register(BUILD)
    return generate_latest(registry)
