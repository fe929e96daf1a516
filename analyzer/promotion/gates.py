"""Gate evaluation: a pure function of a stage's checks, the attempt's evidence and the time.

Each check answers pass, fail, inconclusive (waiting: for data, time, or a person) or error (its
evidence could not be read: Prometheus or the cluster failed); the gate's verdict aggregates the
required checks — any fail → fail; else any inconclusive → inconclusive; else any error → error
(retried; three in a row block the attempt); else pass. Optional checks are recorded but do not
decide. Re-running :func:`evaluate` on the same inputs gives the same answer, which is what lets the
audit recompute a recorded decision.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from analyzer.promotion.stages import (
    Approvals,
    CanaryJudgments,
    Check,
    Compatibility,
    JUnitReport,
    RolloutHealthy,
    SloCheck,
    Soak,
    Stage,
    Window,
)


@dataclass(frozen=True)
class Evidence:
    id: str
    kind: str
    payload: dict[str, Any]
    sha256: str
    collected_at: datetime


@dataclass(frozen=True)
class Context:
    started_at: datetime
    requester: str
    now: datetime


@dataclass(frozen=True)
class CheckResult:
    kind: str
    required: bool
    verdict: str
    reason: str
    evidence: list[str] = field(default_factory=list)


@dataclass(frozen=True)
class Evaluation:
    verdict: str
    checks: list[CheckResult]

    @property
    def reasons(self) -> list[str]:
        return [f"{c.kind}: {c.verdict} — {c.reason}" for c in self.checks]


def _of(evidence: list[Evidence], kind: str) -> list[Evidence]:
    return sorted((e for e in evidence if e.kind == kind), key=lambda e: (e.collected_at, e.id))  # ids: time order


def _canary(check: CanaryJudgments, evidence: list[Evidence], ctx: Context) -> CheckResult:
    oldest = ctx.now - timedelta(seconds=check.max_age_seconds)
    fresh = [
        e for e in _of(evidence, "judgment")
        if ctx.started_at <= datetime.fromisoformat(e.payload["created_at"]) and
        datetime.fromisoformat(e.payload["created_at"]) >= oldest
    ]
    if not fresh:
        return CheckResult(check.kind, check.required, "inconclusive",
                           "no canary judgment recorded since the attempt started")
    # Each query profile's newest judgment speaks for that profile only: a look with another (laxer)
    # profile never replaces the newest judgment of the profile Argo asks with. Any profile's fail fails.
    newest: dict[str, Evidence] = {}
    for e in sorted(fresh, key=lambda e: e.payload["created_at"]):
        newest[str(e.payload.get("profile", ""))] = e
    ids = [e.id for e in fresh]
    failed = [e for e in newest.values() if e.payload["verdict"] == "fail"]
    if failed:
        return CheckResult(check.kind, check.required, "fail",
                           f"canary judgment {failed[0].payload['judgment_id']}: fail", ids)
    undecided = [e for e in newest.values() if e.payload["verdict"] != "pass"]
    if not undecided and len(fresh) >= check.min_judgments:
        latest = max(newest.values(), key=lambda e: e.payload["created_at"])
        return CheckResult(check.kind, check.required, "pass", f"canary judgment {latest.payload['judgment_id']}: pass",
                           ids)
    latest = max(undecided or list(newest.values()), key=lambda e: e.payload["created_at"])
    return CheckResult(check.kind, check.required, "inconclusive",
                       f"latest canary judgment is {latest.payload['verdict']}", ids)


def _junit(check: JUnitReport, evidence: list[Evidence], ctx: Context) -> CheckResult:
    reports = [e for e in _of(evidence, "junit") if check.suite is None or e.payload.get("name") == check.suite]
    if not reports:
        return CheckResult(check.kind, check.required, "inconclusive", "no JUnit report uploaded")
    empty = [e for e in reports if not e.payload["tests"]]
    if empty:
        return CheckResult(check.kind, check.required, "fail", "a JUnit report holds no test cases: nothing was shown",
                           [e.id for e in reports])
    mismatched = [e for e in reports if e.payload.get("declared") not in (None, e.payload["tests"])]
    if mismatched:
        e = mismatched[0]
        return CheckResult(check.kind, check.required, "fail",
                           f"a JUnit report declares {e.payload['declared']} tests but holds {e.payload['tests']} "
                           f"test cases", [e.id for e in reports])
    bad = [e for e in reports if e.payload["failures"] or e.payload["errors"]]
    if bad:
        cases = [c for e in bad for c in e.payload.get("failed_cases", [])][:5]
        return CheckResult(check.kind, check.required, "fail", f"failing tests: {', '.join(cases) or 'see report'}",
                           [e.id for e in reports])
    total = sum(e.payload["tests"] for e in reports)
    return CheckResult(check.kind, check.required, "pass", f"{total} tests passed", [e.id for e in reports])


def _compat(check: Compatibility, evidence: list[Evidence], ctx: Context) -> CheckResult:
    latest = _latest(check, evidence, "compat", "no compatibility report uploaded")
    if isinstance(latest, CheckResult):
        return latest
    if not latest.payload.get("compatible", False):
        breaking = ", ".join(map(str, latest.payload.get("breaking", [])))[:300] or "unspecified"
        return CheckResult(check.kind, check.required, "fail", f"breaking changes: {breaking}", [latest.id])
    return CheckResult(check.kind, check.required, "pass", "compatible", [latest.id])


def _soak(check: Soak, evidence: list[Evidence], ctx: Context) -> CheckResult:
    soaked = (ctx.now - ctx.started_at).total_seconds()
    progress = f"{soaked / 60:.0f} of {check.seconds / 60:g} min"
    if soaked >= check.seconds:
        return CheckResult(check.kind, check.required, "pass", f"soaked {progress}")
    return CheckResult(check.kind, check.required, "inconclusive", f"soaking: {progress}")


def _approvals(check: Approvals, evidence: list[Evidence], ctx: Context) -> CheckResult:
    approvals = _of(evidence, "approval")
    people = {e.payload["by"] for e in approvals if e.payload["by"] != ctx.requester}
    ids = [e.id for e in approvals]
    if len(people) >= check.count:
        return CheckResult(check.kind, check.required, "pass", f"approved by {', '.join(sorted(people))}", ids)
    return CheckResult(check.kind, check.required, "inconclusive",
                       f"{len(people)} of {check.count} approvals (the requester's own does not count)", ids)


def _latest(check: Check, evidence: list[Evidence], kind: str, missing: str) -> Evidence | CheckResult:
    """The newest evidence of a kind, or the inconclusive result that says it is missing."""
    seen = _of(evidence, kind)
    return seen[-1] if seen else CheckResult(check.kind, check.required, "inconclusive", missing)


def _rollout(check: RolloutHealthy, evidence: list[Evidence], ctx: Context) -> CheckResult:
    latest = _latest(check, evidence, "rollout_status", "the stage's Rollout has not been read yet")
    if isinstance(latest, CheckResult):
        return latest
    s = latest.payload
    where = f"Rollout {s['namespace']}/{s['name']}"
    if s.get("error"):
        return CheckResult(check.kind, check.required, "error", f"{where}: {s['error']}", [latest.id])
    if s["aborted"] or s["phase"] == "Degraded":
        return CheckResult(check.kind, check.required, "fail", f"{where} aborted: {s['message']}", [latest.id])
    if s.get("step_analysis") in ("Failed", "Error"):
        return CheckResult(check.kind, check.required, "fail", f"{where}: step analysis {s['step_analysis']}",
                           [latest.id])
    if s["phase"] == "Healthy" and set(s["expected_images"]) <= set(s["images"].values()):
        return CheckResult(check.kind, check.required, "pass", f"{where} Healthy on the candidate's images",
                           [latest.id])
    return CheckResult(check.kind, check.required, "inconclusive",
                       f"{where} is {s['phase']}" + (f" ({s['message']})" if s["message"] else ""), [latest.id])


def _slo(check: SloCheck, evidence: list[Evidence], ctx: Context) -> CheckResult:
    latest = _latest(check, evidence, "slo", "the stage's SLOs have not been read yet")
    if isinstance(latest, CheckResult):
        return latest
    s = latest.payload
    if s.get("status") == "error":
        return CheckResult(check.kind, check.required, "error", str(s.get("reason")), [latest.id])
    rate, p95 = s.get("error_rate"), s.get("p95_seconds")
    if rate is None or p95 is None:
        return CheckResult(check.kind, check.required, "inconclusive", str(s.get("reason") or "no data"), [latest.id])
    text = (f"error rate {rate:.2%} (limit {check.error_rate:.0%}), "
            f"p95 {p95 * 1000:.0f} ms (limit {check.p95_seconds * 1000:.0f} ms)")
    verdict = "fail" if rate > check.error_rate or p95 > check.p95_seconds else "pass"
    return CheckResult(check.kind, check.required, verdict, text, [latest.id])


def _window(check: Window, evidence: list[Evidence], ctx: Context) -> CheckResult:
    now = ctx.now
    if now.weekday() in check.days and check.start_hour <= now.hour < check.end_hour:
        return CheckResult(check.kind, check.required, "pass", "inside the change window")
    return CheckResult(check.kind, check.required, "inconclusive",
                       f"outside the change window (days {check.days}, {check.start_hour}:00-{check.end_hour}:00 UTC)")


_CHECKS: dict[type, Callable[[Any, list[Evidence], Context], CheckResult]] = {
    CanaryJudgments: _canary,
    JUnitReport: _junit,
    Compatibility: _compat,
    Soak: _soak,
    Approvals: _approvals,
    Window: _window,
    RolloutHealthy: _rollout,
    SloCheck: _slo,
}


def run_check(check: Check, evidence: list[Evidence], ctx: Context) -> CheckResult:
    return _CHECKS[type(check)](check, evidence, ctx)


def evaluate(stage: Stage, evidence: list[Evidence], ctx: Context) -> Evaluation:
    results = [run_check(c, evidence, ctx) for c in stage.checks]
    required = [r.verdict for r in results if r.required]
    verdict = next((v for v in ("fail", "inconclusive", "error") if v in required), "pass")
    return Evaluation(verdict, results)
