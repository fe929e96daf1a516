"""Measurements: PromQL's artefacts are accepted (and sorted); broken data is refused with a message
that names the field and the step."""

import pytest
from pydantic import ValidationError

import analyzer
from analyzer.errors import describe
from analyzer.model import ARTEFACT_SLACK, POD_SUM_SLACK, Measurement, Policy

CANARY_POD, STABLE_POD = "checkout-5d8f7c9b7-x2kq", "checkout-6b9c4d4f8-a1b2"


def _ratio(canary_events=(6, 9), canary_total=(600, 612), stable=((50, 57), (5400, 5390)), pods=None):
    metric = {
        "kind": "ratio",
        "canary": {"total": list(canary_total), "events": list(canary_events)},
        "stable": {"total": list(stable[1]), "events": list(stable[0])},
    }
    if pods is not None:
        metric["pods"] = pods
    return {"metrics": {"error-rate": metric}}


def _histogram(canary=None, le=(0.05, 0.1, "+Inf"), stable=None, pods=None):
    metric = {
        "kind": "histogram",
        "le": list(le),
        "canary": canary if canary is not None else [[1, 2, 3]],
        "stable": stable if stable is not None else [[1, 2, 3]],
    }
    if pods is not None:
        metric["pods"] = pods
    return {"metrics": {"latency": metric}}


def _ratio_pods(canary=((600, 612), (6, 9)), stable=((5400, 5390), (50, 57))):
    """One pod per arm, by default holding exactly the arm's counts of :func:`_ratio`."""
    return {
        arm: {pod: {"total": list(total), "events": list(events)}}
        for arm, pod, (total, events) in (("canary", CANARY_POD, canary), ("stable", STABLE_POD, stable))
    }


def _error(data):
    with pytest.raises(ValidationError) as info:
        Measurement.model_validate(data)
    return describe(info.value, "m")


def _over_total(total, beyond):
    """Events just within (``beyond`` False) or just beyond the extrapolation slack over ``total``."""
    relative, absolute = ARTEFACT_SLACK
    return total * (1 + relative) + absolute + (0.01 if beyond else -0.01)


@pytest.mark.parametrize(
    ("data", "expected"),
    [
        (_ratio(canary_events=(6,)), "metrics.error-rate.canary: total has 2 steps but events has 1"),
        (
            _ratio(canary_events=(6, -2)),
            "metrics.error-rate.canary.events[1] (step 1): Input should be greater",
        ),
        (_ratio(canary_total=(600, -1)), "metrics.error-rate.canary.total[1] (step 1): Input should be greater"),
        (
            _ratio(canary_events=(6, _over_total(612, beyond=True))),
            "metrics.error-rate.canary: step 1: events (923.01) exceed total (612) by more than",
        ),
        (_ratio(canary_events=(6, float("nan"))), "events[1] (step 1): Input should be a finite number"),
        (_ratio(canary_total=(float("inf"), 612)), "total[0] (step 0): Input should be a finite number"),
        (_ratio(stable=((1,), (2,))), "canary has 2 steps but stable has 1"),
        (
            _histogram(canary=[[1, 30, 15]]),
            "metrics.latency: canary: step 0: buckets not cumulative: a bound below le=+Inf has 30 but le=+Inf has 15",
        ),
        (
            _histogram(canary=[[1, 2, 3]] * 2, stable=[[1, 2, 3], [100, 60, 200]]),
            "metrics.latency: stable: step 1: buckets not cumulative: a bound below le=0.1 has 100 but le=0.1 has 60",
        ),
        (_histogram(canary=[[float("nan"), 2, 3]]), "metrics.latency.canary[0][0] (step 0): Input should be a finite"),
        (_histogram(canary=[[1, 2, 3], [1, -2, 3]]), "metrics.latency.canary[1][1] (step 1): Input should be greater"),
        (_histogram(le=(0.05, 0.1, 1)), "le must end with '+Inf'"),
        (_histogram(le=(0.1, 0.1, "+Inf")), "le has the bound 0.1 twice"),
        (_histogram(le=(0.1, "+Inf", "0.1")), "le has the bound 0.1 twice"),
        (_histogram(le=("+Inf", "inf", 0.1)), "le has the bound +Inf twice"),
        (_histogram(canary=[[1, 2]]), "canary: step 0: 2 bucket counts for 3 le bounds"),
        (_histogram(le=("fast", 0.1, "+Inf")), "bucket bound 'fast' is not a number"),
        ({"metrics": {"x": {"kind": "summary"}}}, "metrics.x: Input tag 'summary'"),
    ],
)
def test_errors_name_field_and_step(data, expected):
    assert expected in _error(data)


