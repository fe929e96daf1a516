"""Anytime-valid evidence on per-step counts: the rate-ratio comparison and the absolute-limit test.

Both are read at every prefix of the steps at once, so that judging steps 1..K is one Argo look
and the fail guarantee holds over all looks together (see :mod:`analyzer.stats.eprocess`). Each
step's likelihood is tempered by its predictable dispersion (:mod:`analyzer.stats.dispersion`), so
bursty minutes count for what they are worth; the pod term (:mod:`analyzer.stats.heterogeneity`)
is in both tests' nulls: the realised ratio is the version's times e^δ, δ ~ N(0, s²), and each test
divides by the marginal likelihood of the version at its boundary with the pods drawn at random.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Literal

import numpy as np

from analyzer.judging.kept_lists import Origin
from analyzer.judging.prefix_memo import PrefixKeys
from analyzer.judging.resumed import limit_path, null_path, ratio_path
from analyzer.stats.dispersion import pod_minute_kappa, pod_ratio_dispersion, rate_dispersion, ratio_dispersion
from analyzer.stats.eprocess import (
    FloatArray,
    Grid,
    log_ratio_grid,
    log_sum_exp,
    lower_bounds,
    mixture_log_e,
    mixture_log_e_at,
    mixture_log_marginal,
    upper_bounds,
)


@dataclass(frozen=True)
class PodSeries:
    """One arm's per-pod events and requests per step, shape (pods, steps), over the steps the tests use,
    and over the warm-up steps before them (shape (pods, warm-up steps); none by default), which the
    tests leave out but the pod-minute dispersion's burn-in learns from (:func:`step_dispersion`)."""

    events: FloatArray
    total: FloatArray
    warmup_events: FloatArray | None = None
    warmup_total: FloatArray | None = None

    @property
    def warmup_steps(self) -> int:
        return 0 if self.warmup_total is None else int(self.warmup_total.shape[1])

    def with_warmup(self, steps: int) -> tuple[FloatArray, FloatArray]:
        """(events, total) with the last ``steps`` warm-up steps put back in front."""
        if steps <= 0 or self.warmup_events is None or self.warmup_total is None:
            return self.events, self.total
        return (
            np.hstack([self.warmup_events[:, -steps:], self.events]),
            np.hstack([self.warmup_total[:, -steps:], self.total]),
        )

    def since(self, step: int) -> PodSeries:
        """The steps from ``step`` on; the ones before it join the warm-up."""
        events, total = self.with_warmup(self.warmup_steps)
        cut = self.warmup_steps + step
        return PodSeries(events[:, cut:], total[:, cut:], events[:, :cut], total[:, :cut])


@dataclass(frozen=True)
class StepCounts:
    """Per-step events and exposures of both arms over the steps the tests use, and per-pod totals."""

    canary_events: FloatArray
    canary_total: FloatArray
    stable_events: FloatArray
    stable_total: FloatArray
    canary_pods: PodSeries | None = None
    stable_pods: PodSeries | None = None
    origin: Origin | None = None  # the lists the counts are made from: what the memos name their prefixes by

    @property
    def keys(self) -> PrefixKeys | None:
        """The memos' keys of the counts' prefixes, by their lists (None: by the counts themselves)."""
        return self.origin.prefix_keys if self.origin is not None else None

    @property
    def steps(self) -> int:
        return int(self.canary_total.size)

    def rates(self) -> tuple[float | None, float | None]:
        """The canary's and stable's pooled event rates (None for an arm without requests)."""
        t_c, t_s = float(self.canary_total.sum()), float(self.stable_total.sum())
        return (
            float(self.canary_events.sum()) / t_c if t_c > 0 else None,
            float(self.stable_events.sum()) / t_s if t_s > 0 else None,
        )


