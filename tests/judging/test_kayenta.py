"""The Kayenta-style judge answers every valid measurement: tied, constant, short or empty series
are Kayenta's Pass, Nodata or Error, never a traceback, and missing data never passes or fails."""

import math

import hypothesis.strategies as st
import numpy as np
from hypothesis import given, settings

from analyzer.judging import judge_kayenta
from analyzer.judging.kayenta import per_step_series
from analyzer.model import Measurement, Policy, Verdict

ERRORS_ONLY = Policy.model_validate({"warmup_steps": 0, "metrics": {"error-rate": {"kind": "ratio"}}})
LATENCY_ONLY = Policy.model_validate({"metrics": {"latency": {"kind": "histogram", "warmup_steps": 0}}})


def _ratio(canary_total, canary_events, stable_total, stable_events):
    return Measurement.model_validate(
        {
            "metrics": {
                "error-rate": {
                    "kind": "ratio",
                    "canary": {"total": list(canary_total), "events": list(canary_events)},
                    "stable": {"total": list(stable_total), "events": list(stable_events)},
                }
            }
        }
    )


def _only(judgment, name="error-rate"):
    return next(m for m in judgment.metrics if m.name == name)


def test_identical_tied_series_pass():
    """Identical sorted series (every step 1 %) are Kayenta's Pass, ties and all."""
    judgment = judge_kayenta(_ratio([100] * 6, [1] * 6, [1000] * 6, [10] * 6), ERRORS_ONLY)
    assert _only(judgment).label == "Pass" and judgment.verdict is Verdict.PASS and judgment.score == 100


def test_constant_but_different_series_get_kayentas_tiny_noise():
    """Both arms constant (2 % against 1 %): noise breaks the ties, and the shift is High."""
    judgment = judge_kayenta(_ratio([100] * 6, [2] * 6, [1000] * 6, [10] * 6), ERRORS_ONLY)
    assert _only(judgment).label == "High" and judgment.verdict is Verdict.FAIL


def test_one_step_series_are_an_error_not_counted_and_never_a_pass_or_fail():
    """One point per arm ties every rank: Kayenta's classifier throws, the label is Error (not critical)."""
    judgment = judge_kayenta(_ratio([600], [6], [5400], [50]), ERRORS_ONLY)
    metric = _only(judgment)
    assert metric.label == "Error" and "both samples are constant" in metric.reason
    assert metric.verdict is Verdict.INCONCLUSIVE and judgment.verdict is Verdict.INCONCLUSIVE
    assert judgment.score == 100  # Kayenta's own score leaves an Error out; the verdict does not pass on it
    assert "too few points" in judgment.reasons[0]


def test_two_points_per_arm_all_above_are_high_as_in_kayenta():
    """Kayenta's quirk on short series: the interval, out of the normal approximation's reach, is clamped."""
    judgment = judge_kayenta(_ratio([100] * 2, [3, 4], [1000] * 2, [10, 20]), ERRORS_ONLY)
    assert _only(judgment).label == "High" and "in [1, 3]" in _only(judgment).reason


def test_all_zero_error_series_are_one_distinct_value_and_pass():
    judgment = judge_kayenta(_ratio([100] * 4, [0] * 4, [900] * 4, [0] * 4), ERRORS_ONLY)
    assert _only(judgment).label == "Pass" and judgment.verdict is Verdict.PASS


def test_an_empty_arm_is_nodata_and_inconclusive_though_kayenta_scores_it_zero():
    """No canary requests at all: Nodata on a critical metric, which Kayenta scores 0 (a fail)."""
    for canary_total in ([0, 0, 0], []):
        stable = [900] * len(canary_total)
        judgment = judge_kayenta(_ratio(canary_total, [0] * len(canary_total), stable, stable), ERRORS_ONLY)
        metric = _only(judgment)
        assert metric.label == "Nodata" and "0 canary" in metric.reason
        assert judgment.verdict is Verdict.INCONCLUSIVE and judgment.score == 0


def test_a_policy_metric_absent_from_the_data_is_nodata():
    judgment = judge_kayenta(Measurement.model_validate({"metrics": {}}), Policy())
    assert {m.name: m.label for m in judgment.metrics} == {"error-rate": "Nodata", "latency": "Nodata"}
    assert judgment.verdict is Verdict.INCONCLUSIVE and judgment.steps == 0


def test_a_shown_regression_fails_even_while_another_metric_has_no_data():
    """Errors High on a critical metric fail the canary whatever the latency without data would show."""
    judgment = judge_kayenta(_ratio([100] * 6, [5, 6, 5, 7, 6, 5], [1000] * 6, [10] * 6), Policy(warmup_steps=0))
    assert _only(judgment).label == "High" and _only(judgment, "latency").label == "Nodata"
    assert judgment.verdict is Verdict.FAIL and "even if latency (Nodata) passed" in judgment.reasons[0]


def test_all_dry_run_metrics_decide_nothing():
    policy = Policy.model_validate({"warmup_steps": 0, "metrics": {"error-rate": {"kind": "ratio", "dry_run": True}}})
    judgment = judge_kayenta(_ratio([100] * 6, [1] * 6, [1000] * 6, [10] * 6), policy)
    assert judgment.verdict is Verdict.INCONCLUSIVE and "dry-run" in judgment.reasons[0]


