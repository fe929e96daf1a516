"""The CI quality gate: wait for a canary, judge it every interval from Prometheus, act, report.

The looks go through the same analysis as the service (:func:`analyse`): the window starts at the
canary's first data and is kept in the store, so the judge's any-look guarantee holds however
often the gate looks. Decisions: pass → ``on_pass``; fail → ``on_fail``; still inconclusive when
the timeout comes → ``on_inconclusive``. Nothing is touched when the gate cannot judge (Prometheus
or the cluster unreachable): the exception propagates and the command exits 4.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from enum import StrEnum

from analyzer.errors import ClusterError
from analyzer.model import Judgment, Verdict
from analyzer.rollouts import Kube, RolloutStatus, actions, read_status
from analyzer.service.analysis import Analysis, Analyzer, analyse
from analyzer.sources.queries import Target


class OnPass(StrEnum):
    PROMOTE = "promote"
    PROMOTE_FULL = "promote-full"
    NONE = "none"


class OnFail(StrEnum):
    ABORT = "abort"
    UNDO = "undo"
    NONE = "none"


class OnInconclusive(StrEnum):
    PAUSE = "pause"
    ABORT = "abort"
    NONE = "none"


@dataclass(frozen=True)
class GatePlan:
    namespace: str
    rollout: str
    profile: str = "http"
    timeout_seconds: float = 1800.0
    interval_seconds: float = 60.0
    on_pass: OnPass = OnPass.PROMOTE
    on_fail: OnFail = OnFail.ABORT
    on_inconclusive: OnInconclusive = OnInconclusive.PAUSE


@dataclass
class GateOutcome:
    verdict: Verdict
    reason: str
    action: str = "none"
    looks: list[Analysis] = field(default_factory=list)
    status: RolloutStatus | None = None

    @property
    def judgment(self) -> Judgment | None:
        return self.looks[-1].judgment if self.looks else None


def _act(plan: GatePlan, kube: Kube, verdict: Verdict) -> str:
    ns, name = plan.namespace, plan.rollout
    if verdict is Verdict.PASS and plan.on_pass is not OnPass.NONE:
        actions.promote(kube, ns, name, full=plan.on_pass is OnPass.PROMOTE_FULL)
        return plan.on_pass.value
    if verdict is Verdict.FAIL and plan.on_fail is not OnFail.NONE:
        actions.abort(kube, ns, name)
        if plan.on_fail is OnFail.UNDO:
            revision = actions.undo(kube, ns, name)
            return f"abort, undo to revision {revision}"
        return "abort"
    if verdict is Verdict.INCONCLUSIVE and plan.on_inconclusive is OnInconclusive.PAUSE:
        actions.pause(kube, ns, name)
        return "pause"
    if verdict is Verdict.INCONCLUSIVE and plan.on_inconclusive is OnInconclusive.ABORT:
        actions.abort(kube, ns, name)
        return "abort"
    return "none"


def run_gate(
    plan: GatePlan,
    analyzer: Analyzer,
    kube: Kube,
    sleep: Callable[[float], None] = time.sleep,
    monotonic: Callable[[], float] = time.monotonic,
    on_look: Callable[[Analysis, RolloutStatus], None] | None = None,
) -> GateOutcome:
    """Run the gate to a decision or the timeout; raises on infrastructure errors (nothing acted)."""
    deadline = monotonic() + plan.timeout_seconds
    status = read_status(kube.get(plan.namespace, plan.rollout))
    while not status.has_canary:
        if monotonic() + plan.interval_seconds > deadline:
            why = f"no canary by the timeout: the Rollout is {status.phase}"
            why += f" ({status.message})" if status.message else ""
            why += f", stable {status.stable_hash or '–'}, desired {status.canary_hash or '–'}"
            return GateOutcome(Verdict.INCONCLUSIVE, why, status=status)
        sleep(plan.interval_seconds)
        status = read_status(kube.get(plan.namespace, plan.rollout))
    target = Target(
        namespace=plan.namespace, rollout=plan.rollout, canary=status.canary_hash or "", stable=status.stable_hash or ""
    )
    outcome = GateOutcome(Verdict.INCONCLUSIVE, "", status=status)
    while True:
        look = analyse(analyzer, plan.profile, target)
        outcome.looks.append(look)
        if on_look is not None:
            on_look(look, status)
        verdict = look.judgment.verdict
        if verdict is not Verdict.INCONCLUSIVE:
            outcome.verdict, outcome.reason = verdict, look.judgment.reasons[0]
            outcome.action = _act(plan, kube, verdict)
            return outcome
        if monotonic() + plan.interval_seconds > deadline:
            outcome.reason = f"undecided at the timeout after {len(outcome.looks)} looks: {look.judgment.reasons[0]}"
            outcome.action = _act(plan, kube, verdict)
            return outcome
        sleep(plan.interval_seconds)
        status = read_status(kube.get(plan.namespace, plan.rollout))
        if status.canary_hash != target.canary:
            raise ClusterError(
                f"the canary of {plan.namespace}/{plan.rollout} changed under the gate"
                f" ({target.canary} -> {status.canary_hash}); start the gate again for the new canary"
            )
