"""One AnalysisRun measurement: a live canary judged from Prometheus, with its window kept in the store.

The window of a canary analysis starts where the canary's data starts, and that start is recorded
the first time it is found: every later look, every restart and every replica judges the same
steps from the same start, which is what keeps the judge's any-look guarantee true across Argo's
looks. Until the canary has data, the answer is inconclusive and no window start is recorded. A canary
that served nothing for ``window_gap_steps`` and came back (abort, then retry) starts a new window.
Each process remembers the starts it read or recorded (:attr:`Analyzer.starts`) instead of reading
them at every look: the store stays the truth, and a start only moves forward when the data shows a
retry's gap, which a look from a remembered start finds in the same data (see :func:`_fetch`).

A step's analysis (the template passes ``status.currentStepIndex``) takes its pass evidence only from
the steps since that step's first look, recorded per window in the store; fail evidence comes from
the whole window (see :func:`analyzer.judging.judge`).

Every Prometheus call and every store access of a look, retries included, shares one deadline
(``look_deadline_seconds``), so that a 503 reaches Argo inside its web timeout however slowly
Prometheus or the database answers. Metrics whose data the source cannot vouch for (missing on an
arm, partial, stale) go to the judge as *unavailable*: inconclusive with the reason, and never a
pass or a fail.

Without the store (down, locked, stalled: :mod:`analyzer.service.look_store`) a look still judges
when the data shows where the window starts — the canary's first data inside the lookback, the same
on every replica — and says so in its reasons; it records nothing, and a step's analysis whose start
this process has not read cannot pass (where the step began is kept in the store), so only a fail (on
the whole window's evidence) or inconclusive comes of it. When the canary's data reaches back past the
lookback, the start cannot be vouched for: 503, as before.
"""

from __future__ import annotations

import functools
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime

import numpy as np
from sqlalchemy.exc import SQLAlchemyError

from analyzer.config import query_profiles
from analyzer.errors import InputError, SourceUnavailableError
from analyzer.judging import judge
from analyzer.model import Judgment, Measurement
from analyzer.promotion.stages import load_pipeline
from analyzer.service import telemetry
from analyzer.service.look_record import Counts, record_of_look, saved, unrecorded
from analyzer.service.look_store import LookStore, StoreUnavailableError
from analyzer.service.repeats import Digests, Inputs, Repeats, frozen
from analyzer.service.reports import StoredSteps
from analyzer.service.windows import Recent, canary_requests, idle_tail, pass_from, restart_step
from analyzer.settings import Settings
from analyzer.sources.assemble import Fetched
from analyzer.sources.datasources import Sources, check_datasources
from analyzer.sources.promapi import Deadline, PrometheusError
from analyzer.sources.prometheus import MAX_POINTS, PrometheusSource, Window, align_down
from analyzer.sources.queries import QueryProfile, Target
from analyzer.store import Database, JudgmentFilter, JudgmentRecord, WindowKey
from analyzer.store.db import normalise_url
from analyzer.store.judgments import list_judgments, record_window_start, window_start
from analyzer.store.windows import move_window_start, step_first_look

#: How many times one look follows a window's start forward (a retry's gap) before it judges.
MAX_MOVES = 3

__all__ = ["Analysis", "Analyzer", "BadArgumentError", "StoreUnavailableError", "UnknownProfileError", "analyse"]


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


@dataclass
class Analyzer:
    """What a look needs: settings, query profiles, their datasources, the store and a clock."""

    settings: Settings
    profiles: dict[str, QueryProfile]
    source: Sources
    database: Database
    clock: Callable[[], float] = field(default=time.time)
    stored: StoredSteps = field(default_factory=StoredSteps)  # which of each window's counts this process stored
    starts: Recent[WindowKey, int] = field(default_factory=Recent)  # each window's start as the store last said
    repeats: Repeats = field(default_factory=Repeats)  # each window's last judgment, by its inputs
    digests: Digests = field(default_factory=Digests)  # each window's last measurement's digest
    step_looks: Recent[tuple[WindowKey, int, int], int] = field(default_factory=Recent)  # steps' first looks read

    def profile(self, name: str) -> QueryProfile:
        try:
            return self.profiles[name]
        except KeyError:
            known = ", ".join(sorted(self.profiles))
            raise UnknownProfileError(f"profile {name!r} is not configured; known profiles: {known}") from None


