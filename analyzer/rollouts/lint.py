"""Lint Argo Rollouts manifests before they reach a cluster: `canary-analyzer rollout lint`.

Three layers, each what some part of Kubernetes would refuse later:

1. **Structure** — every Argo object (Rollout, AnalysisTemplate, ClusterAnalysisTemplate, AnalysisRun,
   Experiment) against the structural JSON Schema derived from Argo Rollouts' CRDs (``schemas/``,
   README there): unknown fields, wrong types, missing required fields, values outside an enum — what the
   API server (and the plugin's strict decoding) reject.
2. **Rollout rules** — :mod:`analyzer.rollouts.lint_rules`: what Argo's controller refuses (checked once
   the Rollout matches its schema, as the plugin's strict decoding stops at the first structural error).
3. **References within the files** — Services a Rollout names must select its pods (their selector's
   labels are the pod template's); an Ingress that NGINX or ALB routing splits must route to the stable
   Service; an AnalysisTemplate or ClusterAnalysisTemplate a Rollout uses, when it
   is in the files too, must get every argument it declares without a value, may not repeat a metric
   name across templates of one analysis, and (outside background analysis) must not measure forever.
   A template that is not in the files lives in the cluster and is not checked.

Every finding names its file, its object and the field, so that a CI log points at the line to fix.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any

import yaml

from analyzer.rollouts.lint_rules import NO_VALUE, POD_TEMPLATE_HASH, Problem, rollout_problems

SCHEMAS = Path(__file__).parent / "schemas"
ARGO_API = "argoproj.io/v1alpha1"
#: Kind -> its schema file (both template kinds share one spec: their CRD schemas are byte-identical).
SCHEMA_FILES = {
    "Rollout": "Rollout.json",
    "AnalysisTemplate": "AnalysisTemplate.json",
    "ClusterAnalysisTemplate": "AnalysisTemplate.json",
    "AnalysisRun": "AnalysisRun.json",
    "Experiment": "Experiment.json",
}


@dataclass(frozen=True)
class Document:
    """One YAML document of a file: where it is, and the object."""

    source: str
    index: int
    body: dict[str, Any]

    @property
    def kind(self) -> str:
        return str(self.body.get("kind", ""))

    @property
    def name(self) -> str:
        return str((self.body.get("metadata") or {}).get("name", ""))

    @property
    def label(self) -> str:
        return f"{self.kind}/{self.name}" if self.kind and self.name else f"document {self.index + 1}"


@dataclass(frozen=True)
class Finding:
    """A problem of one object in one file."""

    source: str
    object: str
    problem: Problem

    def __str__(self) -> str:
        return f"{self.source}: {self.object}: {self.problem}"

    def as_dict(self) -> dict[str, Any]:
        found = {"file": self.source, "object": self.object, "field": self.problem.path,
                 "message": self.problem.message}
        return found if self.problem.value is NO_VALUE else {**found, "value": self.problem.value}


def read_documents(path: Path) -> tuple[list[Document], list[Finding]]:
    """The objects of a YAML (or JSON) file, and a finding for what is not an object or not YAML at all."""
    source = str(path)
    try:
        loaded = list(yaml.safe_load_all(path.read_text(encoding="utf-8")))
    except (OSError, UnicodeDecodeError) as error:
        return [], [Finding(source, "file", Problem("file", f"cannot be read: {error}"))]
    except yaml.YAMLError as error:
        mark = getattr(error, "problem_mark", None)
        where = f"line {mark.line + 1}, column {mark.column + 1}" if mark is not None else "file"
        return [], [Finding(source, where, Problem("yaml", f"not valid YAML: {getattr(error, 'problem', error)}"))]
    documents, findings = [], []
    for index, body in enumerate(loaded):
        if body is None:
            continue
        if not isinstance(body, dict) or not body.get("kind") or not body.get("apiVersion"):
            findings.append(Finding(source, f"document {index + 1}",
                                    Problem("kind", "not a Kubernetes object: it needs apiVersion and kind")))
            continue
        documents.append(Document(source, index, body))
    return documents, findings


@cache
def validator(kind: str) -> Any:
    """The structural-schema validator (a ``jsonschema.Draft7Validator``) of an Argo kind, loaded once."""
    import jsonschema  # type: ignore[import-untyped]  # no stubs shipped; the validator's API is small

    schema = json.loads((SCHEMAS / SCHEMA_FILES[kind]).read_text(encoding="utf-8"))
    return jsonschema.Draft7Validator(schema)


def field_path(parts: Iterable[Any]) -> str:
    """``['spec', 'steps', 0, 'setWeight']`` -> ``spec.steps[0].setWeight``."""
    text = ""
    for part in parts:
        text += f"[{part}]" if isinstance(part, int) else (f".{part}" if text else str(part))
    return text or "(object)"


def schema_problems(doc: Document) -> list[Problem]:
    """What the CRD's structural schema refuses in an Argo object (sorted by field)."""
    problems = [Problem(field_path(e.absolute_path), e.message) for e in validator(doc.kind).iter_errors(doc.body)]
    if not doc.name and not (doc.body.get("metadata") or {}).get("generateName"):
        problems.append(Problem("metadata.name", "Required value: name or generateName is required"))
    return sorted(problems, key=lambda p: p.path)


