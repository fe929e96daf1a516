"""Every built-in query profile's PromQL, rendered as the service renders it, evaluated by promtool.

`promtool test rules` runs the real PromQL engine on synthetic series named and labelled the way each
profile expects (Istio's and NGINX's label conventions included), so a typo in a profile's metric or
label names, or a query that does not parse, fails here — without a server.
"""

from __future__ import annotations

import subprocess
from dataclasses import dataclass

import pytest
import yaml

from analyzer.config import builtin_profiles, load_query_profile
from analyzer.sources.prometheus import PART, combine
from analyzer.sources.queries import ARMS, Target, queries_of
from tests.support.prometheus import PROMTOOL

TARGET = Target(namespace="shop", rollout="checkout", canary="c4a1e", stable="5b7d2")
#: (ok, errors) per minute, per pod of each arm. For NGINX the `pod` label names an ingress controller pod.
PODS = {
    "canary": {"checkout-c4a1e-a": (60, 3), "checkout-c4a1e-b": (35, 2)},
    "stable": {"checkout-5b7d2-a": (500, 10), "checkout-5b7d2-b": (480, 10)},
}
LE = ["0.1", "0.25", "+Inf"]
SHARES = (0.5, 0.75, 1.0)  # exact in binary: promtool compares floats exactly


def _series(name: str, labels: dict[str, str], per_minute: float) -> dict[str, str]:
    text = ", ".join(f'{k}="{v}"' for k, v in sorted(labels.items()))
    return {"series": f"{name}{{{text}}}", "values": f"0+{per_minute:g}x10"}


def _samples(profile, arm: str, value, extra: str = "", part: int | None = None) -> list[dict[str, object]]:
    """What a query returns for one arm: a sample per pod when the profile groups by pod, else one sum."""
    tag = [f'{PART}="{part}"'] if part is not None else []
    if profile.pod_label is None:
        total = sum(value(counts) for counts in PODS[arm].values())
        return [{"labels": "{" + ", ".join([*tag, *filter(None, [extra])]) + "}", "value": total}]
    return [
        {"labels": "{" + ", ".join([*tag, *filter(None, [extra]), f'{profile.pod_label}="{pod}"']) + "}",
         "value": value(counts)}
        for pod, counts in PODS[arm].items()
    ]


def _expected(profile, query: str, arm: str, part: int | None = None) -> list[dict[str, object]]:
    """The samples of one query ('total', 'events' or 'buckets') of one arm, tagged with its part if combined."""
    if query == "buckets":
        return [sample for le, share in zip(LE, SHARES, strict=True)
                for sample in _samples(profile, arm, lambda c, s=share: (c[0] + c[1]) * s, f'le="{le}"', part)]
    return _samples(profile, arm, (lambda c: c[0] + c[1]) if query == "total" else (lambda c: c[1]), part=part)


@dataclass(frozen=True)
class Exporter:
    """How one exporter names and labels its series: the request counter, its status label, the histogram."""

    counter: str
    status: str  # the label that says how a response ended
    ok: str  # its value for a success, then for an error
    error: str
    bucket: str
    arms: dict[str, dict[str, str]]  # the labels that place a series in an arm, as the exporter writes them


_BY_HASH = {arm: {"namespace": "shop", "rollouts_pod_template_hash": TARGET.hash_of(arm)} for arm in ARMS}
EXPORTERS = {
    "http": Exporter("http_requests_total", "code", "200", "503", "http_request_duration_seconds_bucket", _BY_HASH),
    # and its resource gauges, which test_profiles_gauges_promql.py tests on cAdvisor's and kube-state-metrics' series
    "http-resources": Exporter("http_requests_total", "code", "200", "503", "http_request_duration_seconds_bucket",
                               _BY_HASH),
    "istio": Exporter("istio_requests_total", "response_code", "200", "503",
                      "istio_request_duration_milliseconds_bucket",
                      {arm: {"reporter": "destination", "destination_service_namespace": "shop",
                             "destination_service_name": f"checkout-{arm}"} for arm in ARMS}),
    "istio-subset": Exporter("istio_requests_total", "response_code", "200", "503",
                             "istio_request_duration_milliseconds_bucket",
                             {arm: {**_BY_HASH[arm], "reporter": "destination", "destination_service_name": "checkout"}
                              for arm in ARMS}),
    "nginx": Exporter("nginx_ingress_controller_requests", "status", "200", "503",
                      "nginx_ingress_controller_request_duration_seconds_bucket",
                      {arm: {"namespace": "shop", "service": f"checkout-{arm}"} for arm in ARMS}),
    "linkerd": Exporter("response_total", "classification", "success", "failure", "response_latency_ms_bucket",
                        {arm: {**_BY_HASH[arm], "direction": "inbound", "deployment": "checkout"} for arm in ARMS}),
    "traefik": Exporter("traefik_service_requests_total", "code", "200", "503",
                        "traefik_service_request_duration_seconds_bucket",
                        {arm: {"service": f"shop-checkout-{arm}-80@kubernetescrd"} for arm in ARMS}),
    "contour": Exporter("envoy_cluster_upstream_rq", "envoy_response_code", "200", "503",
                        "envoy_cluster_upstream_rq_time_bucket",
                        {arm: {"envoy_cluster_name": f"shop_checkout-{arm}_80"} for arm in ARMS}),
    # Argo's canary Mapping names the bare canaryService and port; the stable Mapping here is fully qualified.
    "ambassador": Exporter("envoy_cluster_upstream_rq", "envoy_response_code", "200", "503",
                           "envoy_cluster_upstream_rq_time_bucket",
                           {"canary": {"envoy_cluster_name": "checkout_canary_80"},
                            "stable": {"envoy_cluster_name": "checkout_stable_shop_svc_cluster_local_80"}}),
}
#: Series of the same exporter that no arm's selector may pick: another Rollout's, another namespace's.
DECOYS = {"checkout-canary": "checkout-canary2", "checkout_canary": "checkout_canary2", "shop": "shop2",
          TARGET.canary: "0ther"}


