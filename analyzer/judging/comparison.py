"""One canary/stable comparison of counts, and its evidence against the fail and pass boundaries.

A metric is one or more comparisons (the error ratio; for latency, the slow shares at the bucket
bounds around stable's quantile). Each knows its pods' variation (:mod:`analyzer.stats.heterogeneity`),
whose pod term both tests carry in their nulls (:func:`analyzer.judging.evidence.fail_log_e` with the
80 % bound on τ, :func:`analyzer.judging.evidence.pass_log_e` with its median-unbiased value).
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from functools import cached_property

from scipy import special

from analyzer.judging.evidence import RatioEvidence, StepCounts, compare_ratio, ratio_grid
from analyzer.model import MetricPolicy
from analyzer.stats.heterogeneity import PodVariation, pod_variation

#: Share of the SLO test's α that bounds the canary's pod term when per-pod data exists.
POD_SHARE = 0.5


def normal_isf(tail: float) -> float:
    """z with P(N(0,1) > z) = tail."""
    return float(-special.ndtri(tail))


@dataclass(frozen=True)
class Comparison:
    """One canary/stable comparison of counts; ``label`` says which (e.g. 'le=0.25')."""

    counts: StepCounts
    label: str = ""
    pass_ratio: float = 0.0  # a share ratio this comparison may pass below, beside the policy's (latency)

    @cached_property
    def variation(self) -> PodVariation | None:
        """How much pods differ on this comparison's rate (None without two pods with events in an arm)."""
        c, s = self.counts.canary_pods, self.counts.stable_pods
        if c is None or s is None:
            return None
        return pod_variation(c.events.sum(axis=1), c.total.sum(axis=1), s.events.sum(axis=1), s.total.sum(axis=1))

    def since(self, step: int) -> Comparison:
        """The same comparison on the steps from ``step`` on (pods included; the steps before join their warm-up)."""
        c = self.counts
        counts = StepCounts(
            c.canary_events[step:],
            c.canary_total[step:],
            c.stable_events[step:],
            c.stable_total[step:],
            canary_pods=None if c.canary_pods is None else c.canary_pods.since(step),
            stable_pods=None if c.stable_pods is None else c.stable_pods.since(step),
            origin=None if c.origin is None else c.origin.since(step),
        )
        return replace(self, counts=counts)


@dataclass(frozen=True)
class Tested:
    """One comparison's evidence with the boundaries it was tested against."""

    evidence: RatioEvidence
    fail_boundary: float  # the version's ratio a fail must show (the pod term is in the fail test's null)
    pass_ratio: float  # the version's ratio a pass must show (the pod term is in the pass test's null)
    pod_sd: float


def test_comparison(comparison: Comparison, p: MetricPolicy, prior_scale: float, log_pass: float) -> Tested:
    """Evidence on one comparison, the pod term in the nulls of both tests."""
    counts = comparison.counts
    variation = comparison.variation
    sd = variation.sd if variation is not None else 0.0
    sd_pass = variation.sd_pass if variation is not None else 0.0
    stable_rate = counts.rates()[1]
    pass_ratio = max(p.pass_ratio, comparison.pass_ratio)
    if p.pass_increase > 0 and stable_rate:
        pass_ratio = max(pass_ratio, 1.0 + p.pass_increase / stable_rate)
    grid = ratio_grid(prior_scale, p.fail_ratio, p.pass_ratio)
    evidence = compare_ratio(counts, p.fail_ratio, pass_ratio, grid, log_pass, pass_sd=sd_pass, fail_sd=sd)
    return Tested(evidence, p.fail_ratio, pass_ratio, sd)
