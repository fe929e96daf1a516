"""The command line, run as users run it: exit codes, outputs, errors."""

import json
import re
from pathlib import Path

import jsonschema
import pytest
from typer.testing import CliRunner

from analyzer.cli import app
from analyzer.model import Measurement
from analyzer.sources.simulate import FINE_BUCKETS, Scenario, simulate

runner = CliRunner()
ROOT = Path(__file__).parents[2]


def _json_examples(page: Path) -> list[dict]:
    """The ```json blocks of a Markdown page, parsed: the examples users copy."""
    return [json.loads(block) for block in re.findall(r"```json\n(.*?)```", page.read_text(), re.DOTALL)]


README_EXAMPLE = _json_examples(ROOT / "README.md")[0]


@pytest.fixture
def write(tmp_path):
    def _write(scenario, seed=1, name="m.json"):
        path = tmp_path / name
        path.write_text(simulate(scenario, seed).model_dump_json())
        return str(path)

    return _write


def test_exit_codes_follow_the_verdict(write):
    assert runner.invoke(app, ["judge", write(Scenario(buckets=FINE_BUCKETS), 9)]).exit_code == 0
    assert runner.invoke(app, ["judge", write(Scenario(error_ratio=3.0))]).exit_code == 1
    assert runner.invoke(app, ["judge", write(Scenario(rps=10.0, steps=5))]).exit_code == 3


def test_json_output_is_the_judgment(write):
    result = runner.invoke(app, ["judge", write(Scenario(error_ratio=3.0)), "-o", "json"])
    body = json.loads(result.stdout)
    assert body["verdict"] == "fail" and body["score"] == 0
    assert {m["name"] for m in body["metrics"]} == {"error-rate", "latency"}


def test_markdown_and_kayenta(write):
    path = write(Scenario(error_ratio=5.0))
    markdown = runner.invoke(app, ["judge", path, "-o", "markdown"]).stdout
    assert "Canary verdict: **fail**" in markdown and "| error-rate | fail |" in markdown
    kayenta = runner.invoke(app, ["judge", path, "--judge", "kayenta", "-o", "json"])
    assert json.loads(kayenta.stdout)["judge"] == "kayenta" and kayenta.exit_code == 1


def test_bad_input_exits_4_with_a_message_naming_the_problem(tmp_path):
    missing = runner.invoke(app, ["judge", str(tmp_path / "nope.json")])
    assert missing.exit_code == 4 and "cannot read" in missing.stderr
    broken = tmp_path / "b.json"
    broken.write_text(
        '{"metrics": {"e": {"kind": "ratio", "canary": {"total": [1], "events": [-1]},'
        ' "stable": {"total": [1], "events": [0]}}}}'
    )
    result = runner.invoke(app, ["judge", str(broken)])
    assert result.exit_code == 4
    assert "metrics.e.canary.events[0] (step 0)" in result.stderr
    assert "Traceback" not in result.stderr + result.stdout
    garbage = tmp_path / "g.json"
    garbage.write_text("{not json")
    assert runner.invoke(app, ["judge", str(garbage)]).exit_code == 4


def test_usage_errors_exit_2(write):
    path = write(Scenario())
    assert runner.invoke(app, ["judge", path, "-o", "xml"]).exit_code == 2
    assert runner.invoke(app, ["judge"]).exit_code == 2
    assert runner.invoke(app, ["judge", path, "--judge", "magic"]).exit_code == 2


