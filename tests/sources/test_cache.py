"""Incremental looks on a real Prometheus: a cached look and a full look give the same judgment, look after look.

The canary's data is written so that every reason a kept window could go wrong happens during the
looks: a stable pod's counters reset at step 12, a canary pod appears at step 18, and the stable's
samples after step 28 arrive late (a second block, loaded by restarting Prometheus on the same port
while the service's cache is kept).
"""

from __future__ import annotations

import re
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import numpy as np
import pytest
from prometheus_client import REGISTRY

from analyzer.config import load_query_profile
from analyzer.judging import judge
from analyzer.model import Judgment
from analyzer.sources.assemble import Fetched
from analyzer.sources.cache import CachePolicy, _agrees, _merged
from analyzer.sources.grid import Grid
from analyzer.sources.prometheus import PrometheusSource, Window
from analyzer.sources.queries import Target
from analyzer.sources.simulate import FINE_BUCKETS, Latency, Scenario, simulate
from tests.support.openmetrics import Deployment, write_openmetrics
from tests.support.prometheus import backfill, free_port, prometheus

STEP = 60
STEPS = 30
RESET_STEP, NEW_POD_STEP, LATE_AFTER_STEP = 12, 18, 28
TARGET = Target(namespace="cache", rollout="checkout", canary="c0ffee1", stable="5ab1e22")
ADMIN = ("--web.enable-admin-api",)  # to delete samples that were kept (history changes)
_SAMPLE = re.compile(r"^(?P<series>\S+) (?P<value>\S+) (?P<ts>\d+)$")


@dataclass
class Data:
    start: int
    on_time: str  # OpenMetrics of everything but the late samples
    late: str  # the stable's samples after LATE_AFTER_STEP