def check_settings(settings: Settings) -> None:
    """Raise :class:`InputError` now for what would otherwise fail inside a server worker."""
    check_datasources(query_profiles(settings.profiles_dir), settings.datasources)
    normalise_url(settings.database_url)
    load_pipeline(settings.stages_file)


def prometheus_source(settings: Settings) -> Sources:
    """The datasource clients the settings describe (URL, headers, auth, timeout, bounded retries): the
    global ``prometheus_*`` settings as the default, and one per entry of ``datasources``."""
    default = PrometheusSource(
        settings.prometheus_url,
        headers=settings.prometheus_headers,
        timeout_seconds=settings.prometheus_timeout_seconds,
        retries=settings.prometheus_retries,
        ca_file=str(settings.prometheus_ca_file) if settings.prometheus_ca_file else None,
        compress=settings.prometheus_compression,
        cache=settings.window_cache_policy(),
    )
    timeout, retries = settings.prometheus_timeout_seconds, settings.prometheus_retries
    return Sources.build(default, settings.datasources, timeout, retries, settings.prometheus_compression,
                         settings.window_cache_policy())


def connect(settings: Settings) -> Analyzer:
    """Connect the pieces the settings name; migrate the database to the newest schema."""
    database = Database(settings.database_url)
    database.migrate()
    profiles = query_profiles(settings.profiles_dir)
    check_datasources(profiles, settings.datasources)
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
    recorded: bool = True  # False: judged without the store (its id and report link lead nowhere)


def _start(
    analyzer: Analyzer, profile: QueryProfile, target: Target, key: WindowKey, now: float, store: LookStore
) -> int | None:
    start = analyzer.starts.get(key)
    if start is None:
        start = store.use(lambda session: window_start(session, key), otherwise=None)
    if start is not None:
        analyzer.starts.put(key, start)
        return start
    since = now - analyzer.settings.lookback_seconds
    first = analyzer.source.first_data(profile, target, since=since, until=now, deadline=store.deadline)
    if first is None:
        return None
    recorded = datetime.fromtimestamp(now, UTC)
    held = store.use(lambda session: record_window_start(session, key, first, recorded), otherwise=None)
    if held is None:  # the store is down: the start comes from the data alone, which must show it
        _check_derived(first, since, now, profile.step_seconds, store)
        return first
    analyzer.starts.put(key, held)
    return held


def _check_derived(first: int, since: float, now: float, step: int, store: LookStore) -> None:
    """Raise :class:`StoreUnavailableError` unless ``first`` is where the canary's data begins: data at
    the first step searched may have begun earlier, and a start that moves with the clock would give
    every look (and replica) another window."""
    edge = align_down(max(since, now - (MAX_POINTS - 1) * step), step)
    if first <= edge:
        raise StoreUnavailableError(
            f"{store.failure}, and the canary's data reaches back to the start of the {(now - since) / 3600:g} h"
            " lookback, so its window start cannot be derived from the data"
        )


def _judge(
    measurement: Measurement,
    profile: QueryProfile,
    extra: list[str],
    unavailable: dict[str, str] | None = None,
    pass_from_step: int | None = None,
    input_digest: str | None = None,
) -> Judgment:
    started = time.perf_counter()
    judgment = judge(measurement, profile.policy, unavailable=unavailable, pass_from_step=pass_from_step,
                     input_digest=input_digest)
    telemetry.JUDGE_SECONDS.observe(time.perf_counter() - started)
    return _noted(judgment, extra)


def _noted(judgment: Judgment, extra: list[str]) -> Judgment:
    if extra:
        judgment = judgment.model_copy(update={"reasons": [*extra, *judgment.reasons]})
    return judgment


def _inconclusive(profile: QueryProfile, reason: str) -> Judgment:
    return _judge(Measurement(step_seconds=profile.step_seconds, metrics={}), profile, [reason])