def test_events_a_little_over_total_are_clipped_to_total():
    canary, _ = per_step_series(_ratio([10, 10], [10.5, 3], [10, 10], [1, 1]).metrics["error-rate"], 0.95)
    assert list(canary) == [100.0, 30.0]


def test_promql_bucket_artefacts_are_repaired_as_histogram_quantile_does():
    """Buckets that dip a little, ``le`` in any order: the quantiles are PromQL's, the judge answers."""
    rows = [[50, 49.6, 100], [50, 90, 100], [40, 80, 100], [60, 59.5, 100]]
    measurement = Measurement.model_validate(
        {
            "metrics": {
                "latency": {
                    "kind": "histogram",
                    "le": ["+Inf", 0.2, 0.1],
                    "canary": [[r[2], r[1], r[0]] for r in rows],
                    "stable": [[r[2], r[1], r[0]] for r in rows],
                }
            }
        }
    )
    canary, stable = per_step_series(measurement.metrics["latency"], 0.5)
    assert np.allclose(canary, [0.1, 0.1, 0.125, 0.1 * 50 / 60]) and np.array_equal(canary, stable)
    judgment = judge_kayenta(measurement, LATENCY_ONLY)
    assert _only(judgment, "latency").label == "Pass" and judgment.verdict is Verdict.PASS


# -- never raises ------------------------------------------------------------------------------

#: Few distinct values, so that ties, constant series and identical arms come up often.
small_counts = st.sampled_from([0.0, 1.0, 2.0, 3.0, 10.0, 100.5, 1000.0])
BOUNDS = (0.05, 0.1, 0.25, 1.0)


@st.composite
def _ratio_pod(draw, steps):
    total = draw(st.lists(small_counts, min_size=steps, max_size=steps))
    share = st.sampled_from([0.0, 0.01, 0.5, 1.0, 1.1])  # 1.1: events over total by extrapolation
    return {"total": total, "events": [t * draw(share) for t in total]}


@st.composite
def _histogram_pod(draw, steps, bounds):
    rows = []
    for _ in range(steps):
        row = np.cumsum(draw(st.lists(small_counts, min_size=len(bounds), max_size=len(bounds))))
        dip = draw(st.integers(0, len(bounds) - 1))
        row[dip] *= draw(st.sampled_from([1.0, 0.95]))  # a bucket a little below the one before it
        rows.append([float(v) for v in row])
    return rows


def _pods(draw, series):
    """One to three pods per arm, each drawn by ``series``."""
    return {arm: {f"{arm}-{i}": draw(series) for i in range(draw(st.integers(1, 3)))} for arm in ("canary", "stable")}


@st.composite
def measurements(draw):
    """Valid measurements with PromQL's artefacts, some with a per-pod breakdown (arms = sums over pods)."""
    steps = draw(st.integers(0, 5))
    metrics = {}
    if draw(st.booleans()):
        pods = _pods(draw, _ratio_pod(steps))
        arms = {
            arm: {key: np.sum([p[key] for p in by_pod.values()], axis=0).tolist() for key in ("total", "events")}
            for arm, by_pod in pods.items()
        }
        metrics["error-rate"] = {"kind": "ratio", **arms, **({"pods": pods} if draw(st.booleans()) else {})}
    if draw(st.booleans()):
        bounds = [*sorted(draw(st.sets(st.sampled_from(BOUNDS), min_size=1))), math.inf]
        order = draw(st.permutations(range(len(bounds))))  # le in any order, the columns with it

        def shuffled(rows):
            return [[row[i] for i in order] for row in rows]

        pods = _pods(draw, _histogram_pod(steps, bounds))
        metric = {
            "kind": "histogram",
            "le": ["+Inf" if math.isinf(bounds[i]) else bounds[i] for i in order],
            **{
                arm: shuffled(np.sum(list(p.values()), axis=0).reshape(steps, len(bounds)).tolist())
                for arm, p in pods.items()
            },
        }
        if draw(st.booleans()):
            metric["pods"] = {arm: {name: shuffled(rows) for name, rows in p.items()} for arm, p in pods.items()}
        metrics["latency"] = metric
    return Measurement.model_validate({"metrics": metrics})


policies = st.builds(
    lambda warmup, latency_warmup, critical, dry_run, quantile: Policy.model_validate(
        {
            "warmup_steps": warmup,
            "metrics": {
                "error-rate": {"kind": "ratio", "critical": critical, "dry_run": dry_run},
                "latency": {"kind": "histogram", "warmup_steps": latency_warmup, "quantile": quantile},
            },
        }
    ),
    st.integers(0, 2),
    st.one_of(st.none(), st.integers(0, 3)),
    st.booleans(),
    st.booleans(),
    st.sampled_from([0.5, 0.95, 0.99]),
)


@settings(max_examples=300, deadline=None)
@given(measurements(), policies)
def test_the_kayenta_judge_answers_every_valid_measurement(measurement, policy):
    judgment = judge_kayenta(measurement, policy)
    assert 0 <= judgment.score <= 100 and judgment.reasons
    assert {m.name for m in judgment.metrics} >= set(policy.metrics)
    labels = {m.label for m in judgment.metrics if not m.dry_run}
    if labels & {"Nodata", "Error"}:
        assert judgment.verdict is not Verdict.PASS
    elif labels == {"Pass"}:
        assert judgment.verdict is Verdict.PASS and judgment.score == 100
    Measurement.model_validate_json(measurement.model_dump_json())
    judgment.model_validate_json(judgment.model_dump_json())
