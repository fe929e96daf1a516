"""Every shipped Argo object validates against the structural schema derived from the upstream CRDs."""

from __future__ import annotations

import copy
import json
from pathlib import Path

import jsonschema
import pytest
import yaml

ROOT = Path(__file__).parents[2]
TEMPLATES = ROOT / "analysis-templates"
SCHEMAS = ROOT / "tests" / "fixtures" / "argo-schemas"
ARGO_KINDS = {"Rollout", "AnalysisTemplate", "ClusterAnalysisTemplate"}


def _validator(kind: str) -> jsonschema.Draft7Validator:
    return jsonschema.Draft7Validator(json.loads((SCHEMAS / f"{kind}.json").read_text()))


def _documents() -> list[tuple[str, dict]]:
    docs = []
    for path in sorted(TEMPLATES.glob("*.yaml")):
        for doc in yaml.safe_load_all(path.read_text()):
            if doc and doc.get("kind") in ARGO_KINDS:
                docs.append((f"{path.name}:{doc['kind']}/{doc['metadata']['name']}", doc))
    return docs


DOCUMENTS = _documents()


def test_every_template_file_holds_argo_objects():
    names = {name.split(":")[0] for name, _ in DOCUMENTS}
    assert names == {
        "analysis-template.yaml",
        "background-analysis-template.yaml",
        "cluster-analysis-template.yaml",
        "example-rollout.yaml",
        "example-rollout-experiment-baseline.yaml",
    }


@pytest.mark.parametrize(("name", "doc"), DOCUMENTS, ids=[n for n, _ in DOCUMENTS])
def test_document_matches_the_crd_schema(name, doc):
    errors = sorted(_validator(doc["kind"]).iter_errors(doc), key=str)
    assert not errors, f"{name}: " + "; ".join(f"{list(e.absolute_path)}: {e.message}" for e in errors)


def test_the_schema_rejects_unknown_fields_and_wrong_types():
    doc = copy.deepcopy(dict(DOCUMENTS)["cluster-analysis-template.yaml:ClusterAnalysisTemplate/canary-analyzer"])
    validator = _validator("ClusterAnalysisTemplate")
    typo = copy.deepcopy(doc)
    typo["spec"]["metrics"][0]["consecutiveSucessLimit"] = 1
    assert any("consecutiveSucessLimit" in e.message for e in validator.iter_errors(typo))
    wrong = copy.deepcopy(doc)
    wrong["spec"]["metrics"][0]["provider"]["web"]["timeoutSeconds"] = "10s"
    assert list(validator.iter_errors(wrong))
    missing = copy.deepcopy(doc)
    del missing["spec"]["metrics"][0]["name"]
    assert any("'name' is a required property" in e.message for e in validator.iter_errors(missing))


def test_step_template_makes_argo_pause_at_the_horizon_not_before():
    """The limits that turn three verdicts into abort / promote / pause (DESIGN.md, the hot path)."""
    for name in ("cluster-analysis-template.yaml", "analysis-template.yaml"):
        doc = next(d for n, d in DOCUMENTS if n.startswith(name))
        metric = doc["spec"]["metrics"][0]
        assert metric["consecutiveSuccessLimit"] == 1
        assert metric["failureLimit"] == 0
        assert metric["inconclusiveLimit"] == metric["count"]
        assert metric["successCondition"] == 'result.verdict == "pass"'
        assert metric["failureCondition"] == 'result.verdict == "fail"'


def test_experiment_baseline_compares_the_experiments_own_hashes():
    doc = dict(DOCUMENTS)["example-rollout-experiment-baseline.yaml:Rollout/checkout"]
    experiment = doc["spec"]["strategy"]["canary"]["steps"][0]["experiment"]
    assert {t["specRef"] for t in experiment["templates"]} == {"stable", "canary"}
    args = {a["name"]: a.get("value") for a in experiment["analyses"][0]["args"]}
    assert args["canary-hash"] == "{{templates.canary.podTemplateHash}}"
    assert args["stable-hash"] == "{{templates.baseline.podTemplateHash}}"
