"""Measurements from Prometheus' HTTP API (``/api/v1/query_range``), through prometheus-api-client.

A :class:`Window` is a run of whole steps on the epoch grid (every replica computes the same
steps): step k covers (start + (k-1)·step, start + k·step] and its value is the profile's query
evaluated at the step's end, i.e. ``increase(x[step])`` over that step. Every query of a look runs
concurrently; connection errors, timeouts and 5xx answers are retried by urllib3 with a short
backoff, and what still fails becomes :class:`~analyzer.errors.SourceUnavailableError`.

Prometheus' ``increase`` extrapolates, so counts may be fractional, and the events of a step may
exceed its requests by a hair, or a lower bucket a higher one: both are clipped (events to
requests, buckets to cumulative order, as ``histogram_quantile`` does), never rejected.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import numpy as np
import requests
from prometheus_api_client import PrometheusConnect
from prometheus_api_client.exceptions import PrometheusApiClientException
from urllib3.util.retry import Retry

from analyzer.errors import SourceUnavailableError
from analyzer.model import Measurement
from analyzer.sources.queries import ARMS, Arm, HistogramQueries, QueryProfile, Target, parse_le, queries_of

#: Prometheus refuses range queries of more than 11,000 points per series.
MAX_POINTS = 11_000
#: The label that tells the parts of a combined query apart.
PART = "canary_analyzer_part"


@dataclass(frozen=True)
class Window:
    """Whole steps from ``start`` (exclusive) to ``end`` (inclusive), in epoch seconds on the step grid."""

    start: int
    end: int
    step: int

    @property
    def steps(self) -> int:
        return max((self.end - self.start) // self.step, 0)


def align_down(timestamp: float, step: int) -> int:
    return math.floor(timestamp / step) * step


def combine(queries: Sequence[str]) -> str:
    """One PromQL expression for several: each part's series tagged ``PART=i`` and joined with ``or``."""
    return " or ".join(f'label_replace({q}, "{PART}", "{i}", "", "")' for i, q in enumerate(queries))


@dataclass
class Fetched:
    """A measurement and what the source noticed while building it."""

    measurement: Measurement
    notes: list[str] = field(default_factory=list)
    empty_arms: dict[str, list[Arm]] = field(default_factory=dict)  # metric -> arms with no series at all


def _values(series: dict[str, Any], window: Window) -> np.ndarray:
    """A series' values placed on the window's steps (0 where absent, NaN or negative)."""
    out = np.zeros(window.steps)
    samples = series.get("values") or []
    if not samples:
        return out
    points = np.asarray(samples, dtype=np.float64)  # [[timestamp, "value"], ...]: numpy parses both
    steps = np.rint((points[:, 0] - window.start) / window.step).astype(np.int64) - 1
    values = points[:, 1]
    keep = (steps >= 0) & (steps < window.steps) & np.isfinite(values) & (values > 0)
    out[steps[keep]] = values[keep]
    return out


