"""The report's plots: matplotlib figures rendered server-side to inline SVG.

Each function draws one figure and returns SVG markup to put straight into the page: no file, no
script, no external asset, so the page works air-gapped and in any browser. Text stays text
(``svg.fonttype: none``), which keeps the figures small and their labels searchable. Only the
object-oriented API is used (no ``pyplot`` state), so figures can be drawn from several threads.

Canary is vermillion and stable blue (Okabe-Ito, readable with colour-blindness); a fail boundary is
red, a pass boundary green.
"""

from __future__ import annotations

import io
import math
import re
from collections.abc import Sequence
from itertools import count
from typing import Any

import matplotlib as mpl
import numpy as np
from matplotlib.axes import Axes
from matplotlib.figure import Figure
from matplotlib.ticker import FuncFormatter, LogLocator, NullFormatter

from analyzer.judging.kayenta import per_step_series
from analyzer.model import HistogramMetric, RatioMetric, fmt_le
from analyzer.report.looks import MetricPath
from analyzer.stats.histogram import histogram_quantiles

CANARY, STABLE = "#D55E00", "#0072B2"
FAIL, PASS, MUTED = "#C0392B", "#1E8449", "#7F8C8D"
#: e-values are drawn up to this (beyond, a log axis overflows); the facts table prints them exactly.
E_CEILING = 1e100
#: Most pods drawn in a per-pod plot; the busiest are kept.
MAX_PODS = 24
_STYLE: dict[Any, Any] = {
    "svg.fonttype": "none",
    "svg.hashsalt": "canary-analyzer",  # stable ids: the same data draws the same markup
    "font.size": 8.5,
    "axes.spines.top": False,
    "axes.spines.right": False,
    "axes.grid": True,
    "grid.alpha": 0.3,
    "legend.frameon": False,
}
#: Tick labels as plain text: matplotlib's default log labels are mathtext, slow to lay out.
_PLAIN = FuncFormatter(lambda value, _: f"{value:g}")
_ID = re.compile(r'(id="|url\(#|xlink:href="#|href="#)([^")]+)')
_figures = count(1)

Values = Sequence[float | None]


def _array(values: Values) -> np.ndarray:
    return np.array([math.nan if v is None else v for v in values], dtype=np.float64)


def _svg(figure: Figure) -> str:
    """The figure as inline SVG, its ids prefixed so that several figures can share one page."""
    buffer = io.StringIO()
    with mpl.rc_context(_STYLE):
        figure.savefig(buffer, format="svg", metadata={"Date": None})
    text = buffer.getvalue()
    text = text[text.index("<svg") :]
    prefix = f"f{next(_figures)}-"
    return _ID.sub(lambda m: m.group(1) + prefix + m.group(2), text)


def _figure(rows: int = 1, height: float = 2.4) -> tuple[Figure, list[Axes]]:
    with mpl.rc_context(_STYLE):
        figure = Figure(figsize=(7.2, height * rows), layout="constrained")
        axes = figure.subplots(rows, 1, sharex=True, squeeze=False)[:, 0]
    return figure, list(axes)


def _log_axis(axis: Any) -> None:
    """A log axis with a few plainly labelled ticks (1, 2, 5 per decade; none labelled between)."""
    axis.set_major_locator(LogLocator(base=10, subs=(1.0, 2.0, 5.0), numticks=8))
    axis.set_major_formatter(_PLAIN)
    axis.set_minor_formatter(NullFormatter())


def _mark_warmup_and_fail(axes: Sequence[Axes], warmup: int, fail_look: int | None) -> None:
    for i, ax in enumerate(axes):
        if warmup > 0:
            ax.axvspan(0.5, warmup + 0.5, color=MUTED, alpha=0.12, lw=0, label=None if i else "warm-up (not judged)")
        if fail_look is not None:
            ax.axvline(fail_look, color=FAIL, lw=1, ls=":", label=None if i else f"fail crossed (look {fail_look})")


def _legend_above(ax: Axes, columns: int) -> None:
    """The legend over the axes, where it hides no data."""
    ax.legend(loc="lower left", bbox_to_anchor=(0.0, 1.0), ncols=columns, fontsize=7.5, borderaxespad=0.2)


def _step_label(step_seconds: float) -> str:
    return "minute" if step_seconds == 60 else f"step ({step_seconds:g} s)"


