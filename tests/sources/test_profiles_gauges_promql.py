"""The gauge queries of the built-in profiles, rendered as the service renders them, evaluated by promtool.

cAdvisor and kube-state-metrics label series by namespace, pod and container only, so the gauges pick
a Rollout's pods by name. The inputs hold the series a real cluster has next to them, which no arm may
pick: cAdvisor's pod-level cgroup (container="") and pause (container="POD") series of the same pods,
the pods of a Rollout whose name starts the same (``checkout2``), and the same pods' names in another
namespace.
"""

from __future__ import annotations

import subprocess

import pytest
import yaml

from analyzer.config import builtin_profiles, load_query_profile
from analyzer.sources.queries import ARMS, Target
from tests.support.prometheus import PROMTOOL

TARGET = Target(namespace="shop", rollout="checkout", canary="c4a1e", stable="5b7d2")
#: Per pod: CPU seconds per 15 s scrape, working-set bytes, restarts in the 5 minutes (one at 2m30s).
PODS = {
    "canary": {"checkout-c4a1e-x7k2p": (3.0, 2.0e8, 1), "checkout-c4a1e-q9w4z": (1.5, 1.5e8, 0)},
    "stable": {"checkout-5b7d2-a1b2c": (1.5, 1.0e8, 0), "checkout-5b7d2-d3e4f": (0.75, 1.25e8, 0),
               "checkout-5b7d2-g5h6j": (1.5, 1.0e8, 0)},
}
#: (labels changed, scale) of series no selector may pick.
DECOYS = ({"container": ""}, {"container": "POD"}, {"pod": "checkout2-{hash}-zzzzz"}, {"namespace": "shop2"})


def _series(name: str, labels: dict[str, str], values: str) -> dict[str, str]:
    text = ", ".join(f'{k}="{v}"' for k, v in sorted(labels.items()))
    return {"series": f"{name}{{{text}}}", "values": values}


def _inputs() -> list[dict[str, str]]:
    inputs = []
    for arm in ARMS:
        for pod, (cpu, memory, restarts) in PODS[arm].items():
            own = {"namespace": "shop", "pod": pod, "container": "app"}
            variants = [(own, 1)] + [
                ({**own, **{k: v.format(hash=TARGET.hash_of(arm)) for k, v in change.items()}}, 7) for change in DECOYS
            ]
            for labels, scale in variants:
                inputs.append(_series("container_cpu_usage_seconds_total", labels, f"0+{cpu * scale:g}x40"))
                inputs.append(_series("container_memory_working_set_bytes", labels, f"{memory * scale:g}x40"))
                if labels.get("container") == "app":  # kube-state-metrics has no pod-level series
                    steps = "0x10 " + (f"{restarts * scale:g}x30" if restarts else "0x30")
                    inputs.append(_series("kube_pod_container_status_restarts_total", labels, steps))
    return inputs


def _expected(metric: str, arm: str) -> list[dict[str, object]]:
    value = {
        "cpu": lambda c: c[0] / 15,  # rate per second of CPU seconds
        "memory": lambda c: c[1],
        "restarts": lambda c: c[2],  # increase over the 60 s the samples span (Prometheus 2: [t - 60 s, t])
    }[metric]
    return [{"labels": f'{{pod="{pod}"}}', "value": value(counts)} for pod, counts in PODS[arm].items()]


GAUGE_PROFILES = sorted(
    name for name in builtin_profiles()
    if name != "default" and any(q.kind == "gauge" for q in load_query_profile(name).metrics.values())
)


def test_a_builtin_profile_ships_the_resource_gauges():
    assert GAUGE_PROFILES == ["http-resources"]


@pytest.mark.parametrize("name", GAUGE_PROFILES)
def test_gauge_queries_select_each_arms_pods_and_nothing_else(name, tmp_path):
    profile = load_query_profile(name)
    tests = []
    for metric, queries in profile.metrics.items():
        if queries.kind != "gauge":
            continue
        for arm in ARMS:
            # Evaluated at 2m45s: the restart (at 2m30s) lies in the last 60 s; CPU and memory are steady.
            tests.append({"expr": profile.render(metric, "value", arm, TARGET), "eval_time": "2m45s",
                          "exp_samples": _expected(metric, arm)})
    spec = {"rule_files": [], "evaluation_interval": "15s",
            "tests": [{"interval": "15s", "input_series": _inputs(), "promql_expr_test": tests}]}
    path = tmp_path / "test.yml"
    path.write_text(yaml.safe_dump(spec, sort_keys=False))
    result = subprocess.run([PROMTOOL, "test", "rules", str(path)], capture_output=True, text=True)
    assert result.returncode == 0, result.stdout + result.stderr


def test_a_rollout_name_is_matched_as_itself_not_as_a_pattern():
    rendered = load_query_profile("http-resources").render(
        "cpu", "value", "canary", Target(namespace="shop", rollout="web.v2", canary="c4a1e", stable="5b7d2")
    )
    assert 'pod=~"web\\\\.v2-c4a1e-[a-z0-9]+"' in rendered  # PromQL "\\." is the regex \. : a dot, not any character


def test_a_profile_must_start_with_a_metric_that_counts_requests():
    from analyzer.sources.queries import QueryProfile

    data = load_query_profile("http-resources").model_dump(mode="json")
    data["metrics"] = {"cpu": data["metrics"]["cpu"], **data["metrics"]}
    with pytest.raises(ValueError, match="metric 'cpu': the first metric must count requests"):
        QueryProfile.model_validate(data)


def test_a_threshold_policy_judges_gauge_queries_only():
    from analyzer.sources.queries import QueryProfile

    data = load_query_profile("http-resources").model_dump(mode="json")
    data["policy"]["metrics"]["error-rate"] = {"kind": "threshold", "limit": 0.02, "bound": 1}
    with pytest.raises(ValueError, match="metric 'error-rate': the queries are ratio, the policy says threshold"):
        QueryProfile.model_validate(data)