def _fetch(
    analyzer: Analyzer, profile: QueryProfile, target: Target, key: WindowKey, window: Window, store: LookStore
) -> tuple[Window, Fetched, np.ndarray]:
    """The window's data, and the canary's requests per step in it; a window whose canary was gone for
    ``window_gap_steps`` and came back starts again after the gap (recorded, so that every replica moves
    with it; found in the data again without the store) and is fetched again from there.

    The start may come from this process's memory (:attr:`Analyzer.starts`) while another replica has
    moved it since: the same data shows that replica the same gap, so the move here finds the start it
    recorded, and the window from there is checked for a later gap in turn (at most
    :data:`MAX_MOVES` times): the look ends where one that read the start from the store would."""
    started = time.perf_counter()
    fetched = analyzer.source.fetch(profile, target, window, store.deadline)
    requests = canary_requests(fetched.measurement)
    for _ in range(MAX_MOVES):
        restart = restart_step(requests, analyzer.settings.window_gap_steps)
        if restart is None:
            break
        moved = window.start + restart * window.step
        move = functools.partial(move_window_start, key=key, old=window.start, new=moved)
        start = store.use(move, otherwise=moved)
        if store.failure is None:
            analyzer.starts.put(key, start)
        window = Window(start=start, end=window.end, step=window.step)
        fetched = analyzer.source.fetch(profile, target, window, store.deadline)
        requests = canary_requests(fetched.measurement)
    telemetry.QUERY_SECONDS.labels(profile.name).observe(time.perf_counter() - started)
    return window, fetched, requests


def _pass_from(
    analyzer: Analyzer, store: LookStore, key: WindowKey, window: Window, step_index: int | None, now: float
) -> int | None:
    """Where this Rollout step's pass evidence starts, in the window's steps (None: the whole window,
    for a look that names no step, e.g. a background analysis; the window's end when the step's first
    look is neither remembered nor in reach of the store, which keeps where each step began: nothing of
    the step to pass on).

    A step's first look, once recorded, never changes (first writer wins, rows are never deleted): each
    process remembers those it read (:attr:`Analyzer.step_looks`) instead of asking the store at every look."""
    if step_index is None:
        return None
    step = (key, window.start, step_index)
    first_look = analyzer.step_looks.get(step)
    if first_look is None:
        first_look = store.use(
            lambda session: step_first_look(session, key, window.start, step_index, int(now)), otherwise=None
        )
        if first_look is None:
            return window.steps
        analyzer.step_looks.put(step, first_look)
    # No whole step of its own yet: the judge reads a pass_from at or past the end as the whole window,
    # so the last step is the most it gets, which no pass's minimum duration accepts.
    return min(pass_from(first_look, window.start, window.step), window.steps - 1)


def _judge_window(
    analyzer: Analyzer, profile: QueryProfile, target: Target, key: WindowKey, window: Window, step_index: int | None,
    now: float, store: LookStore,
) -> tuple[Window, Judgment, Counts, bool]:
    """The window judged, its counts to store from the first step that may differ from what is stored, and
    whether the look is of a Rollout step whose start is not known (without the store: no pass)."""
    window, fetched, requests = _fetch(analyzer, profile, target, key, window, store)
    changed_from = analyzer.stored.lowered(key, window.start, fetched.fresh_from)
    unavailable = dict(fetched.unavailable)
    idle = idle_tail(requests)
    if idle >= analyzer.settings.window_gap_steps:  # the old run's data must not judge the one to come
        reason = (
            f"the canary (hash {target.canary!r}) served no requests in the last {idle} steps (scaled down or"
            " aborted); its traffic starts a new window when it serves again"
        )
        unavailable = dict.fromkeys(fetched.measurement.metrics, reason) | unavailable
    first = _pass_from(analyzer, store, key, window, step_index, now)
    digest = analyzer.digests.of(key, window.start, fetched.measurement)
    inputs = Inputs(window.start, digest, profile.policy, frozen(unavailable), first)
    judgment, repeated = analyzer.repeats.judged(
        key, inputs, lambda: _judge(fetched.measurement, profile, [], unavailable, first, digest)
    )
    if repeated:
        telemetry.REPEATED_JUDGMENTS.labels(profile.name).inc()
    counts = Counts(key, window.start, fetched.measurement, digest, profile.policy, fetched.unavailable,
                    datetime.fromtimestamp(now, UTC), changed_from, fetched.read_from)
    step_unknown = first is not None and first >= window.steps  # _pass_from's mark of an unknown start
    return window, _noted(judgment, fetched.notes), counts, step_unknown


