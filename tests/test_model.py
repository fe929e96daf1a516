"""Malformed measurements are rejected with a message that names the field and the step."""

import pytest
from pydantic import ValidationError

import analyzer
from analyzer.errors import describe
from analyzer.model import Measurement, Policy


def _ratio(canary_events=(6, 9), canary_total=(600, 612), stable=((50, 57), (5400, 5390))):
    return {
        "metrics": {
            "error-rate": {
                "kind": "ratio",
                "canary": {"total": list(canary_total), "events": list(canary_events)},
                "stable": {"total": list(stable[1]), "events": list(stable[0])},
            }
        }
    }


def _histogram(canary=None, le=(0.05, 0.1, "+Inf")):
    return {
        "metrics": {
            "latency": {
                "kind": "histogram",
                "le": list(le),
                "canary": canary if canary is not None else [[1, 2, 3]],
                "stable": [[1, 2, 3]],
            }
        }
    }


def _error(data):
    with pytest.raises(ValidationError) as info:
        Measurement.model_validate(data)
    return describe(info.value, "m")


@pytest.mark.parametrize(
    ("data", "expected"),
    [
        (_ratio(canary_events=(6,)), "metrics.error-rate.canary: total has 2 steps but events has 1"),
        (
            _ratio(canary_events=(6, -2)),
            "metrics.error-rate.canary.events[1] (step 1): Input should be greater",
        ),
        (_ratio(canary_events=(6, 700)), "step 1: events (700) exceed total (612)"),
        (_ratio(canary_events=(6, float("nan"))), "events[1] (step 1): Input should be a finite number"),
        (_ratio(stable=((1,), (2,))), "canary has 2 steps but stable has 1"),
        (
            _histogram(canary=[[1, 3, 2]]),
            "canary: step 0: buckets not cumulative: le=0.1 has 3 but le=+Inf has 2",
        ),
        (_histogram(le=(0.05, 0.1, 1)), "le must end with '+Inf'"),
        (_histogram(le=(0.1, 0.05, "+Inf")), "le must be strictly increasing"),
        (_histogram(canary=[[1, 2]]), "canary: step 0: 2 bucket counts for 3 le bounds"),
        (_histogram(le=("fast", 0.1, "+Inf")), "bucket bound 'fast' is not a number"),
        ({"metrics": {"x": {"kind": "gauge"}}}, "metrics.x: Input tag 'gauge'"),
    ],
)
def test_errors_name_field_and_step(data, expected):
    assert expected in _error(data)


def test_prometheus_le_spellings_and_round_trip():
    m = Measurement.model_validate(_histogram(le=("5e-2", "0.1", "+inf")))
    assert m.metrics["latency"].le[:2] == [0.05, 0.1]
    assert m.model_dump(mode="json")["metrics"]["latency"]["le"][-1] == "+Inf"
    assert Measurement.model_validate(m.model_dump(mode="json")) == m


def test_extrapolated_non_integer_counts_are_accepted():
    m = Measurement.model_validate(_ratio(canary_events=(6.4, 9.02), canary_total=(600.5, 612.0)))
    assert m.metrics["error-rate"].steps == 2


def test_policy_rejects_inverted_ratios():
    with pytest.raises(ValidationError, match="fail_ratio"):
        Policy.model_validate({"metrics": {"e": {"kind": "ratio", "fail_ratio": 2.0, "pass_ratio": 1.5}}})


def test_head_takes_a_prefix():
    m = Measurement.model_validate(_ratio())
    assert m.head(1).metrics["error-rate"].steps == 1


def test_no_metrics_at_all_is_no_data_never_a_pass():
    judgment = analyzer.judge({"metrics": {}})
    assert judgment.verdict == "inconclusive"
    assert {m.name for m in judgment.metrics} == {"error-rate", "latency"}
    assert all("no data" in m.reason for m in judgment.metrics)
