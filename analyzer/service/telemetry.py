"""The service's own metrics (prometheus-client), named as Prometheus recommends: prefix, base units, _total."""

from __future__ import annotations

import platform

from prometheus_client import Counter, Histogram, Info

from analyzer import __version__

JUDGMENTS = Counter(
    "canary_analyzer_judgments_total", "Judgments answered, by verdict and query profile", ["verdict", "profile"]
)
JUDGE_SECONDS = Histogram(
    "canary_analyzer_judge_duration_seconds",
    "Time to judge one measurement (statistics only)",
    buckets=(0.0005, 0.001, 0.002, 0.005, 0.01, 0.025, 0.05, 0.1),
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
