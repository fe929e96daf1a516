"""Looks that find their window as the last look left it: the same judgment without judging."""

from __future__ import annotations

import dataclasses

import pytest
from prometheus_client import REGISTRY
from sqlalchemy.exc import OperationalError

import analyzer.service.analysis as analysis
import analyzer.service.look_record as look_record
from analyzer.config import load_query_profile
from analyzer.judging import judge
from analyzer.model import Judgment
from analyzer.service.analysis import analyse
from analyzer.service.repeats import Inputs, Repeats
from analyzer.settings import Settings
from analyzer.sources.queries import Target
from analyzer.store import WindowKey
from analyzer.store.measurements import get_measurement
from tests.conftest import STEP
from tests.support.service import Clock, make_analyzer
from tests.support.stored import stored as stored_row

KEY = WindowKey("shop", "checkout", "http", "c0ffee", "5ab1e")
POLICY = load_query_profile("http").policy
INPUTS = Inputs(1_700_000_000, "sha256:aa", POLICY, (("errors", "partial"),), None)


def _judgment(reason: str) -> Judgment:
    return Judgment(verdict="inconclusive", score=50, steps=3, metrics=[], reasons=[reason], input_digest="sha256:aa")


def test_the_same_inputs_get_the_last_judgment_and_any_other_input_is_judged():
    repeats, calls = Repeats(), []

    def judged(inputs: Inputs, key: WindowKey = KEY) -> Judgment:
        before = len(calls)
        judgment, repeated = repeats.judged(
            key, inputs, lambda: calls.append(inputs) or _judgment(f"look {len(calls)}")
        )
        assert repeated == (len(calls) == before)  # said repeated exactly when not judged
        return judgment

    first = judged(INPUTS)
    assert judged(dataclasses.replace(INPUTS)) is first and len(calls) == 1  # equal, not the same object
    others = {
        "window_start": INPUTS.window_start + STEP,
        "digest": "sha256:bb",
        "policy": POLICY.model_copy(update={"alpha_fail": POLICY.alpha_fail / 2}),
        "unavailable": (),
        "pass_from": 4,
    }
    for field, value in others.items():
        changed = dataclasses.replace(INPUTS, **{field: value})
        assert judged(changed) is not first, field
    assert len(calls) == 1 + len(others)
    assert judged(INPUTS, WindowKey("shop", "other", "http", "c0ffee", "5ab1e")).reasons == ["look 7"]
    # A step's analysis and the background analysis of one window keep a judgment each.
    assert judged(dataclasses.replace(INPUTS, pass_from=4)).reasons == ["look 6"]
    assert judged(dataclasses.replace(INPUTS, unavailable=())).reasons == ["look 5"]
    assert judged(INPUTS).reasons == ["look 8"]  # only the last judgment of each is kept


def test_the_last_judgments_are_bounded():
    repeats, calls = Repeats(max_windows=2), []
    keys = [WindowKey("shop", f"r{i}", "http", "c0ffee", "5ab1e") for i in range(3)]
    for key in [*keys, keys[0]]:
        assert not repeats.judged(key, INPUTS, lambda: calls.append(1) or _judgment("judged"))[1]
    assert len(calls) == 4  # the first window was forgotten when the third came


@pytest.fixture
def counted(monkeypatch):
    """How often a look judged and how often it wrote its window's counts."""
    calls = {"judge": 0, "counts": 0}

    def judging(*args, **kwargs):
        calls["judge"] += 1
        return judge(*args, **kwargs)

    def writing(session, stored):
        calls["counts"] += 1
        return save(session, stored)

    save = look_record.save_measurement
    monkeypatch.setattr(analysis, "judge", judging)
    monkeypatch.setattr(look_record, "save_measurement", writing)
    return calls


@pytest.fixture
def chunks(monkeypatch):
    """The chunks each look's counts wrote."""
    written: list[list[int]] = []

    def wrapped(name):
        save = getattr(look_record, name)

        def writing(session, stored):
            if name == "save_measurement":
                written.append([])  # a look's first write
            written[-1].extend(sorted(stored.chunks))
            return save(session, stored)

        monkeypatch.setattr(look_record, name, writing)

    wrapped("save_measurement")
    wrapped("save_chunks")
    return written


def _repeated() -> float:
    return REGISTRY.get_sample_value("canary_analyzer_judgments_repeated_total", {"profile": "http"}) or 0.0


def _target(backfilled, scenario: str) -> Target:
    args = backfilled.args(scenario)
    return Target(namespace=args["namespace"], rollout=args["rollout"], canary=args["canary"], stable=args["stable"])


def test_a_repeated_look_on_the_real_prometheus_answers_as_a_fresh_replica_would(backfilled, database_url, counted):
    """Looks within one step: judged once, each recorded with its counts, each answer what a replica that
    never saw the window answers; the next step is judged again, and so is a step's own analysis."""
    settings = Settings(prometheus_url=backfilled.url, database_url=database_url)
    clock = Clock(backfilled.start + 14 * STEP + 10)
    replica, target = make_analyzer(settings, clock), _target(backfilled, "latency")
    repeated_before = _repeated()
    first = analyse(replica, "http", target)
    clock.advance(20)
    again = analyse(replica, "http", target)
    assert counted == {"judge": 1, "counts": 2} and _repeated() == repeated_before + 1
    fresh = analyse(make_analyzer(settings, clock), "http", target)
    assert again.judgment == first.judgment == fresh.judgment
    assert again.record.id != first.record.id and again.recorded
    stepped = analyse(replica, "http", target, step_index=2)
    assert counted == {"judge": 3, "counts": 4}  # the fresh replica judged; the step's analysis has its own pass start
    clock.advance(STEP)
    later = analyse(replica, "http", target)
    assert counted == {"judge": 4, "counts": 5} and later.judgment.steps == first.judgment.steps + 1
    with replica.database.session() as session:
        from analyzer.store import JudgmentFilter
        from analyzer.store.judgments import list_judgments

        found = list_judgments(session, JudgmentFilter(namespace=target.namespace, limit=100))
    assert {first.record.id, again.record.id, stepped.record.id, later.record.id} <= {r.id for r in found}