class PrometheusSource:
    """Runs a query profile's queries for one target over one window."""

    def __init__(
        self,
        url: str,
        headers: dict[str, str] | None = None,
        timeout_seconds: float = 2.0,
        retries: int = 2,
        backoff_seconds: float = 0.1,
        ca_file: str | None = None,
    ) -> None:
        retry = Retry(
            total=retries,
            connect=retries,
            read=retries,
            status=retries,
            backoff_factor=backoff_seconds,
            status_forcelist=(502, 503, 504),
            allowed_methods=frozenset({"GET"}),
            raise_on_status=False,
        )
        self.url = url.rstrip("/")
        session = requests.Session()
        # Not reading proxy, netrc and CA variables from the environment on every request saves a third
        # of a query's client CPU; a private CA is given explicitly instead.
        session.trust_env = False
        session.verify = ca_file if ca_file is not None else True
        self._session = session
        self._client = PrometheusConnect(
            url=self.url, headers=headers or None, retry=retry, timeout=timeout_seconds, session=session
        )
        self._timeout = timeout_seconds

    def close(self) -> None:
        self._session.close()

    def _range(self, query: str, window: Window) -> list[dict[str, Any]]:
        if window.steps > MAX_POINTS:
            raise SourceUnavailableError(f"{window.steps} steps exceed Prometheus' limit of {MAX_POINTS} points")
        try:
            result: list[dict[str, Any]] = self._client.custom_query_range(
                query,
                start_time=datetime.fromtimestamp(window.start + window.step, UTC),
                end_time=datetime.fromtimestamp(window.end, UTC),
                step=f"{window.step}s",
            )
        except PrometheusApiClientException as error:
            raise SourceUnavailableError(f"Prometheus at {self.url} answered an error: {error}") from None
        except requests.RequestException as error:
            raise SourceUnavailableError(f"Prometheus at {self.url} is unreachable: {type(error).__name__}") from None
        except ValueError as error:  # a body that is not the JSON of the API
            raise SourceUnavailableError(f"Prometheus at {self.url} sent an unreadable answer: {error}") from None
        return result

    def _run_all(self, queries: Sequence[str], window: Window) -> list[list[dict[str, Any]]]:
        """Every query's series, from one combined range query."""
        combined = combine(queries)
        parts: list[list[dict[str, Any]]] = [[] for _ in queries]
        for series in self._range(combined, window):
            labels = dict(series.get("metric", {}))
            part = labels.pop(PART, None)
            if part is None or not part.isdigit() or int(part) >= len(queries):
                raise SourceUnavailableError(f"Prometheus at {self.url} returned a series without its part label")
            parts[int(part)].append({**series, "metric": labels})
        return parts

    def ping(self) -> None:
        """Raise :class:`SourceUnavailableError` unless Prometheus answers its readiness endpoint."""
        try:
            response = self._session.get(f"{self.url}/-/ready", timeout=self._timeout, headers=self._client.headers)
        except requests.RequestException as error:
            raise SourceUnavailableError(f"Prometheus at {self.url} is unreachable: {type(error).__name__}") from None
        if response.status_code != 200:
            raise SourceUnavailableError(f"Prometheus at {self.url} is not ready (HTTP {response.status_code})")

    def first_data(self, profile: QueryProfile, target: Target, since: float, until: float) -> int | None:
        """The start of the window: the step before the canary's first step with requests, or None."""
        step = profile.step_seconds
        earliest = max(since, until - (MAX_POINTS - 1) * step)
        window = Window(start=align_down(earliest, step), end=align_down(until, step), step=step)
        if window.steps == 0:
            return None
        name, queries = next(iter(profile.metrics.items()))
        query = "total" if queries.kind == "ratio" else "buckets"
        found: list[int] = []
        for series in self._range(profile.render(name, query, "canary", target), window):
            if queries.kind == "histogram" and not math.isinf(parse_le(series.get("metric", {}).get("le", "0"))):
                continue
            hits = np.flatnonzero(_values(series, window) > 0)
            if hits.size:
                found.append(int(hits[0]))
        if not found:
            return None
        return window.start + min(found) * step

    def fetch(self, profile: QueryProfile, target: Target, window: Window) -> Fetched:
        """One look's measurement: every metric of the profile, both arms, the window's steps."""
        plan = [
            (name, query, arm)
            for name, queries in profile.metrics.items()
            for query in queries_of(queries)
            for arm in ARMS
        ]
        answers = self._run_all([profile.render(name, query, arm, target) for name, query, arm in plan], window)
        by_key = dict(zip(plan, answers, strict=True))
        metrics: dict[str, Any] = {}
        notes: list[str] = []
        empty_arms: dict[str, list[Arm]] = {}
        for name, queries in profile.metrics.items():
            empty = [arm for arm in ARMS if not any(by_key[(name, q, arm)] for q in queries_of(queries))]
            if empty:
                empty_arms[name] = empty
            if queries.kind == "ratio":
                metrics[name] = self._ratio(by_key, name, window)
            else:
                built = self._histogram(by_key, name, queries, window, notes)
                if built is not None:
                    metrics[name] = built
        measurement = Measurement.model_validate({"step_seconds": window.step, "metrics": metrics})
        return Fetched(measurement=measurement, notes=notes, empty_arms=empty_arms)

    @staticmethod
    def _ratio(by_key: dict[tuple[str, str, Arm], list[dict[str, Any]]], name: str, window: Window) -> dict[str, Any]:
        arms: dict[str, Any] = {}
        for arm in ARMS:
            total = sum((_values(s, window) for s in by_key[(name, "total", arm)]), np.zeros(window.steps))
            events = sum((_values(s, window) for s in by_key[(name, "events", arm)]), np.zeros(window.steps))
            arms[arm] = {"total": total.tolist(), "events": np.minimum(events, total).tolist()}
        return {"kind": "ratio", **arms}

    @staticmethod
    def _histogram(
        by_key: dict[tuple[str, str, Arm], list[dict[str, Any]]],
        name: str,
        queries: HistogramQueries,
        window: Window,
        notes: list[str],
    ) -> dict[str, Any] | None:
        per_arm: dict[Arm, dict[float, np.ndarray]] = {}
        for arm in ARMS:
            buckets: dict[float, np.ndarray] = {}
            for series in by_key[(name, "buckets", arm)]:
                le = parse_le(series.get("metric", {}).get("le", "nan"))
                if not math.isnan(le):
                    buckets[le * queries.le_scale] = buckets.get(le * queries.le_scale, 0) + _values(series, window)
            per_arm[arm] = buckets
        present = [set(b) for b in per_arm.values() if b]
        if not present:
            return None
        bounds = sorted(set.intersection(*present))
        if len(present) == 2 and present[0] != present[1]:
            notes.append(f"{name}: canary and stable have different buckets; judged on the {len(bounds)} they share")
        if not bounds or not math.isinf(bounds[-1]) or len(bounds) < 2:
            notes.append(f"{name}: the buckets lack le=+Inf or a finite bound; not judged")
            return None
        rows: dict[str, list[list[float]]] = {}
        for arm in ARMS:
            matrix = np.column_stack([per_arm[arm].get(b, np.zeros(window.steps)) for b in bounds])
            rows[arm] = np.maximum.accumulate(matrix, axis=1).tolist()
        return {"kind": "histogram", "le": ["+Inf" if math.isinf(b) else b for b in bounds], **rows}
