"""The analysis use case on both ledgers: two replicas judge from one window start."""

from __future__ import annotations

import json

from sqlalchemy import select

from analyzer.config import load_query_profile
from analyzer.judging.digest import measurement_digest
from analyzer.model.steps import from_chunks
from analyzer.service.analysis import analyse
from analyzer.service.reports import StoredSteps
from analyzer.settings import Settings
from analyzer.sources.prometheus import PrometheusSource
from analyzer.sources.queries import Target
from analyzer.store import WindowKey
from analyzer.store.measurements import CHUNK_STEPS, get_measurement
from analyzer.store.tables import WindowMeasurementChunkRow
from tests.conftest import STEP, STEPS
from tests.server.test_rollout_steps import RETRY
from tests.server.test_rollout_steps import steps_prometheus as _retry_prometheus  # noqa: F401 - the fixture
from tests.support.service import Clock, make_analyzer


def _target(backfilled, scenario: str) -> Target:
    args = backfilled.args(scenario)
    return Target(namespace=args["namespace"], rollout=args["rollout"], canary=args["canary"], stable=args["stable"])


def test_replicas_share_the_window_and_the_record(backfilled, database_url):
    settings = Settings(prometheus_url=backfilled.url, database_url=database_url)
    clock = Clock(backfilled.start + 12 * STEP + 30)
    replica_a, replica_b = make_analyzer(settings, clock), make_analyzer(settings, clock)
    first = analyse(replica_a, "http", _target(backfilled, "errors"))
    clock.advance(STEP)
    second = analyse(replica_b, "http", _target(backfilled, "errors"))
    assert first.window is not None and second.window is not None
    assert first.window.start == second.window.start == backfilled.start
    assert second.window.steps == first.window.steps + 1
    assert first.judgment.verdict == second.judgment.verdict == "fail"
    with replica_a.database.session() as session:
        from analyzer.store import JudgmentFilter
        from analyzer.store.judgments import list_judgments

        assert {r.id for r in list_judgments(session, JudgmentFilter(namespace="errors"))} == {
            first.record.id,
            second.record.id,
        }


def test_each_look_stores_its_new_steps_and_the_window_reads_back_as_a_full_fetch(backfilled, database_url):
    """Looks a step apart write only the chunk of their re-read and new steps; the stored window is what a
    full fetch of it gives, and each judgment's own prefix has the digest that judgment recorded."""
    settings = Settings(prometheus_url=backfilled.url, database_url=database_url)
    clock = Clock(backfilled.start + 12 * STEP + 30)
    analyzer, target = make_analyzer(settings, clock), _target(backfilled, "latency")
    looks = []
    for _ in range(2 * CHUNK_STEPS - 12 + 2):
        looks.append(analyse(analyzer, "http", target))
        clock.advance(STEP)
    window = looks[-1].window
    assert window is not None and window.steps == 2 * CHUNK_STEPS + 1
    key = WindowKey(target.namespace, target.rollout, "http", target.canary, target.stable)
    with analyzer.database.session() as session:
        stored = get_measurement(session, key, window.start)
        through = dict(session.execute(select(WindowMeasurementChunkRow.chunk, WindowMeasurementChunkRow.through)
                                       .where(WindowMeasurementChunkRow.namespace == target.namespace)).all())
    # The last look (33 steps) re-read steps 29-31 (0-based) and added 32: chunks 1 and 2. Chunk 0 was last
    # written by the look of 19 steps, the last whose re-read steps reached into it.
    assert through == {0: CHUNK_STEPS + 3, 1: 2 * CHUNK_STEPS + 1, 2: 2 * CHUNK_STEPS + 1}
    assert stored is not None and stored.steps == window.steps
    whole = PrometheusSource(backfilled.url).fetch(load_query_profile("http"), target, window).measurement
    assert from_chunks(stored.chunks, CHUNK_STEPS, stored.steps) == whole
    for look in looks:
        assert measurement_digest(from_chunks(stored.chunks, CHUNK_STEPS, look.judgment.steps)) == (
            look.judgment.input_digest)


