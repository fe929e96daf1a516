"""The measurement: per-step counts of canary and stable (and optionally of their pods), validated.

A *measurement* holds per-step increments for canary and stable, exactly as PromQL
``increase(x[step])`` returns them: one value per step and arm. Ratio metrics carry ``total``
(requests) and ``events`` (errors); histogram metrics carry cumulative bucket counts per ``le``
bound, ending with ``+Inf`` (= requests), like a Prometheus classic histogram. Counts may be
non-integer (``increase`` extrapolates) but must be finite and non-negative.

PromQL's artefacts are data, not errors: ``increase()`` extrapolates every series on its own, so
summed buckets may dip by a fraction of a count and ``events`` may exceed ``total`` a little; the API
returns ``le`` series in any order. Bounds are sorted here (with their columns); dips and overshoots
within :data:`ARTEFACT_SLACK` are accepted and repaired by the judge the way PromQL's
``histogram_quantile`` repairs them (a running maximum along ``le``, events clipped to requests).
Beyond that slack the data is broken, and refused.

*Gauge* metrics (CPU, memory, restarts…) carry a value per step for each pod of each arm, ``null``
where the pod had no sample at that step: what ``rate(…[step])`` of a counter or a gauge's value
at the step's end returns, by pod. The judge compares canary pods with stable pods
(:mod:`analyzer.judging.gauge`), or the canary alone with an absolute limit
(:mod:`analyzer.judging.threshold`, which needs no stable series).

A metric may carry its per-pod breakdown (``pods``): the arms' per-step counts per pod, whose sums
over pods equal the arm's counts within :data:`POD_SUM_SLACK`. The judge uses it to estimate how
much pods of one version differ (see :mod:`analyzer.stats.heterogeneity`).

Validation errors name the metric, the arm, the field and the step (0-based), so that a
broken exporter is found from the message alone.
"""

from __future__ import annotations

import math
from typing import Annotated, Any, Literal

import numpy as np
from pydantic import Field, field_serializer, field_validator, model_validator

from analyzer.model.base import Strict

#: How far two counters that ``increase()`` computes separately may disagree (relative, absolute):
#: events over total, or a bucket below the one before it. One Prometheus scrapes all series of a
#: target together, so its counts disagree only by rounding; a Thanos or Mimir query deduplicating an
#: HA pair may take each series from another replica, scraped up to an interval apart — a quarter of a
#: 1-minute step at 15 s scrapes (measured with bench's simulator: dips of 10-15 % at 2 canary req/s).
#: Beyond half the count, the data is broken (e.g. per-bucket counts sent as if cumulative).
ARTEFACT_SLACK = (0.5, 5.0)
#: How far an arm's counts may differ from the sum of its pods' counts (relative, absolute).
POD_SUM_SLACK = (0.01, 1.0)

Count = Annotated[float, Field(ge=0, allow_inf_nan=False)]
PodName = Annotated[str, Field(min_length=1, max_length=253, pattern=r"^[A-Za-z0-9][A-Za-z0-9._:-]*$")]
#: JSON Schema of a map by pod name: pydantic writes the name pattern as ``patternProperties``, which
#: lets any other key through; ``additionalProperties: false`` refuses those, as the model does.
_BY_POD_SCHEMA: dict[str, Any] = {"additionalProperties": False}
_INF_TEXT = "[+]?[Ii][Nn][Ff]"
#: JSON Schema of ``le``: numbers, or text as the Prometheus API writes label values ("0.1", "+Inf");
#: JSON has no infinity, so the +Inf bound is text.
_LE_SCHEMA: dict[str, Any] = {
    "items": {
        "anyOf": [
            {"type": "number"},
            {"type": "string", "pattern": f"^([+-]?([0-9]+[.]?[0-9]*|[.][0-9]+)([eE][+-]?[0-9]+)?|{_INF_TEXT})$"},
        ]
    },
    "contains": {"type": "string", "pattern": f"^{_INF_TEXT}$"},
    "minItems": 2,
    "uniqueItems": True,
}


def _exceeds(a: float, b: float, slack: tuple[float, float] = ARTEFACT_SLACK) -> bool:
    """True when ``a > b`` beyond ``slack`` (relative to b, plus an absolute part)."""
    relative, absolute = slack
    return a > b * (1.0 + relative) + absolute


