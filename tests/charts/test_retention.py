"""Judgment retention in the chart: a CronJob runs the prune with the chart's values, on the service's ledger.

The last test runs the exact command the CronJob renders, with the settings file the chart renders, against a
real ledger (SQLite and PostgreSQL): old judgments go, those promotion evidence references stay.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from typer.testing import CliRunner

from analyzer.cli import app
from analyzer.store import Database
from analyzer.store.tables import EvidenceRow, JudgmentRow
from tests.charts.test_chart import CHART, _kinds, _render, _run, helm  # noqa: F401 (helm is a fixture)


def _cronjob(docs: list[dict]) -> dict:
    jobs = _kinds(docs)["CronJob"]
    assert len(jobs) == 1
    return jobs[0]


def _job_pod(docs: list[dict]) -> dict:
    return _cronjob(docs)["spec"]["jobTemplate"]["spec"]["template"]["spec"]


def test_the_default_install_prunes_daily_after_14_days(helm):  # noqa: F811
    docs = _render(helm, [])
    job = _cronjob(docs)
    assert job["spec"]["schedule"] == "17 3 * * *" and job["spec"]["concurrencyPolicy"] == "Forbid"
    pod = _job_pod(docs)
    (container,) = pod["containers"]
    assert container["args"] == ["judgments", "prune", "--older-than", "14d"]
    assert pod["automountServiceAccountToken"] is False
    # SQLite: the job mounts the service's claim, so it must run on the node the volume is attached to.
    claim = next(v for v in pod["volumes"] if v["name"] == "data")["persistentVolumeClaim"]["claimName"]
    assert claim == _kinds(docs)["PersistentVolumeClaim"][0]["metadata"]["name"]
    term = pod["affinity"]["podAffinity"]["requiredDuringSchedulingIgnoredDuringExecution"][0]
    service = _kinds(docs)["Deployment"][0]["spec"]["selector"]["matchLabels"]
    assert term["labelSelector"]["matchLabels"] == service and term["topologyKey"] == "kubernetes.io/hostname"
    # Its pods are not the service's: neither the Service nor the Deployment selects them.
    labels = job["spec"]["jobTemplate"]["spec"]["template"]["metadata"]["labels"]
    selector = _kinds(docs)["Service"][0]["spec"]["selector"]
    assert not set(selector.items()) <= set(labels.items())


def test_values_reach_the_job_and_postgresql_needs_no_affinity(helm):  # noqa: F811
    docs = _render(helm, ["--set", "retention.olderThan=36h", "--set", "retention.schedule=0 */6 * * *",
                          "--set", "database.type=postgresql", "--set", "database.postgresql.existingSecret=ledger"])
    assert _cronjob(docs)["spec"]["schedule"] == "0 */6 * * *"
    pod = _job_pod(docs)
    (container,) = pod["containers"]
    assert container["args"][-1] == "36h" and "affinity" not in pod
    env = {e["name"]: e for e in container["env"]}
    assert env["CANARY_ANALYZER_DATABASE_URL"]["valueFrom"]["secretKeyRef"] == {"name": "ledger", "key": "database-url"}
    assert "CANARY_ANALYZER_API_TOKENS" not in env  # it serves nothing


def test_off_and_refusals(helm):  # noqa: F811
    assert "CronJob" not in _kinds(_render(helm, ["--set", "retention.enabled=false"]))
    only_pod = 'database.sqlite.accessModes=["ReadWriteOncePod"]'
    result = _run(helm, "template", "demo", str(CHART), "--set-json", only_pod)
    assert result.returncode != 0 and "ReadWriteOncePod lets only the service's pod mount it" in result.stderr
    result = _run(helm, "template", "demo", str(CHART), "--set", "retention.olderThan=a fortnight")
    assert result.returncode != 0 and "retention.olderThan" in result.stderr


def test_with_a_network_policy_the_job_reaches_only_dns_and_the_ledger(helm):  # noqa: F811
    docs = _render(helm, ["--set", "networkPolicy.enabled=true", "--set", "database.type=postgresql",
                          "--set", "database.postgresql.existingSecret=ledger"])
    labels = _cronjob(docs)["spec"]["jobTemplate"]["spec"]["template"]["metadata"]["labels"]
    policy = next(p for p in _kinds(docs)["NetworkPolicy"]
                  if set(p["spec"]["podSelector"]["matchLabels"].items()) <= set(labels.items()))["spec"]
    assert policy["ingress"] == [] and policy["policyTypes"] == ["Ingress", "Egress"]
    assert {p["port"] for rule in policy["egress"] for p in rule["ports"]} == {53, 5432}


NOW = datetime.now(UTC)


def _judgment(i: int, age_days: float) -> JudgmentRow:
    return JudgmentRow(id=f"{i:032x}", created_at=NOW - timedelta(days=age_days), namespace="shop", rollout="checkout",
                       profile="http", canary_hash="abc", stable_hash="def", verdict="pass", score=100.0, steps=10,
                       step_seconds=60, input_digest="x", body={})


def test_the_rendered_job_prunes_the_ledger_and_keeps_evidence(helm, tmp_path, database_url):  # noqa: F811
    docs = _render(helm, [])
    config = tmp_path / "config.yaml"
    config.write_text(_kinds(docs)["ConfigMap"][0]["data"]["config.yaml"])
    database = Database(database_url)
    database.migrate()
    with database.session() as s:
        s.add_all([_judgment(i, age) for i, age in enumerate([1, 13, 15, 15, 60])])
        s.add(EvidenceRow(id="e1", attempt_id="a1", candidate_id="c", stage="V3", kind="judgment",
                          payload={"judgment_id": f"{4:032x}"}, sha256="s", collected_at=NOW, collected_by="ci"))
        s.commit()
    (container,) = _job_pod(docs)["containers"]
    env = {e["name"]: e["value"] for e in container["env"] if "value" in e}
    env["CANARY_ANALYZER_CONFIG"] = str(config)  # the ConfigMap, where the pod mounts it
    env["CANARY_ANALYZER_DATABASE_URL"] = database_url  # the volume's file (SQLite) or the Secret (PostgreSQL)
    result = CliRunner().invoke(app, container["args"], env=env)
    assert result.exit_code == 0, result.output
    assert result.stdout.strip() == "2"  # the two 15-day-old judgments; the 60-day-old one is evidence
    with database.session() as s:
        assert sorted(int(i, 16) for i in s.scalars(JudgmentRow.__table__.select().with_only_columns(
            JudgmentRow.id))) == [0, 1, 4]
    database.dispose()

