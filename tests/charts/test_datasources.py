"""Datasources in the chart: values become the `datasources` setting the service reads; secrets stay Secrets.

The settings are loaded the way the pod loads them (config.yaml from the ConfigMap, the header values from
the chart's Secret as CANARY_ANALYZER_DATASOURCES), and every credential file they name is checked against
the projected volume that puts the Secret's key there.
"""

from __future__ import annotations

import json
from pathlib import Path

from analyzer.settings import load_settings
from tests.charts.test_chart import CHART, MATRIX, SECRETS, _kinds, _render, _run, helm  # noqa: F401 (fixture)

CASE = MATRIX["datasources-callers-retention"]


def _service(docs: list[dict]) -> tuple[dict, dict]:
    pod = _kinds(docs)["Deployment"][0]["spec"]["template"]["spec"]
    return pod, pod["containers"][0]


def _projected(pod: dict, container: dict) -> dict[str, tuple[str, str, str]]:
    """Each file the pod sees under the datasources mount: (Secret or ConfigMap, its name, its key)."""
    mount = next(m for m in container["volumeMounts"] if m["name"] == "datasources")
    volume = next(v for v in pod["volumes"] if v["name"] == "datasources")["projected"]
    files = {}
    for source in volume["sources"]:
        ((kind, ref),) = source.items()
        for item in ref["items"]:
            files[f"{mount['mountPath']}/{item['path']}"] = (kind, ref["name"], item["key"])
    return files


def _settings(docs: list[dict], tmp_path: Path, monkeypatch):
    config = tmp_path / "config.yaml"
    config.write_text(_kinds(docs)["ConfigMap"][0]["data"]["config.yaml"])
    _, container = _service(docs)
    ref = next(e for e in container["env"] if e["name"] == "CANARY_ANALYZER_DATASOURCES")["valueFrom"]["secretKeyRef"]
    secret = next(s for s in _kinds(docs)["Secret"] if s["metadata"]["name"] == ref["name"])
    monkeypatch.setenv("CANARY_ANALYZER_DATASOURCES", secret["stringData"][ref["key"]])
    return load_settings(config)


def test_the_service_reads_the_datasources_and_each_secret_is_a_projected_file(helm, tmp_path, monkeypatch):  # noqa: F811
    docs = _render(helm, CASE)
    settings = _settings(docs, tmp_path, monkeypatch)
    mimir, thanos, vendor = (settings.datasources[n] for n in ("mimir", "thanos", "vendor"))
    assert mimir.url == "https://mimir.example.com/prometheus" and mimir.tenant == "team-a"
    assert mimir.static_headers() == {"X-Api-Key": SECRETS["ds-header"], "X-Scope-OrgID": "team-a"}
    assert mimir.basic_auth is not None and mimir.basic_auth.username == "reader"
    assert vendor.oauth2 is not None and vendor.oauth2.scopes == ["metrics.read"]
    files = _projected(*_service(docs))
    assert thanos.bearer_token is not None and vendor.oauth2.client_secret.file is not None
    assert files == {
        str(mimir.basic_auth.password.file): ("secret", "mimir-auth", "password"),
        str(mimir.ca_file): ("secret", "mimir-ca", "ca.crt"),
        str(thanos.bearer_token.file): ("secret", "thanos-token", "token"),
        str(vendor.oauth2.client_secret.file): ("secret", "vendor-oauth", "client-secret"),
        str(vendor.ca_file): ("configMap", "vendor-ca", "bundle.pem"),
    }


def test_a_bearer_token_is_read_from_its_file_at_each_request(helm, tmp_path, monkeypatch):  # noqa: F811
    """The kubelet updates a mounted Secret in place: the next request sends the new token."""
    docs = _render(helm, CASE)
    config = _kinds(docs)["ConfigMap"][0]["data"]["config.yaml"]
    mounted = tmp_path / "mounted"
    (tmp_path / "config.yaml").write_text(config.replace("/etc/canary-analyzer/datasources", str(mounted)))
    (mounted / "thanos").mkdir(parents=True)
    token = mounted / "thanos" / "bearer-token"
    token.write_text("first-t0ken\n")
    authorization = load_settings(tmp_path / "config.yaml").datasources["thanos"].auth(2.0)
    assert authorization is not None  # what gives each request's Authorization header
    assert authorization() == "Bearer first-t0ken"
    token.write_text("rotated-t0ken")
    assert authorization() == "Bearer rotated-t0ken"


def test_no_secret_in_the_config_map_and_no_mount_without_credentials(helm):  # noqa: F811
    docs = _render(helm, CASE)
    assert SECRETS["ds-header"] not in json.dumps(_kinds(docs)["ConfigMap"])
    assert SECRETS["ds-header"] in json.dumps(_kinds(docs)["Secret"])
    plain = _render(helm, ["--set", "datasources.vm.url=http://vm.monitoring.svc:8428"])
    pod, container = _service(plain)
    assert all(v["name"] != "datasources" for v in pod["volumes"])
    assert all(e["name"] != "CANARY_ANALYZER_DATASOURCES" for e in container["env"])
    assert "datasource-headers" not in _kinds(plain)["Secret"][0]["stringData"]


def test_bad_datasource_values_are_refused_by_name(helm):  # noqa: F811
    for values, message in (
        (["--set", "datasources.mimir.url=mimir:9009"], "datasources.mimir.url: Does not match pattern"),
        (["--set", "datasources.Mimir.url=http://mimir"], "Mimir"),
        (["--set", "datasources.m.url=http://m", "--set", "datasources.m.bearerTokenSecret.name=s"],
         "datasources.m.bearerTokenSecret: key is required"),
        (["--set", "datasources.m.url=http://m",
          "--set-json", 'datasources.m.bearerTokenSecret={"name": "s", "key": "t"}',
          "--set-json", 'datasources.m.oauth2={"tokenUrl": "http://t", "clientId": "c", "clientSecretSecret": '
          '{"name": "s", "key": "c"}}'], "datasources.m: one of basicAuth, bearerTokenSecret or oauth2"),
    ):
        result = _run(helm, "template", "demo", str(CHART), *values)
        assert result.returncode != 0 and message in result.stderr, (values, result.stderr)
