"""The Helm chart: lint and render over a matrix of values, validate what it renders, check its promises."""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path

import jsonschema
import kubernetes_validate
import pytest
import yaml

from tests.support.helm import helm_binary

ROOT = Path(__file__).parents[2]
CHART = ROOT / "charts" / "canary-analyzer"
ARGO_SCHEMAS = ROOT / "tests" / "fixtures" / "argo-schemas"
K8S_VERSION = "1.30.0"
SECRETS = {
    "token": "t0ken-aaaaaaaaaaaaaaaaaaaa",
    "db": "postgresql://analyzer:s3cret-pw@db.internal:5432/canary",
    "header": "Bearer prom-s3cret",
    "ds-header": "ds-h3ader-s3cret",
    "slack": "https://hooks.slack.com/services/T000/B000/sl4ck-t0ken",
    "hook-key": "h00k-s1gning-key",
}

MATRIX = {
    "defaults": [],
    "postgresql-3-replicas-hpa": [
        "--set", "database.type=postgresql", "--set", f"database.postgresql.url={SECRETS['db']}",
        "--set", "replicaCount=3", "--set", "autoscaling.enabled=true",
    ],
    "promotion-cluster-wide": [
        "--set", "promotion.enabled=true", "--set", "rbac.clusterWide=true",
        "--set-json", 'promotion.stages=[{"name": "V1", "rollout": {"namespace": "shop", "name": "checkout-v1"}, '
        '"checks": [{"kind": "canary"}, {"kind": "rollout"}]}, {"name": "V2", "checks": [{"kind": "approvals"}]}]',
    ],
    "promotion-namespaced": ["--set", "promotion.enabled=true", "--set", "rbac.namespaces={shop,payments}"],
    "network-policy": [
        "--set", "networkPolicy.enabled=true", "--set", "database.type=postgresql",
        "--set", "database.postgresql.existingSecret=ledger", "--set", "replicaCount=2",
    ],
    "postgresql-defaults": ["--set", "database.type=postgresql", "--set", "database.postgresql.existingSecret=ledger"],
    "existing-secret": [
        "--set", "auth.existingSecret=tokens", "--set", "database.type=postgresql",
        "--set", "database.postgresql.existingSecret=ledger",
    ],
    "reactor-ha": [
        "--set", "reactor.enabled=true", "--set", "database.type=postgresql",
        "--set", "database.postgresql.existingSecret=ledger", "--set", "replicaCount=2",
        "--set", "rbac.namespaces={shop,payments}", "--set", "serviceMonitor.enabled=true",
        "--set", "networkPolicy.enabled=true", "--set-json", 'reactor.gitopsMarkers=["example.com/from-git"]',
    ],
    "reactor-sqlite-cluster-wide": ["--set", "reactor.enabled=true", "--set", "rbac.clusterWide=true"],
    "tokenreview": [
        "--set", "auth.tokenReview.enabled=true", "--set", "networkPolicy.enabled=true",
        "--set-json", 'auth.tokenReview.audiences=["canary-analyzer"]',
        "--set-json", 'auth.tokenReview.grants=[{"serviceAccount": "shop/argo-analysis", "role": "analysis"}, '
        '{"serviceAccount": "ci/*", "role": "operator", "unscoped": true}, '
        '{"serviceAccount": "payments/argo", "role": "analysis", "namespaces": ["payments", "billing"]}]',
    ],
    "datasources-callers-retention": [
        "--set", "networkPolicy.enabled=true", "--set", "retention.olderThan=7d",
        "--set", "retention.schedule=0 4 * * *",
        "--set-json", 'networkPolicy.apiCallers=[{"namespaceSelector": {"matchLabels": '
        '{"kubernetes.io/metadata.name": "ci"}}}, {"ipBlock": {"cidr": "10.30.0.0/16"}}]',
        "--set-json", 'networkPolicy.extraEgress=[{"to": [{"ipBlock": {"cidr": "203.0.113.0/24"}}], '
        '"ports": [{"port": 443, "protocol": "TCP"}]}]',
        "--set-json", 'datasources={"mimir": {"url": "https://mimir.example.com/prometheus", "tenant": "team-a", '
        f'"headers": {{"X-Api-Key": "{SECRETS["ds-header"]}"}}, "basicAuth": {{"username": "reader", '
        '"passwordSecret": {"name": "mimir-auth", "key": "password"}}, "caSecret": {"name": "mimir-ca", "key": '
        '"ca.crt"}}, "thanos": {"url": "http://thanos.monitoring.svc:9090", "bearerTokenSecret": {"name": '
        '"thanos-token", "key": "token"}}, "vendor": {"url": "https://metrics.vendor.example", "oauth2": '
        '{"tokenUrl": "https://auth.vendor.example/token", "clientId": "canary", "clientSecretSecret": {"name": '
        '"vendor-oauth", "key": "client-secret"}, "scopes": ["metrics.read"]}, "caConfigMap": {"name": '
        '"vendor-ca", "key": "bundle.pem"}}}',
    ],
    "webhooks": [
        "--set", f"webhooks.slackUrl={SECRETS['slack']}", "--set", "webhooks.url=https://hooks.example.com/canary",
        "--set", f"webhooks.secret={SECRETS['hook-key']}", "--set-json", 'webhooks.events=["canary.failed"]',
        "--set", "settings.preStopSleepSeconds=0", "--set", "settings.lookWorkers=4",
    ],
    "observability": [
        "--set", "prometheusRule.enabled=true", "--set", "grafanaDashboard.enabled=true",
        "--set", "notifications.enabled=true", "--set", "notifications.key=n0tify-key",
        "--set", "settings.publicUrl=https://canary.example.com", "--set", "reports.signingKey=l1nk-key",
    ],
    "templates-and-everything": [
        "--set", "analysisTemplates.install=true", "--set", "serviceMonitor.enabled=true",
        "--set", "ingress.enabled=true", "--set", "ingress.hosts[0].host=canary.example.com",
        "--set", f"auth.apiTokens={{{SECRETS['token']}}}",
        "--set", f"prometheus.headers.Authorization={SECRETS['header']}",
        "--set-json", 'profiles={"grpc": {"step_seconds": 60, "selector": {"canary": "h=\\"$hash\\"", '
        '"stable": "h=\\"$hash\\""}, "metrics": {"error-rate": {"kind": "ratio", "total": "sum(a{$selector})", '
        '"events": "sum(b{$selector})"}}}}',
    ],
}


