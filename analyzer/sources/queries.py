"""PromQL query profiles: server-side templates per metric, an arm selector per arm, safe rendering.

A profile names, for each metric, the PromQL that returns one step's increments for one arm, and
for each arm the label selector that picks that arm's series. Templates use ``$placeholders``
(:class:`string.Template`): ``$selector`` (the arm's selector, itself a template), ``$step`` (the
step as a PromQL duration, e.g. ``60s``), and in selectors ``$namespace``, ``$rollout``, ``$hash``
(this arm's pod-template hash), ``$canary``, ``$stable`` and ``$rollout_regex`` (the Rollout's name
as a regular expression matching itself only, for ``pod=~"$rollout_regex-$hash-.*"``: a Rollout's
pods are named ``<rollout>-<pod-template-hash>-<suffix>``). A gauge metric (CPU, memory, restarts
from cAdvisor or kube-state-metrics, whose series carry no Rollout labels) may bring its own
``selector`` per arm, e.g. by pod name. ``$rollout_stats`` and ``$namespace_stats`` are the names with
every character other than a letter or digit made ``_``, the way Emissary names a Mapping's Envoy
cluster statistics (its default ``stats_name``). A profile whose exporter labels series
with the pod names that label (``pod_label``), and its queries group by it, so that the judge sees
how pods of one version differ; one without (e.g. an ingress, which sees no upstream pods) judges on
arm totals.

Request values never become PromQL syntax: they are checked against strict patterns first
(:class:`Target`) and escaped as PromQL string contents when substituted, and they may only
appear inside the selector, which the profile author writes inside double quotes.
"""

from __future__ import annotations

import re
from string import Template
from typing import Annotated, Literal

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, StringConstraints, model_validator

from analyzer.model import DATA_KIND, Policy

Arm = Literal["canary", "stable"]
ARMS: tuple[Arm, Arm] = ("canary", "stable")

#: RFC 1123 label, as Kubernetes requires of namespaces.
DNS1123_LABEL = r"^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$"
#: RFC 1123 subdomain (<= 253), as Kubernetes requires of most object names, Rollouts included.
DNS1123_SUBDOMAIN = r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$"
#: A pod-template hash: Kubernetes' safe-encoded hash (lowercase letters and digits), hex included.
POD_TEMPLATE_HASH = r"^[a-z0-9]{1,63}$"

Namespace = Annotated[str, StringConstraints(pattern=DNS1123_LABEL, max_length=63)]
RolloutName = Annotated[str, StringConstraints(pattern=DNS1123_SUBDOMAIN, max_length=253)]
PodTemplateHash = Annotated[str, StringConstraints(pattern=POD_TEMPLATE_HASH)]
ProfileName = Annotated[str, StringConstraints(pattern=r"^[a-z0-9][-a-z0-9_.]{0,62}$")]