def test_a_repeated_look_after_a_failed_store_is_recorded_with_its_counts(
    backfilled, database_url, counted, monkeypatch
):
    settings = Settings(prometheus_url=backfilled.url, database_url=database_url)
    clock = Clock(backfilled.start + 14 * STEP + 10)
    replica, target = make_analyzer(settings, clock), _target(backfilled, "latency")
    save = look_record.save_judgment

    def failing(session, record):
        raise OperationalError("INSERT", {}, Exception("disk I/O error"))

    monkeypatch.setattr(look_record, "save_judgment", failing)
    lost = analyse(replica, "http", target)
    assert not lost.recorded and counted == {"judge": 1, "counts": 1}  # written, then rolled back
    monkeypatch.setattr(look_record, "save_judgment", save)
    kept = analyse(replica, "http", target)
    assert kept.recorded and kept.judgment == lost.judgment.model_copy(update={"reasons": kept.judgment.reasons})
    assert counted == {"judge": 1, "counts": 2}
    key = WindowKey(target.namespace, target.rollout, "http", target.canary, target.stable)
    assert kept.window is not None
    with replica.database.session() as session:
        stored = get_measurement(session, key, kept.window.start)
    assert stored is not None and stored.steps == kept.judgment.steps


def test_a_repeated_look_sends_no_chunk_the_store_holds_from_its_measurement(backfilled, database_url, counted,
                                                                              chunks):
    """The window as the last look left it: the look asks the store which of its re-read chunks a measurement
    with its digest wrote and sends none of them; when another replica stored other counts there since (a late
    sample it saw), the look writes its own, and the store holds this look's counts after it, as after any."""
    from analyzer.model.steps import from_chunks
    from analyzer.service.reports import keep_measurement
    from analyzer.store.measurements import CHUNK_STEPS

    settings = Settings(prometheus_url=backfilled.url, database_url=database_url)
    clock = Clock(backfilled.start + 20 * STEP + 10)
    replica, target = make_analyzer(settings, clock), _target(backfilled, "latency")
    key = WindowKey(target.namespace, target.rollout, "http", target.canary, target.stable)
    first = analyse(replica, "http", target)
    clock.advance(20)
    again = analyse(replica, "http", target)
    assert first.window is not None and again.judgment == first.judgment
    steps = first.judgment.steps
    assert steps > CHUNK_STEPS and chunks == [list(range(-(-steps // CHUNK_STEPS))), []]
    with replica.database.session() as session:
        stored = get_measurement(session, key, first.window.start)
    assert stored is not None
    ours = from_chunks(stored.chunks, CHUNK_STEPS, steps)
    other = ours.head(steps)  # another replica's look of as many steps, one more request in the newest step
    metric = other.metrics["latency"]
    buckets = [list(row) for row in metric.canary]  # type: ignore[union-attr]
    buckets[-1] = [count + 1 for count in buckets[-1]]
    late = metric.model_copy(update={"canary": buckets})
    other = other.model_copy(update={"metrics": {**other.metrics, "latency": late}})
    written = stored_row(key, first.window.start, other, POLICY, {}, stored.updated_at, steps - 1)
    keep_measurement(replica.database, written)
    clock.advance(10)
    third = analyse(replica, "http", target)
    assert third.judgment == first.judgment and counted["judge"] == 1
    assert chunks[-1] == [(steps - 1) // CHUNK_STEPS]  # the chunk the other replica rewrote
    with replica.database.session() as session:
        after = get_measurement(session, key, first.window.start)
    assert after is not None and from_chunks(after.chunks, CHUNK_STEPS, steps) == ours


def test_a_measurement_s_digest_is_known_by_identity_and_held_weakly():
    """The same object: the kept digest (not hashed again); an equal copy: hashed; and the measurement is not
    kept alive by it (the window cache alone decides how long one lives)."""
    import gc
    import weakref

    import analyzer.service.repeats as repeats
    from analyzer.judging.digest import measurement_digest
    from analyzer.service.offline import Regression, demo_scenario
    from analyzer.sources.simulate import simulate

    hashed: list[object] = []
    digests = repeats.Digests()
    measurement = simulate(demo_scenario(Regression.ERRORS, 20), 7)
    original = repeats.measurement_digest
    try:
        repeats.measurement_digest = lambda m: hashed.append(m) or original(m)  # type: ignore[assignment]
        digest = digests.of(KEY, 1, measurement)
        assert digest == measurement_digest(measurement) and len(hashed) == 1
        assert digests.of(KEY, 1, measurement) == digest and len(hashed) == 1
        assert digests.of(KEY, 1, measurement.model_copy(deep=True)) == digest and len(hashed) == 2
        assert digests.of(KEY, 2, measurement) == digest and len(hashed) == 3  # another window start
    finally:
        repeats.measurement_digest = original  # type: ignore[assignment]
    alive = weakref.ref(measurement)
    hashed.clear()  # it held the measurement too
    del measurement
    gc.collect()
    assert alive() is None