def per_step(
    data: RatioMetric | HistogramMetric, quantile: float, step_seconds: float, warmup: int, fail_look: int | None
) -> str:
    """Canary and stable per step: the error rate (or the quantile) above, the requests (and errors) below."""
    canary, stable = per_step_series(data, quantile)
    steps = np.arange(1, data.steps + 1)
    figure, (top, bottom) = _figure(2, 2.1)
    if isinstance(data, RatioMetric):
        top.set_ylabel("error rate (%)")
        arms = ((data.canary, CANARY, "canary"), (data.stable, STABLE, "stable"))
        for arm, colour, name in arms:
            bottom.step(steps, arm.total, where="mid", color=colour, label=f"{name} requests")
            bottom.step(steps, arm.events, where="mid", color=colour, ls="--", lw=0.9, label=f"{name} errors")
    else:
        canary, stable = canary * 1000.0, stable * 1000.0
        top.set_ylabel(f"p{quantile * 100:g} (ms)")
        for rows, colour, name in ((data.canary, CANARY, "canary"), (data.stable, STABLE, "stable")):
            bottom.step(steps, [row[-1] for row in rows], where="mid", color=colour, label=f"{name} requests")
    top.plot(steps, canary, marker="o", ms=2.5, color=CANARY, label="canary")
    top.plot(steps, stable, marker="o", ms=2.5, color=STABLE, label="stable")
    bottom.set_yscale("symlog", linthresh=10)
    bottom.yaxis.set_major_formatter(_PLAIN)
    bottom.set_ylabel("per step")
    bottom.set_xlabel(_step_label(step_seconds))
    _mark_warmup_and_fail((top, bottom), warmup, fail_look)
    _legend_above(top, 4)
    _legend_above(bottom, 4)
    return _svg(figure)


def _share_slower(rows: np.ndarray) -> np.ndarray:
    pooled = np.maximum.accumulate(rows.sum(axis=0), axis=-1)  # repaired as PromQL does
    total = pooled[-1]
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.asarray(np.where(total > 0, 1.0 - pooled[:-1] / total, np.nan), dtype=np.float64)


def distribution(data: HistogramMetric, quantile: float, warmup: int, tested: Sequence[float]) -> str:
    """Both arms' share of requests slower than each bucket bound (after warm-up), tested bounds marked."""
    bounds = np.asarray(data.le[:-1], dtype=np.float64)
    figure, (ax,) = _figure(1, 2.8)
    for rows, colour, name in ((data.canary, CANARY, "canary"), (data.stable, STABLE, "stable")):
        shares = _share_slower(np.asarray(rows[warmup:] or rows, dtype=np.float64)) * 100.0
        ax.plot(bounds, np.where(shares > 0, shares, np.nan), marker="o", ms=3, color=colour, label=name)
    for i, bound in enumerate(tested):
        label = f"tested bound{'s' if len(tested) > 1 else ''}" if i == 0 else None
        ax.axvline(bound, color=FAIL if i == 0 else MUTED, lw=1.2 if i == 0 else 0.9, ls="--", label=label)
    tail = (1.0 - quantile) * 100.0
    ax.axhline(tail, color=MUTED, lw=0.8, ls=":", label=f"{tail:g} % slower (p{quantile * 100:g})")
    ax.set_xscale("log")
    ax.set_yscale("log")
    _log_axis(ax.xaxis)
    _log_axis(ax.yaxis)
    ax.set_xlabel("bucket bound le (s)")
    ax.set_ylabel("share slower than le (%)")
    ax.legend(loc="lower left", fontsize=7.5)
    return _svg(figure)


