"""Every judge under test, as a function of one simulated canary: its first fail and first pass minute.

Every judge is asked at every look it would be asked at over the whole horizon (30 minutes), as a
background analysis watches: a pass does not stop the watch, so a later regression can still fail
the run, and the A/A false-fail rate covers all looks.

* ``ours``: the default policy, judged after every minute.
* ``kayenta``: the parity judge (per-minute rates and p95, Mann-Whitney, pass 95 / marginal 75) on
  cumulative windows every 5 minutes.
* ``argo-abs`` / ``argo-rel``: Argo's Prometheus provider checking each minute on its own,
  ``error rate ≤ 2 %`` and ``p95 ≤ 0.3 s``, or ``canary/stable ≤ 1.2`` for both; a minute with no
  traffic gives NaN, which fails the condition. The run fails when failures exceed ``failureLimit``
  (0 or 3) and passes when ``count`` (30) ends.
* ``oracle``: Wald's SPRT that knows the true baseline and regression (:mod:`bench.quality.oracle`).
* ``msprt``: the mixture SPRT on the arms' counts, the binomial world's anytime-valid reference
  (:mod:`bench.quality.msprt`).

On production-shaped data the judges get the per-pod breakdown too (only ours reads it); the Argo
checks read the first ratio and the first histogram.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

import analyzer
from analyzer.judging import judge_kayenta
from analyzer.model import HistogramMetric, Judgment, Measurement, Policy, RatioMetric, Verdict
from analyzer.stats.histogram import histogram_quantiles

POLICY = Policy()
KAYENTA_EVERY = 5


@dataclass(frozen=True)
class Decision:
    fail: int | None  # the first look (1-based minute) that said fail
    passed: int | None  # the first look that said pass
    blame: str = ""  # the metrics that failed at the fail look, "+"-joined (judges that say)


def _watch(looks: range, judgment_at: Callable[[int], Judgment]) -> Decision:
    first: dict[str, int] = {}
    for k in looks:
        judgment = judgment_at(k)
        first.setdefault(judgment.verdict.value, k)
        if judgment.verdict is Verdict.FAIL:  # Argo aborts at the first fail
            blame = "+".join(r.name for r in judgment.metrics if r.verdict is Verdict.FAIL)
            return Decision(k, first.get("pass"), blame)
    return Decision(None, first.get("pass"))


def ours(m: Measurement) -> Decision:
    steps = max(d.steps for d in m.metrics.values())
    return _watch(range(1, steps + 1), lambda k: analyzer.judge(m.head(k), POLICY))


def kayenta(m: Measurement) -> Decision:
    steps = max(d.steps for d in m.metrics.values())
    return _watch(range(KAYENTA_EVERY, steps + 1, KAYENTA_EVERY), lambda k: judge_kayenta(m.head(k), POLICY))


def _per_minute(m: Measurement) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Per-minute error rates and p95 of canary and stable (NaN where an arm had no requests)."""
    errors = next(d for d in m.metrics.values() if isinstance(d, RatioMetric))
    latency = next(d for d in m.metrics.values() if isinstance(d, HistogramMetric))
    with np.errstate(invalid="ignore", divide="ignore"):
        rate_c = np.asarray(errors.canary.events) / np.asarray(errors.canary.total)
        rate_s = np.asarray(errors.stable.events) / np.asarray(errors.stable.total)
    p95_c = histogram_quantiles(0.95, latency.le, np.asarray(latency.canary))
    p95_s = histogram_quantiles(0.95, latency.le, np.asarray(latency.stable))
    return rate_c, rate_s, p95_c, p95_s


def _threshold_run(ok: np.ndarray, failure_limit: int) -> Decision:
    """Argo's count: failed once failures exceed the limit; Successful only when the count is done."""
    failures = np.cumsum(~ok)
    over = np.flatnonzero(failures > failure_limit)
    if over.size:
        return Decision(int(over[0]) + 1, None)
    return Decision(None, int(ok.size))


def argo(relative: bool, failure_limit: int) -> Callable[[Measurement], Decision]:
    def run(m: Measurement) -> Decision:
        rate_c, rate_s, p95_c, p95_s = _per_minute(m)
        with np.errstate(invalid="ignore", divide="ignore"):  # NaN and inf compare False: a failed check
            relative_ok = (rate_c / rate_s <= 1.2) & (p95_c / p95_s <= 1.2)
            ok = relative_ok if relative else (rate_c <= 0.02) & (p95_c <= 0.3)
        return _threshold_run(ok, failure_limit)

    return run


JUDGES: dict[str, Callable[[Measurement], Decision]] = {
    "ours": ours,
    "kayenta": kayenta,
    "argo-abs-f0": argo(False, 0),
    "argo-abs-f3": argo(False, 3),
    "argo-rel-f0": argo(True, 0),
    "argo-rel-f3": argo(True, 3),
}