def _check_same_steps(canary: int, stable: int) -> None:
    if canary != stable:
        raise ValueError(f"canary has {canary} steps but stable has {stable}; both arms must cover the same steps")


def _pod_sum_error(arm: str, field: str, arm_values: np.ndarray, pod_sum: np.ndarray) -> str | None:
    """A message naming the first step where an arm's counts differ from the sum over its pods."""
    relative, absolute = POD_SUM_SLACK
    off = np.abs(arm_values - pod_sum) > relative * np.maximum(arm_values, pod_sum) + absolute
    if not off.any():
        return None
    index = tuple(int(v) for v in np.argwhere(off)[0])
    step = index[0]
    return (
        f"pods.{arm}: step {step}: the pods' {field} sum to {float(pod_sum[index]):g}"
        f" but the {arm} arm has {float(arm_values[index]):g}"
    )


class RatioArm(Strict):
    """One arm of a ratio metric: requests and events (e.g. errors) per step."""

    total: list[Count] = Field(description="requests per step")
    events: list[Count] = Field(
        description="events (e.g. errors) per step; at most total, or a little over it (PromQL extrapolation)"
    )

    @model_validator(mode="after")
    def _events_within_total(self) -> RatioArm:
        if len(self.total) != len(self.events):
            raise ValueError(f"total has {len(self.total)} steps but events has {len(self.events)}; they must match")
        for step, (total, events) in enumerate(zip(self.total, self.events, strict=True)):
            if _exceeds(events, total):
                raise ValueError(
                    f"step {step}: events ({events:g}) exceed total ({total:g}) by more than"
                    " per-series extrapolation explains"
                )
        return self


class RatioPods(Strict):
    """Per-pod breakdown of a ratio metric: each arm's pods, each with the arm's per-step fields."""

    canary: dict[PodName, RatioArm] = Field(default_factory=dict, json_schema_extra=_BY_POD_SCHEMA)
    stable: dict[PodName, RatioArm] = Field(default_factory=dict, json_schema_extra=_BY_POD_SCHEMA)


class RatioMetric(Strict):
    """Events out of requests, e.g. 5xx responses out of all responses."""

    kind: Literal["ratio"]
    canary: RatioArm
    stable: RatioArm
    pods: RatioPods | None = Field(default=None, description="optional per-pod breakdown of both arms")

    @model_validator(mode="after")
    def _same_steps(self) -> RatioMetric:
        _check_same_steps(len(self.canary.total), len(self.stable.total))
        if self.pods is not None:
            for arm_name, arm, pods in (
                ("canary", self.canary, self.pods.canary),
                ("stable", self.stable, self.pods.stable),
            ):
                if not pods:
                    continue
                for pod, series in pods.items():
                    if len(series.total) != len(arm.total):
                        raise ValueError(
                            f"pods.{arm_name}.{pod}: {len(series.total)} steps but the arm has {len(arm.total)}"
                        )
                for field in ("total", "events"):
                    values = np.asarray(getattr(arm, field), dtype=np.float64)
                    summed = np.sum([getattr(series, field) for series in pods.values()], axis=0)
                    problem = _pod_sum_error(arm_name, field, values, summed)
                    if problem:
                        raise ValueError(problem)
        return self

    @property
    def steps(self) -> int:
        return len(self.canary.total)


def fmt_le(bound: float) -> str:
    """A bucket bound as Prometheus writes it."""
    return "+Inf" if math.isinf(bound) else f"{bound:g}"


def _parse_le(value: Any) -> float:
    if isinstance(value, str):
        text = value.strip()
        if text.lower() in {"+inf", "inf"}:
            return math.inf
        try:
            value = float(text)
        except ValueError:
            raise ValueError(f"bucket bound {value!r} is not a number or '+Inf'") from None
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise ValueError(f"bucket bound {value!r} is not a number or '+Inf'")
    number = float(value)
    if math.isnan(number) or number == -math.inf:
        raise ValueError(f"bucket bound {value!r} is not allowed")
    return number


Rows = list[list[Count]]


