"""The report page's text parts: its stylesheet and the tables of evidence, guards, counts and policy."""

from __future__ import annotations

from html import escape

from analyzer.judging.metric import fmt_rate, fmt_ratio
from analyzer.model import GaugeMetric, HistogramMetric, Kind, MetricResult, Policy, RatioMetric, fmt_le
from analyzer.report.text import number

CSS = """
body{font:14px/1.45 system-ui,-apple-system,"Segoe UI",Roboto,"DejaVu Sans",sans-serif;margin:0 auto;
max-width:980px;padding:16px 20px;color:#1c2833;background:#fff}
h1{font-size:22px;margin:4px 0 8px}h2{font-size:17px;margin:22px 0 6px;border-bottom:1px solid #e5e8e8}
small{color:#7f8c8d;font-weight:normal;font-size:12px}
.badge{display:inline-block;padding:1px 9px;border-radius:10px;color:#fff;font-size:13px;vertical-align:middle}
.badge.pass{background:#1e8449}.badge.fail{background:#c0392b}.badge.inconclusive{background:#b9770e}
dl.context{display:grid;grid-template-columns:max-content 1fr;gap:2px 14px;margin:0;font-size:13px}
dt{color:#7f8c8d}dd{margin:0;font-family:ui-monospace,"DejaVu Sans Mono",monospace;word-break:break-all}
.reason{font-size:15px;margin:4px 0 8px}.note{color:#7f8c8d;font-size:13px}ul.notes{color:#566573;font-size:13px}
table{border-collapse:collapse;font-size:13px;margin:6px 0}td,th{padding:2px 10px 2px 0;text-align:left}
th{color:#7f8c8d;font-weight:normal}td.num{font-family:ui-monospace,"DejaVu Sans Mono",monospace;text-align:right}
tr.unmet td{color:#c0392b}figure.plot{margin:10px 0}figure.plot svg{max-width:100%;height:auto}
figcaption{font-size:12px;color:#566573}details{margin:6px 0}pre{font-size:12px;overflow-x:auto}
footer{margin-top:30px;color:#aab7b8;font-size:11px}
"""


def _rows(rows: list[tuple[str, str]]) -> str:
    return "".join(f"<tr><th>{escape(k)}</th><td class=\"num\">{escape(v)}</td></tr>" for k, v in rows)


def facts_table(result: MetricResult) -> str:
    """Estimate, interval, e-value against its threshold, samples and the pod term, as one small table."""
    e, d, s = result.estimate, result.diagnostics, result.samples
    unit = "rate" if result.kind is Kind.RATIO else "p-quantile (s)"
    rows = [
        (f"canary / stable {unit}", f"{_value(result, e.canary)} / {_value(result, e.stable)}"),
        ("canary/stable ratio", f"{fmt_ratio(e.ratio)}  [{fmt_ratio(result.interval.lower)}, "
                                f"{fmt_ratio(result.interval.upper)}]"),
        ("fail / pass boundary", f"{number(d.fail_boundary)} / {number(d.pass_boundary)}"),
        ("fail e-value / threshold", f"{number(result.e_value)} / {number(result.e_threshold)}"),
        ("anytime-valid p-value", number(result.p_value)),
        ("requests canary / stable", f"{s.canary_requests:,.0f} / {s.stable_requests:,.0f}"),
        ("events canary / stable", f"{s.canary_events:,.0f} / {s.stable_events:,.0f}"),
        ("steps tested", str(s.steps)),
    ]
    if e.canary_rate is not None and result.kind is Kind.HISTOGRAM:
        rows.insert(1, ("share slower canary / stable", f"{fmt_rate(e.canary_rate)} / {fmt_rate(e.stable_rate)}"))
    if d.dispersion is not None:
        rows.append(("dispersion (× binomial)", number(d.dispersion)))
    if d.pod_sd is not None:
        rows.append(("pod sd (log scale)", number(d.pod_sd)))
    if d.tested_bounds:
        rows.append(("tested bounds", ", ".join(f"{fmt_le(b)} s" for b in d.tested_bounds)))
    if d.fixed_look_p_value is not None:
        rows.append(("fixed-look p-value (not corrected for looks)", number(d.fixed_look_p_value)))
    if d.quantile_ratio_interval is not None:
        low, high = d.quantile_ratio_interval
        rows.append(("bootstrap quantile ratio (descriptive)", f"[{number(low)}, {number(high)}]"))
    return f'<table class="facts">{_rows(rows)}</table>'


