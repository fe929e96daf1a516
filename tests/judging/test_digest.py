"""The measurement digest is sha256 over the model's own JSON, to the byte, whatever the last look kept."""

import hashlib

import pytest

from analyzer.judging import digest
from analyzer.judging.digest import KEPT, measurement_digest
from analyzer.judging.kept_lists import KeptLists
from analyzer.model import Measurement
from analyzer.model.steps import steps_between
from analyzer.sources.simulate import FINE_BUCKETS, Scenario, simulate


def _reference(measurement):
    """The digest's definition: sha256 over step_seconds and each metric's model_dump_json, in name order."""
    h = hashlib.sha256(f"step_seconds={measurement.step_seconds!r}".encode())
    for name in sorted(measurement.metrics):
        h.update(f"\n{name}=".encode() + measurement.metrics[name].model_dump_json().encode())
    return "sha256:" + h.hexdigest()


@pytest.fixture(autouse=True)
def _empty():
    KEPT.clear()
    yield
    KEPT.clear()


SCENARIOS = [
    Scenario(steps=40),
    Scenario(steps=40, canary_pods=2, stable_pods=3, buckets=FINE_BUCKETS, metric_pairs=2),
    Scenario(steps=40, canary_pods=1, stable_pods=2, scrape_seconds=15.0, lazy_error_series=True),  # fractions
]


@pytest.mark.parametrize("scenario", SCENARIOS)
def test_growing_looks_with_late_samples_digest_as_the_json_does(scenario):
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


def test_integers_shorter_windows_and_other_metrics_under_one_name():
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


def test_counts_changed_in_place_after_their_digest_are_seen():
    look = simulate(Scenario(steps=10), seed=2)
    measurement_digest(look)
    look.metrics["error-rate"].canary.events[2] += 1.0  # models are frozen; their lists are not
    look.metrics["latency"].stable[3] = [v + 1.0 for v in look.metrics["latency"].stable[3]]
    assert measurement_digest(look) == _reference(look)


def test_the_kept_pieces_stay_within_their_bound(monkeypatch):
    monkeypatch.setattr(digest, "KEPT", KeptLists(20_000))
    for seed in range(5):
        look = simulate(Scenario(steps=30, buckets=FINE_BUCKETS), seed=seed)
        assert measurement_digest(look) == _reference(look)
        assert digest.KEPT.held_bytes <= 20_000


def test_a_look_dumps_only_what_the_last_look_did_not_hold(monkeypatch):
    whole = simulate(Scenario(steps=30, canary_pods=2, stable_pods=3), seed=3)
    measurement_digest(steps_between(whole, 0, 29))
    dumped = []
    for name in ("_ROWS", "_SCALARS"):
        adapter = getattr(digest, name)
        monkeypatch.setattr(digest, name, type("Spy", (), {"dump_json": lambda self, v, a=adapter: dumped.append(len(v))
                                                           or a.dump_json(v)})())
    look = steps_between(whole, 0, 30)
    assert measurement_digest(look) == _reference(look)
    assert dumped and set(dumped) == {1}  # the one new step of every per-step list
