"""The chart is never open: without auth.apiTokens it generates a token into its Secret, and NOTES say so."""

from __future__ import annotations

import json
import shutil

import yaml

from tests.charts.test_chart import CHART, _render, _run, helm  # noqa: F401 (helm is a fixture)


def _service_env(docs: list[dict]) -> dict[str, dict]:
    deployment = next(d for d in docs if d["kind"] == "Deployment")
    container = deployment["spec"]["template"]["spec"]["containers"][0]
    return {e["name"]: e for e in container["env"]}


def test_the_default_install_generates_a_token_and_the_service_reads_it(helm):  # noqa: F811
    docs = _render(helm, [])
    secret = next(d for d in docs if d["kind"] == "Secret")
    tokens = json.loads(secret["stringData"]["api-tokens"])
    assert len(tokens) == 1 and len(tokens[0]) == 48
    ref = _service_env(docs)["CANARY_ANALYZER_API_TOKENS"]["valueFrom"]["secretKeyRef"]
    assert ref == {"name": secret["metadata"]["name"], "key": "api-tokens"}


def test_given_or_external_tokens_are_used_as_they_are(helm):  # noqa: F811
    given = _render(helm, ["--set", "auth.apiTokens={t0ken-of-16-chars-or-more}"])
    secret = next(d for d in given if d["kind"] == "Secret")
    assert json.loads(secret["stringData"]["api-tokens"]) == ["t0ken-of-16-chars-or-more"]
    external = _render(helm, ["--set", "auth.existingSecret=argo-tokens"])
    ref = _service_env(external)["CANARY_ANALYZER_API_TOKENS"]["valueFrom"]["secretKeyRef"]
    assert ref["name"] == "argo-tokens"
    assert all("api-tokens" not in d.get("stringData", {}) for d in external if d["kind"] == "Secret")


def _notes(helm: list[str], tmp_path, *values: str) -> str:  # noqa: F811
    """`helm template` skips NOTES: a copy of the chart renders `ca.notes` into a ConfigMap (as test_chart does)."""
    copy = tmp_path / "chart"
    if not copy.exists():
        shutil.copytree(CHART, copy)
        (copy / "templates" / "zz-notes.yaml").write_text(
            "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: notes}\ndata:\n  notes: |\n"
            '{{ include "ca.notes" . | indent 4 }}\n'
        )
    result = _run(helm, "template", "demo", str(copy), "--namespace", "canary", *values,
                  "--show-only", "templates/zz-notes.yaml")
    assert result.returncode == 0, result.stderr
    return str(yaml.safe_load(result.stdout)["data"]["notes"])


def test_notes_warn_about_a_generated_token(helm, tmp_path):  # noqa: F811
    notes = _notes(helm, tmp_path)
    assert "nothing is open" in notes and "a token was generated" in notes
    assert "a token was generated" not in _notes(helm, tmp_path, "--set", "auth.apiTokens={a-token-of-16-chars}")
