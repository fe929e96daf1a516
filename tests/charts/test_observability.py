"""Alert rules, dashboards and notification templates: each checked by the tool that runs it.

- ``promtool test rules`` unit-tests every alert (tests/charts/alerts.test.yaml);
- every dashboard query is wrapped as an alert ``absent(<query>)`` and promtool shows that each one
  returns data from series named and labelled as the service exports them (the names are checked
  against a real ``/metrics`` scrape of the service);
- the notification templates are rendered by Helm's engine (Go templates with sprig, as Argo
  Rollouts' notification engine renders them), and the link they compute opens the report.
"""

from __future__ import annotations

import json
import re
import subprocess
from pathlib import Path
from urllib.parse import urlsplit

import pytest
import yaml
from fastapi.testclient import TestClient

from tests.conftest import STEP
from tests.server.conftest import settings_for
from tests.support.helm import helm_binary
from tests.support.service import Clock, make_app

CHART = Path(__file__).parents[2] / "charts" / "canary-analyzer"
RULES = CHART / "files" / "canary-analyzer.rules.yaml"
ALERT_TESTS = Path(__file__).parent / "alerts.test.yaml"
#: The judged services' own metrics (the http profile) and Prometheus' own `up`: not the service's.
APPLICATION = {"http_requests_total", "http_request_duration_seconds_bucket", "up"}
#: Grafana's variables, as a dashboard would fill them in.
VARIABLES = {"$namespace": "shop", "$rollout": "checkout", "$__rate_interval": "5m", "$__range": "1h"}
#: Series as the service exports them (two replicas) and as the judged services do: every query reads some.
SERIES = {
    'canary_analyzer_rollout_verdict{namespace="shop", rollout="checkout", verdict="fail", instance="a"}': "1x70",
    'canary_analyzer_rollout_verdict{namespace="shop", rollout="checkout", verdict="pass", instance="a"}': "0x70",
    'canary_analyzer_rollout_score{namespace="shop", rollout="checkout", instance="a"}': "0x70",
    'canary_analyzer_rollout_steps{namespace="shop", rollout="checkout", instance="a"}': "20x70",
    'canary_analyzer_rollout_analysis_seconds{namespace="shop", rollout="checkout", instance="a"}': "1200x70",
    'canary_analyzer_rollout_evidence_ratio{namespace="shop", rollout="checkout", metric="error-rate", instance="a"}':
        "0+0.1x70",
    'canary_analyzer_judgments_total{verdict="fail", profile="http", instance="a"}': "0+1x70",
    'canary_analyzer_query_duration_seconds_bucket{profile="http", le="0.1", instance="a"}': "0+1x70",
    'canary_analyzer_query_duration_seconds_bucket{profile="http", le="+Inf", instance="a"}': "0+1x70",
    'canary_analyzer_judge_duration_seconds_bucket{le="0.005", instance="a"}': "0+1x70",
    'canary_analyzer_judge_duration_seconds_bucket{le="+Inf", instance="a"}': "0+1x70",
    'canary_analyzer_candidates{state="in", stage="V1", instance="a"}': "1x70",
    'canary_analyzer_candidates{state="stable", stage="", instance="a"}': "1x70",
    'canary_analyzer_candidates{state="quarantined", stage="", instance="a"}': "1x70",
    'canary_analyzer_quarantines_total{stage="V3", reason="gate_failed", instance="a"}': "0+1x70",
    'canary_analyzer_gate_evaluations_total{stage="V1", result="pass", instance="a"}': "0+1x70",
    'canary_analyzer_gate_evaluations_total{stage="V2", result="pass", instance="a"}': "0+1x70",
    'canary_analyzer_gate_evaluations_total{stage="V3", result="fail", instance="a"}': "0+1x70",
    'canary_analyzer_forced_promotions_total{stage="V2", instance="a"}': "0+1x70",
    'canary_analyzer_ledger_up{instance="a"}': "1x70",
    'http_requests_total{namespace="shop", code="200", rollouts_pod_template_hash="abc123"}': "0+600x70",
    'http_requests_total{namespace="shop", code="500", rollouts_pod_template_hash="abc123"}': "0+6x70",
    'http_request_duration_seconds_bucket{namespace="shop", le="0.25", rollouts_pod_template_hash="abc123"}':
        "0+550x70",
    'http_request_duration_seconds_bucket{namespace="shop", le="+Inf", rollouts_pod_template_hash="abc123"}':
        "0+606x70",
}


