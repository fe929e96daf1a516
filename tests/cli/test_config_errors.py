"""A setting that is not JSON where JSON is expected is a configuration error: exit 4 naming the setting,
not a traceback and exit 1 (which a CI gate reads as "canary failed")."""

from __future__ import annotations

import pytest
from typer.testing import CliRunner

from analyzer.cli import app
from analyzer.sources.simulate import Scenario, simulate

runner = CliRunner()


@pytest.mark.parametrize(("variable", "field"), [("CANARY_ANALYZER_API_TOKENS", "api_tokens"),
                                                 ("CANARY_ANALYZER_PROMETHEUS_HEADERS", "prometheus_headers")])
def test_a_non_json_setting_exits_4_and_names_it(tmp_path, variable, field):
    env = {"CANARY_ANALYZER_DATABASE_URL": f"sqlite:///{tmp_path / 'l.db'}", variable: "not json"}
    result = runner.invoke(app, ["serve"], env=env)
    assert result.exit_code == 4 and field in result.output
    assert isinstance(result.exception, SystemExit)  # no traceback


_COMMANDS = [["serve"], ["judgments", "list"], ["release", "status"], ["audit", "verify"], ["token", "list"]]
_BAD = [("CANARY_ANALYZER_API_TOKENS", "not json", "api_tokens"),
        ("CANARY_ANALYZER_LOOK_DEADLINE_SECONDS", "soon", "look_deadline_seconds"),
        ("CANARY_ANALYZER_MAX_BODY_BYTES", "-1", "max_body_bytes"),
        ("CANARY_ANALYZER_PROMETHEUS_URL", "ftp://prometheus:9090", "prometheus_url"),  # not http(s): no client
        ("CANARY_ANALYZER_DATASOURCES", '{"mimir": {"url": "prometheus:9090"}}', "url")]


@pytest.mark.parametrize("command", _COMMANDS, ids=" ".join)
@pytest.mark.parametrize(("variable", "value", "field"), _BAD, ids=[b[2] for b in _BAD])
def test_every_command_that_reads_settings_exits_4_naming_the_setting(tmp_path, command, variable, value, field):
    env = {"CANARY_ANALYZER_DATABASE_URL": f"sqlite:///{tmp_path / 'l.db'}", variable: value}
    result = runner.invoke(app, command, env=env)
    assert result.exit_code == 4, result.output
    assert field in result.output and "Traceback" not in result.output
    assert isinstance(result.exception, SystemExit)


def test_a_bad_setting_does_not_break_commands_that_do_not_read_settings(tmp_path):
    measurement = tmp_path / "m.json"
    measurement.write_text(simulate(Scenario(error_ratio=3.0), 1).model_dump_json())
    result = runner.invoke(app, ["judge", str(measurement)], env={"CANARY_ANALYZER_API_TOKENS": "not json"})
    assert result.exit_code == 1  # the verdict: fail