def test_prometheus_le_spellings_and_round_trip():
    m = Measurement.model_validate(_histogram(le=("5e-2", "0.1", "+inf")))
    assert m.metrics["latency"].le[:2] == [0.05, 0.1]
    assert m.model_dump(mode="json")["metrics"]["latency"]["le"][-1] == "+Inf"
    assert Measurement.model_validate(m.model_dump(mode="json")) == m


def test_le_in_any_order_is_sorted_with_its_columns():
    """The Prometheus API returns ``le`` series in any order: bounds and every row's columns sort together."""
    m = Measurement.model_validate(
        _histogram(
            le=("+Inf", 0.05, "0.1"),
            canary=[[3, 1, 2], [30, 10, 20]],
            stable=[[6, 2, 4], [60, 20, 40]],
            pods={"canary": {CANARY_POD: [[3, 1, 2], [30, 10, 20]]}, "stable": {STABLE_POD: [[6, 2, 4], [60, 20, 40]]}},
        )
    )
    latency = m.metrics["latency"]
    assert latency.le == [0.05, 0.1, float("inf")]
    assert latency.canary == [[1, 2, 3], [10, 20, 30]] and latency.stable == [[2, 4, 6], [20, 40, 60]]
    assert latency.pods.canary[CANARY_POD] == latency.canary and latency.pods.stable[STABLE_POD] == latency.stable
    assert Measurement.model_validate_json(m.model_dump_json()) == m


def test_buckets_dipping_within_the_slack_are_accepted_as_promql_returns_them():
    """Buckets summed after per-series extrapolation may dip a little: the judge repairs them, as PromQL does."""
    m = Measurement.model_validate(_histogram(canary=[[10, 9.6, 20]], stable=[[10, 20, 19.5]]))
    assert m.metrics["latency"].canary == [[10, 9.6, 20]]
    relative, absolute = ARTEFACT_SLACK
    edge = (100 - absolute) / (1 + relative)  # the lowest count still within the slack below a bucket of 100
    Measurement.model_validate(_histogram(canary=[[100, edge + 0.01, 200]]))
    assert "step 0: buckets not cumulative" in _error(_histogram(canary=[[100, edge - 0.01, 200]]))


def test_events_over_total_within_the_slack_are_accepted():
    """Up to 50 % + 5 over total (errors and requests taken from different replicas of an HA pair)."""
    m = Measurement.model_validate(_ratio(canary_events=(1, _over_total(612, beyond=False)), canary_total=(0, 612)))
    assert m.metrics["error-rate"].canary.events[1] > m.metrics["error-rate"].canary.total[1]
    assert "step 0: events (5.02) exceed total (0)" in _error(_ratio(canary_events=(5.02, 9), canary_total=(0, 612)))


def test_extrapolated_non_integer_counts_are_accepted():
    m = Measurement.model_validate(_ratio(canary_events=(6.4, 9.02), canary_total=(600.5, 612.0)))
    assert m.metrics["error-rate"].steps == 2


# -- per-pod breakdown -------------------------------------------------------------------------


def test_a_per_pod_breakdown_that_sums_to_the_arms_is_accepted():
    stable = {
        "checkout-6b9c4d4f8-a1b2": {"total": [2700, 2695], "events": [24, 30]},
        "checkout-6b9c4d4f8-c3d4": {"total": [2700.4, 2695], "events": [26, 27.3]},  # within POD_SUM_SLACK
    }
    pods = {"canary": _ratio_pods()["canary"], "stable": stable}
    m = Measurement.model_validate(_ratio(pods=pods))
    assert set(m.metrics["error-rate"].pods.stable) == set(stable)
    histogram = _histogram(
        canary=[[100, 200, 300]], stable=[[10, 20, 30]], pods={"canary": {"a": [[40, 80, 120]], "b": [[60, 120, 180]]}}
    )
    assert set(Measurement.model_validate(histogram).metrics["latency"].pods.canary) == {"a", "b"}
    assert Measurement.model_validate(_ratio(pods={"stable": stable})).metrics["error-rate"].pods.canary == {}