@dataclass(frozen=True)
class RatioEvidence:
    """The ratio e-processes of one comparison; ``loglik`` is kept to read confidence bounds later."""

    grid: Grid
    loglik: FloatArray  # (grid points, steps): tempered cumulative log-likelihood
    fail_path: FloatArray  # log e-value against the version's r <= the fail boundary, after each step
    fail_sd: float  # the pod term's sd in the fail test's null
    log_e_pass: float  # current log e-value against r >= the pass boundary
    upper: float  # upper confidence bound on r at the pass level, current look
    dispersion: float  # φ applied to the last step


def _first_true(flags: np.ndarray) -> int | None:
    hits = np.flatnonzero(flags)
    return int(hits[0]) if hits.size else None


def rate_difference(counts: StepCounts) -> FloatArray:
    """Cumulative canary rate minus stable rate after each step (0 where an arm has no requests yet)."""
    n_c, n_s = np.cumsum(counts.canary_total), np.cumsum(counts.stable_total)
    with np.errstate(invalid="ignore", divide="ignore"):
        diff = np.cumsum(counts.canary_events) / n_c - np.cumsum(counts.stable_events) / n_s
    result: FloatArray = np.where((n_c > 0) & (n_s > 0), diff, 0.0)
    return result


#: Warm-up steps the pod-minute dispersion learns from before the tested ones (see :func:`step_dispersion`).
BURN_IN_STEPS = 1


def step_dispersion(counts: StepCounts) -> FloatArray:
    """φ_k per step: from pod-minutes when either arm has a per-pod breakdown of two or more pods, else
    from the arm-level series.

    The pod-minute estimate learns from the last warm-up step too (``BURN_IN_STEPS``: left out of
    the tests, not out of what the data says about its minutes), so the first tested step is judged
    by its successive difference from it. Only the last: warm-up steps are there for cold starts,
    whose trend κ would keep for the whole run (a latency comparison's φ stayed at 9 after 30
    minutes with all three). Without warm-up steps the first step has no difference yet and takes
    the arm-level value, prior included."""
    def arm_level(steps: int | None = None) -> FloatArray:  # φ is prequential: a prefix gives its steps' values
        cut = slice(0, steps)
        return ratio_dispersion(
            counts.canary_events[cut], counts.canary_total[cut], counts.stable_events[cut], counts.stable_total[cut]
        )

    c, s = counts.canary_pods, counts.stable_pods
    if c is None or s is None or max(c.total.shape[0], s.total.shape[0]) < 2:
        return arm_level()
    burn_in = min(c.warmup_steps, s.warmup_steps, BURN_IN_STEPS)
    if counts.steps + burn_in < 2:
        return arm_level()
    (c_events, c_total), (s_events, s_total) = c.with_warmup(burn_in), s.with_warmup(burn_in)
    kappa = pod_minute_kappa(np.vstack([c_events, s_events]), np.vstack([c_total, s_total]))
    from_pods = pod_ratio_dispersion((c_events, c_total), (s_events, s_total), kappa)[burn_in:]
    if burn_in == 0:
        from_pods[0] = arm_level(1)[0]
    return from_pods


def grid_index_at_or_above(grid: Grid, value: float) -> int:
    """The grid point nearest ``value`` from above (a fail boundary moves only outwards: conservative)."""
    return min(int(np.searchsorted(grid.theta, value * (1 - 1e-12))), grid.theta.size - 1)


def grid_index_at_or_below(grid: Grid, value: float) -> int:
    """The grid point nearest ``value`` from below (a pass boundary moves only inwards: conservative)."""
    return max(int(np.searchsorted(grid.theta, value * (1 + 1e-12), side="right")) - 1, 0)


