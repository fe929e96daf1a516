"""Argo Rollouts' web metric provider and metric assessment, re-enacted for the tests.

Rules (research-argo-rollouts.md §1-2; argo-rollouts ``metricproviders/webmetric``, ``analysis/analysis.go``):
``{{args.x}}`` is substituted raw (no URL encoding); a non-2xx answer, a timeout or a network error is a
measurement Error, retried after 10 s, and the metric is Error once consecutive errors exceed
``consecutiveErrorLimit`` (default 4); with both conditions, failure wins, success alone is Successful,
neither is Inconclusive; the metric is Failed when failures exceed ``failureLimit``, Inconclusive when
inconclusives exceed ``inconclusiveLimit``, Successful at ``consecutiveSuccessLimit`` consecutive
successes, and when ``count`` runs out without that, Inconclusive. A run with one metric takes its phase.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import httpx

ERROR_RETRY_SECONDS = 10
_ARG = re.compile(r"\{\{\s*args\.([\w-]+)\s*\}\}")
_CONDITION = re.compile(r'^result\.(\w+) == "([^"]*)"$')


def _seconds(duration: str | int) -> int:
    if isinstance(duration, int):
        return duration
    units = {"s": 1, "m": 60, "h": 3600}
    return int(duration[:-1]) * units[duration[-1]]


def _condition(text: str | None) -> Callable[[Any], bool] | None:
    if text is None:
        return None
    match = _CONDITION.match(text)
    assert match, f"the harness only evaluates 'result.<field> == \"value\"', got {text!r}"
    key, value = match.groups()
    return lambda result: isinstance(result, dict) and result.get(key) == value


@dataclass
class Run:
    phase: str
    measurements: list[str] = field(default_factory=list)  # Successful / Failed / Inconclusive / Error per call
    bodies: list[Any] = field(default_factory=list)


def resolve(template: dict[str, Any], args: dict[str, str], secrets: dict[tuple[str, str], str]) -> dict[str, str]:
    values: dict[str, str] = {}
    for spec in template["spec"].get("args", []):
        name = spec["name"]
        if name in args:
            values[name] = args[name]
        elif "value" in spec:
            values[name] = spec["value"]
        elif "secretKeyRef" in spec.get("valueFrom", {}):
            ref = spec["valueFrom"]["secretKeyRef"]
            values[name] = secrets[(ref["name"], ref["key"])]
        else:
            raise AssertionError(f"args.{name} was not resolved")
    return values


def run_metric(
    template: dict[str, Any],
    args: dict[str, str],
    base_url: str,
    advance: Callable[[int], None],
    secrets: dict[tuple[str, str], str] | None = None,
    max_looks: int = 200,
) -> Run:
    """Run the template's single metric against the service at ``base_url``; ``advance`` moves the clock."""
    metric = template["spec"]["metrics"][0]
    web = metric["provider"]["web"]
    values = resolve(template, args, secrets or {})

    def substitute(text: str) -> str:
        return _ARG.sub(lambda m: values[m.group(1)], text)

    url = re.sub(r"^https?://[^/]+", base_url, substitute(web["url"]))
    headers = {h["key"]: substitute(h["value"]) for h in web.get("headers", [])}
    success, failure = _condition(metric.get("successCondition")), _condition(metric.get("failureCondition"))
    count = metric.get("count")
    interval = _seconds(metric.get("interval", "0s"))
    limits = {
        "failure": int(metric.get("failureLimit", 0)),
        "inconclusive": int(metric.get("inconclusiveLimit", 0)),
        "error": int(metric.get("consecutiveErrorLimit", 4)),
        "success": int(metric.get("consecutiveSuccessLimit", 0)),
    }
    run = Run(phase="Running")
    counts = {"Successful": 0, "Failed": 0, "Inconclusive": 0}
    consecutive_errors = consecutive_success = 0
    with httpx.Client(timeout=web.get("timeoutSeconds", 10)) as client:
        while len(run.measurements) < max_looks:
            if count is not None and sum(counts.values()) >= int(count):
                run.phase = "Inconclusive" if limits["success"] > 0 and limits["failure"] != -1 else "Successful"
                return run
            try:
                response = client.request(web.get("method", "GET"), url, headers=headers)
                ok = 200 <= response.status_code < 300
            except httpx.HTTPError:
                ok = False
            if not ok:
                run.measurements.append("Error")
                consecutive_errors += 1
                if consecutive_errors > limits["error"]:
                    run.phase = "Error"
                    return run
                advance(ERROR_RETRY_SECONDS)
                continue
            consecutive_errors = 0
            result = response.json()
            run.bodies.append(result)
            failed = failure(result) if failure else (not success(result) if success else False)
            succeeded = success(result) if success else not failed
            phase = "Failed" if failed else ("Successful" if succeeded else "Inconclusive")
            run.measurements.append(phase)
            counts[phase] += 1
            consecutive_success = consecutive_success + 1 if phase == "Successful" else 0
            if counts["Failed"] > limits["failure"] and limits["failure"] != -1:
                run.phase = "Failed"
                return run
            if counts["Inconclusive"] > limits["inconclusive"]:
                run.phase = "Inconclusive"
                return run
            if limits["success"] and consecutive_success >= limits["success"]:
                run.phase = "Successful"
                return run
            advance(interval)
    run.phase = "Running"  # an indefinite metric still running when the caller stopped looking
    return run
