"""The diagnostics that never decide, added to a judgment after the fact (for its report page).

Latency's χ² homogeneity p-value and bootstrap quantile-ratio interval describe the data; no verdict
rests on them, so the live service does not compute them on every look (issue 15: 0.75 ms of a
5.0 ms judgment at 30 steps with pods). A page drawn from the window's stored counts fills them in here.
"""

from __future__ import annotations

from collections.abc import Mapping

from analyzer.judging.ours import judge
from analyzer.model import Judgment, Kind, Measurement, MetricResult, Policy

#: The fields :func:`with_descriptive` fills in.
DESCRIPTIVE = ("chi2_p_value", "quantile_ratio_interval")


def _lacks(result: MetricResult) -> bool:
    d = result.diagnostics
    return result.kind is Kind.HISTOGRAM and all(getattr(d, field) is None for field in DESCRIPTIVE)


def with_descriptive(
    judgment: Judgment, measurement: Measurement, policy: Policy, unavailable: Mapping[str, str] | None = None
) -> Judgment:
    """``judgment`` with the descriptive diagnostics of its histogram metrics computed from ``measurement``.

    Only our judge's judgments, only metrics whose data was judged (not ``unavailable`` ones), and only
    fields still empty; verdicts, reasons and evidence are the judgment's own, untouched.
    """
    unavailable = unavailable or {}
    wanted = {r.name for r in judgment.metrics if _lacks(r) and r.name not in unavailable}
    if judgment.judge != "ours" or not wanted & set(measurement.metrics):
        return judgment
    described = {r.name: r.diagnostics for r in judge(measurement, policy, descriptive=True).metrics}
    metrics = []
    for result in judgment.metrics:
        if result.name in wanted and result.name in described:
            extra = {field: getattr(described[result.name], field) for field in DESCRIPTIVE}
            result = result.model_copy(update={"diagnostics": result.diagnostics.model_copy(update=extra)})
        metrics.append(result)
    return judgment.model_copy(update={"metrics": metrics})