def _value(result: MetricResult, value: float | None) -> str:
    return fmt_rate(value) if result.kind is Kind.RATIO else number(value)


def _count(value: float) -> str:
    return f"{value:,.0f}" if value >= 100 else f"{value:.3g}"


def guards_table(result: MetricResult, policy: Policy, step_seconds: float) -> str:
    """The sufficiency guards a pass needs, each with what the data has; unmet guards in red."""
    s = result.samples
    stable_rate = s.stable_events / s.stable_requests if s.stable_requests else 0.0
    guards = [
        ("canary requests", s.canary_requests, policy.min_canary_requests),
        ("expected canary events at stable's rate", s.canary_requests * stable_rate, policy.min_expected_events),
        ("seconds of data", s.steps * step_seconds, policy.min_duration_seconds),
    ]
    body = "".join(
        f'<tr class="{"met" if have >= need else "unmet"}"><th>{escape(name)}</th>'
        f'<td class="num">{_count(have)}</td><td class="num">need {_count(need)}</td>'
        f"<td>{'met' if have >= need else 'unmet'}</td></tr>"
        for name, have, need in guards
    )
    return f'<table class="guards"><caption>sufficiency guards (for a pass)</caption>{body}</table>'


def gauge_table(data: GaugeMetric) -> str:
    """Every step's value per pod, folded away (gauges have no plots yet)."""
    pods = [(arm, name, values) for arm, by_pod in (("canary", data.canary), ("stable", data.stable))
            for name, values in sorted(by_pod.items())]
    head = "<tr><th>step</th>" + "".join(f"<th>{escape(arm)} {escape(name)}</th>" for arm, name, _ in pods) + "</tr>"
    body = "".join(
        f'<tr><td class="num">{i + 1}</td>'
        + "".join('<td class="num">' + ("–" if v[i] is None else f"{v[i]:,.6g}") + "</td>" for _, _, v in pods)
        + "</tr>"
        for i in range(data.steps)
    )
    return f"<details><summary>values per step and pod</summary><table>{head}{body}</table></details>"


def per_step_table(data: RatioMetric | HistogramMetric) -> str:
    """Every step's counts per arm, folded away: the numbers behind the per-step plot."""
    cells: list[tuple[float, ...]]
    if isinstance(data, RatioMetric):
        head = "<tr><th>step</th><th>canary requests</th><th>canary errors</th><th>stable requests</th>" \
               "<th>stable errors</th></tr>"
        cells = list(zip(data.canary.total, data.canary.events, data.stable.total, data.stable.events, strict=True))
    else:
        head = "<tr><th>step</th><th>canary requests</th><th>stable requests</th></tr>"
        cells = list(zip((r[-1] for r in data.canary), (r[-1] for r in data.stable), strict=True))
    body = "".join(
        "<tr><td class=\"num\">" + str(i) + "</td>" + "".join(f'<td class="num">{v:,.6g}</td>' for v in row)
        + "</tr>"
        for i, row in enumerate(cells, start=1)
    )
    return f"<details><summary>counts per step</summary><table>{head}{body}</table></details>"


def policy_table(policy: Policy) -> str:
    """The policy's error rates and guards, and each metric's thresholds."""
    rows = [
        ("α fail (all looks, all metrics)", number(policy.alpha_fail)),
        ("α pass (per metric)", number(policy.alpha_pass)),
        ("min canary requests", f"{policy.min_canary_requests:g}"),
        ("min expected events", f"{policy.min_expected_events:g}"),
        ("min duration (s)", f"{policy.min_duration_seconds:g}"),
        ("warm-up steps", str(policy.warmup_steps)),
    ]
    for name, metric in policy.metrics.items():
        slo = f", SLO {metric.slo.limit:g}" if metric.slo else ""
        quantile = f"p{metric.quantile * 100:g}, " if metric.kind is Kind.HISTOGRAM else ""
        rows.append((name, f"{quantile}fail_ratio {metric.fail_ratio:g}, pass_ratio {metric.pass_ratio:g}{slo}"))
    return f"<table>{_rows(rows)}</table>"
