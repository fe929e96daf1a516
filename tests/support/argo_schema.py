"""Structural JSON Schemas for Argo Rollouts objects, derived from the upstream CRDs.

Derivation: take ``spec.versions[0].schema.openAPIV3Schema`` of a CRD, drop every ``description``,
forbid unknown fields on every object that lists its properties (unless it carries
``x-kubernetes-preserve-unknown-fields``), and spell ``x-kubernetes-int-or-string`` as
integer-or-string. What remains is the types, the required fields and the enums: what the
apiserver's structural-schema validation checks. The derived files are committed beside their
README (tests/fixtures/argo-schemas) so that CI needs no copy of the upstream CRDs.

    python -m tests.support.argo_schema ../shared/reference/argo-rollouts-crds tests/fixtures/argo-schemas
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

import yaml

CRDS = {
    "Rollout": "rollout-crd.yaml",
    "AnalysisTemplate": "analysis-template-crd.yaml",
    "ClusterAnalysisTemplate": "cluster-analysis-template-crd.yaml",
}


def structural(node: Any) -> Any:
    if isinstance(node, list):
        return [structural(item) for item in node]
    if not isinstance(node, dict):
        return node
    out = {k: structural(v) for k, v in node.items() if k != "description"}
    if out.pop("x-kubernetes-int-or-string", False):
        out.pop("type", None)
        out["anyOf"] = [{"type": "integer"}, {"type": "string"}]
    preserve = out.pop("x-kubernetes-preserve-unknown-fields", False)
    if "properties" in out and not preserve and "additionalProperties" not in out:
        out["additionalProperties"] = False
    for key in [k for k in out if k.startswith("x-kubernetes-")]:
        del out[key]
    return out


def derive(crd_path: Path) -> dict[str, Any]:
    crd = yaml.safe_load(crd_path.read_text())
    schema = structural(crd["spec"]["versions"][0]["schema"]["openAPIV3Schema"])
    schema["properties"]["metadata"] = {"type": "object"}  # the apiserver validates ObjectMeta itself
    return schema


def main(source: str, target: str) -> None:
    out = Path(target)
    out.mkdir(parents=True, exist_ok=True)
    for kind, name in CRDS.items():
        (out / f"{kind}.json").write_text(json.dumps(derive(Path(source) / name), sort_keys=True) + "\n")


if __name__ == "__main__":
    main(*sys.argv[1:3])