def _promtool(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(["promtool", *args], capture_output=True, text=True, timeout=60, cwd=cwd)


def _dashboards() -> dict[str, dict]:
    return {p.stem: json.loads(p.read_text()) for p in sorted((CHART / "dashboards").glob("*.json"))}


def _queries() -> list[tuple[str, str]]:
    return [(f"{name}: {panel['title']}", target["expr"])
            for name, board in _dashboards().items() for panel in board["panels"] for target in panel["targets"]]


def _exported(backfilled, tmp_path) -> set[str]:
    """Every metric name the service's /metrics shows (a counter's and a histogram's series names too)."""
    app, _ = make_app(settings_for(backfilled.url, tmp_path), Clock(backfilled.start + 20 * STEP + 5))
    with TestClient(app) as client:
        client.get("/api/v1/analysis", params=backfilled.args("errors"))
        text = client.get("/metrics").text
    names = set(re.findall(r"^# TYPE (\S+) ", text, re.M))
    return {f"{n}{suffix}" for n in names for suffix in ("", "_total", "_bucket", "_count", "_sum", "_info")}


def test_every_alert_has_a_runbook_and_a_promtool_test():
    rules = [r for g in yaml.safe_load(RULES.read_text())["groups"] for r in g["rules"] if "alert" in r]
    tested = {t["alertname"] for case in yaml.safe_load(ALERT_TESTS.read_text())["tests"]
              for t in case.get("alert_rule_test", [])}
    assert {r["alert"] for r in rules} == tested
    operations = (Path(__file__).parents[2] / "docs" / "operations.md").read_text()
    for rule in rules:
        anchor = rule["annotations"]["runbook_url"].split("#")[1]
        assert anchor == rule["alert"].lower() and f"### {rule['alert']}\n" in operations
    done = _promtool("test", "rules", ALERT_TESTS.name, cwd=ALERT_TESTS.parent)
    assert done.returncode == 0, done.stdout + done.stderr


def test_dashboards_query_only_what_the_service_exports_and_every_query_returns_data(backfilled, tmp_path):
    titles = {board["title"] for board in _dashboards().values()}
    assert {"V2 Production SLO Compliance", "V1 Experiment Progress", "V3 Quarantine Statistics"} <= titles
    exported = _exported(backfilled, tmp_path) | APPLICATION
    rules_exprs = [r["expr"] for g in yaml.safe_load(RULES.read_text())["groups"] for r in g["rules"]]
    for where, expr in [*_queries(), *(("rules", e) for e in rules_exprs)]:
        used = set(re.findall(r"(?<![:\w])(canary_analyzer_\w+|http_\w+)(?![:\w])", expr))  # not recorded names
        assert used <= exported, (where, used - exported)
    alerts, tests = [], []
    for i, (where, expr) in enumerate(_queries()):
        for variable, value in VARIABLES.items():
            expr = expr.replace(variable, value)
        alerts.append({"alert": f"Q{i}", "expr": f"absent({expr})", "annotations": {"query": where}})
        tests.append({"eval_time": "65m", "alertname": f"Q{i}", "exp_alerts": []})
    (tmp_path / "queries.yaml").write_text(yaml.safe_dump({"groups": [{"name": "dashboards", "rules": alerts}]}))
    (tmp_path / "queries.test.yaml").write_text(yaml.safe_dump({
        "rule_files": ["queries.yaml"], "evaluation_interval": "1m",
        "tests": [{"interval": "1m", "input_series": [{"series": s, "values": v} for s, v in SERIES.items()],
                   "alert_rule_test": tests}],
    }))
    checked = _promtool("check", "rules", "queries.yaml", cwd=tmp_path)
    assert checked.returncode == 0, checked.stdout + checked.stderr
    done = _promtool("test", "rules", "queries.test.yaml", cwd=tmp_path)
    assert done.returncode == 0, done.stdout + done.stderr  # a firing Q<i> names a query that returned nothing


def _helm(*args: str, cwd: Path | None = None) -> str:
    done = subprocess.run([str(helm_binary()), *args], capture_output=True, text=True, timeout=60, cwd=cwd)
    assert done.returncode == 0, done.stderr
    return done.stdout


@pytest.fixture(scope="module")
def rendered() -> list[dict]:
    text = _helm("template", "t", str(CHART), "--set", "prometheusRule.enabled=true",
                 "--set", "prometheusRule.runbookBaseUrl=https://wiki.example.com/ops",
                 "--set", "grafanaDashboard.enabled=true", "--set", "notifications.enabled=true",
                 "--set", "notifications.key=n0tify-key", "--set", "settings.publicUrl=https://canary.example.com/")
    return [d for d in yaml.safe_load_all(text) if d]


def test_the_chart_renders_the_rules_file_and_the_dashboards(rendered):
    rule = next(d for d in rendered if d["kind"] == "PrometheusRule")
    expected = yaml.safe_load(RULES.read_text().replace(
        "https://github.com/canary-analyzer/canary-analyzer/blob/main/docs/operations.md", "https://wiki.example.com/ops"))
    assert rule["spec"]["groups"] == expected["groups"]
    boards = [d for d in rendered if d["kind"] == "ConfigMap" and d["metadata"]["labels"].get("grafana_dashboard")]
    assert len(boards) == len(_dashboards())
    for board in boards:
        assert board["metadata"]["labels"]["grafana_dashboard"] == "1"
        (content,) = board["data"].values()
        assert json.loads(content)["uid"]
    secret = next(d for d in rendered if d["kind"] == "Secret")
    assert len(secret["stringData"]["report-signing-key"]) == 48  # generated: no reports.signingKey given
    env = {e["name"] for c in next(d for d in rendered if d["kind"] == "Deployment")["spec"]["template"]["spec"][
        "containers"] for e in c.get("env", [])}
    assert {"CANARY_ANALYZER_REPORT_SIGNING_KEY", "CANARY_ANALYZER_REPORT_NOTIFICATION_KEY"} <= env


def _render_notification(template: str, rollout: dict, tmp_path: Path) -> str:
    """A notification template rendered by Go templates with sprig (Helm's engine, as Argo's)."""
    chart = tmp_path / "render"
    (chart / "templates").mkdir(parents=True, exist_ok=True)
    (chart / "Chart.yaml").write_text("apiVersion: v2\nname: render\nversion: 0.0.1\n")
    (chart / "templates" / "out.yaml").write_text(
        'rendered: {{ tpl .Values.body (dict "rollout" .Values.rollout "Template" .Template) | toJson }}\n')
    (chart / "values.json").write_text(json.dumps({"body": template, "rollout": rollout}))
    return str(yaml.safe_load(_helm("template", "x", str(chart), "-f", str(chart / "values.json")))["rendered"])


@pytest.mark.parametrize("verdict", ["failed", "error", "inconclusive"])
def test_a_notification_links_to_the_canarys_latest_report(rendered, backfilled, tmp_path, verdict):
    config = next(d for d in rendered if d["metadata"]["name"] == "argo-rollouts-notification-configmap")
    assert config["metadata"]["namespace"] == "argo-rollouts"
    assert yaml.safe_load(config["data"][f"trigger.on-analysis-run-{verdict}"]) == [
        {"send": [f"canary-analysis-{verdict}"]}]
    template = yaml.safe_load(config["data"][f"template.canary-analysis-{verdict}"])
    d = backfilled.deployments["errors"]
    rollout = {"metadata": {"namespace": d.namespace, "name": "checkout"},
               "status": {"currentPodHash": d.canary_hash, "stableRS": d.stable_hash, "message": "RolloutAborted"}}
    message = _render_notification(template["message"], rollout, tmp_path)
    attachments = json.loads(_render_notification(template["slack"]["attachments"], rollout, tmp_path))
    (link,) = re.findall(r"https://canary\.example\.com/reports/latest\?\S+", message)
    unsigned = re.compile(r"&expires=\d+&sig=[0-9a-f]+$")  # two renders may fall in different seconds
    assert unsigned.sub("", attachments[0]["title_link"]) == unsigned.sub("", link) and "RolloutAborted" in message
    assert unsigned.search(link) and unsigned.search(attachments[0]["title_link"])

    settings = settings_for(backfilled.url, tmp_path, api_tokens=["t"], report_notification_key="n0tify-key")
    app, analyzer = make_app(settings, Clock(backfilled.start + 20 * STEP + 5))
    with TestClient(app) as client:
        client.get("/api/v1/analysis", params=backfilled.args("errors"), headers={"Authorization": "Bearer t"})
        analyzer.clock = Clock(float(urlsplit(link).query.split("expires=")[1].split("&")[0]) - 60)
        target = urlsplit(link)
        redirected = client.get(f"{target.path}?{target.query}", follow_redirects=False)
        assert redirected.status_code == 303 and "/reports/" in redirected.headers["location"]
        page = client.get(urlsplit(redirected.headers["location"]).path + "?" +
                          urlsplit(redirected.headers["location"]).query)
        assert page.status_code == 200 and '<span class="badge fail">fail</span>' in page.text
        forged = client.get(f"{target.path}?{target.query.replace('rollout=checkout', 'rollout=cart')}")
        assert forged.status_code == 403
