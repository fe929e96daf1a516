"""`canary-analyzer rollout lint`: silent and 0 when clean, one line per problem and 1 otherwise, as the plugin."""

from __future__ import annotations

import json
from pathlib import Path

import yaml
from typer.testing import CliRunner

from analyzer.cli import app

runner = CliRunner()
TEMPLATES = Path(__file__).parents[2] / "analysis-templates"
EXAMPLE = TEMPLATES / "example-rollout.yaml"


def _lint(*args: str):
    return runner.invoke(app, ["rollout", "lint", *args])


def _broken(tmp_path: Path) -> Path:
    """The example Rollout with a step of two kinds and a 120 % weight, plus a template that misses an arg."""
    rollout = yaml.safe_load(EXAMPLE.read_text())
    rollout["spec"]["strategy"]["canary"]["steps"][0] = {"setWeight": 120, "pause": {}}
    path = tmp_path / "rollout.yaml"
    path.write_text(yaml.safe_dump(rollout))
    return path


def test_the_example_rollout_lints_clean_in_either_form():
    for args in ([str(EXAMPLE)], ["-f", str(EXAMPLE)], sorted(map(str, TEMPLATES.glob("*.yaml")))):
        result = _lint(*args)
        assert result.exit_code == 0, result.output
        assert result.stdout == "" and result.stderr == ""


def test_problems_are_one_line_each_on_stdout_and_exit_1(tmp_path):
    path = _broken(tmp_path)
    result = _lint("-f", str(path))
    assert result.exit_code == 1
    assert result.stdout.splitlines() == [
        f"{path}: Rollout/checkout: spec.strategy.steps[0]: Invalid value: [\"setWeight\", \"pause\"]: Step must have "
        "one of the following set: experiment, setWeight, setCanaryScale, plugin or pause",
        f"{path}: Rollout/checkout: spec.strategy.steps[0].setWeight: Invalid value: 120: SetWeight needs to be "
        "between 0 and 100",
    ]
    assert f"error: 2 problem(s) in {path}" in result.stderr


def test_json_lists_the_problems_and_name_the_objects(tmp_path):
    path = _broken(tmp_path)
    records = json.loads(_lint(str(path), "-o", "json").stdout)
    assert [r["field"] for r in records] == ["spec.strategy.steps[0]", "spec.strategy.steps[0].setWeight"]
    assert records[1] == {"file": str(path), "object": "Rollout/checkout", "field": "spec.strategy.steps[0].setWeight",
                          "message": "SetWeight needs to be between 0 and 100", "value": 120}
    assert _lint(str(path), "-o", "name").stdout == "Rollout/checkout\n"
    assert json.loads(_lint(str(EXAMPLE), "-o", "json").stdout) == []


def test_a_file_that_is_not_yaml_is_a_problem_and_a_missing_file_a_usage_error(tmp_path):
    bad = tmp_path / "bad.yaml"
    bad.write_text("kind: Rollout\n  spec: : :\n")
    result = _lint(str(bad))
    assert result.exit_code == 1 and "not valid YAML" in result.stdout and "line 2" in result.stdout
    assert _lint(str(tmp_path / "missing.yaml")).exit_code == 2
    assert _lint().exit_code == 2
    assert "Traceback" not in result.output


def test_a_file_without_a_rollout_says_what_it_checked(tmp_path):
    result = _lint(str(TEMPLATES / "cluster-analysis-template.yaml"))
    assert result.exit_code == 0 and result.stdout == ""
    assert "no Rollout in" in result.stderr
