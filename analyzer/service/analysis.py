"""One AnalysisRun measurement: a live canary judged from Prometheus, with its window kept in the store.

The window of a canary analysis starts where the canary's data starts, and that start is recorded
the first time it is found: every later look, every restart and every replica judges the same
steps from the same start, which is what keeps the judge's any-look guarantee true across Argo's
looks. Until the canary has data, the answer is inconclusive and no window start is recorded.

Every Prometheus call of a look, retries included, shares one deadline (``look_deadline_seconds``), so
that a 503 reaches Argo inside its web timeout however slowly Prometheus answers. Metrics whose data
the source cannot vouch for (missing on an arm, partial, stale) go to the judge as *unavailable*:
inconclusive with the reason, and never a pass or a fail.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime

from sqlalchemy.exc import SQLAlchemyError

from analyzer.config import query_profiles
from analyzer.errors import InputError, SourceUnavailableError
from analyzer.judging import judge
from analyzer.model import Judgment, Measurement
from analyzer.promotion.stages import load_pipeline
from analyzer.service import telemetry
from analyzer.service.reports import keep_measurement
from analyzer.settings import Settings
from analyzer.sources.promapi import Deadline, PrometheusError
from analyzer.sources.prometheus import PrometheusSource, Window, align_down
from analyzer.sources.queries import QueryProfile, Target
from analyzer.store import Database, JudgmentFilter, JudgmentRecord, WindowKey
from analyzer.store.db import normalise_url
from analyzer.store.judgments import list_judgments, new_id, record_window_start, save_judgment, window_start


class BadArgumentError(InputError):
    """A request argument the service refuses (400), with the fields the problem names."""

    title = "Bad request"

    def __init__(self, message: str, fields: tuple[str, ...]) -> None:
        super().__init__(message)
        self.fields = fields


class UnknownProfileError(BadArgumentError):
    """The request names a query profile the service does not have."""

    title = "Unknown profile"

    def __init__(self, message: str) -> None:
        super().__init__(message, ("profile",))


def check_target(target: Target) -> None:
    """Refuse a canary compared with itself: the same hash on both arms would pass anything."""
    if target.canary == target.stable:
        raise BadArgumentError(
            f"canary and stable are the same pod-template hash {target.canary!r}: the canary would be compared"
            " with itself; pass the stable ReplicaSet's hash as stable",
            ("canary", "stable"),
        )


class StoreUnavailableError(Exception):
    """The database could not be read or written."""

    @classmethod
    def of(cls, error: SQLAlchemyError) -> StoreUnavailableError:
        return cls(f"the database is unavailable: {type(error).__name__}")


@dataclass
class Analyzer:
    """What a look needs: settings, query profiles, Prometheus, the store and a clock."""

    settings: Settings
    profiles: dict[str, QueryProfile]
    source: PrometheusSource
    database: Database
    clock: Callable[[], float] = field(default=time.time)

    def profile(self, name: str) -> QueryProfile:
        try:
            return self.profiles[name]
        except KeyError:
            known = ", ".join(sorted(self.profiles))
            raise UnknownProfileError(f"profile {name!r} is not configured; known profiles: {known}") from None


def check_settings(settings: Settings) -> None:
    """Raise :class:`InputError` now for what would otherwise fail inside a server worker."""
    query_profiles(settings.profiles_dir)
    normalise_url(settings.database_url)
    load_pipeline(settings.stages_file)


def prometheus_source(settings: Settings) -> PrometheusSource:
    """The Prometheus client the settings describe (URL, headers, timeout, bounded retries)."""
    return PrometheusSource(
        settings.prometheus_url,
        headers=settings.prometheus_headers,
        timeout_seconds=settings.prometheus_timeout_seconds,
        retries=settings.prometheus_retries,
        ca_file=str(settings.prometheus_ca_file) if settings.prometheus_ca_file else None,
    )


def connect(settings: Settings) -> Analyzer:
    """Connect the pieces the settings name; migrate the database to the newest schema."""
    database = Database(settings.database_url)
    database.migrate()
    profiles = query_profiles(settings.profiles_dir)
    return Analyzer(settings=settings, profiles=profiles, source=prometheus_source(settings), database=database)


def latest_judgment(settings: Settings, namespace: str, rollout: str, canary_hash: str) -> JudgmentRecord | None:
    """The newest recorded judgment of this canary, if any. Only reads: a ledger that does not exist (or
    was never migrated) is not created, and simply has no judgments."""
    database = Database(settings.database_url)
    if database.sqlite_path is not None and not database.sqlite_path.exists():
        return None
    try:
        with database.session() as session:
            query = JudgmentFilter(namespace=namespace, rollout=rollout, canary_hash=canary_hash, limit=1)
            found = list_judgments(session, query)
    except SQLAlchemyError:
        return None
    finally:
        database.dispose()
    return found[0] if found else None


@dataclass(frozen=True)
class Analysis:
    record: JudgmentRecord
    judgment: Judgment
    window: Window | None


def _start(
    analyzer: Analyzer, profile: QueryProfile, target: Target, key: WindowKey, now: float, deadline: Deadline
) -> int | None:
    with analyzer.database.session() as session:
        start = window_start(session, key)
    if start is not None:
        return start
    since = now - analyzer.settings.lookback_seconds
    first = analyzer.source.first_data(profile, target, since=since, until=now, deadline=deadline)
    if first is None:
        return None
    with analyzer.database.session() as session:
        return record_window_start(session, key, first, datetime.fromtimestamp(now, UTC))


def _judge(
    measurement: Measurement, profile: QueryProfile, extra: list[str], unavailable: dict[str, str] | None = None
) -> Judgment:
    started = time.perf_counter()
    judgment = judge(measurement, profile.policy, unavailable=unavailable)
    telemetry.JUDGE_SECONDS.observe(time.perf_counter() - started)
    if extra:
        judgment = judgment.model_copy(update={"reasons": [*extra, *judgment.reasons]})
    return judgment


def _look(analyzer: Analyzer, profile: QueryProfile, target: Target, key: WindowKey, now: float) -> Analysis:
    step = profile.step_seconds
    deadline = Deadline(analyzer.settings.look_deadline_seconds)
    start = _start(analyzer, profile, target, key, now, deadline)
    if start is None:
        hours = analyzer.settings.lookback_seconds / 3600
        reason = (
            f"no data yet: the canary (hash {target.canary!r}) served no requests in the last {hours:g} h"
            f" (profile {profile.name}, namespace {target.namespace!r})"
        )
        judgment = _judge(Measurement(step_seconds=step, metrics={}), profile, [reason])
        window = None
    else:
        end = min(align_down(now, step), start + analyzer.settings.max_steps * step)
        window = Window(start=start, end=end, step=step)
        if window.steps == 0:
            reason = "no complete step yet since the canary started"
            judgment = _judge(Measurement(step_seconds=step, metrics={}), profile, [reason])
        else:
            started = time.perf_counter()
            fetched = analyzer.source.fetch(profile, target, window, deadline)
            telemetry.QUERY_SECONDS.labels(profile.name).observe(time.perf_counter() - started)
            judgment = _judge(fetched.measurement, profile, fetched.notes, fetched.unavailable)
            keep_measurement(analyzer.database, key, start, fetched.measurement, profile.policy, fetched.unavailable,
                             datetime.fromtimestamp(now, UTC))
    record = JudgmentRecord(
        id=new_id(),
        created_at=datetime.fromtimestamp(now, UTC),
        key=key,
        verdict=judgment.verdict.value,
        score=judgment.score,
        steps=judgment.steps,
        window_start=window.start if window else None,
        window_end=window.end if window else None,
        step_seconds=profile.step_seconds,
        input_digest=judgment.input_digest,
        body=judgment.model_dump(mode="json"),
    )
    with analyzer.database.session() as session:
        save_judgment(session, record)
    return Analysis(record=record, judgment=judgment, window=window)


def analyse(analyzer: Analyzer, profile_name: str, target: Target) -> Analysis:
    """Judge the canary of ``target`` now, record the judgment, and return it.

    Metrics whose data is missing, partial or stale are judged inconclusive with the reason, never
    pass or fail. Raises :class:`BadArgumentError` (a bad request: an unknown profile, the same hash on
    both arms), :class:`SourceUnavailableError` and :class:`StoreUnavailableError` (the service cannot
    answer now; Argo counts an Error and retries).
    """
    profile = analyzer.profile(profile_name)
    check_target(target)
    key = WindowKey(target.namespace, target.rollout, profile.name, target.canary, target.stable)
    try:
        analysis = _look(analyzer, profile, target, key, analyzer.clock())
    except SourceUnavailableError as error:
        kind = error.kind if isinstance(error, PrometheusError) else "error"
        telemetry.SOURCE_ERRORS.labels(profile.name, kind).inc()
        raise
    except SQLAlchemyError as error:
        telemetry.STORE_ERRORS.inc()
        raise StoreUnavailableError.of(error) from None
    telemetry.JUDGMENTS.labels(analysis.judgment.verdict.value, profile.name).inc()
    return analysis
