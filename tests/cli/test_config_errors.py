"""A setting that is not JSON where JSON is expected is a configuration error: exit 4 naming the setting,
not a traceback and exit 1 (which a CI gate reads as "canary failed")."""

from __future__ import annotations

import pytest
from typer.testing import CliRunner

from analyzer.cli import app

runner = CliRunner()


@pytest.mark.parametrize(("variable", "field"), [("CANARY_ANALYZER_API_TOKENS", "api_tokens"),
                                                 ("CANARY_ANALYZER_PROMETHEUS_HEADERS", "prometheus_headers")])
def test_a_non_json_setting_exits_4_and_names_it(tmp_path, variable, field):
    env = {"CANARY_ANALYZER_DATABASE_URL": f"sqlite:///{tmp_path / 'l.db'}", variable: "not json"}
    result = runner.invoke(app, ["serve"], env=env)
    assert result.exit_code == 4 and field in result.output
    assert isinstance(result.exception, SystemExit)  # no traceback