def _look(
    analyzer: Analyzer, profile: QueryProfile, target: Target, key: WindowKey, step_index: int | None, now: float,
    deadline: Deadline,
) -> Analysis:
    step = profile.step_seconds
    store = LookStore(analyzer.database, deadline)
    start = _start(analyzer, profile, target, key, now, store)
    window: Window | None = None
    counts: Counts | None = None
    step_unknown = step_index is not None  # until the window's judging finds where the step began
    if start is None:
        hours = analyzer.settings.lookback_seconds / 3600
        judgment = _inconclusive(profile, (
            f"no data yet: the canary (hash {target.canary!r}) served no requests in the last {hours:g} h"
            f" (profile {profile.name}, namespace {target.namespace!r})"
        ))
    else:
        end = min(align_down(now, step), start + analyzer.settings.max_steps * step)
        window = Window(start=start, end=end, step=step)
        if window.steps == 0:
            judgment = _inconclusive(profile, "no complete step yet since the canary started")
        else:
            window, judgment, counts, step_unknown = _judge_window(
                analyzer, profile, target, key, window, step_index, now, store
            )
    record = record_of_look(key, judgment, window, step, now)
    if store.use(lambda session: saved(session, record, counts), otherwise=False) and counts is not None:
        analyzer.stored.stored(key, counts.window_start, counts.changed_from, counts.steps)
    if store.failure is not None:
        judgment = unrecorded(judgment, store.failure, window, step_unknown)
        record = record_of_look(key, judgment, window, step, now)
    return Analysis(record=record, judgment=judgment, window=window, recorded=store.failure is None)


def analyse(
    analyzer: Analyzer, profile_name: str, target: Target, step_index: int | None = None,
    deadline: Deadline | None = None,
) -> Analysis:
    """Judge the canary of ``target`` now, record the judgment, and return it.

    ``step_index`` is the Rollout's ``status.currentStepIndex`` when a step's analysis asks: its pass
    evidence comes only from the steps since that step's first look (recorded, the same on every
    replica), so the analysis after ``setWeight: 50`` cannot pass on the 20 % step's data; fail
    evidence uses the whole window. Without it (a background analysis) the whole window is judged.

    Metrics whose data is missing, partial or stale are judged inconclusive with the reason, never
    pass or fail. ``deadline`` bounds the look (default: ``look_deadline_seconds`` from now; the server
    starts it when the request arrives, so a wait for a worker counts too). Without the store the look
    is judged from the data and not recorded (see the module's docstring). Raises
    :class:`BadArgumentError` (a bad request: an unknown profile, the same hash on both arms),
    :class:`SourceUnavailableError` and :class:`StoreUnavailableError` (the service cannot answer
    now; Argo counts an Error and retries).
    """
    profile = analyzer.profile(profile_name)
    check_target(target)
    key = WindowKey(target.namespace, target.rollout, profile.name, target.canary, target.stable)
    deadline = deadline or Deadline(analyzer.settings.look_deadline_seconds)
    try:
        analysis = _look(analyzer, profile, target, key, step_index, analyzer.clock(), deadline)
    except SourceUnavailableError as error:
        kind = error.kind if isinstance(error, PrometheusError) else "error"
        telemetry.SOURCE_ERRORS.labels(profile.name, kind).inc()
        raise
    except StoreUnavailableError:
        telemetry.STORE_ERRORS.inc()
        raise
    except SQLAlchemyError as error:
        telemetry.STORE_ERRORS.inc()
        raise StoreUnavailableError.of(error) from None
    telemetry.JUDGMENTS.labels(analysis.judgment.verdict.value, profile.name).inc()
    return analysis