def test_pod_sums_must_match_the_arm_naming_the_arm_field_and_step():
    relative, absolute = POD_SUM_SLACK
    off = 5390 * (1 + relative) + absolute + 1
    assert (
        f"metrics.error-rate: pods.stable: step 1: the pods' total sum to {off:g} but the stable arm has 5390"
        in _error(_ratio(pods=_ratio_pods(stable=((5400, off), (50, 57)))))
    )
    assert "pods.canary: step 0: the pods' events sum to 20 but the canary arm has 6" in _error(
        _ratio(pods=_ratio_pods(canary=((600, 612), (20, 9))))
    )
    histogram = _histogram(canary=[[100, 200, 300]], pods={"canary": {"a": [[40, 80, 120]], "b": [[40, 80, 120]]}})
    assert "metrics.latency: pods.canary: step 0: the pods' bucket counts sum to 80 but the canary arm has 100" in (
        _error(histogram)
    )


def test_pod_series_must_cover_every_step_of_the_arm():
    short = _ratio_pods(canary=((600,), (6,)))
    assert f"pods.canary.{CANARY_POD}: 1 steps but the arm has 2" in _error(_ratio(pods=short))
    rows = {"canary": {CANARY_POD: [[1, 2, 3]]}}
    assert f"pods.canary.{CANARY_POD}: 1 steps but the arm has 2" in _error(
        _histogram(canary=[[1, 2, 3]] * 2, stable=[[1, 2, 3]] * 2, pods=rows)
    )
    ragged = {"canary": {CANARY_POD: [[1, 2]]}}
    assert f"pods.canary.{CANARY_POD}: step 0: 2 bucket counts for 3 le bounds" in _error(_histogram(pods=ragged))


def test_pod_counts_are_checked_like_the_arms():
    nan = _ratio_pods(canary=((600, 612), (6, float("nan"))))
    assert f"metrics.error-rate.pods.canary.{CANARY_POD}.events[1] (step 1): Input should be a finite" in _error(
        _ratio(pods=nan)
    )
    negative = {"canary": {CANARY_POD: [[1, -2, 3]]}}
    assert f"metrics.latency.pods.canary.{CANARY_POD}[0][1] (step 0): Input should be greater" in _error(
        _histogram(pods=negative)
    )
    dipping = {"canary": {CANARY_POD: [[1, 30, 10]]}}
    assert f"pods.canary.{CANARY_POD}: step 0: buckets not cumulative" in _error(
        _histogram(canary=[[1, 30, 30]], pods=dipping)
    )
    over = _ratio_pods(canary=((600, 612), (6, 1000)))
    assert f"pods.canary.{CANARY_POD}: step 1: events (1000) exceed total (612)" in _error(_ratio(pods=over))


@pytest.mark.parametrize(("name", "expected"), [("bad/name", "should match pattern"), ("", "at least 1 character")])
def test_pod_names_are_validated(name, expected):
    pods = {"canary": {name: {"total": [600, 612], "events": [6, 9]}}}
    assert expected in _error(_ratio(pods=pods))


def test_unknown_pod_arms_are_refused():
    assert "pods.baseline: Extra inputs are not permitted" in _error(_ratio(pods={"baseline": {}}))


# -- the rest ------------------------------------------------------------------------------------


def test_policy_rejects_inverted_ratios():
    with pytest.raises(ValidationError, match="fail_ratio"):
        Policy.model_validate({"metrics": {"e": {"kind": "ratio", "fail_ratio": 2.0, "pass_ratio": 1.5}}})


def test_head_takes_a_prefix():
    m = Measurement.model_validate(_ratio())
    assert m.head(1).metrics["error-rate"].steps == 1


def test_head_keeps_the_pods():
    ratio = Measurement.model_validate(_ratio(pods=_ratio_pods())).head(1).metrics["error-rate"]
    assert ratio.pods.canary[CANARY_POD].total == [600] and ratio.pods.stable[STABLE_POD].events == [50]
    rows = [[1, 2, 3], [4, 5, 6]]
    histogram = Measurement.model_validate(
        _histogram(canary=rows, stable=rows, pods={"canary": {CANARY_POD: rows}, "stable": {STABLE_POD: rows}})
    )
    head = histogram.head(1).metrics["latency"]
    assert head.pods.canary[CANARY_POD] == [[1, 2, 3]] and head.pods.stable[STABLE_POD] == [[1, 2, 3]]


def test_no_metrics_at_all_is_no_data_never_a_pass():
    judgment = analyzer.judge({"metrics": {}})
    assert judgment.verdict == "inconclusive"
    assert {m.name for m in judgment.metrics} == {"error-rate", "latency"}
    assert all("no data" in m.reason for m in judgment.metrics)
