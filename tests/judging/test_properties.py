"""Property tests: odd but valid input never crashes and never yields a NaN verdict or score."""

import math

import hypothesis.strategies as st
from hypothesis import given, settings

import analyzer
from analyzer.model import Verdict

counts = st.floats(min_value=0, max_value=1e12, allow_nan=False, allow_infinity=False)


@st.composite
def ratio_measurements(draw):
    steps = draw(st.integers(min_value=0, max_value=12))
    arms = {}
    for arm in ("canary", "stable"):
        total = draw(st.lists(counts, min_size=steps, max_size=steps))
        events = [draw(st.floats(min_value=0, max_value=1)) * t for t in total]
        arms[arm] = {"total": total, "events": events}
    return {"step_seconds": 60, "metrics": {"error-rate": {"kind": "ratio", **arms}}}


@st.composite
def histogram_measurements(draw):
    steps = draw(st.integers(min_value=0, max_value=8))
    le = [0.05, 0.1, 0.25, 0.5, "+Inf"]

    def row():
        increments = draw(st.lists(st.integers(0, 10**9), min_size=5, max_size=5))
        out, acc = [], 0
        for inc in increments:
            acc += inc
            out.append(acc)
        return out

    return {
        "metrics": {
            "latency": {
                "kind": "histogram",
                "le": le,
                "canary": [row() for _ in range(steps)],
                "stable": [row() for _ in range(steps)],
            }
        }
    }


def _sane(judgment):
    assert judgment.verdict in set(Verdict)
    assert not math.isnan(judgment.score) and 0 <= judgment.score <= 100
    for metric in judgment.metrics:
        assert metric.e_value is None or not math.isnan(metric.e_value)
        assert metric.reason


@settings(max_examples=150, deadline=None)
@given(ratio_measurements())
def test_ratio_inputs_are_judged_sanely(data):
    _sane(analyzer.judge(data))


@settings(max_examples=100, deadline=None)
@given(histogram_measurements())
def test_histogram_inputs_are_judged_sanely(data):
    _sane(analyzer.judge(data))


@settings(max_examples=100, deadline=None)
@given(ratio_measurements())
def test_swapping_arms_inverts_the_estimate(data):
    """Canary and stable swapped: the ratio estimate becomes its reciprocal, and nothing crashes."""
    metric = data["metrics"]["error-rate"]
    swapped = {
        **data,
        "metrics": {"error-rate": {**metric, "canary": metric["stable"], "stable": metric["canary"]}},
    }
    a, b = (analyzer.judge(d).metrics[0].estimate.ratio for d in (data, swapped))
    if a is not None and b is not None and all(math.isfinite(v) and v > 1e-300 for v in (a, b)):
        assert math.isclose(a * b, 1.0, rel_tol=1e-9)


@settings(max_examples=60, deadline=None)
@given(ratio_measurements(), st.floats(min_value=1e-3, max_value=1e3))
def test_scaling_both_arms_keeps_the_estimate(data, factor):
    metric = data["metrics"]["error-rate"]
    scaled = {
        "metrics": {
            "error-rate": {
                "kind": "ratio",
                **{
                    arm: {k: [v * factor for v in metric[arm][k]] for k in ("total", "events")}
                    for arm in ("canary", "stable")
                },
            }
        }
    }
    a, b = analyzer.judge(data).metrics[0].estimate.ratio, analyzer.judge(scaled).metrics[0].estimate.ratio
    assert (a is None) == (b is None) or (a == 0 or b == 0)
    if a is not None and b is not None and a > 0:
        assert math.isclose(a, b, rel_tol=1e-6)


def test_zero_and_empty_steps_are_inconclusive():
    empty = {
        "metrics": {
            "error-rate": {
                "kind": "ratio",
                "canary": {"total": [], "events": []},
                "stable": {"total": [], "events": []},
            }
        }
    }
    zeros = {
        "metrics": {
            "error-rate": {
                "kind": "ratio",
                "canary": {"total": [0, 0], "events": [0, 0]},
                "stable": {"total": [0, 0], "events": [0, 0]},
            }
        }
    }
    for data in (empty, zeros):
        assert analyzer.judge(data).verdict is Verdict.INCONCLUSIVE


def test_huge_counts_are_finite():
    huge = {
        "metrics": {
            "error-rate": {
                "kind": "ratio",
                "canary": {"total": [1e15] * 5, "events": [3e13] * 5},
                "stable": {"total": [1e15] * 5, "events": [1e13] * 5},
            }
        }
    }
    judgment = analyzer.judge(huge)
    assert judgment.verdict is Verdict.FAIL
    assert math.isfinite(judgment.metrics[0].e_value)
