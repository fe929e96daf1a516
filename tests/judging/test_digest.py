"""The measurement digest is its definition's sha256, whatever the last look kept; old JSON digests still check."""

import hashlib
import json
import types

import numpy as np
import pytest

from analyzer.judging import kept_lists
from analyzer.judging.digest import digest_matches, json_digest, measurement_digest
from analyzer.judging.kept_lists import KeptLists
from analyzer.model import Measurement
from analyzer.model.steps import steps_between
from analyzer.sources.simulate import FINE_BUCKETS, Scenario, simulate

MARK = -1234567.25


def _per_step(metric: dict, found: list) -> dict:
    """The metric's JSON with each per-step list replaced by the marker, the lists appended to ``found``."""
    def arm(counts: dict) -> dict:
        found.extend([counts["total"], counts["events"]])
        return {**counts, "total": [MARK], "events": [MARK]}

    def rows(values: list) -> list:
        found.append(values)
        return [[MARK]]

    side = arm if metric["kind"] == "ratio" else rows
    marked = {**metric, "canary": side(metric["canary"]), "stable": side(metric["stable"])}
    if metric.get("pods") is not None:
        marked["pods"] = {s: {pod: side(v) for pod, v in metric["pods"][s].items()} for s in ("canary", "stable")}
    return marked


def _reference(measurement):
    """The digest's definition, from the JSON: skeletons and each list's sha256 of its float64 bytes."""
    h = hashlib.sha256(f"step_seconds={measurement.step_seconds!r}".encode())
    for name in sorted(measurement.metrics):
        metric = measurement.metrics[name]
        h.update(f"\n{name}=".encode())
        if metric.kind == "gauge":
            h.update(metric.model_dump_json().encode())
            continue
        lists: list = []
        skeleton = _per_step(json.loads(metric.model_dump_json()), lists)
        h.update(json.dumps(skeleton, separators=(",", ":")).encode())
        for values in lists:
            h.update(f"\n{len(values)}:".encode() + hashlib.sha256(np.asarray(values, dtype="<f8").tobytes()).digest())
    return "sha256-steps:" + h.hexdigest()


def _json_reference(measurement):
    """The earlier digest's definition: sha256 over step_seconds and each metric's model_dump_json, in name order."""
    h = hashlib.sha256(f"step_seconds={measurement.step_seconds!r}".encode())
    for name in sorted(measurement.metrics):
        h.update(f"\n{name}=".encode() + measurement.metrics[name].model_dump_json().encode())
    return "sha256:" + h.hexdigest()


@pytest.fixture(autouse=True)
def _empty():
    kept_lists.ARRAYS.clear()
    yield
    kept_lists.ARRAYS.clear()


SCENARIOS = [
    Scenario(steps=40),
    Scenario(steps=40, canary_pods=2, stable_pods=3, buckets=FINE_BUCKETS, metric_pairs=2),
    Scenario(steps=40, canary_pods=1, stable_pods=2, scrape_seconds=15.0, lazy_error_series=True),  # fractions
]


@pytest.mark.parametrize("scenario", SCENARIOS)
def test_growing_looks_with_late_samples_digest_as_defined(scenario):
    whole = simulate(scenario, seed=4)
    for k in range(scenario.steps + 1):
        look = steps_between(whole, 0, k)
        assert measurement_digest(look) == _reference(look)
        if k > 2:  # the newest step re-read: other values, then the final ones at the next look
            late = look.model_dump(mode="json")
            for metric in late["metrics"].values():
                if metric["kind"] == "ratio":
                    metric["canary"]["total"][-1] += 1.0
                else:
                    metric["stable"][-1] = [v + 1.0 for v in metric["stable"][-1]]
            late_look = Measurement.model_validate(late)
            assert measurement_digest(late_look) == _reference(late_look)