def test_profiles_by_path_and_by_name(write, tmp_path):
    path = write(Scenario(error_ratio=3.0))
    assert runner.invoke(app, ["judge", path, "--profile", "default"]).exit_code == 1
    soft = tmp_path / "soft.yaml"
    soft.write_text("metrics:\n  error-rate: {kind: ratio, critical: false}\n  latency: {kind: histogram}\n")
    assert runner.invoke(app, ["judge", path, "--profile", str(soft)]).exit_code == 3
    bad = tmp_path / "bad.yaml"
    bad.write_text("alpha_fail: 2\n")
    result = runner.invoke(app, ["judge", path, "--profile", str(bad)])
    assert result.exit_code == 4 and "alpha_fail" in result.stderr
    mismatch = tmp_path / "mismatch.yaml"
    mismatch.write_text("metrics:\n  error-rate: {kind: histogram}\n")
    result = runner.invoke(app, ["judge", path, "--profile", str(mismatch)])
    assert result.exit_code == 4
    assert "'error-rate' is a ratio in the measurement but a histogram in the policy" in result.stderr
    assert runner.invoke(app, ["judge", path, "--profile", str(mismatch), "--judge", "kayenta"]).exit_code == 4
    unknown = runner.invoke(app, ["judge", path, "--profile", "nosuch"])
    assert unknown.exit_code == 4 and "neither a file nor a built-in profile" in unknown.stderr


def test_the_kayenta_judge_answers_the_readme_example(tmp_path):
    """Two steps, one left after warm-up: Kayenta cannot classify them; inconclusive (3), not a traceback (1)."""
    path = tmp_path / "readme.json"
    path.write_text(json.dumps(README_EXAMPLE))
    result = runner.invoke(app, ["judge", str(path), "--judge", "kayenta", "-o", "json"])
    assert result.exit_code == 3, result.output
    body = json.loads(result.stdout)
    assert body["judge"] == "kayenta" and body["verdict"] == "inconclusive"
    assert {m["name"]: m["label"] for m in body["metrics"]} == {"error-rate": "Error", "latency": "Error"}


def _validator(document="measurement"):
    """A validator for the published schema, of the draft the schema names."""
    result = runner.invoke(app, ["schema", document])
    assert result.exit_code == 0
    schema = json.loads(result.stdout)
    cls = jsonschema.validators.validator_for(schema, default=None)
    assert cls is jsonschema.Draft202012Validator
    cls.check_schema(schema)
    return cls(schema)


def test_schema_is_published():
    assert "metrics" in _validator().schema["properties"]
    for document in ("policy", "judgment"):
        _validator(document)


@pytest.mark.parametrize(
    "example",
    [README_EXAMPLE, *_json_examples(ROOT / "docs" / "measurement.md")],
)
def test_the_schema_accepts_the_documented_examples(example):
    """The README's example ("+Inf" in le) and the per-pod example are valid for the schema and the model."""
    _validator().validate(example)
    Measurement.model_validate(example)


@pytest.mark.parametrize(
    "le",
    [[0.1, "fast", "+Inf"], [0.1, None, "+Inf"], [0.1, "-Inf", "+Inf"]],
)
def test_the_schema_refuses_bounds_that_are_not_numbers(le):
    bad = {"metrics": {"latency": {"kind": "histogram", "le": le, "canary": [], "stable": []}}}
    with pytest.raises(jsonschema.ValidationError):
        _validator().validate(bad)


def test_demo_ends_in_an_abort():
    result = runner.invoke(app, ["demo", "--delay", "0"])
    assert result.exit_code == 0
    assert "Argo aborts the Rollout" in result.stdout
@pytest.mark.parametrize(
    "metric",
    [
        {"kind": "histogram", "le": [0.1, 0.2], "canary": [], "stable": []},
        {"kind": "histogram", "le": ["+Inf"], "canary": [], "stable": []},
        {"kind": "histogram", "le": [0.1, 0.1, "+Inf"], "canary": [], "stable": []},
        {"kind": "histogram", "le": [0.1, "+Inf"], "canary": [], "stable": [], "pods": {"canary": {"a/b": []}}},
        {
            "kind": "ratio",
            "canary": {"total": [], "events": []},
            "stable": {"total": [], "events": []},
            "pods": {"stable": {"-pod": {"total": [], "events": []}}},
        },
    ],
)
def test_the_schema_refuses_what_the_model_refuses(metric):
    with pytest.raises(jsonschema.ValidationError):
        _validator().validate({"metrics": {"m": metric}})


def test_the_schema_accepts_bounds_as_the_prometheus_api_writes_them():
    metric = {"kind": "histogram", "le": ["0.1", "1e+00", "+INF"], "canary": [], "stable": []}
    _validator().validate({"metrics": {"m": metric}})
