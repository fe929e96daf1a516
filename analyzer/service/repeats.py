"""Looks that find their window as the last look left it: the same judgment, without judging again.

Argo asks at its own interval, not on the step grid. With an ``interval`` shorter than the step, a retry
after an Error, several replicas, or a background analysis beside a step's, a look often finds the very
steps the window's last look judged. The judge is a function of its inputs alone (the measurement, the
policy, the metrics the source could not vouch for, where the step's pass evidence starts), so a look
whose inputs equal the last look's is given that look's judgment instead of being judged again: the
measurement is compared by its input digest (:func:`~analyzer.judging.digest.measurement_digest`, the
sha256 the judgment records), which holds no copy of the data. The look is recorded as every look is,
its window's counts with it: another replica may have stored the window's newest steps since (a late
sample in them), and after this look the store holds this look's counts, as after any look.

A look that finds its window's series exactly as the last look left them is handed that look's very
measurement object (:meth:`~analyzer.sources.prometheus.PrometheusSource.fetch`), whose digest
:class:`Digests` then gives without hashing it again.

Per process and bounded (least recently used windows forgotten): a forgotten window is judged as if
looked at for the first time, which gives the same answer at the usual cost.
"""

from __future__ import annotations

import weakref
from collections.abc import Callable
from dataclasses import dataclass

from analyzer.judging.digest import measurement_digest
from analyzer.model import Judgment, Measurement, Policy
from analyzer.service.windows import Recent
from analyzer.store import WindowKey

#: Windows (with the step a look's pass evidence starts at) whose last judgment a process keeps.
MAX_JUDGMENTS = 1024


def frozen(unavailable: dict[str, str]) -> tuple[tuple[str, str], ...]:
    """The unavailable metrics in their order, which the judgment's metrics follow."""
    return tuple(unavailable.items())


@dataclass(frozen=True)
class Inputs:
    """What a judgment is a function of: the measurement by its digest, and the judge's other arguments."""

    window_start: int
    digest: str
    policy: Policy
    unavailable: tuple[tuple[str, str], ...]
    pass_from: int | None


class Repeats:
    """The last judgment of each window (and pass start)."""

    def __init__(self, max_windows: int = MAX_JUDGMENTS) -> None:
        self._judged: Recent[tuple[WindowKey, int | None], tuple[Inputs, Judgment]] = Recent(max_windows)

    def judged(self, key: WindowKey, inputs: Inputs, judge: Callable[[], Judgment]) -> tuple[Judgment, bool]:
        """The last judgment of the window when it had these inputs, else ``judge()`` (kept for the next look);
        and whether it was the last one."""
        held = self._judged.get((key, inputs.pass_from))
        if held is not None and held[0] == inputs:
            return held[1], True
        judgment = judge()
        self._judged.put((key, inputs.pass_from), (inputs, judgment))
        return judgment, False


class Digests:
    """The input digest of each window's last measurement, by the measurement object itself, held weakly: the
    window cache decides how long a measurement lives (and its memory budget counts it), not this."""

    def __init__(self, max_windows: int = MAX_JUDGMENTS) -> None:
        self._held: Recent[tuple[WindowKey, int], tuple[weakref.ref[Measurement], str]] = Recent(max_windows)

    def of(self, key: WindowKey, window_start: int, measurement: Measurement) -> str:
        """:func:`~analyzer.judging.digest.measurement_digest` of ``measurement``: the last one's of the window
        when it is that very object (a measurement is not changed once built), else computed and kept."""
        held = self._held.get((key, window_start))
        if held is not None and held[0]() is measurement:
            return held[1]
        digest = measurement_digest(measurement)
        self._held.put((key, window_start), (weakref.ref(measurement), digest))
        return digest