def test_integers_shorter_windows_gauges_and_other_metrics_under_one_name():
    arms = {"canary": {"total": [10, 20, 30], "events": [1, 2, 3]},
            "stable": {"total": [10, 20, 30], "events": [0, 0, 1]}}
    body = {"step_seconds": 60, "metrics": {"m": {"kind": "ratio", **arms}}}
    look = Measurement.model_validate(body)
    assert measurement_digest(look) == _reference(look)
    body["metrics"]["m"]["canary"]["total"] = [10, 20.5, 1e300]  # shorter prefix kept, huge floats
    look = Measurement.model_validate(body)
    assert measurement_digest(look) == _reference(look)
    short = steps_between(look, 0, 1)
    assert measurement_digest(short) == _reference(short)
    other = simulate(Scenario(steps=5, error_metric="m", latency_metric="n"), seed=1)
    assert measurement_digest(other) == _reference(other)
    body["metrics"]["cpu"] = {"kind": "gauge", "canary": {"a": [0.5, None, 1.0]}, "stable": {"b": [1, 2, None]}}
    with_gauge = Measurement.model_validate(body)
    assert measurement_digest(with_gauge) == _reference(with_gauge)


def test_counts_changed_in_place_after_their_digest_are_seen():
    look = simulate(Scenario(steps=10), seed=2)
    measurement_digest(look)
    look.metrics["error-rate"].canary.events[2] += 1.0  # models are frozen; their lists are not
    look.metrics["latency"].stable[3] = [v + 1.0 for v in look.metrics["latency"].stable[3]]
    assert measurement_digest(look) == _reference(look)


def test_another_layout_of_the_same_counts_digests_otherwise():
    look = simulate(Scenario(steps=6, canary_pods=2, stable_pods=2), seed=5)
    body = look.model_dump(mode="json")
    pods = body["metrics"]["error-rate"]["pods"]["canary"]
    pods["renamed"] = pods.pop(sorted(pods)[0])
    assert measurement_digest(Measurement.model_validate(body)) != measurement_digest(look)
    assert measurement_digest(steps_between(look, 0, 5)) != measurement_digest(look)


def test_the_kept_columns_stay_within_their_bound(monkeypatch):
    monkeypatch.setattr(kept_lists, "ARRAYS", KeptLists(200_000))
    for seed in range(5):
        look = simulate(Scenario(steps=30, buckets=FINE_BUCKETS), seed=seed)
        assert measurement_digest(look) == _reference(look)
        assert kept_lists.ARRAYS.held_bytes <= 200_000


def test_a_look_resumes_every_list_hash_from_the_last_look(monkeypatch):
    whole = simulate(Scenario(steps=30, canary_pods=2, stable_pods=3), seed=3)
    measurement_digest(steps_between(whole, 0, 29))
    started: list[bytes] = []

    def sha256(data=b""):
        started.append(data)
        return hashlib.sha256(data)

    monkeypatch.setattr(kept_lists, "hashlib", types.SimpleNamespace(sha256=sha256))  # the per-list hashes only
    look = steps_between(whole, 0, 30)
    assert measurement_digest(look) == _reference(look)
    assert started == []  # every list's hash went on from the last look's state after its 29 steps
    kept_lists.ARRAYS.clear()
    assert measurement_digest(look) == _reference(look)
    assert len(started) == (2 + 5) * 2 + (2 + 5)  # from scratch: every list (2 arms, 5 pods; a ratio has 2 a pod)


def test_both_forms_check_against_the_counts():
    look = simulate(Scenario(steps=12, canary_pods=2, stable_pods=3), seed=6)
    assert json_digest(look) == _json_reference(look)
    revised = look.model_dump(mode="json")
    revised["metrics"]["error-rate"]["stable"]["total"][4] += 1.0
    revised = Measurement.model_validate(revised)
    for digest in (measurement_digest(look), json_digest(look)):
        assert digest_matches(look, digest)
        assert not digest_matches(revised, digest)
    assert not digest_matches(look, "md5:" + json_digest(look).split(":")[1])