def compare_ratio(
    counts: StepCounts,
    fail_boundary: float,
    pass_ratio: float,
    grid: Grid,
    log_pass_threshold: float,
    pass_sd: float = 0.0,
    fail_sd: float = 0.0,
) -> RatioEvidence:
    """Evidence about r = p_canary / p_stable from the conditional binomial model of each step.

    Fail: the e-process against the version's ratio ≤ ``fail_boundary`` after every step, with the
    pod term of sd ``fail_sd`` in its null (:func:`fail_log_e`). Pass: the e-process against the
    version's ratio ≥ ``pass_ratio`` at the current look, with the pod term of sd ``pass_sd`` in its
    null (:func:`pass_log_e`). Boundaries off the grid move to the next grid point outwards (fail)
    or inwards (pass).
    """
    phi = step_dispersion(counts)
    events = counts.canary_events + counts.stable_events
    b = grid_index_at_or_above(grid, fail_boundary)
    theta, prior, c_total, s_total = grid.theta, grid.log_prior, counts.canary_total, counts.stable_total
    resumed = ratio_path(theta, prior, b, counts.canary_events, events, c_total, s_total, 1.0 / phi, counts.keys)
    loglik = resumed.loglik
    fail_sd = quantised_sd(fail_sd)
    null = None
    if fail_sd > 0:
        inputs = (counts.canary_events, events, 1.0 / phi, counts.canary_total, counts.stable_total)
        salt = b"pod-null|" + grid.theta.tobytes() + np.asarray([b, fail_sd], dtype=np.float64).tobytes()
        log_theta = np.log(grid.theta)
        null = null_path(
            loglik, inputs, salt, lambda ll: _pod_marginal(ll, log_theta, fail_sd, slice(b, b + 1))[0], counts.keys
        )
    fail_path = fail_log_e(loglik, grid, b, fail_sd, plain=resumed.path, null=null)
    below = pass_log_e(loglik[:, -1:], grid, pass_sd)  # (G, 1): the current look
    return RatioEvidence(
        grid=grid,
        loglik=loglik,
        fail_path=fail_path,
        fail_sd=fail_sd,
        log_e_pass=float(below[grid_index_at_or_below(grid, pass_ratio), 0]),
        upper=float(upper_bounds(below, grid.theta, log_pass_threshold)[0]),
        dispersion=float(phi[-1]),
    )


#: Scale of the pass side's normal prior on log r, centred at r = 1 (see :func:`pass_log_prior`).
PASS_PRIOR_SCALE = 0.15


def pass_log_prior(grid: Grid) -> FloatArray:
    """Log prior weights of the pass test's mixture: N(0, ``PASS_PRIOR_SCALE``²) on log r.

    The pass test (H0: r ≥ the pass ratio) is there to show a canary *like* stable, so its mixture
    concentrates where such canaries are, r near 1, rather than spreading over the regressions the
    fail side looks for (``prior_scale``, a factor 2). Any fixed prior keeps the mixture an e-value;
    this one grows fastest for the canaries a pass is for. On the benchmark's healthy canary (2+10
    pods, 20 canary rps) it raised passes within 30 minutes from 74 % (scale ln 2) to 84 % (200-300
    runs; 86.6 % in the 500-run acceptance benchmark).
    """
    prior: FloatArray = -0.5 * (np.log(grid.theta) / PASS_PRIOR_SCALE) ** 2
    return prior


def pass_log_e(loglik: FloatArray, grid: Grid, pod_sd: float) -> FloatArray:
    """log e-value against "the version's ratio is ≥ θ_b", for every grid boundary θ_b and look.

    The realised ratio is the version's ratio times the pod term e^δ, δ ~ N(0, s²) (s = ``pod_sd``,
    :mod:`analyzer.stats.heterogeneity`), so the null is the marginal likelihood of the data when
    the version sits at θ_b and the pods are drawn at random,

        L₀(θ_b) = Σ_g N(log θ_g; log θ_b, s²) L(θ_g)      (normalised over the grid),

    and the e-value is the pass prior's mixture over θ_g < θ_b (:func:`pass_log_prior`) over L₀(θ_b).
    At θ_b the denominator is the data's own law, so the ratio is a martingale over pods and
    requests together (a ratio of marginal likelihoods); with s = 0 it is the plain mixture
    likelihood ratio against θ_b. This spends the whole α_pass on the one question, where bounding
    δ by z·s and the sequence separately (a union bound) paid for both tails twice.
    ``loglik`` is (G, K), the tempered cumulative log-likelihood of the grid after each look.
    """
    return _log_e_over_pod_null(loglik, pass_log_prior(grid), "below", np.log(grid.theta), pod_sd)


