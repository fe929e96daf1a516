"""The oracle: Wald's sequential probability ratio test with the truth known (Wald 1945, Ann. Math. Stat. 16).

Per metric the canary's per-minute counts are Binomial(n_k, p): errors with p0 = the true baseline
error rate, and "slow" requests above the true stable p95 with p0 = 0.05. H0: p = p0 against
H1: p = p1, the true regressed rate (for a metric that does not regress, the design alternative:
errors ×2, latency ×1.2). After minute K,

    Λ_K = Σ_k [x_k ln(p1/p0) + (n_k - x_k) ln((1-p1)/(1-p0))],

fail when Λ_K ≥ ln((1-β)/α'), accept H0 when Λ_K ≤ ln(β/(1-α')), with α' = α/2 per metric
(Bonferroni over two metrics, as our judge splits α) and β = the pass error rate. The run fails
when either metric fails; it passes once both accepted H0. With the truth in hand no test can
decide faster on average at these error rates (Wald & Wolfowitz 1948): this is the physical limit.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from bench.quality.judges import Decision

ALPHA, BETA = 0.01, 0.05


@dataclass(frozen=True)
class Stream:
    """One metric's per-minute canary counts and the two hypotheses."""

    events: np.ndarray
    trials: np.ndarray
    p0: float
    p1: float


def _log_lr(s: Stream) -> np.ndarray:
    p0, p1 = min(max(s.p0, 1e-12), 1 - 1e-12), min(max(s.p1, 1e-12), 1 - 1e-12)
    per_minute = s.events * math.log(p1 / p0) + (s.trials - s.events) * math.log((1 - p1) / (1 - p0))
    llr: np.ndarray = np.cumsum(per_minute)
    return llr


def sprt(streams: list[Stream], alpha: float = ALPHA, beta: float = BETA) -> Decision:
    a = alpha / len(streams)
    upper, lower = math.log((1 - beta) / a), math.log(beta / (1 - a))
    minutes = streams[0].trials.size
    accepted = [False] * len(streams)
    paths = [_log_lr(s) for s in streams]
    for k in range(minutes):
        for i, path in enumerate(paths):
            if accepted[i]:
                continue
            if path[k] >= upper:
                return Decision(k + 1, None)
            if path[k] <= lower:
                accepted[i] = True
        if all(accepted):
            return Decision(None, k + 1)  # Wald's test stops when it accepts H0
    return Decision(None, None)