def _data() -> Data:
    start = (int(time.time()) // 3600 - 3) * 3600
    scenario = Scenario(steps=STEPS, rps=100, canary_share=0.2, latency=Latency(0.08, 0.5), buckets=FINE_BUCKETS)
    deployment = Deployment(TARGET.namespace, TARGET.canary, TARGET.stable, simulate(scenario, seed=7), start,
                            idle=None)
    reset_pod, new_pod = deployment.pod_names("stable")[0], deployment.pod_names("canary")[1]
    reset_at, appears_at, late_after = (start + k * STEP for k in (RESET_STEP, NEW_POD_STEP, LATE_AFTER_STEP))
    on_time, late, base = [], [], {}
    for line in write_openmetrics([deployment]).splitlines():
        sample = _SAMPLE.match(line)
        if sample is None:
            on_time.append(line)
            continue
        series, value, ts = sample["series"], float(sample["value"]), int(sample["ts"])
        if f'pod="{new_pod}"' in series and ts < appears_at:
            continue
        if f'pod="{reset_pod}"' in series:
            if ts == reset_at:
                base[series] = value
            elif ts > reset_at:
                value -= base[series]  # the pod restarted: its counters begin again from 0
        text = f"{series} {value:.6f} {ts}"
        (late if f'"{TARGET.stable}"' in series and ts > late_after else on_time).append(text)
    header = [line for line in on_time if line.startswith("# TYPE")]
    return Data(start, "\n".join(on_time) + "\n", "\n".join([*header, *late, "# EOF", ""]))


class Server:
    """A real Prometheus over the on-time block, restarted on the same port (same URL) to load the late one."""

    def __init__(self, workdir: Path, data: Data) -> None:
        self.workdir, self.data, self.port, self.start = workdir, data, free_port(), data.start
        backfill(data.on_time, workdir / "data")
        self._running = prometheus(workdir, port=self.port, flags=ADMIN)
        self.url = self._running.__enter__()

    def restart_with_late_samples(self) -> None:
        self.stop()
        backfill(self.data.late, self.workdir / "data")
        self._running = prometheus(self.workdir, port=self.port, flags=ADMIN)
        assert self._running.__enter__() == self.url

    def stop(self) -> None:
        self._running.__exit__(None, None, None)


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    running = Server(tmp_path_factory.mktemp("cache-prometheus"), _data())
    try:
        yield running
    finally:
        running.stop()


def _outcomes() -> dict[str, float]:
    samples = REGISTRY.get_sample_value
    names = ("incremental", "new", "refresh", "gap", "changed", "partial")
    return {n: samples("canary_analyzer_window_cache_looks_total", {"outcome": n}) or 0.0 for n in names}


def _judged(fetched: Fetched) -> Judgment:
    return judge(fetched.measurement, load_query_profile("http").policy, unavailable=fetched.unavailable)


def _look(cached: PrometheusSource, full: PrometheusSource, window: Window) -> tuple[Fetched, Judgment]:
    """The same look through the cache and in full: the same measurement, digest and judgment."""
    profile = load_query_profile("http")
    through_cache, whole = cached.fetch(profile, TARGET, window), full.fetch(profile, TARGET, window)
    assert through_cache.measurement == whole.measurement, window
    assert through_cache.unavailable == whole.unavailable and through_cache.notes == whole.notes
    judgment, expected = _judged(through_cache), _judged(whole)
    assert judgment.input_digest == expected.input_digest
    assert judgment.model_dump() == expected.model_dump()
    return through_cache, judgment


def _window(server: Server, steps: int) -> Window:
    return Window(start=server.start, end=server.start + steps * STEP, step=STEP)


def _resets(url: str, at: int) -> float:
    query = f'sum(resets(http_requests_total{{rollouts_pod_template_hash="{TARGET.stable}"}}[{STEPS * STEP}s]))'
    answer = httpx.get(f"{url}/api/v1/query", params={"query": query, "time": str(at)}).json()
    return float(answer["data"]["result"][0]["value"][1]) if answer["data"]["result"] else 0.0


def test_a_cached_look_judges_like_a_full_look_through_a_reset_a_new_pod_and_late_samples(server):
    cached = PrometheusSource(server.url, cache=CachePolicy(reread_steps=3, refresh_looks=1000))
    full = PrometheusSource(server.url)
    assert _resets(server.url, server.start + STEPS * STEP) > 0  # the data does hold a counter reset
    before = _outcomes()
    looks = [_look(cached, full, _window(server, steps))[0] for steps in range(6, STEPS + 1)]
    counted = {k: v - before[k] for k, v in _outcomes().items()}
    assert counted["new"] == 1 and counted["changed"] == 1  # the new pod's series: the whole window again
    assert counted["incremental"] == STEPS - 6 - 1
    # Each incremental look read its 3 re-read steps and its new one, and built (and validated) only its new
    # step onto the last look's: the re-read steps came back as they were.
    incremental = [(look.read_from, look.fresh_from) == (steps - 1 - 3, steps - 1)
                   for look, steps in zip(looks, range(6, STEPS + 1), strict=True)]
    assert sum(incremental) == counted["incremental"]
    assert all(look.fresh_from == 0 for look, kept in zip(looks, incremental, strict=True) if not kept)
    pods = _look(cached, full, _window(server, STEPS))[0].measurement.metrics["error-rate"].pods
    assert pods is not None and len(pods.canary) == 2

    stale, _ = _look(cached, full, _window(server, STEPS))
    assert sum(stale.measurement.metrics["error-rate"].stable.total[LATE_AFTER_STEP:]) == 0  # not in yet
    narrow = PrometheusSource(server.url, cache=CachePolicy(reread_steps=2, refresh_looks=1000))
    _look(narrow, full, _window(server, STEPS))
    server.restart_with_late_samples()
    before = _outcomes()
    fresh, judgment = _look(cached, full, _window(server, STEPS))
    assert _outcomes()["incremental"] - before["incremental"] == 1  # the late samples came in the re-read steps
    assert min(fresh.measurement.metrics["error-rate"].stable.total[LATE_AFTER_STEP:]) > 0
    assert fresh.unavailable == {} and judgment.steps == STEPS
    assert fresh.read_from < fresh.fresh_from == LATE_AFTER_STEP  # built again from the first late step on
    # Re-reading only 2 steps, the oldest re-read one (step 29) changed: history differs, the whole window again.
    _look(narrow, full, _window(server, STEPS))
    assert _outcomes()["changed"] - before["changed"] == 1
    for source in (cached, narrow, full):
        source.close()


def test_a_look_that_finds_its_window_as_the_last_look_left_it_gets_that_look_s_measurement(server):
    """Nothing new and nothing changed in the re-read steps: no step to build, the very measurement object of
    the last look (which the service knows by identity), and the same answer as a full look."""
    cached, full = PrometheusSource(server.url, cache=CachePolicy(reread_steps=3)), PrometheusSource(server.url)
    first, _ = _look(cached, full, _window(server, 20))
    again, _ = _look(cached, full, _window(server, 20))
    assert again.measurement is first.measurement and (again.read_from, again.fresh_from) == (17, 20)
    assert again.notes == first.notes and again.notes is not first.notes  # the lists are the caller's own
    grown, _ = _look(cached, full, _window(server, 21))
    assert grown.measurement is not first.measurement and (grown.read_from, grown.fresh_from) == (17, 20)
    cached.close()
    full.close()


def test_every_doubt_is_a_full_fetch_with_the_same_answer(server):
    policy = CachePolicy(reread_steps=2, refresh_looks=3, max_new_steps=4)
    cached, full = PrometheusSource(server.url, cache=policy), PrometheusSource(server.url)
    before = _outcomes()
    for steps in (20, 21, 22, 23, 24):  # new, incremental, incremental, refresh (3 looks), incremental
        _look(cached, full, _window(server, steps))
    _look(cached, full, _window(server, 29))  # 5 new steps: a gap
    _look(cached, full, _window(server, 25))  # a shorter window
    counted = {k: v - before[k] for k, v in _outcomes().items()}
    assert counted == {"incremental": 3, "new": 1, "refresh": 1, "gap": 2, "changed": 0, "partial": 0}
    moved = Window(start=server.start + STEP, end=server.start + 25 * STEP, step=STEP)
    _look(cached, full, moved)  # another start is another window
    assert _outcomes()["new"] - before["new"] == 2
    cached.close()
    full.close()


def test_memory_stays_within_its_bounds(server):
    profile = load_query_profile("http")
    one = PrometheusSource(server.url, cache=CachePolicy(max_entries=1))
    for offset in range(3):
        one.fetch(profile, TARGET, Window(start=server.start + offset * STEP, end=server.start + 20 * STEP, step=STEP))
    assert one.cache is not None and len(one.cache) == 1
    tiny = PrometheusSource(server.url, cache=CachePolicy(max_bytes=10_000))  # less than one window
    tiny.fetch(profile, TARGET, _window(server, 20))
    assert tiny.cache is not None and len(tiny.cache) == 0 and tiny.cache.nbytes == 0
    sized = PrometheusSource(server.url, cache=CachePolicy())
    sized.fetch(profile, TARGET, _window(server, 20))
    assert sized.cache is not None and 0 < sized.cache.nbytes < 2**20
    for source in (one, tiny, sized):
        source.close()


def test_a_profile_change_is_another_key(server):
    source = PrometheusSource(server.url, cache=CachePolicy())
    profile = load_query_profile("http")
    other = profile.model_copy(update={"step_seconds": 120})
    source.fetch(profile, TARGET, _window(server, 20))
    fetched = source.fetch(other, TARGET, Window(start=server.start, end=server.start + 10 * 120, step=120))
    assert source.cache is not None and len(source.cache) == 2
    assert len(fetched.measurement.metrics["error-rate"].canary.total) == 10
    source.close()


def test_a_long_window_s_refresh_re_reads_a_slice_at_a_time_and_finds_history_changed(server):
    """Past ``refresh_steps`` kept steps, each periodic refresh re-reads the next slice of them beside the newest
    steps (round robin), not the whole window; a slice that differs from what was kept is a full fetch."""
    policy = CachePolicy(reread_steps=2, refresh_looks=2, refresh_steps=4)
    cached, full = PrometheusSource(server.url, cache=policy), PrometheusSource(server.url)
    fetched: list[Window] = []
    original = cached._range

    def spy(query: str, window: Window, deadline: object) -> object:
        fetched.append(window)
        return original(query, window, deadline)

    cached._range = spy  # type: ignore[method-assign]
    before = _outcomes()
    slices = []
    for steps in range(NEW_POD_STEP + 2, NEW_POD_STEP + 10):  # the new pod's series are there from the first look
        seen, window = len(fetched), _window(server, steps)
        _look(cached, full, window)
        slices += [((w.start - server.start) // STEP, w.steps) for w in fetched[seen:] if w.end < window.end]
    counted = {k: v - before[k] for k, v in _outcomes().items()}
    assert counted == {"incremental": 7, "new": 1, "refresh": 0, "gap": 0, "changed": 0, "partial": 0}
    assert slices == [(0, 4), (4, 4), (8, 4)]  # every other look, the next 4 kept steps
    # Samples of kept steps 12 and 13, older than the re-read steps, are deleted: the next slice finds it.
    deleted = httpx.post(f"{server.url}/api/v1/admin/tsdb/delete_series", params={
        "match[]": '{pod="checkout-c0ffee1-p0"}', "start": str(server.start + 12 * STEP + 1),
        "end": str(server.start + 14 * STEP),
    })
    assert deleted.status_code == 204, deleted.text
    before = _outcomes()
    fetched, _ = _look(cached, full, _window(server, NEW_POD_STEP + 10))
    assert _outcomes()["changed"] - before["changed"] == 1
    assert fetched.measurement.metrics["error-rate"].pods.canary["checkout-c0ffee1-p0"].total[12:14] == [0, 0]
    cached.close()
    full.close()


def test_samples_deleted_from_kept_steps_are_a_full_fetch(server):
    """A kept series whose re-read steps are gone from Prometheus (deleted here through the admin API)."""
    cached, full = PrometheusSource(server.url, cache=CachePolicy()), PrometheusSource(server.url)
    _look(cached, full, _window(server, 26))
    _look(cached, full, _window(server, 27))
    pod = "checkout-5ab1e22-p2"
    deleted = httpx.post(f"{server.url}/api/v1/admin/tsdb/delete_series", params={
        "match[]": f'{{pod="{pod}"}}', "start": str(server.start + 24 * STEP + 1), "end": str(server.start + 40 * STEP),
    })
    assert deleted.status_code == 204, deleted.text
    before = _outcomes()
    fetched, _ = _look(cached, full, _window(server, 27))
    assert _outcomes()["changed"] - before["changed"] == 1
    pods = fetched.measurement.metrics["error-rate"].pods
    assert pods is not None and sum(pods.stable[pod].total[25:]) == 0
    cached.close()
    full.close()


def _grid(labels: list[dict[str, str]], values: np.ndarray) -> Grid:
    return Grid(labels, values, values > 0)


def test_a_merge_finds_each_series_by_its_labels_whatever_the_answer_s_order():
    labels = [{"pod": p} for p in "abc"]
    kept = _grid(labels, np.arange(1.0, 16.0).reshape(3, 5))
    fresh = _grid([labels[2], labels[0]], np.array([[15.0, 9.0, 9.0], [5.0, 7.0, 7.0]]))  # no "b": gone
    assert _merged(kept, 4, fresh) is None  # "b" had a sample at step 4, which the answer lacks
    fresh = _grid([dict(labels[2]), dict(labels[0]), dict(labels[1])],
                  np.array([[15.0, 9.0], [5.0, 7.0], [10.0, 8.0]]))
    merged = _merged(kept, 4, fresh)
    assert merged is not None and merged.labels is kept.labels
    assert merged.values.tolist() == [[1, 2, 3, 4, 5, 7], [6, 7, 8, 9, 10, 8], [11, 12, 13, 14, 15, 9]]
    assert _merged(kept, 4, _grid(fresh.labels, fresh.values + np.array([[0.5], [0], [0]]))) is None  # step 4 changed
    assert _agrees(kept, 1, _grid(fresh.labels, kept.values[[2, 0, 1], 1:3]))
    assert not _agrees(kept, 1, _grid(fresh.labels, kept.values[[2, 0, 1], 2:4]))
    assert not _agrees(kept, 1, _grid([*fresh.labels, {"pod": "d"}], np.ones((4, 2))))  # a series not kept