def test_a_look_whose_store_failed_leaves_its_steps_to_the_next_look():
    key, start = WindowKey("shop", "checkout", "http", "c0ffee", "5ab1e"), 1_700_000_000
    stored = StoredSteps(max_windows=1)
    assert stored.lowered(key, start, fresh_from=27) == 0  # nothing known stored: every step
    stored.stored(key, start, 0, 30)
    assert stored.lowered(key, start, fresh_from=27) == 27  # stores 27 on; and fails
    assert stored.lowered(key, start, fresh_from=28) == 27  # so the next look stores from 27 again
    stored.stored(key, start, 27, 32)
    assert stored.lowered(key, start, fresh_from=0) == 0  # a full fetch: every step may have changed
    stored.stored(key, start, 0, 33)
    assert stored.lowered(WindowKey("shop", "other", "http", "c0ffee", "5ab1e"), start, fresh_from=5) == 0
    assert stored.lowered(key, start, fresh_from=31) == 0  # forgotten past max_windows: every step again


def test_a_start_another_replica_moved_is_followed_from_the_remembered_one(request, database_url):
    """Replica A remembers the window's start; replica B moves it after the canary's retry; A's next look,
    from the start it remembers, ends on B's start and judges what B judges."""
    retry_prometheus = request.getfixturevalue("_retry_prometheus")  # a canary aborted, then retried
    start = retry_prometheus.start
    settings = Settings(prometheus_url=retry_prometheus.url, database_url=database_url)
    clock = Clock(start + 8 * STEP + 30)
    replica_a, replica_b = make_analyzer(settings, clock), make_analyzer(settings, clock)
    target = Target(namespace="retry", rollout="checkout", canary="retrc1", stable="retr51")
    key = WindowKey("retry", "checkout", "http", "retrc1", "retr51")
    first = analyse(replica_a, "http", target)
    assert first.window is not None and replica_a.starts.get(key) == first.window.start == start
    clock.advance((RETRY - 8 + 4) * STEP)
    moved = analyse(replica_b, "http", target)
    assert moved.window is not None and moved.window.start == start + RETRY * STEP
    followed = analyse(replica_a, "http", target)
    assert followed.window == moved.window and replica_a.starts.get(key) == moved.window.start
    assert followed.judgment.input_digest == moved.judgment.input_digest


def test_the_digest_matches_an_offline_rejudge_of_the_exported_measurement(backfilled, database_url):
    """Export the same window and judge it offline: the same input digest, the same verdict."""
    from datetime import UTC, datetime

    import analyzer
    from analyzer.service.export import export_measurement

    settings = Settings(prometheus_url=backfilled.url, database_url=database_url)
    clock = Clock(backfilled.start + 15 * STEP + 30)
    live = analyse(make_analyzer(settings, clock), "http", _target(backfilled, "latency"))
    assert live.window is not None
    exported = export_measurement(
        settings,
        "http",
        _target(backfilled, "latency"),
        datetime.fromtimestamp(live.window.start, UTC),
        datetime.fromtimestamp(live.window.end, UTC),
    )
    offline = analyzer.judge(exported)
    assert offline.input_digest == live.judgment.input_digest
    assert offline.verdict == live.judgment.verdict