def _decoy(labels: dict[str, str]) -> dict[str, str]:
    """The labels of a neighbour's series: every arm-placing value changed a little."""
    out = {}
    for key, value in labels.items():
        for old, new in DECOYS.items():
            value = value.replace(old, new)
        out[key] = value
    return out


def test_every_builtin_query_profile_has_its_exporter_here():
    assert set(EXPORTERS) == set(builtin_profiles()) - {"default"}


@pytest.mark.parametrize("name", sorted(EXPORTERS))
def test_profile_queries_select_the_right_series(name, tmp_path):
    profile = load_query_profile(name)
    exporter = EXPORTERS[name]
    inputs = []
    for arm in ARMS:
        for pod, (ok, failed) in PODS[arm].items():
            for labels, scale in ((exporter.arms[arm], 1), (_decoy(exporter.arms[arm]), 7)):
                labels = {**labels, "pod": pod}
                inputs += [_series(exporter.counter, {**labels, exporter.status: exporter.ok}, ok * scale),
                           _series(exporter.counter, {**labels, exporter.status: exporter.error}, failed * scale)]
                for le, share in zip(LE, SHARES, strict=True):
                    inputs.append(_series(exporter.bucket, {**labels, "le": le}, (ok + failed) * share * scale))
    counted = {m: qs for m, qs in profile.metrics.items() if qs.kind != "gauge"}
    parts = [(m, q, arm) for m, qs in counted.items() for q in queries_of(qs) for arm in ARMS]
    tests = [{"expr": profile.render(m, q, arm, TARGET), "eval_time": "5m", "exp_samples": _expected(profile, q, arm)}
             for m, q, arm in parts]
    tests.append({"expr": combine([profile.render(m, q, arm, TARGET) for m, q, arm in parts]), "eval_time": "5m",
                  "exp_samples": [s for i, (_, q, arm) in enumerate(parts) for s in _expected(profile, q, arm, i)]})
    spec = {"rule_files": [], "evaluation_interval": "1m",
            "tests": [{"interval": "1m", "input_series": inputs, "promql_expr_test": tests}]}
    path = tmp_path / "test.yml"
    path.write_text(yaml.safe_dump(spec, sort_keys=False))
    result = subprocess.run([PROMTOOL, "test", "rules", str(path)], capture_output=True, text=True)
    assert result.returncode == 0, result.stdout + result.stderr


def test_the_pod_grouped_profiles_are_the_ones_whose_series_come_from_the_serving_pod():
    assert {name: load_query_profile(name).pod_label for name in EXPORTERS} == {
        "http": "pod", "http-resources": "pod", "istio": "pod", "istio-subset": "pod", "linkerd": "pod",
        "nginx": None, "traefik": None, "contour": None, "ambassador": None,
    }


def test_a_profile_with_a_pod_label_must_group_by_it():
    from analyzer.sources.queries import QueryProfile

    data = load_query_profile("http").model_dump(mode="json")
    data["metrics"]["error-rate"]["events"] = 'sum(increase(http_requests_total{$selector, code=~"5.."}[$step]))'
    with pytest.raises(ValueError, match="the events query must group by the pod label"):
        QueryProfile.model_validate(data)



@pytest.mark.parametrize(("cluster", "arm"), [
    ("checkout_canary", "canary"), ("checkout_canary_80", "canary"), ("checkout_stable_80", "stable"),
    ("checkout_stable_shop_80", "stable"), ("checkout_stable_shop_svc_cluster_local_8080", "stable"),
    ("checkout_stable_shop2_80", None), ("checkout_stable2_80", None), ("checkout2_canary_80", None),
    ("my_checkout_canary_80", None), ("checkout_canary_other_80", None),
])
def test_ambassador_finds_each_way_a_mapping_can_name_its_service(cluster, arm):
    """Emissary's stats name is the Mapping's service with non-alphanumerics made '_' (RE2 anchors =~ fully)."""
    import re

    profile = load_query_profile("ambassador")
    picked = set()
    for side in ARMS:
        selector = profile.render("error-rate", "total", side, TARGET)
        pattern = re.search(r'envoy_cluster_name=~"([^"]+)"', selector).group(1)
        if re.fullmatch(pattern, cluster):
            picked.add(side)
    assert picked == ({arm} if arm else set())