def _service_roles(strategy: dict[str, Any]) -> Iterator[tuple[str, str]]:
    """(field path, Service name) of every Service the strategy names."""
    canary, blue_green = strategy.get("canary") or {}, strategy.get("blueGreen") or {}
    for key in ("canaryService", "stableService"):
        if canary.get(key):
            yield f"spec.strategy.canary.{key}", canary[key]
    for key in ("pingService", "pongService"):
        if (canary.get("pingPong") or {}).get(key):
            yield f"spec.strategy.canary.pingPong.{key}", canary["pingPong"][key]
    for key in ("activeService", "previewService"):
        if blue_green.get(key):
            yield f"spec.strategy.blueGreen.{key}", blue_green[key]


def service_problems(rollout: Document, services: dict[str, Document]) -> Iterator[Problem]:
    """A Service the Rollout names, in the files, must select the Rollout's pods (bar the pod-template hash)."""
    spec = rollout.body.get("spec") or {}
    labels = ((spec.get("template") or {}).get("metadata") or {}).get("labels") or {}
    for path, name in _service_roles(spec.get("strategy") or {}):
        service = services.get(name)
        if service is None:
            continue
        selector = (service.body.get("spec") or {}).get("selector")
        for key, value in sorted(selector.items() if isinstance(selector, dict) else []):
            if key != POD_TEMPLATE_HASH and labels.get(key) != value:
                yield Problem(path, f"Service {json.dumps(name)} has unmatch label {json.dumps(key)} in rollout", name)


def _backends(ingress: Document) -> set[str]:
    """The Services an Ingress routes to (networking.k8s.io/v1 ``service.name``, v1beta1 ``serviceName``)."""
    names = set()
    for rule in (ingress.body.get("spec") or {}).get("rules") or []:
        for path in ((rule or {}).get("http") or {}).get("paths") or []:
            backend = (path or {}).get("backend") or {}
            names.add(str((backend.get("service") or {}).get("name") or backend.get("serviceName") or ""))
    return names


def ingress_problems(rollout: Document, ingresses: dict[str, Document]) -> Iterator[Problem]:
    """An Ingress that NGINX or ALB traffic routing splits, in the files, must route to the stable Service
    (for ALB: its rootService when set) — else the controller has no rule to add the canary to."""
    canary = ((rollout.body.get("spec") or {}).get("strategy") or {}).get("canary") or {}
    routing = canary.get("trafficRouting") or {}
    base = "spec.strategy.canary.trafficRouting"
    wanted: list[tuple[str, str, str]] = []
    for router, single, several in (("nginx", "stableIngress", "stableIngresses"), ("alb", "ingress", "ingresses")):
        config = routing.get(router)
        if config is None:
            continue
        service = str((config.get("rootService") if router == "alb" else None) or canary.get("stableService", ""))
        if config.get(single):
            wanted.append((f"{base}.{router}.{single}", str(config[single]), service))
        wanted += [(f"{base}.{router}.{several}", str(name), service) for name in config.get(several) or []]
    for path, name, service in wanted:
        if name in ingresses and service not in _backends(ingresses[name]):
            yield Problem(path, f"ingress `{name}` has no rules using service {service} backend", name)


@dataclass(frozen=True)
class AnalysisUse:
    """Where a Rollout runs analysis: the field, its template references, the args it passes, its kind."""

    path: str
    templates: list[dict[str, Any]]
    args: list[dict[str, Any]]
    background: bool = False
    bounded: bool = True  # outside background analysis, a metric that measures forever never lets the step end


