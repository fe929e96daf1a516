"""The absolute limit (SLO) on the canary: blamed on the canary only when stable keeps it.

The canary's rate (errors, or the share slower than the SLO's bound) is tested against the limit
with the one-arm e-process of :func:`analyzer.judging.evidence.exceeds_limit`, the limit moved up by
the canary's own pod term; the decision then asks whether stable breaks it too (service-wide).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np

from analyzer.judging.comparison import POD_SHARE, normal_isf
from analyzer.judging.evidence import exceeds_limit, safe_exp
from analyzer.judging.kept_lists import Origin
from analyzer.model import Policy
from analyzer.stats.heterogeneity import traffic_weights_square_sum

if TYPE_CHECKING:
    from analyzer.judging.metric import Budget, Prepared


@dataclass(frozen=True)
class SloCounts:
    """Counts for the absolute-limit test: events over ``limit_rate`` of total break it."""

    events: np.ndarray
    total: np.ndarray
    stable_events: np.ndarray
    stable_total: np.ndarray
    limit_rate: float
    observed: float | None  # the canary's value on the SLO's own scale (rate, or seconds)
    stable_observed: float | None
    describe: str  # e.g. "error rate" or "p95"
    origin: Origin | None = None  # the lists the counts are made from (:class:`StepCounts`'s)


def slo_test(prepared: Prepared, policy: Policy, budget: Budget, notes: list[str]) -> tuple[int | None, float | None]:
    """The canary's absolute-limit test: (first crossing step, e-value), with warnings in ``notes``."""
    p, slo = prepared.policy, prepared.slo
    if slo is None or p.slo is None:
        return None, None
    share = POD_SHARE if prepared.pods_known and prepared.counts.canary_pods is not None else 0.0
    variation = prepared.comparisons[0].variation
    limit_rate = slo.limit_rate
    if variation is not None and share > 0:
        pods = prepared.counts.canary_pods
        spread = traffic_weights_square_sum(pods.total.sum(axis=1)) if pods is not None else 1.0
        z = float(normal_isf(budget.alpha_slo * share))
        limit_rate = min(limit_rate * math.exp(z * variation.tau * math.sqrt(spread)), 1.0 - 1e-9)
    log_threshold = math.log(1.0 / (budget.alpha_slo * (1.0 - share)))
    keys = slo.origin.prefix_keys if slo.origin is not None else None
    limit = exceeds_limit(slo.events, slo.total, limit_rate, policy.prior_scale, log_threshold, keys)
    if slo.observed is not None:
        if slo.observed > p.slo.limit and limit.fail_step is None:
            notes.append(f"canary {slo.describe} is above the SLO limit, not yet with confidence")
        elif p.slo.warning is not None and slo.observed > p.slo.warning:
            notes.append(f"warning: canary {slo.describe} is above the warning level {p.slo.warning:g}")
    return limit.fail_step, safe_exp(limit.log_e)