#: The fail test's pod sd is rounded up to a lattice 5 % apart: conservative (a wider null), and a
#: look whose rounded sd is the last look's resumes its null path (:func:`analyzer.judging.resumed.null_path`).
POD_SD_STEP = math.log(1.05)


def quantised_sd(sd: float) -> float:
    """``sd`` rounded up to the next point of the lattice e^{k·POD_SD_STEP} (0 stays 0)."""
    if sd <= 0:
        return 0.0
    return math.exp(math.ceil(math.log(sd) / POD_SD_STEP - 1e-9) * POD_SD_STEP)


def fail_log_e(
    loglik: FloatArray,
    grid: Grid,
    b: int,
    pod_sd: float,
    plain: FloatArray | None = None,
    null: FloatArray | None = None,
) -> FloatArray:
    """log e-value against "the version's ratio is ≤ θ_b" after every step, the pod term in its null.

    The fail side's twin of :func:`pass_log_e`: the fail prior's mixture (``grid.log_prior``) over
    the grid points above θ_b, over the marginal likelihood of the version at θ_b with pods drawn at
    random, Σ_g N(log θ_g; log θ_b, s²) L_K(θ_g). With a fixed s the ratio of the two marginal laws
    is a martingale over the steps (Ville: P(ever ≥ 1/α) ≤ α), so the whole α_fail goes to one test
    where moving the boundary out to fail_ratio·e^{z s} spent half of it bounding δ and asked for
    z ≈ 2.8 pod sds on top of the sequence's own margin. With s = 0 it is the plain mixture e-process
    (:func:`analyzer.stats.eprocess.mixture_log_e_at`). ``plain`` and ``null`` (the pod marginal at
    θ_b after every step) when the caller has them already, from :mod:`analyzer.judging.resumed`.
    ``loglik`` is (G, K); the result is (K,).
    """
    if plain is None:
        plain = mixture_log_e_at(loglik, grid.log_prior, b, "above")  # alternative / L_K(θ_b)
    if pod_sd <= 0 or b + 1 >= grid.theta.size:
        return plain
    if null is None:
        null = _pod_marginal(loglik, np.log(grid.theta), pod_sd, slice(b, b + 1))[0]
    log_e: FloatArray = plain + loglik[b] - null
    return log_e


def _log_e_over_pod_null(
    loglik: FloatArray, log_prior: FloatArray, side: Literal["above", "below"], log_theta: FloatArray, pod_sd: float
) -> FloatArray:
    """log(the prior's mixture on ``side`` of each boundary / the pod-term null there), every boundary and
    look; 0 (e = 1) where no alternative exists. With s = 0 the null is the boundary itself:
    :func:`analyzer.stats.eprocess.mixture_log_e`."""
    if pod_sd <= 0:
        return mixture_log_e(loglik, log_prior, side)
    alternative = mixture_log_marginal(loglik, log_prior, side)
    null = _pod_marginal(loglik, log_theta, pod_sd)
    with np.errstate(invalid="ignore"):
        result: FloatArray = np.where(np.isfinite(alternative), alternative - null, 0.0)
    return result