def analysis_uses(spec: dict[str, Any]) -> Iterator[AnalysisUse]:
    strategy = spec.get("strategy") or {}
    canary, blue_green = strategy.get("canary") or {}, strategy.get("blueGreen") or {}
    if canary.get("analysis"):
        analysis = canary["analysis"]
        yield AnalysisUse("spec.strategy.canary.analysis.templates", analysis.get("templates") or [],
                          analysis.get("args") or [], background=True, bounded=False)
    for i, step in enumerate(canary.get("steps") or []):
        if (step or {}).get("analysis"):
            yield AnalysisUse(f"spec.strategy.canary.steps[{i}].analysis.templates",
                              step["analysis"].get("templates") or [], step["analysis"].get("args") or [])
        for j, analysis in enumerate(((step or {}).get("experiment") or {}).get("analyses") or []):
            yield AnalysisUse(f"spec.strategy.canary.steps[{i}].experiment.analyses[{j}]", [analysis],
                              analysis.get("args") or [], bounded=False)  # the experiment's duration bounds it
    for key in ("prePromotionAnalysis", "postPromotionAnalysis"):
        if blue_green.get(key):
            yield AnalysisUse(f"spec.strategy.blueGreen.{key}.templates", blue_green[key].get("templates") or [],
                              blue_green[key].get("args") or [])


def _runs_forever(metric: dict[str, Any]) -> bool:
    """Argo's EffectiveCount is unbounded: no count (or 0) but an interval to repeat at."""
    count = metric.get("count")
    if isinstance(count, str) and "{{" in count:
        return False  # resolved from an argument at run time
    return (count in (None, 0, "0", "")) and bool(metric.get("interval"))


def analysis_problems(rollout: Document, templates: dict[tuple[bool, str], Document]) -> Iterator[Problem]:
    """Each analysis of the Rollout against the templates it names that are in the files."""
    for use in analysis_uses(rollout.body.get("spec") or {}):
        found = [templates[key] for key in ((bool(t.get("clusterScope")), str(t.get("templateName", "")))
                                            for t in use.templates) if key in templates]
        names = "templateNames: [" + " ".join(t.name for t in found) + "]"
        passed = {arg.get("name") for arg in use.args}
        seen: set[str] = set()
        for template in found:
            spec = template.body.get("spec") or {}
            for arg in spec.get("args") or []:
                if "value" not in arg and "valueFrom" not in arg and arg.get("name") not in passed:
                    yield Problem(use.path, f"args.{arg.get('name')} was not resolved", names)
            for metric in spec.get("metrics") or []:
                if metric.get("name") in seen:
                    yield Problem(use.path, f"two metrics have the same name '{metric.get('name')}'", names)
                seen.add(str(metric.get("name")))
                if use.bounded and _runs_forever(metric):
                    yield Problem(use.path, f"{template.kind} {template.name} has metric {metric.get('name')} which "
                                  f"runs indefinitely. Invalid value for count: {metric.get('count')}", template.name)


def lint_documents(documents: list[Document]) -> list[Finding]:
    """Every finding of these objects, references resolved among them."""
    services = {d.name: d for d in documents if d.kind == "Service" and d.body.get("apiVersion") == "v1"}
    ingresses = {d.name: d for d in documents if d.kind == "Ingress"
                 and d.body.get("apiVersion") in ("networking.k8s.io/v1", "extensions/v1beta1")}
    templates = {(d.kind == "ClusterAnalysisTemplate", d.name): d for d in documents
                 if d.kind in ("AnalysisTemplate", "ClusterAnalysisTemplate")}
    findings = []
    for doc in documents:
        if doc.kind not in SCHEMA_FILES or not str(doc.body.get("apiVersion")).startswith("argoproj.io/"):
            continue
        if doc.body.get("apiVersion") != ARGO_API:
            findings.append(Finding(doc.source, doc.label, Problem(
                "apiVersion", f"Argo Rollouts serves {doc.kind} as {ARGO_API}", doc.body.get("apiVersion"))))
            continue
        problems = schema_problems(doc)
        if doc.kind == "Rollout" and not problems:  # the rules read fields of the types the schema promises
            problems += rollout_problems(doc.body)
            problems += service_problems(doc, services)
            problems += ingress_problems(doc, ingresses)
            problems += analysis_problems(doc, templates)
        findings += [Finding(doc.source, doc.label, problem) for problem in problems]
    return findings


def lint_files(paths: Iterable[Path]) -> tuple[list[Document], list[Finding]]:
    """Read and lint the files together (a Rollout may use a template or Service of another file)."""
    documents, findings = [], []
    for path in paths:
        docs, unreadable = read_documents(path)
        documents += docs
        findings += unreadable
    return documents, findings + lint_documents(documents)