def test_export_writes_the_per_pod_breakdown(backfilled, tmp_path):
    """The exported file carries ``pods`` (the shape other tools produce too), and reads back unchanged."""
    from datetime import UTC, datetime

    from analyzer.service.export import export_measurement
    from analyzer.sources.file import parse_measurement

    settings = Settings(prometheus_url=backfilled.url, database_url=f"sqlite:///{tmp_path / 'l.db'}")
    start = datetime.fromtimestamp(backfilled.start, UTC)
    end = datetime.fromtimestamp(backfilled.start + 10 * STEP, UTC)
    exported = export_measurement(settings, "http", _target(backfilled, "errors"), start, end)
    text = exported.model_dump_json()
    document = json.loads(text)
    deployment = backfilled.deployments["errors"]
    for name in ("error-rate", "latency"):
        pods = document["metrics"][name]["pods"]
        assert sorted(pods["canary"]) == deployment.pod_names("canary")
        assert sorted(pods["stable"]) == deployment.pod_names("stable")
    assert len(document["metrics"]["error-rate"]["pods"]["canary"][deployment.pod_names("canary")[0]]["total"]) == 10
    assert parse_measurement(text, "exported") == exported


def test_stage_slo_reads_the_stable_pods_from_prometheus(backfilled, tmp_path):
    from analyzer.promotion.stages import RolloutTarget, Stage
    from analyzer.service.slo import stage_slo

    settings = Settings(prometheus_url=backfilled.url, database_url=f"sqlite:///{tmp_path / 'l.db'}")
    analyzer = make_analyzer(settings, Clock(backfilled.start + 20 * STEP + 5))
    stage = Stage(name="V2", rollout=RolloutTarget(namespace="errors", name="checkout"))
    assert stage_slo(stage, analyzer)["status"] == "unknown"  # no judgment yet: hashes unknown
    analyse(analyzer, "http", _target(backfilled, "errors"))
    reading = stage_slo(stage, analyzer)
    assert reading["pod_template_hash"] == backfilled.deployments["errors"].stable_hash
    assert 0.005 < reading["error_rate"] < 0.02 and 0.1 < reading["p95_seconds"] < 0.3
    assert reading["status"] in {"ok", "warning"}
    analyzer.clock = Clock(backfilled.start + (STEPS + 5) * STEP + 5)  # 5 of the 10 minutes read have data
    stale = stage_slo(stage, analyzer)
    assert stale["status"] == "unknown" and stale["error_rate"] is None and stale["p95_seconds"] is None
    assert "stale" in stale["reason"]


def test_a_step_start_read_once_is_remembered_and_lets_the_step_pass_without_the_store(backfilled, tmp_path):
    """A step's first look never changes once recorded: the process reads it once, and a look of that step
    while the database is locked judges its pass evidence from it (not recorded, and saying so); a step whose
    first look the store could not record cannot pass."""
    import sqlite3

    import analyzer.service.analysis as analysis
    from analyzer.store import windows

    settings = Settings(prometheus_url=backfilled.url, database_url=f"sqlite:///{tmp_path / 'ledger.db'}",
                        look_deadline_seconds=3)
    clock = Clock(backfilled.start + 3 * STEP + 30)
    replica, target = make_analyzer(settings, clock), _target(backfilled, "healthy")
    first = analyse(replica, "http", target, step_index=1)
    assert first.recorded and first.judgment.verdict == "inconclusive"
    clock.advance((STEPS - 4) * STEP)
    reads = []
    original = windows.step_first_look
    analysis.step_first_look = lambda *args: reads.append(args) or original(*args)  # type: ignore[assignment]
    try:
        assert analyse(replica, "http", target, step_index=1).judgment.verdict == "pass" and not reads
        holder = sqlite3.connect(tmp_path / "ledger.db", timeout=0)
        holder.execute("BEGIN EXCLUSIVE")
        try:
            remembered = analyse(replica, "http", target, step_index=1)
            unknown = analyse(replica, "http", target, step_index=2)  # the first look of step 2
        finally:
            holder.rollback()
            holder.close()
    finally:
        analysis.step_first_look = original
    assert not remembered.recorded and remembered.judgment.verdict == "pass", remembered.judgment.reasons
    assert "no pass before the database is back" not in remembered.judgment.reasons[0]
    assert not unknown.recorded and unknown.judgment.verdict == "inconclusive"
    assert "no pass before the database is back" in unknown.judgment.reasons[0]