class HistogramPods(Strict):
    """Per-pod breakdown of a histogram: each arm's pods, each with per-step cumulative rows."""

    canary: dict[PodName, Rows] = Field(default_factory=dict, json_schema_extra=_BY_POD_SCHEMA)
    stable: dict[PodName, Rows] = Field(default_factory=dict, json_schema_extra=_BY_POD_SCHEMA)


def _sort_columns(rows: Any, order: list[int]) -> Any:
    """Reorder each row's columns like ``le``; anything not shaped as rows is left to validation."""
    if not isinstance(rows, list) or not all(isinstance(r, list) and len(r) == len(order) for r in rows):
        return rows
    return [[row[i] for i in order] for row in rows]


class HistogramMetric(Strict):
    """Cumulative bucket counts per step, as Prometheus classic histograms store them."""

    kind: Literal["histogram"]
    le: list[float] = Field(
        description="bucket upper bounds, numbers or '+Inf', in any order (sorted with their columns)",
        json_schema_extra=_LE_SCHEMA,
    )
    canary: Rows = Field(description="per step, cumulative counts for each le")
    stable: Rows = Field(description="per step, cumulative counts for each le")
    pods: HistogramPods | None = Field(default=None, description="optional per-pod breakdown of both arms")

    @model_validator(mode="before")
    @classmethod
    def _sort_le(cls, data: Any) -> Any:
        """PromQL returns ``le`` series in any order: sort the bounds and every row's columns with them."""
        if not isinstance(data, dict) or not isinstance(data.get("le"), list):
            return data
        try:
            bounds = [_parse_le(v) for v in data["le"]]
        except ValueError:
            return data  # the field validator names the bad bound
        order = sorted(range(len(bounds)), key=bounds.__getitem__)
        if order == list(range(len(bounds))):
            return data
        data = dict(data)
        data["le"] = [data["le"][i] for i in order]
        for arm in ("canary", "stable"):
            data[arm] = _sort_columns(data.get(arm), order)
        pods = data.get("pods")
        if isinstance(pods, dict):
            data["pods"] = {
                arm: {name: _sort_columns(rows, order) for name, rows in by_pod.items()}
                if isinstance(by_pod, dict)
                else by_pod
                for arm, by_pod in pods.items()
            }
        return data

    @field_validator("le", mode="before")
    @classmethod
    def _parse_bounds(cls, value: Any) -> list[float]:
        if not isinstance(value, list):
            raise ValueError("le must be a list of bucket bounds")
        return [_parse_le(v) for v in value]

    @field_serializer("le")
    def _dump_bounds(self, le: list[float]) -> list[float | str]:
        return ["+Inf" if math.isinf(b) else b for b in le]

    @model_validator(mode="after")
    def _check_buckets(self) -> HistogramMetric:
        le = self.le
        if len(le) < 2:
            raise ValueError("le needs at least one finite bound and '+Inf'")
        if not math.isinf(le[-1]):
            raise ValueError("le must end with '+Inf' (the bucket that counts every request)")
        for i in range(1, len(le)):
            if not le[i] > le[i - 1]:
                raise ValueError(f"le has the bound {fmt_le(le[i])} twice")
        _check_same_steps(len(self.canary), len(self.stable))
        for arm, rows in (("canary", self.canary), ("stable", self.stable)):
            _check_rows(arm, rows, le)
        if self.pods is not None:
            for arm, rows, pods in (
                ("canary", self.canary, self.pods.canary),
                ("stable", self.stable, self.pods.stable),
            ):
                if not pods:
                    continue
                for pod, pod_rows in pods.items():
                    if len(pod_rows) != len(rows):
                        raise ValueError(f"pods.{arm}.{pod}: {len(pod_rows)} steps but the arm has {len(rows)}")
                    _check_rows(f"pods.{arm}.{pod}", pod_rows, le)
                if rows:
                    problem = _pod_sum_error(
                        arm, "bucket counts", np.asarray(rows, dtype=np.float64), np.sum(list(pods.values()), axis=0)
                    )
                    if problem:
                        raise ValueError(problem)
        return self

    @property
    def steps(self) -> int:
        return len(self.canary)


