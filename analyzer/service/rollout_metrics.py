"""Per-Rollout and ledger metrics, read from the ledger at each scrape.

Series are labelled by namespace and rollout (and the judged metric's name, and the verdict as a
state set), never by a pod-template hash, so their number is bounded by the Rollouts under analysis.
**Lifecycle**: a Rollout's series exist while its newest judgment is younger than
:data:`ROLLOUT_SERIES_SECONDS`; Argo stops asking once a window ends (pass, fail, or the horizon),
so the series disappear that long after the window's last look, time enough for alerts to fire.
A new canary of the same Rollout takes over its series.

Because the values come from the shared ledger, every worker and every replica exports the same
numbers: ``/metrics`` is consistent however many uvicorn workers answer it (aggregate with ``max by``
across replicas). A database that does not answer sets ``canary_analyzer_ledger_up`` to 0.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator
from datetime import UTC, datetime

from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.registry import REGISTRY, Collector
from sqlalchemy.exc import SQLAlchemyError

from analyzer.model import Verdict
from analyzer.store import Database, JudgmentRecord
from analyzer.store.overview import LedgerCounts, latest_judgments, ledger_counts

#: How long after its last look a Rollout's series stay (Argo's interval is a minute or so).
ROLLOUT_SERIES_SECONDS = 15 * 60
_ROLLOUT = ["namespace", "rollout"]
log = logging.getLogger("canary_analyzer")


def _rollout_families(records: list[JudgmentRecord]) -> Iterator[Metric]:
    verdict = GaugeMetricFamily(
        "canary_analyzer_rollout_verdict", "Latest verdict of the Rollout's canary (1 for the current one)",
        labels=[*_ROLLOUT, "verdict"],
    )
    score = GaugeMetricFamily("canary_analyzer_rollout_score", "Latest score (0-100)", labels=_ROLLOUT)
    steps = GaugeMetricFamily("canary_analyzer_rollout_steps", "Steps judged at the latest look", labels=_ROLLOUT)
    seconds = GaugeMetricFamily(
        "canary_analyzer_rollout_analysis_seconds",
        "Window length at the latest look: the time to decision once the verdict is pass or fail",
        labels=_ROLLOUT,
    )
    last = GaugeMetricFamily(
        "canary_analyzer_rollout_last_judgment_timestamp_seconds", "When the latest look was answered", labels=_ROLLOUT
    )
    evidence = GaugeMetricFamily(
        "canary_analyzer_rollout_evidence_ratio",
        "Fail e-value over its threshold per judged metric (the metric fails at 1)",
        labels=[*_ROLLOUT, "metric"],
    )
    for record in records:
        labels = [record.key.namespace, record.key.rollout]
        for value in Verdict:
            verdict.add_metric([*labels, value.value], 1.0 if record.verdict == value.value else 0.0)
        score.add_metric(labels, record.score)
        steps.add_metric(labels, record.steps)
        if record.window_start is not None and record.window_end is not None:
            seconds.add_metric(labels, record.window_end - record.window_start)
        last.add_metric(labels, record.created_at.timestamp())
        for metric in record.body.get("metrics", []):
            e_value, threshold = metric.get("e_value"), metric.get("e_threshold")
            if e_value is not None and threshold:
                evidence.add_metric([*labels, metric["name"]], e_value / threshold)
    yield from (verdict, score, steps, seconds, last, evidence)


def _ledger_families(counts: LedgerCounts) -> Iterator[Metric]:
    candidates = GaugeMetricFamily(
        "canary_analyzer_candidates", "Release candidates by state and stage", labels=["state", "stage"]
    )
    for (state, stage), n in sorted(counts.candidates.items()):
        candidates.add_metric([state, stage], n)
    quarantines = CounterMetricFamily(
        "canary_analyzer_quarantines", "Quarantines recorded, by stage and reason", labels=["stage", "reason"]
    )
    for (stage, reason), n in sorted(counts.quarantines.items()):
        quarantines.add_metric([stage, reason], n)
    evaluations = CounterMetricFamily(
        "canary_analyzer_gate_evaluations", "Gate evaluations recorded, by stage and result", labels=["stage", "result"]
    )
    for (stage, result), n in sorted(counts.evaluations.items()):
        evaluations.add_metric([stage, result], n)
    forced = CounterMetricFamily(
        "canary_analyzer_forced_promotions", "Forced promotions requested, by target stage", labels=["stage"]
    )
    for stage, n in sorted(counts.forced.items()):
        forced.add_metric([stage], n)
    yield from (candidates, quarantines, evaluations, forced)


class LedgerCollector(Collector):
    """Collects the ledger's metrics from the database it is bound to (by the app's lifespan)."""

    def __init__(self) -> None:
        self._bound: tuple[Database, Callable[[], float]] | None = None

    def bind(self, database: Database, clock: Callable[[], float]) -> None:
        self._bound = (database, clock)

    def unbind(self, database: Database) -> None:
        if self._bound is not None and self._bound[0] is database:
            self._bound = None

    def describe(self) -> list[Metric]:
        return []  # the families depend on the data; registering must not query the database

    def collect(self) -> Iterator[Metric]:
        if self._bound is None:
            return
        database, clock = self._bound
        since = datetime.fromtimestamp(clock() - ROLLOUT_SERIES_SECONDS, UTC)
        up = GaugeMetricFamily("canary_analyzer_ledger_up", "1 when the ledger answered this scrape")
        try:
            with database.session() as session:
                records = latest_judgments(session, since)
                counts = ledger_counts(session)
        except SQLAlchemyError as error:
            log.warning("ledger metrics unavailable", extra={"fields": {"error": type(error).__name__}})
            up.add_metric([], 0.0)
            yield up
            return
        up.add_metric([], 1.0)
        yield up
        yield from _rollout_families(records)
        yield from _ledger_families(counts)


LEDGER = LedgerCollector()
REGISTRY.register(LEDGER)
