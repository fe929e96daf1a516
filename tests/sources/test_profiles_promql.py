"""Every built-in query profile's PromQL, rendered as the service renders it, evaluated by promtool.

`promtool test rules` runs the real PromQL engine on synthetic series named and labelled the way each
profile expects (Istio's and NGINX's label conventions included), so a typo in a profile's metric or
label names, or a query that does not parse, fails here — without a server.
"""

from __future__ import annotations

import re
import subprocess

import pytest
import yaml

from analyzer.config import load_query_profile
from analyzer.sources.prometheus import PART, combine
from analyzer.sources.queries import ARMS, Target, queries_of
from tests.support.prometheus import PROMTOOL

TARGET = Target(namespace="shop", rollout="checkout", canary="c4a1e", stable="5b7d2")
PER_MINUTE = {"canary": (95, 5), "stable": (980, 20)}  # (ok, errors) per minute
LE = ["0.1", "0.25", "+Inf"]


def _labels(selector: str) -> dict[str, str]:
    return dict(re.findall(r'(\w+)="([^"]*)"', selector))


def _series(name: str, labels: dict[str, str], per_minute: float) -> dict[str, str]:
    text = ", ".join(f'{k}="{v}"' for k, v in sorted(labels.items()))
    return {"series": f"{name}{{{text}}}", "values": f"0+{per_minute:g}x10"}


@pytest.mark.parametrize("name", ["http", "istio", "nginx"])
def test_profile_queries_select_the_right_series(name, tmp_path):
    profile = load_query_profile(name)
    ratio = profile.metrics["error-rate"]
    histogram = profile.metrics["latency"]
    counter = re.match(r"sum\(increase\((\w+)\{", ratio.total).group(1)  # type: ignore[union-attr]
    code_label, = re.findall(r'(\w+)=~"5\.\."', ratio.events)
    bucket = re.search(r"(\w+_bucket)\{", histogram.buckets).group(1)  # type: ignore[union-attr]
    inputs, tests = [], []
    for arm in ARMS:
        labels = _labels(_selector(profile, arm))
        ok, errors = PER_MINUTE[arm]
        inputs += [_series(counter, {**labels, code_label: "200"}, ok),
                   _series(counter, {**labels, code_label: "503"}, errors)]
        for le, share in zip(LE, (0.5, 0.9, 1.0), strict=True):
            inputs.append(_series(bucket, {**labels, "le": le}, (ok + errors) * share))
        tests += [
            {"expr": profile.render("error-rate", "total", arm, TARGET), "eval_time": "5m",
             "exp_samples": [{"labels": "{}", "value": ok + errors}]},
            {"expr": profile.render("error-rate", "events", arm, TARGET), "eval_time": "5m",
             "exp_samples": [{"labels": "{}", "value": errors}]},
            {"expr": profile.render("latency", "buckets", arm, TARGET), "eval_time": "5m",
             "exp_samples": [{"labels": f'{{le="{le}"}}', "value": (ok + errors) * share}
                             for le, share in zip(LE, (0.5, 0.9, 1.0), strict=True)]},
        ]
    parts = [profile.render(m, q, arm, TARGET) for m, qs in profile.metrics.items() for q in queries_of(qs)
             for arm in ARMS]
    tests.append({"expr": combine(parts), "eval_time": "5m", "exp_samples": [
        {"labels": f'{{{PART}="0"}}', "value": sum(PER_MINUTE["canary"])},  # the first part: canary requests
        {"labels": f'{{{PART}="1"}}', "value": sum(PER_MINUTE["stable"])},
        {"labels": f'{{{PART}="2"}}', "value": PER_MINUTE["canary"][1]},
        {"labels": f'{{{PART}="3"}}', "value": PER_MINUTE["stable"][1]},
        *[{"labels": f'{{{PART}="{4 + i}", le="{le}"}}', "value": sum(PER_MINUTE[arm]) * share}
          for i, arm in enumerate(ARMS) for le, share in zip(LE, (0.5, 0.9, 1.0), strict=True)],
    ]})
    spec = {"rule_files": [], "evaluation_interval": "1m",
            "tests": [{"interval": "1m", "input_series": inputs, "promql_expr_test": tests}]}
    path = tmp_path / "test.yml"
    path.write_text(yaml.safe_dump(spec, sort_keys=False))
    result = subprocess.run([PROMTOOL, "test", "rules", str(path)], capture_output=True, text=True)
    assert result.returncode == 0, result.stdout + result.stderr


def _selector(profile, arm: str) -> str:
    """The arm's selector with the target's values, as the service substitutes them."""
    from string import Template

    values = {"namespace": TARGET.namespace, "rollout": TARGET.rollout, "hash": TARGET.hash_of(arm),
              "canary": TARGET.canary, "stable": TARGET.stable}
    return Template(getattr(profile.selector, arm)).substitute(values)