def _check_rows(where: str, rows: Rows, le: list[float]) -> None:
    """Each row has a count per bound, and dips along ``le`` stay within extrapolation slack."""
    for step, row in enumerate(rows):
        if len(row) != len(le):
            raise ValueError(f"{where}: step {step}: {len(row)} bucket counts for {len(le)} le bounds")
    if not rows:
        return
    counts = np.asarray(rows, dtype=np.float64)  # vectorised: this runs on every look
    running = np.maximum.accumulate(counts, axis=1)[:, :-1]
    relative, absolute = ARTEFACT_SLACK
    broken = np.argwhere(running > counts[:, 1:] * (1.0 + relative) + absolute)
    if broken.size:
        step, j = (int(v) for v in broken[0])
        raise ValueError(
            f"{where}: step {step}: buckets not cumulative: a bound below le={fmt_le(le[j + 1])} has"
            f" {running[step, j]:g} but le={fmt_le(le[j + 1])} has {rows[step][j + 1]:g}, more than"
            " per-series extrapolation explains"
        )


#: One pod's gauge values per step; None where it had no sample.
GaugeSeries = list[Count | None]


class GaugeMetric(Strict):
    """A per-pod gauge: each arm's pods, each with one value per step (None: no sample at that step).

    Without a per-pod breakdown an arm is one series under any pod name (e.g. ``all``): a comparison
    with stable then has one sample per arm and stays inconclusive; a threshold needs only the canary.
    """

    kind: Literal["gauge"]
    canary: dict[PodName, GaugeSeries] = Field(
        description="by pod: a value per step (e.g. CPU cores, bytes, restarts), null where the pod had no sample",
        json_schema_extra=_BY_POD_SCHEMA,
    )
    stable: dict[PodName, GaugeSeries] = Field(
        default_factory=dict,
        description="by pod, like canary; may be empty for a canary-only threshold",
        json_schema_extra=_BY_POD_SCHEMA,
    )

    @model_validator(mode="after")
    def _same_steps(self) -> GaugeMetric:
        lengths = {
            f"{arm}.{pod}": len(values)
            for arm, pods in (("canary", self.canary), ("stable", self.stable))
            for pod, values in pods.items()
        }
        if len(set(lengths.values())) > 1:
            (first, n), *_ = lengths.items()
            other, m = next((k, v) for k, v in lengths.items() if v != n)
            raise ValueError(f"{first} has {n} steps but {other} has {m}; every pod must cover the same steps")
        return self

    @property
    def steps(self) -> int:
        return len(next(iter({**self.canary, **self.stable}.values()), []))


MetricData = Annotated[RatioMetric | HistogramMetric | GaugeMetric, Field(discriminator="kind")]


class Measurement(Strict):
    """Canary and stable per-step increments for one or more metrics over the same window."""

    step_seconds: float = Field(default=60.0, gt=0, allow_inf_nan=False, description="length of a step")
    metrics: dict[str, MetricData] = Field(
        description="by name; a metric the policy names but the data lacks is judged inconclusive (no data)"
    )

    def head(self, steps: int) -> Measurement:
        """The first ``steps`` steps: what an Argo look at that time would have seen."""
        data = self.model_dump(mode="json")
        for metric in data["metrics"].values():
            pods = metric.get("pods") or {}
            if metric["kind"] == "gauge":
                for arm in ("canary", "stable"):
                    metric[arm] = {pod: values[:steps] for pod, values in metric[arm].items()}
            elif metric["kind"] == "ratio":
                for arm in ("canary", "stable"):
                    metric[arm] = {key: values[:steps] for key, values in metric[arm].items()}
                    for series in pods.get(arm, {}).values():
                        series.update({key: values[:steps] for key, values in series.items()})
            else:
                metric["canary"], metric["stable"] = metric["canary"][:steps], metric["stable"][:steps]
                for by_pod in pods.values():
                    by_pod.update({name: rows[:steps] for name, rows in by_pod.items()})
        return Measurement.model_validate(data)

    @field_validator("metrics")
    @classmethod
    def _names(cls, metrics: dict[str, MetricData]) -> dict[str, MetricData]:
        for name in metrics:
            if not name or len(name) > 63 or not all(c.isalnum() or c in "-_." for c in name):
                raise ValueError(f"metric name {name!r} must be 1-63 letters, digits, '-', '_' or '.'")
        return metrics
