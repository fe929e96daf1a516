"""canary-analyzer: a canary judge for Argo Rollouts with statistics that stay valid at every look.

>>> import analyzer
>>> judgment = analyzer.judge({"step_seconds": 60, "metrics": {...}})
>>> judgment.verdict, judgment.score

Importing the package is cheap: the models and the judges (numpy, scipy) load on first use, so that
``canary-analyzer --help`` and ``--version`` start in a fraction of a second.
"""

from __future__ import annotations

from collections.abc import Mapping
from importlib import import_module
from typing import TYPE_CHECKING, Any, Literal

if TYPE_CHECKING:
    from analyzer.model import Judgment, Measurement, MetricPolicy, MetricResult, Policy, Verdict

#: The one place the version is written (pyproject.toml reads it from here).
__version__ = "0.1.0"

_MODELS = frozenset({"Judgment", "Measurement", "MetricPolicy", "MetricResult", "Policy", "Verdict"})


def __getattr__(name: str) -> Any:
    """The public models, imported from ``analyzer.model`` when first asked for."""
    if name in _MODELS:
        return getattr(import_module("analyzer.model"), name)
    raise AttributeError(f"module 'analyzer' has no attribute {name!r}")


def judge(
    measurement: Measurement | Mapping[str, Any],
    policy: Policy | Mapping[str, Any] | None = None,
    judge: Literal["ours", "kayenta"] = "ours",
) -> Judgment:
    """Judge a canary against stable. Accepts models or plain dicts (validated, with clear errors)."""
    from analyzer.judging import judge as judge_ours
    from analyzer.judging import judge_kayenta
    from analyzer.model import Measurement, Policy

    m = measurement if isinstance(measurement, Measurement) else Measurement.model_validate(measurement)
    p = policy if isinstance(policy, Policy) else Policy.model_validate(policy or {})
    return judge_kayenta(m, p) if judge == "kayenta" else judge_ours(m, p)


__all__ = ["Judgment", "Measurement", "MetricPolicy", "MetricResult", "Policy", "Verdict", "judge"]