def _pod_marginal(loglik: FloatArray, log_theta: FloatArray, pod_sd: float, rows: slice = slice(None)) -> FloatArray:
    """log Σ_g N(log θ_g; log θ_b, s_b²) L_K(θ_g) for the boundaries b in ``rows`` and every look K
    (weights normalised over the grid), in log space throughout.

    s_b = max(s, the grid's spacing next to θ_b): on the grid a kernel narrower than the spacing is a
    point mass at θ_b, which a continuous pod term misses half a spacing away (a version at the fail
    ratio with pod sd 0.0085 failed 8× α; floored, none does) — the wider null is the conservative one.
    The log-sum-exp is taken per (b, K) after its own peak, so a likelihood peaked far from θ_b (much
    data, a small s) still gives a finite null, never an infinite e-value.
    """
    spacing = np.diff(log_theta)
    local = np.maximum(np.concatenate([[spacing[0]], spacing]), np.concatenate([spacing, [spacing[-1]]]))
    centres, sd = log_theta[rows], np.maximum(local[rows], pod_sd)
    log_kernel = -0.5 * ((log_theta[None, :] - centres[:, None]) / sd[:, None]) ** 2  # (boundary b, grid g)
    log_kernel -= log_sum_exp(log_kernel, axis=1)[:, None]
    terms = log_kernel[:, :, None] + loglik[None, :, :]  # (b, g, K)
    result: FloatArray = log_sum_exp(terms, axis=1)
    return result


def lower_bound(evidence: RatioEvidence, looks: list[int], log_threshold: float) -> float:
    """Anytime lower confidence bound on the version's r, intersected over the given looks (0-based steps).

    The fail test of every grid boundary, pod term in its null, inverted: the confidence sequence
    holds at every look at once, so intersecting the looks we read keeps it valid — the current one
    and, after a fail, the fail look.
    """
    grid, loglik = evidence.grid, evidence.loglik[:, looks]
    above = _log_e_over_pod_null(loglik, grid.log_prior, "above", np.log(grid.theta), evidence.fail_sd)
    return float(lower_bounds(above, grid.theta, log_threshold).max())


def ratio_grid(prior_scale: float, fail_ratio: float, pass_ratio: float) -> Grid:
    return log_ratio_grid(prior_scale, include=(fail_ratio, pass_ratio))


@dataclass(frozen=True)
class LimitEvidence:
    log_e: float  # sup over looks (log)
    fail_step: int | None


def exceeds_limit(
    events: FloatArray, total: FloatArray, limit: float, prior_scale: float, log_threshold: float,
    keys: PrefixKeys | None = None,
) -> LimitEvidence:
    """Anytime-valid test of H0: canary rate p ≤ ``limit`` (an absolute SLO), one arm.

    events_k ~ Binomial(total_k, p), tempered by the arm's own predictable dispersion; the mixture
    is over p = limit·θ for θ > 1 on the ratio grid (capped just below 1), so it is the same
    e-process as :func:`compare_ratio` with a known baseline. ``keys``: the memo's keys of the counts'
    prefixes by their lists (:attr:`StepCounts.keys`).
    """
    grid = log_ratio_grid(prior_scale, include=(1.0,))
    boundary = grid.index(1.0)
    theta, log_prior = grid.theta[boundary:], grid.log_prior[boundary:]  # θ = 1 and the alternatives above
    probs = np.minimum(limit * theta, 1.0 - 1e-12)  # (G',): the same at every step
    path = limit_path(probs, log_prior, events, total, 1.0 / rate_dispersion(events, total), keys).path
    return LimitEvidence(log_e=float(max(path.max(), 0.0)), fail_step=_first_true(path >= log_threshold))


def log_mean_exp(paths: list[FloatArray]) -> FloatArray:
    """log of the average of e-processes given as logs: the average of e-processes is an e-process.
    An infinite e-value (the data rule the null out) keeps the average infinite."""
    stacked = np.vstack(paths)
    result: FloatArray = log_sum_exp(stacked, axis=0) - math.log(stacked.shape[0])
    return result


def first_crossing(path: FloatArray, log_threshold: float, also: np.ndarray | None = None) -> int | None:
    """First step where the path reaches the threshold (and ``also`` holds there, when given)."""
    crossed = path >= log_threshold
    if also is not None:
        crossed = crossed & also
    return _first_true(crossed)


def safe_exp(log_value: float) -> float:
    """exp() capped at the largest float, for reporting e-values."""
    return math.exp(min(log_value, 700.0))