@pytest.fixture(scope="session")
def helm(tmp_path_factory) -> list[str]:
    home = tmp_path_factory.mktemp("helm-home")
    os.environ.setdefault("HELM_CACHE_HOME", str(home / "cache"))
    os.environ.setdefault("HELM_CONFIG_HOME", str(home / "config"))
    os.environ.setdefault("HELM_DATA_HOME", str(home / "data"))
    return [str(helm_binary())]


def _run(helm: list[str], *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([*helm, *args], capture_output=True, text=True, timeout=60)


def _render(helm: list[str], values: list[str]) -> list[dict]:
    result = _run(helm, "template", "demo", str(CHART), "--namespace", "canary", *values)
    assert result.returncode == 0, result.stderr
    return [d for d in yaml.safe_load_all(result.stdout) if d]


@pytest.fixture(scope="module")
def rendered(helm) -> dict[str, list[dict]]:
    return {name: _render(helm, values) for name, values in MATRIX.items()}


@pytest.mark.parametrize("case", list(MATRIX))
def test_lint(helm, case):
    result = _run(helm, "lint", str(CHART), "--strict", *MATRIX[case])
    assert result.returncode == 0, result.stdout + result.stderr


@pytest.mark.parametrize("case", list(MATRIX))
def test_rendered_objects_are_valid(rendered, case):
    argo = {k: jsonschema.Draft7Validator(json.loads((ARGO_SCHEMAS / f"{k}.json").read_text()))
            for k in ("ClusterAnalysisTemplate",)}
    for doc in rendered[case]:
        if doc["apiVersion"].startswith("argoproj.io/"):
            errors = list(argo[doc["kind"]].iter_errors(doc))
            assert not errors, [e.message for e in errors]
        elif doc["apiVersion"].startswith("monitoring.coreos.com/"):
            continue  # a Prometheus Operator CRD: no schema is bundled with kubernetes-validate
        else:
            kubernetes_validate.validate(doc, K8S_VERSION, strict=True)


def _kinds(docs: list[dict]) -> dict[str, list[dict]]:
    out: dict[str, list[dict]] = {}
    for d in docs:
        out.setdefault(d["kind"], []).append(d)
    return out


def _pods(docs: list[dict]) -> list[dict]:
    """The pod specs of the Deployment and of the CronJobs' jobs."""
    kinds = _kinds(docs)
    return ([d["spec"]["template"]["spec"] for d in kinds["Deployment"]]
            + [c["spec"]["jobTemplate"]["spec"]["template"]["spec"] for c in kinds.get("CronJob", [])])


def test_every_container_runs_restricted(rendered):
    for case, docs in rendered.items():
        for pod in _pods(docs):
            job = pod.get("restartPolicy") == "Never"
            assert pod["securityContext"]["runAsNonRoot"] is True, case
            assert pod["securityContext"]["seccompProfile"]["type"] == "RuntimeDefault"
            for container in pod["containers"] + pod.get("initContainers", []):
                sc = container["securityContext"]
                assert sc["runAsNonRoot"] and sc["readOnlyRootFilesystem"], case
                assert sc["allowPrivilegeEscalation"] is False and sc["capabilities"]["drop"] == ["ALL"]
                assert sc["seccompProfile"]["type"] == "RuntimeDefault"
                if not job:  # a job runs to completion: nothing to probe
                    assert container["livenessProbe"]["httpGet"]["path"] == "/healthz"
                    assert container["readinessProbe"]["httpGet"]["path"] == "/readyz"
                assert container["resources"]["requests"] and container["resources"]["limits"]


def test_rbac_is_least_privilege(rendered):
    for case, docs in rendered.items():
        kinds = _kinds(docs)
        roles = kinds.get("Role", []) + kinds.get("ClusterRole", [])
        assert roles, case
        for role in roles:
            for rule in role["rules"]:
                assert "*" not in rule["verbs"] and "*" not in rule["resources"] and "*" not in rule["apiGroups"]
        verbs = {v for role in roles if not role["metadata"]["name"].endswith("-tokenreview")
                 for rule in role["rules"] for v in rule["verbs"]}
        if "promotion" in case or "reactor" in case:
            assert {"patch", "update"} <= verbs
        else:
            assert verbs == {"get", "list", "watch"}, case
        groups = {g for role in roles for rule in role["rules"] for g in rule["apiGroups"]}
        assert ("coordination.k8s.io" in groups) == ("reactor" in case), case  # Leases only for the reactor
    namespaced = _kinds(rendered["promotion-namespaced"])["Role"]
    assert {r["metadata"]["namespace"] for r in namespaced} == {"shop", "payments"}
    assert "ClusterRole" in _kinds(rendered["promotion-cluster-wide"])


def test_no_secret_values_in_configmaps(rendered):
    text = json.dumps(_kinds(rendered["templates-and-everything"])["ConfigMap"])
    text += json.dumps(_kinds(rendered["postgresql-3-replicas-hpa"])["ConfigMap"])
    text += json.dumps(_kinds(rendered["datasources-callers-retention"])["ConfigMap"])
    text += json.dumps(_kinds(rendered["webhooks"])["ConfigMap"])
    for secret in SECRETS.values():
        assert secret not in text
    secrets = _kinds(rendered["templates-and-everything"])["Secret"]
    assert SECRETS["token"] in json.dumps(secrets) and SECRETS["header"] in json.dumps(secrets)
    assert "Secret" not in _kinds(rendered["existing-secret"])  # everything secret comes from existing Secrets


def test_sqlite_with_several_replicas_is_refused(helm):
    for values, message in (
        (["--set", "replicaCount=2"], "replicaCount: Must be less than or equal to 1"),
        (["--set", "autoscaling.enabled=true"], "autoscaling.enabled: autoscaling.enabled does not match: false"),
    ):
        result = _run(helm, "template", "demo", str(CHART), *values)
        assert result.returncode != 0 and message in result.stderr, result.stderr


def test_shapes_per_case(rendered):
    defaults = _kinds(rendered["defaults"])
    assert defaults["Deployment"][0]["spec"]["replicas"] == 1
    assert "PersistentVolumeClaim" in defaults and "PodDisruptionBudget" not in defaults
    ha = _kinds(rendered["postgresql-3-replicas-hpa"])
    assert "HorizontalPodAutoscaler" in ha and "PodDisruptionBudget" in ha and "PersistentVolumeClaim" not in ha
    assert "replicas" not in ha["Deployment"][0]["spec"]  # the HPA owns it
    policy = _kinds(rendered["network-policy"])["NetworkPolicy"][0]["spec"]
    assert {p["port"] for rule in policy["egress"] for p in rule["ports"]} == {53, 9090, 5432}  # no API server
    policy = _kinds(rendered["reactor-ha"])["NetworkPolicy"][0]["spec"]
    assert {p["port"] for rule in policy["egress"] for p in rule["ports"]} == {53, 9090, 443, 6443, 5432}
    everything = _kinds(rendered["templates-and-everything"])
    templates = everything["ClusterAnalysisTemplate"]
    url = templates[0]["spec"]["metrics"][0]["provider"]["web"]["url"]
    assert url.startswith("http://demo-canary-analyzer.canary.svc.cluster.local:8080/api/v1/analysis?profile={{args.profile}}")
    assert {"ServiceMonitor", "Ingress"} <= set(everything)
    profiles = next(c for c in everything["ConfigMap"] if c["metadata"]["name"].endswith("-profiles"))
    assert yaml.safe_load(profiles["data"]["grpc.yaml"])["name"] == "grpc"


def test_postgresql_by_default_survives_a_rolling_upgrade_and_a_node_drain(rendered):
    """Two pods, a new one ready before an old one stops, at most one evicted, on different nodes if possible."""
    ha = _kinds(rendered["postgresql-defaults"])
    spec = ha["Deployment"][0]["spec"]
    assert spec["replicas"] == 2
    assert spec["strategy"] == {"type": "RollingUpdate", "rollingUpdate": {"maxUnavailable": 0, "maxSurge": 1}}
    assert ha["PodDisruptionBudget"][0]["spec"]["maxUnavailable"] == 1
    spread = spec["template"]["spec"]["affinity"]["podAntiAffinity"]["preferredDuringSchedulingIgnoredDuringExecution"]
    assert spread[0]["podAffinityTerm"]["topologyKey"] == "kubernetes.io/hostname"
    sqlite = _kinds(rendered["defaults"])["Deployment"][0]["spec"]
    assert sqlite["strategy"] == {"type": "Recreate"} and "affinity" not in sqlite["template"]["spec"]


def test_the_look_deadline_and_window_gap_reach_the_settings(rendered):
    config = yaml.safe_load(_kinds(rendered["defaults"])["ConfigMap"][0]["data"]["config.yaml"])
    assert config["look_deadline_seconds"] == 8 and config["window_gap_steps"] == 5
    assert (config["look_workers"], config["look_queue_seconds"]) == (4, 2) and "notify_events" not in config
    assert config["token_cache_seconds"] == 10


def _service_container(objects: list[dict]) -> dict:
    return next(c for c in _kinds(objects)["Deployment"][0]["spec"]["template"]["spec"]["containers"]
                if c["name"] == "canary-analyzer")


def test_a_stopping_pod_keeps_serving_while_it_leaves_the_endpoints(rendered):
    """5 s preStop by default (bench/rolling_restart.py: 6-7 failed looks per restart without, 0 with)."""
    assert _service_container(rendered["defaults"])["lifecycle"] == {"preStop": {"exec": {"command": ["sleep", "5"]}}}
    assert "lifecycle" not in _service_container(rendered["webhooks"])  # 0: none


def test_webhook_urls_and_key_reach_the_service_from_the_secret(rendered):
    objects = _kinds(rendered["webhooks"])
    config = yaml.safe_load(objects["ConfigMap"][0]["data"]["config.yaml"])
    assert config["notify_events"] == ["canary.failed"] and config["look_workers"] == 4
    secret = objects["Secret"][0]["stringData"]
    assert (secret["slack-url"], secret["webhook-secret"]) == (SECRETS["slack"], SECRETS["hook-key"])
    env = {e["name"]: e["valueFrom"]["secretKeyRef"] for e in _service_container(rendered["webhooks"])["env"]
           if e["name"].startswith("CANARY_ANALYZER_NOTIFY_")}
    assert {name: ref["key"] for name, ref in env.items()} == {
        "CANARY_ANALYZER_NOTIFY_SLACK_URL": "slack-url", "CANARY_ANALYZER_NOTIFY_WEBHOOK_URL": "webhook-url",
        "CANARY_ANALYZER_NOTIFY_WEBHOOK_SECRET": "webhook-secret"}
    plain = _service_container(rendered["defaults"])["env"]
    assert not any(e["name"].startswith("CANARY_ANALYZER_NOTIFY_") for e in plain)


def test_the_step_template_passes_the_step_and_the_background_does_not(rendered):
    step, background = _kinds(rendered["templates-and-everything"])["ClusterAnalysisTemplate"]
    assert step["spec"]["metrics"][0]["provider"]["web"]["url"].endswith("&step={{args.step}}")
    assert {"name": "step", "value": ""} in step["spec"]["args"]
    assert "step" not in background["spec"]["metrics"][0]["provider"]["web"]["url"]
    assert {m["consecutiveErrorLimit"] for t in (step, background) for m in t["spec"]["metrics"]} == {12}


def test_notes_tell_how_to_reference_the_templates(helm, tmp_path):
    """NOTES.txt is `ca.notes`; `helm template` skips NOTES, so a copy of the chart renders it into a ConfigMap."""
    import shutil

    copy = tmp_path / "chart"
    shutil.copytree(CHART, copy)
    (copy / "templates" / "zz-notes.yaml").write_text(
        "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: notes}\ndata:\n  notes: |\n"
        '{{ include "ca.notes" . | indent 4 }}\n'
    )
    result = _run(helm, "template", "demo", str(copy), "--namespace", "canary",
                  "--set", "analysisTemplates.install=true", "--show-only", "templates/zz-notes.yaml")
    assert result.returncode == 0, result.stderr
    notes = yaml.safe_load(result.stdout)["data"]["notes"]
    assert "templateName: demo-canary-analyzer" in notes and "podTemplateHashValue: Latest" in notes
    assert "http://demo-canary-analyzer.canary.svc.cluster.local:8080/api/v1/analysis" in notes


def test_readme_documents_every_value():
    values = yaml.safe_load((CHART / "values.yaml").read_text())
    readme = (CHART / "README.md").read_text()

    def keys(d: dict, prefix: str = ""):
        for k, v in d.items():
            key = prefix + k
            if isinstance(v, dict) and v and not any(f"`{key}`" in readme for _ in [0]):
                yield from keys(v, key + ".")
            else:
                yield key

    missing = [k for k in keys(values) if f"`{k}`" not in readme]
    assert not missing, f"values missing from the chart README table: {missing}"


def test_promotion_stages_reach_the_service_as_a_file(rendered):
    from analyzer.promotion.stages import Pipeline

    config_map = _kinds(rendered["promotion-cluster-wide"])["ConfigMap"][0]
    settings = yaml.safe_load(config_map["data"]["config.yaml"])
    assert settings["stages_file"] == "/etc/canary-analyzer/stages.yaml" and settings["promotion_drive_rollouts"]
    pipeline = Pipeline.model_validate(yaml.safe_load(config_map["data"]["stages.yaml"]))  # what the service loads
    assert [s.name for s in pipeline.stages] == ["V1", "V2"]
    mounts = _kinds(rendered["promotion-cluster-wide"])["Deployment"][0]["spec"]["template"]["spec"]["containers"][0]
    assert any(m["mountPath"] == "/etc/canary-analyzer/stages.yaml" for m in mounts["volumeMounts"])


def _reactor_container(docs: list[dict]) -> dict | None:
    pod = _kinds(docs)["Deployment"][0]["spec"]["template"]["spec"]
    return next((c for c in pod["containers"] if c["name"] == "reactor"), None)


def test_the_reactor_and_its_rbac_only_when_enabled(rendered):
    from analyzer.settings import Settings

    for case, docs in rendered.items():
        assert (_reactor_container(docs) is not None) == ("reactor" in case), case
    docs = rendered["reactor-ha"]
    kinds = _kinds(docs)
    reactor = _reactor_container(docs)
    assert reactor is not None
    assert reactor["args"] == ["rollout", "reactor", "--config", "/etc/canary-analyzer/config.yaml"]
    env = {e["name"]: e for e in reactor["env"]}
    assert env["POD_NAME"]["valueFrom"] == {"fieldRef": {"fieldPath": "metadata.name"}}
    assert env["CANARY_ANALYZER_DATABASE_URL"]["valueFrom"]["secretKeyRef"] == {"name": "ledger", "key": "database-url"}
    assert reactor["ports"] == [{"name": "reactor", "containerPort": 9464, "protocol": "TCP"}]
    settings = Settings(**yaml.safe_load(kinds["ConfigMap"][0]["data"]["config.yaml"]))  # what the reactor loads
    assert settings.reactor_namespaces == ["shop", "payments"] and settings.reactor_gitops_markers == [
        "example.com/from-git"]
    assert (settings.reactor_lease_seconds, settings.reactor_resync_seconds, settings.reactor_metrics_port) == (
        60, 300, 9464)
    for role in kinds["Role"]:
        rules = [(tuple(r["apiGroups"]), tuple(r["resources"]), tuple(r["verbs"])) for r in role["rules"]]
        assert rules == [
            (("argoproj.io",), ("rollouts", "analysisruns"), ("get", "list", "watch")),
            (("argoproj.io",), ("rollouts",), ("patch",)),
            (("apps",), ("replicasets",), ("list",)),
            (("coordination.k8s.io",), ("leases",), ("get", "create", "update")),
            (("",), ("events",), ("create",)),
        ]
    assert {p["name"] for p in kinds["Service"][0]["spec"]["ports"]} == {"http", "reactor"}
    assert [e["port"] for e in kinds["ServiceMonitor"][0]["spec"]["endpoints"]] == ["http", "reactor"]
    ingress = kinds["NetworkPolicy"][0]["spec"]["ingress"]
    assert {p["port"] for rule in ingress for p in rule["ports"]} == {"http", "reactor"}
    wide = _kinds(rendered["reactor-sqlite-cluster-wide"])
    assert Settings(**yaml.safe_load(wide["ConfigMap"][0]["data"]["config.yaml"])).reactor_namespaces == []
    assert "ClusterRole" in wide and wide["Deployment"][0]["spec"]["strategy"]["type"] == "Recreate"
    mounts = {m["name"] for m in _reactor_container(rendered["reactor-sqlite-cluster-wide"])["volumeMounts"]}
    assert mounts == {"config", "tmp", "data"}  # the SQLite ledger on the pod's volume, shared with the service


def test_the_reactor_port_must_not_be_the_services(helm):
    result = _run(helm, "template", "demo", str(CHART), "--set", "reactor.enabled=true", "--set", "reactor.port=8080")
    assert result.returncode != 0 and "reactor.port must differ from service.port" in result.stderr


def test_a_service_account_token_only_where_the_kubernetes_api_is_called(rendered):
    """Promotion and the reactor call the API; the judge alone never does, so its pods carry no token."""
    for case, docs in rendered.items():
        pod = _kinds(docs)["Deployment"][0]["spec"]["template"]["spec"]
        assert pod["automountServiceAccountToken"] is (case.startswith(("promotion", "reactor", "tokenreview"))), case
        for job in _kinds(docs).get("CronJob", []):
            assert job["spec"]["jobTemplate"]["spec"]["template"]["spec"]["automountServiceAccountToken"] is False


def test_declared_callers_reach_the_api_and_extra_egress_is_added(rendered):
    policy = next(p for p in _kinds(rendered["datasources-callers-retention"])["NetworkPolicy"]
                  if not p["metadata"]["name"].endswith("-retention"))["spec"]
    callers = [rule["from"] for rule in policy["ingress"] if rule["ports"] == [{"port": "http", "protocol": "TCP"}]]
    assert [{"namespaceSelector": {"matchLabels": {"kubernetes.io/metadata.name": "ci"}}},
            {"ipBlock": {"cidr": "10.30.0.0/16"}}] in callers
    assert {"to": [{"ipBlock": {"cidr": "203.0.113.0/24"}}], "ports": [{"port": 443, "protocol": "TCP"}]} in policy[
        "egress"]
    default = _kinds(rendered["network-policy"])["NetworkPolicy"][0]["spec"]
    assert len(default["ingress"]) == 1  # Argo's controller and Prometheus only, unless callers are declared


def test_token_review_settings_and_its_cluster_role_only_when_enabled(rendered):
    from analyzer.settings import Settings

    for case, docs in rendered.items():
        names = {r["metadata"]["name"] for r in _kinds(docs).get("ClusterRole", [])}
        assert ("demo-canary-analyzer-tokenreview" in names) == (case == "tokenreview"), case
    kinds = _kinds(rendered["tokenreview"])
    (role,) = [r for r in kinds["ClusterRole"] if r["metadata"]["name"].endswith("-tokenreview")]
    assert role["rules"] == [{"apiGroups": ["authentication.k8s.io"], "resources": ["tokenreviews"],
                              "verbs": ["create"]}]
    binding = next(b for b in kinds["ClusterRoleBinding"] if b["metadata"]["name"].endswith("-tokenreview"))
    assert binding["subjects"] == [{"kind": "ServiceAccount", "name": "demo-canary-analyzer", "namespace": "canary"}]
    review = Settings(**yaml.safe_load(kinds["ConfigMap"][0]["data"]["config.yaml"])).token_review  # as loaded
    assert review.enabled and review.audiences == ["canary-analyzer"] and review.cache_seconds == 60
    assert [(g.service_account, g.role, g.scope("x")) for g in review.grants] == [
        ("shop/argo-analysis", "analysis", frozenset({"x"})), ("ci/*", "operator", None),
        ("payments/argo", "analysis", frozenset({"payments", "billing"}))]
    policy = kinds["NetworkPolicy"][0]["spec"]
    assert {443, 6443} <= {p["port"] for rule in policy["egress"] for p in rule["ports"]}  # it asks the API server
