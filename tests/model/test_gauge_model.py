"""The gauge measurement and the gauge/threshold policies: what they accept, what they refuse and why."""

from __future__ import annotations

import json

import jsonschema
import pytest
from pydantic import ValidationError
from typer.testing import CliRunner

from analyzer.cli import app
from analyzer.errors import InputError
from analyzer.model import Kind, Measurement, MetricPolicy, Policy

GAUGE = {"kind": "gauge", "canary": {"web-c-1": [0.3, None, 0.31]}, "stable": {"web-s-1": [0.3, 0.29, 0.3]}}


def _schema_validator() -> jsonschema.Draft202012Validator:
    result = CliRunner().invoke(app, ["schema", "measurement"])
    assert result.exit_code == 0
    return jsonschema.Draft202012Validator(json.loads(result.stdout))


def test_a_gauge_keeps_missing_samples_and_cuts_to_a_head():
    m = Measurement.model_validate({"metrics": {"cpu": GAUGE}})
    assert m.metrics["cpu"].steps == 3
    head = m.head(2).metrics["cpu"]
    assert head.canary == {"web-c-1": [0.3, None]} and head.stable == {"web-s-1": [0.3, 0.29]}
    canary_only = Measurement.model_validate({"metrics": {"p99": {"kind": "gauge", "canary": {"all": [1.0]}}}})
    assert canary_only.metrics["p99"].stable == {}
    _schema_validator().validate({"metrics": {"cpu": GAUGE}})


@pytest.mark.parametrize(
    ("metric", "message"),
    [
        ({**GAUGE, "stable": {"web-s-1": [0.3]}}, "canary.web-c-1 has 3 steps but stable.web-s-1 has 1"),
        ({**GAUGE, "canary": {"web-c-1": [-1.0, 0.1, 0.1]}}, "greater than or equal to 0"),
        ({**GAUGE, "canary": {"a/b": [0.1, 0.1, 0.1]}}, "canary.a/b"),
        ({**GAUGE, "le": [0.1]}, "le"),
    ],
)
def test_broken_gauges_are_refused_by_the_model_and_the_schema(metric, message):
    data = {"metrics": {"cpu": metric}}
    with pytest.raises(ValidationError) as refused:
        Measurement.model_validate(data)
    assert message in str(refused.value)
    if "steps" not in message:  # lengths are the model's own check; the schema checks shapes and values
        with pytest.raises(jsonschema.ValidationError):
            _schema_validator().validate(data)


@pytest.mark.parametrize(
    ("policy", "message"),
    [
        ({"kind": "threshold", "limit": 1}, "a threshold needs limit and bound"),
        ({"kind": "threshold", "limit": 2, "bound": 1}, "limit (2) must not exceed bound (1)"),
        ({"kind": "threshold", "limit": 0, "bound": 1}, "pass_limit 0 can never be shown below"),
        ({"kind": "threshold", "limit": 0.5, "pass_limit": 0.4, "bound": 1}, "pass_limit (0.4) must not be below"),
        ({"kind": "threshold", "limit": 0.5, "pass_limit": 0.6, "bound": 1, "direction": "lower"},
         "pass_limit (0.6) must not be above"),
        ({"kind": "gauge", "limit": 1}, "limit, pass_limit and bound are for kind threshold"),
        ({"kind": "gauge", "slo": {"limit": 1}}, "a gauge has no slo"),
        ({"kind": "gauge", "direction": "sideways"}, "direction"),
    ],
)
def test_gauge_and_threshold_policies_name_what_is_wrong(policy, message):
    with pytest.raises(ValidationError) as refused:
        MetricPolicy.model_validate(policy)
    assert message in str(refused.value)


def test_a_threshold_judges_gauge_data_and_nothing_else():
    policy = Policy(metrics={"p99": MetricPolicy(kind="threshold", limit=0.5, bound=1)})
    assert policy.for_metric("p99", Kind.GAUGE).kind is Kind.THRESHOLD
    with pytest.raises(InputError, match="'p99' is a ratio in the measurement but a threshold in the policy"):
        policy.for_metric("p99", Kind.RATIO)
    assert Policy().for_metric("cpu", Kind.GAUGE).fail_ratio == 1.2  # unnamed gauges are compared with stable


def test_a_bad_gauge_value_is_named_by_metric_arm_pod_and_step():
    from analyzer.errors import describe

    bad = {"metrics": {"cpu": {**GAUGE, "canary": {"web-c-1": [0.3, 0.3, -2.0]}}}}
    with pytest.raises(ValidationError) as refused:
        Measurement.model_validate(bad)
    assert describe(refused.value, "measurement").startswith(
        "measurement: metrics.cpu.canary.web-c-1[2] (step 2): Input should be greater than or equal to 0"
    )