class Target(BaseModel):
    """What one analysis is about: a Rollout and the pod-template hashes of its two arms."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    namespace: Namespace
    rollout: RolloutName
    canary: PodTemplateHash
    stable: PodTemplateHash

    def hash_of(self, arm: Arm) -> str:
        return self.canary if arm == "canary" else self.stable


def stats_name(value: str) -> str:
    """``value`` with every character other than an ASCII letter or digit made ``_`` (Emissary's stats names)."""
    return re.sub(r"[^A-Za-z0-9]", "_", value)


def promql_string_contents(value: str) -> str:
    """Escape a value for use inside a double-quoted PromQL string (backslash, quote, newline)."""
    return value.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")


_SELECTOR_KEYS = (
    "namespace", "rollout", "hash", "canary", "stable", "rollout_regex", "rollout_stats", "namespace_stats"
)
_QUERY_KEYS = ("selector", "step")


def _check_template(text: str, allowed: tuple[str, ...], what: str) -> str:
    template = Template(text)
    if not template.is_valid():
        raise ValueError(f"{what}: a '$' that starts no placeholder (write '$$' for a literal '$')")
    unknown = sorted(set(template.get_identifiers()) - set(allowed))
    if unknown:
        raise ValueError(f"{what}: unknown placeholder(s) {unknown}; allowed: {list(allowed)}")
    return text


QueryTemplate = Annotated[str, AfterValidator(lambda text: _check_template(text, _QUERY_KEYS, "query"))]
SelectorTemplate = Annotated[str, AfterValidator(lambda text: _check_template(text, _SELECTOR_KEYS, "selector"))]


class RatioQueries(BaseModel):
    """Two queries per arm: requests and events (errors) per step, one series per pod (or one in all), or none."""

    model_config = ConfigDict(extra="forbid")
    kind: Literal["ratio"] = "ratio"
    total: QueryTemplate
    events: QueryTemplate


class HistogramQueries(BaseModel):
    """One query per arm returning one series per ``le`` bucket bound (and pod: ``sum by (pod, le)``)."""

    model_config = ConfigDict(extra="forbid")
    kind: Literal["histogram"] = "histogram"
    buckets: QueryTemplate
    le_scale: float = Field(default=1.0, gt=0, description="multiply le by this for seconds (Istio's ms: 0.001)")


class Selectors(BaseModel):
    model_config = ConfigDict(extra="forbid")
    canary: SelectorTemplate
    stable: SelectorTemplate


class GaugeQueries(BaseModel):
    """One query per arm returning one series per pod: the gauge's value at each step's end.

    E.g. ``sum by (pod) (rate(container_cpu_usage_seconds_total{$selector}[$step]))``; judged canary
    pods against stable pods (policy kind ``gauge``) or the canary against a limit (``threshold``).
    """

    model_config = ConfigDict(extra="forbid")
    kind: Literal["gauge"] = "gauge"
    value: QueryTemplate
    selector: Selectors | None = Field(
        default=None, description="this metric's arm selectors (e.g. by pod name); default: the profile's"
    )


MetricQueries = Annotated[RatioQueries | HistogramQueries | GaugeQueries, Field(discriminator="kind")]


class QueryProfile(BaseModel):
    """A named set of queries, the step they are evaluated on, and the policy that judges them."""

    model_config = ConfigDict(extra="forbid")

    name: ProfileName
    description: str = ""
    step_seconds: int = Field(default=60, ge=1, le=3600)
    selector: Selectors
    pod_label: str | None = Field(
        default=None,
        pattern=r"^[a-zA-Z_][a-zA-Z0-9_]*$",
        description="the label naming a pod; every query groups by it (sum by (pod)) and the judge gets per-pod data",
    )
    datasource: ProfileName | None = Field(
        default=None, description="an entry of the datasources setting; none: the global prometheus_* settings"
    )
    metrics: dict[str, MetricQueries] = Field(min_length=1)
    policy: Policy = Field(default_factory=Policy)

    @model_validator(mode="after")
    def _policy_kinds_match(self) -> QueryProfile:
        for name, queries in self.metrics.items():
            configured = self.policy.metrics.get(name)
            if configured is not None and DATA_KIND[configured.kind] != queries.kind:
                raise ValueError(f"metric {name!r}: the queries are {queries.kind}, the policy says {configured.kind}")
        return self

    @model_validator(mode="after")
    def _window_from_requests(self) -> QueryProfile:
        first = next(iter(self.metrics))
        if self.metrics[first].kind == "gauge":
            raise ValueError(
                f"metric {first!r}: the first metric must count requests (ratio or histogram): the window starts"
                " at the canary's first request in it; list gauges after it"
            )
        return self

    @model_validator(mode="after")
    def _queries_group_by_pod(self) -> QueryProfile:
        if self.pod_label is None:
            return self
        grouped = re.compile(rf"\bby\s*\([^)]*\b{self.pod_label}\b")
        for name, queries in self.metrics.items():
            for query in queries_of(queries):
                if not grouped.search(getattr(queries, query)):
                    raise ValueError(
                        f"metric {name!r}: the {query} query must group by the pod label"
                        f" (e.g. 'sum by ({self.pod_label}) (...)'), since pod_label is {self.pod_label!r}"
                    )
        return self

    def render(self, metric: str, query: str, arm: Arm, target: Target) -> str:
        """The PromQL for one metric's query ('total', 'events', 'buckets' or 'value') and one arm."""
        values = {
            "namespace": target.namespace,
            "rollout": target.rollout,
            "hash": target.hash_of(arm),
            "canary": target.canary,
            "stable": target.stable,
            "rollout_regex": re.escape(target.rollout),
            "rollout_stats": stats_name(target.rollout),
            "namespace_stats": stats_name(target.namespace),
        }
        escaped = {key: promql_string_contents(value) for key, value in values.items()}
        queries = self.metrics[metric]
        selectors = queries.selector if isinstance(queries, GaugeQueries) and queries.selector else self.selector
        selector = Template(getattr(selectors, arm)).substitute(escaped)
        template: str = getattr(queries, query)
        return Template(template).substitute(selector=selector, step=f"{self.step_seconds}s")


def queries_of(queries: RatioQueries | HistogramQueries | GaugeQueries) -> tuple[str, ...]:
    """The query names a metric kind needs."""
    return {"ratio": ("total", "events"), "histogram": ("buckets",), "gauge": ("value",)}[queries.kind]


_LE = re.compile(r"^\+?inf$", re.IGNORECASE)


def parse_le(text: str) -> float:
    """A Prometheus ``le`` label value as a float ('+Inf' included)."""
    return float("inf") if _LE.match(text.strip()) else float(text)


def is_inf_le(text: str) -> bool:
    """True for the ``le`` of the bucket that counts every request ('+Inf')."""
    return bool(_LE.match(text.strip()))
