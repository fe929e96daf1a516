"""Metric results → one verdict and a 0-100 score.

* **fail** when a critical, non-dry-run metric fails (Argo aborts);
* **pass** when every non-dry-run metric passes;
* **inconclusive** otherwise — including a failed *non-critical* metric, which blocks a pass and
  asks a human instead of aborting.

Score = 100 · Σ wᵢvᵢ / Σ wᵢ over non-dry-run metrics, v = 1 pass, ½ inconclusive, 0 fail, and 0 when
a critical metric fails. The verdict, not the score, decides.
"""

from __future__ import annotations

from collections.abc import Sequence

from analyzer.model import MetricResult, Verdict

_VALUE = {Verdict.PASS: 1.0, Verdict.INCONCLUSIVE: 0.5, Verdict.FAIL: 0.0}


def combine(results: Sequence[MetricResult]) -> tuple[Verdict, float, list[str]]:
    judged = [r for r in results if not r.dry_run]
    critical_fails = [r for r in judged if r.verdict is Verdict.FAIL and r.critical]
    soft_fails = [r for r in judged if r.verdict is Verdict.FAIL and not r.critical]
    details = [f"{r.name}: {r.reason}" + (" (dry run)" if r.dry_run else "") for r in results]
    if not judged:
        return Verdict.INCONCLUSIVE, 0.0, ["no metric is judged (all are dry-run)", *details]
    total_weight = sum(r.weight for r in judged)
    score = 100.0 * sum(r.weight * _VALUE[r.verdict] for r in judged) / total_weight
    if critical_fails:
        names = ", ".join(r.name for r in critical_fails)
        return Verdict.FAIL, 0.0, [f"critical metric regressed: {names}", *details]
    if soft_fails:
        names = ", ".join(r.name for r in soft_fails)
        return Verdict.INCONCLUSIVE, round(score, 2), [f"non-critical metric regressed: {names}", *details]
    if all(r.verdict is Verdict.PASS for r in judged):
        return Verdict.PASS, round(score, 2), ["every metric is no worse than stable", *details]
    waiting = ", ".join(r.name for r in judged if r.verdict is not Verdict.PASS)
    return Verdict.INCONCLUSIVE, round(score, 2), [f"not decided yet: {waiting}", *details]
