"""The e-processes' log-likelihood and fail path, resumed from an earlier look of the same window.

``cumulative_loglik`` and ``mixture_log_e_at`` (:mod:`analyzer.stats.eprocess`) are prequential:
column k of the (grid × steps) log-likelihood and step k of the path depend only on steps ≤ k. A
look that shares its first L steps with an earlier one takes that look's first L columns and steps
from :mod:`analyzer.judging.prefix_memo` and computes the rest, appended to that look's arrays in
place when it kept all their steps (:mod:`analyzer.judging.grown`; else copied once), so the
e-processes of a look cost what its new steps cost (issue 15). The result is the one from scratch
to the last bit: the cumulative sum continues from the cached column in the same order, and every other operation is per
column. A look resumes only as far as its inputs, the weights 1/φ included, equal an earlier look's,
which is why the dispersion estimates are prequential (:mod:`analyzer.stats.dispersion`); a boundary
or grid that moves between looks (a new key) is computed from scratch.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from analyzer.judging.grown import Prefix, grown
from analyzer.judging.prefix_memo import Entry, PrefixKeys, PrefixMemo
from analyzer.stats.eprocess import FloatArray, mixture_log_e_at, step_loglik
from analyzer.stats.rate_ratio import log_canary_share


@dataclass(frozen=True)
class Path:
    """Tempered cumulative log-likelihood (grid points × steps) and the log e-process at one boundary, each the
    first steps of a buffer the next look extends in place (:mod:`analyzer.judging.grown`)."""

    cumulative: Prefix
    steps_path: Prefix

    @property
    def loglik(self) -> FloatArray:
        return self.cumulative.array

    @property
    def path(self) -> FloatArray:
        return self.steps_path.array


#: The process's memo of paths (bounded: see :mod:`analyzer.judging.prefix_memo`).
PATHS: PrefixMemo[Path] = PrefixMemo()

#: log p and log(1 - p) of the grid (rows) at the given steps (columns).
LogProbabilities = Callable[[slice], tuple[FloatArray, FloatArray]]


def _resumed(
    successes: FloatArray,
    trials: FloatArray,
    weights: FloatArray,
    covariates: tuple[FloatArray, ...],
    log_probabilities: LogProbabilities,
    salt: bytes,
    log_prior: FloatArray,
    boundary: int,
    keys: PrefixKeys | None,
) -> Path:
    """cumulative_loglik and mixture_log_e_at ("above" ``boundary``) over every step, from the longest
    known prefix on (named by ``keys``, or by the inputs' digest).

    ``covariates`` are the per-step inputs ``log_probabilities`` reads besides the counts; ``salt``
    names everything else it depends on (the grid), so that the memo key covers every input.
    """
    steps = int(successes.size)
    salt += np.asarray(log_prior, dtype=np.float64).tobytes() + f"|{boundary}".encode()

    def compute(known: Entry[Path] | None) -> tuple[Path, int]:
        start = known.steps if known is not None else 0
        new = slice(start, steps)
        log_p, log_q = log_probabilities(new)
        terms = step_loglik(successes[new], trials[new], log_p, log_q, weights=weights[new])
        if known is None:
            loglik = grown(np.cumsum(terms, axis=1), axis=-1)
            path = grown(mixture_log_e_at(loglik.array, log_prior, boundary, "above"))
        else:
            before = known.state.cumulative
            # The sum continues from the cached column in the same order as from scratch.
            columns = np.cumsum(np.concatenate([before.array[:, start - 1 : start], terms], axis=1), axis=1)[:, 1:]
            loglik = before.extend(start, columns)
            path = known.state.steps_path.extend(start, mixture_log_e_at(columns, log_prior, boundary, "above"))
        return Path(loglik, path), loglik.nbytes + path.nbytes

    return PATHS.resume((successes, trials, weights, *covariates), salt, compute, keys)


#: Bytes the memo of the fail test's pod-term null paths holds at most (one float a step and state).
NULLS_BYTES = 16 << 20
#: The process's memo of the fail test's pod-term null paths.
NULLS: PrefixMemo[FloatArray] = PrefixMemo(max_bytes=NULLS_BYTES)


def null_path(loglik: FloatArray, inputs: tuple[FloatArray, ...], salt: bytes,
              columns: Callable[[FloatArray], FloatArray], keys: PrefixKeys | None = None) -> FloatArray:
    """A per-look null (one value per step, each a function of its own log-likelihood column alone,
    ``columns`` on a (G, steps) slice), resumed from the longest known prefix of ``inputs``.

    ``inputs`` are the per-step inputs behind ``loglik`` (counts, weights, exposures) and ``salt``
    names what else the null depends on (grid, boundary, pod sd): the fail test's pod-term marginal
    (``analyzer.judging.evidence.compare_ratio``) costs a (grid × steps) log-sum-exp a look otherwise.
    """
    def compute(known: Entry[FloatArray] | None) -> tuple[FloatArray, int]:
        start = known.steps if known is not None else 0
        tail = columns(loglik[:, start:])
        path = tail if known is None else np.concatenate([known.state[:start], tail])
        path.setflags(write=False)
        return path, path.nbytes

    return NULLS.resume(inputs, salt, compute, keys)


def ratio_path(
    theta: FloatArray,
    log_prior: FloatArray,
    boundary: int,
    canary_events: FloatArray,
    events: FloatArray,
    canary_total: FloatArray,
    stable_total: FloatArray,
    weights: FloatArray,
    keys: PrefixKeys | None = None,
) -> Path:
    """The rate-ratio comparison's log-likelihood on the grid ``theta`` and its e-process against
    r ≤ theta[boundary]: the canary's share of each step's events, tempered by ``weights``
    (``analyzer.judging.evidence.compare_ratio``)."""

    def shares(new: slice) -> tuple[FloatArray, FloatArray]:
        return log_canary_share(theta[:, None], canary_total[None, new], stable_total[None, new])

    salt = b"ratio|" + np.asarray(theta, dtype=np.float64).tobytes()
    return _resumed(
        canary_events, events, weights, (canary_total, stable_total), shares, salt, log_prior, boundary, keys
    )


def limit_path(probabilities: FloatArray, log_prior: FloatArray, events: FloatArray, total: FloatArray,
               weights: FloatArray, keys: PrefixKeys | None = None) -> Path:
    """One arm's log-likelihood at fixed event probabilities (G',) and its e-process against the
    first of them (``analyzer.judging.evidence.exceeds_limit``)."""
    p = np.asarray(probabilities, dtype=np.float64)[:, None]
    log_p, log_q = np.log(p), np.log1p(-p)

    def fixed(new: slice) -> tuple[FloatArray, FloatArray]:
        return log_p, log_q

    salt = b"limit|" + p.tobytes()
    return _resumed(events, total, weights, (), fixed, salt, log_prior, 0, keys)