def evidence(path: MetricPath, fail_ratio: float, pass_ratio: float, fail_look: int | None) -> str:
    """The fail e-value against its threshold, and the confidence sequence against the boundaries, per look."""
    looks = np.asarray(path.looks, dtype=np.float64)
    figure, (top, bottom) = _figure(2, 2.2)
    e_value = np.clip(_array(path.e_value), 1e-6, E_CEILING)  # the table has the exact value
    top.step(looks, e_value, where="post", color=CANARY, label="fail e-value (largest so far)")
    top.step(looks, _array(path.e_threshold), where="post", color=FAIL, ls="--", label="threshold 1/α")
    top.set_yscale("log")
    top.yaxis.set_major_locator(LogLocator(base=10, numticks=6))
    top.yaxis.set_major_formatter(_PLAIN)
    top.yaxis.set_minor_formatter(NullFormatter())
    top.set_ylabel("e-value")
    lower, upper, ratio = _array(path.lower), _array(path.upper), _array(path.ratio)
    fail_line = np.where(np.isnan(_array(path.fail_boundary)), fail_ratio, _array(path.fail_boundary))
    pass_line = np.where(np.isnan(_array(path.pass_boundary)), pass_ratio, _array(path.pass_boundary))
    shown = np.concatenate([v[np.isfinite(v) & (v > 0)] for v in (lower, upper, ratio, fail_line, pass_line)])
    low, high = (max(shown.min() / 1.3, 1e-3), min(shown.max() * 1.3, 1e3)) if shown.size else (0.1, 10.0)
    # an unbounded side (0 below, ∞ above) is drawn to the edge of the axes
    band = ~np.isnan(lower) & ~np.isnan(upper)
    bottom.fill_between(looks, np.clip(lower, low, high), np.clip(upper, low, high), where=band, step="post",
                        color=CANARY, alpha=0.2, label="confidence sequence")
    bottom.step(looks, ratio, where="post", color=CANARY, lw=1, label="canary/stable ratio")
    bottom.step(looks, fail_line, where="post", color=FAIL, ls="--", label=f"fail boundary (fail_ratio {fail_ratio:g})")
    bottom.step(looks, pass_line, where="post", color=PASS, ls="--", label=f"pass boundary (pass_ratio {pass_ratio:g})")
    bottom.axhline(1.0, color=MUTED, lw=0.6)
    bottom.set_yscale("log")
    _log_axis(bottom.yaxis)
    bottom.set_ylim(low, high)
    bottom.set_ylabel("ratio")
    bottom.set_xlabel("look")
    if fail_look is not None:
        for ax in (top, bottom):
            ax.axvline(fail_look, color=FAIL, lw=1, ls=":")
    _legend_above(top, 2)
    _legend_above(bottom, 2)
    return _svg(figure)


def _pod_values(data: RatioMetric | HistogramMetric, quantile: float) -> list[tuple[str, str, float, float]]:
    """(arm, pod, value, requests) per pod over the window: error rate in %, or the quantile in ms."""
    assert data.pods is not None
    found: list[tuple[str, str, float, float]] = []
    for arm in ("canary", "stable"):
        if isinstance(data, RatioMetric):
            for pod, ratio_arm in getattr(data.pods, arm).items():
                total, events = float(sum(ratio_arm.total)), float(sum(ratio_arm.events))
                found.append((arm, pod, 100.0 * min(events, total) / total if total else math.nan, total))
        else:
            for pod, rows in getattr(data.pods, arm).items():
                pooled = np.asarray(rows, dtype=np.float64).sum(axis=0)
                value = float(histogram_quantiles(quantile, data.le, pooled)) * 1000.0
                found.append((arm, pod, value, float(pooled[-1])))
    return sorted(found, key=lambda item: -item[3])[:MAX_PODS]


def pods(data: RatioMetric | HistogramMetric, quantile: float) -> str | None:
    """Each pod's error rate (or quantile) over the window, canary pods and stable pods apart; None without pods."""
    if data.pods is None or not (data.pods.canary or data.pods.stable):
        return None
    found = sorted(_pod_values(data, quantile), key=lambda item: (item[0], item[1]))
    figure, (ax,) = _figure(1, max(1.6, 0.24 * len(found) + 0.8))
    positions = np.arange(len(found))
    values = [v if math.isfinite(v) else 0.0 for _, _, v, _ in found]
    ax.barh(positions, values, color=[CANARY if arm == "canary" else STABLE for arm, *_ in found], height=0.7)
    ax.set_yticks(positions, [f"{arm}: {pod} ({requests:,.0f} req)" for arm, pod, _, requests in found], fontsize=7)
    ax.invert_yaxis()
    ax.set_xlabel("error rate (%)" if isinstance(data, RatioMetric) else f"p{quantile * 100:g} (ms)")
    ax.grid(axis="y", visible=False)
    return _svg(figure)


def bound_labels(bounds: Sequence[float]) -> str:
    """Bounds as Prometheus writes them, for captions."""
    return ", ".join(f"{fmt_le(b)} s" for b in bounds)
