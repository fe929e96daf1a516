"""canary-analyzer: a canary judge for Argo Rollouts with statistics that stay valid at every look.

>>> import analyzer
>>> judgment = analyzer.judge({"step_seconds": 60, "metrics": {...}})
>>> judgment.verdict, judgment.score
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Literal

from analyzer.judging import judge as _judge_ours
from analyzer.judging import judge_kayenta
from analyzer.model import Judgment, Measurement, MetricPolicy, MetricResult, Policy, Verdict

__version__ = "0.1.0"


def judge(
    measurement: Measurement | Mapping[str, Any],
    policy: Policy | Mapping[str, Any] | None = None,
    judge: Literal["ours", "kayenta"] = "ours",
) -> Judgment:
    """Judge a canary against stable. Accepts models or plain dicts (validated, with clear errors)."""
    m = measurement if isinstance(measurement, Measurement) else Measurement.model_validate(measurement)
    p = policy if isinstance(policy, Policy) else Policy.model_validate(policy or {})
    return judge_kayenta(m, p) if judge == "kayenta" else _judge_ours(m, p)


__all__ = ["Judgment", "Measurement", "MetricPolicy", "MetricResult", "Policy", "Verdict", "judge"]
