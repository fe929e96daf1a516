"""The report page: one self-contained HTML document per judgment, plots inline.

Nothing on the page comes from elsewhere: styles are inline, plots are inline SVG, and a Content
Security Policy (``default-src 'none'``) makes the browser refuse any fetch, so the page works
air-gapped, saved to a file, or attached to a ticket. Without the measurement (an old judgment, or
``gate -o html``) the page still shows the verdict, the reasons and every metric's evidence, and
says what is missing.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import UTC, datetime
from html import escape

from analyzer.judging.descriptive import with_descriptive
from analyzer.model import (
    GaugeMetric,
    HistogramMetric,
    Judgment,
    Measurement,
    MetricResult,
    Policy,
    RatioMetric,
    Verdict,
)
from analyzer.report.looks import MetricPath, evidence_over_looks
from analyzer.report.page import CSS, facts_table, gauge_table, guards_table, per_step_table, policy_table

_CSP = "default-src 'none'; style-src 'unsafe-inline'; img-src data:"


@dataclass(frozen=True)
class ReportContext:
    """Where a judgment came from: shown in the page header. Every field is optional (offline judgments)."""

    title: str = "canary judgment"
    judgment_id: str | None = None
    created_at: datetime | None = None
    namespace: str | None = None
    rollout: str | None = None
    profile: str | None = None
    canary: str | None = None
    stable: str | None = None
    window_start: int | None = None
    window_end: int | None = None
    notes: list[str] = field(default_factory=list)
    unavailable: dict[str, str] = field(default_factory=dict)


def _when(epoch: float | None) -> str:
    return "–" if epoch is None else datetime.fromtimestamp(epoch, UTC).strftime("%Y-%m-%d %H:%M:%S UTC")


def _badge(verdict: Verdict) -> str:
    return f'<span class="badge {verdict.value}">{escape(verdict.value)}</span>'


def _figure(name: str, caption: str, svg: str | None) -> str:
    if svg is None:
        return ""
    return (
        f'<figure class="plot" data-plot="{escape(name)}">{svg}'
        f"<figcaption>{escape(caption)}</figcaption></figure>"
    )


def _warmup(result: MetricResult, policy: Policy | None) -> int:
    if policy is None:
        return 0
    metric = policy.for_metric(result.name, result.kind)
    return metric.warmup_steps if metric.warmup_steps is not None else policy.warmup_steps


def _plots(
    result: MetricResult,
    data: RatioMetric | HistogramMetric,
    path: MetricPath | None,
    policy: Policy | None,
    step_seconds: float,
) -> str:
    from analyzer.report import plots  # matplotlib loads only when a page has plots to draw

    metric = policy.for_metric(result.name, result.kind) if policy else None
    quantile = metric.quantile if metric else 0.95
    warmup = _warmup(result, policy)
    fail_look = result.fail_step + 1 if result.fail_step is not None else None
    slug = result.name
    what = "error rate" if isinstance(data, RatioMetric) else f"p{quantile * 100:g}"
    parts = [
        _figure(f"{slug}-per-step", f"Canary and stable {what} per step, with requests per step below.",
                plots.per_step(data, quantile, step_seconds, warmup, fail_look))
    ]
    if path is not None and path.has_evidence and metric is not None:
        parts.append(_figure(
            f"{slug}-evidence",
            "Evidence over looks: the fail e-value against its threshold (fail when it reaches it), and the"
            " anytime-valid confidence sequence of the ratio against the fail and pass boundaries.",
            plots.evidence(path, metric.fail_ratio, metric.pass_ratio, fail_look),
        ))
    if isinstance(data, HistogramMetric):
        tested = result.diagnostics.tested_bounds or []
        caption = "Share of requests slower than each bucket bound, pooled after warm-up"
        caption += f"; tested bounds: {plots.bound_labels(tested)}." if tested else "."
        parts.append(_figure(f"{slug}-distribution", caption, plots.distribution(data, quantile, warmup, tested)))
    parts.append(_figure(f"{slug}-pods", f"Per pod over the window: {what}, canary pods and stable pods.",
                         plots.pods(data, quantile)))
    return "".join(parts)


def _metric_section(
    result: MetricResult,
    measurement: Measurement | None,
    paths: dict[str, MetricPath],
    policy: Policy | None,
    unavailable: dict[str, str],
) -> str:
    data = measurement.metrics.get(result.name) if measurement else None
    step_seconds = measurement.step_seconds if measurement else 60.0
    flags = " ".join(label for label, on in (("critical", result.critical), ("dry run", result.dry_run)) if on)
    html = [
        f'<section class="metric" id="metric-{escape(result.name)}">',
        f"<h2>{escape(result.name)} {_badge(result.verdict)} <small>{escape(result.kind.value)} {flags}</small></h2>",
        f'<p class="reason">{escape(result.reason)}</p>',
        facts_table(result),
    ]
    if policy is not None:
        html.append(guards_table(result, policy, step_seconds))
    if result.name in unavailable:
        html.append(f'<p class="note">data unavailable at this look: {escape(unavailable[result.name])}</p>')
    if result.diagnostics.notes:
        html.append("<ul class=\"notes\">" + "".join(f"<li>{escape(n)}</li>" for n in result.diagnostics.notes)
                    + "</ul>")
    if isinstance(data, GaugeMetric):
        html.append(gauge_table(data))
    elif data is not None:
        html.append(_plots(result, data, paths.get(result.name), policy, step_seconds))
        html.append(per_step_table(data))
    elif measurement is not None:
        html.append('<p class="note">the measurement has no data for this metric: nothing to plot.</p>')
    html.append("</section>")
    return "".join(html)


def render_html(
    judgment: Judgment,
    measurement: Measurement | None = None,
    policy: Policy | None = None,
    context: ReportContext | None = None,
) -> str:
    """The report page of ``judgment``; with its ``measurement`` and ``policy``, with every plot."""
    context = context or ReportContext()
    if measurement is not None and policy is not None:  # the diagnostics the live look did not compute
        judgment = with_descriptive(judgment, measurement, policy, context.unavailable)
    ours = judgment.judge == "ours"  # the Kayenta-style judge has no evidence over looks to draw
    paths = evidence_over_looks(measurement, policy, context.unavailable) if measurement and policy and ours else {}
    who = "/".join(escape(p) for p in (context.namespace, context.rollout) if p) or escape(context.title)
    header = [
        f"<h1>{who} {_badge(judgment.verdict)} <small>score {judgment.score:g}</small></h1>",
        '<dl class="context">',
    ]
    rows = [
        ("canary / stable", " / ".join(x for x in (context.canary, context.stable) if x) or None),
        ("profile", context.profile),
        ("window", f"{_when(context.window_start)} → {_when(context.window_end)}" if context.window_start else None),
        ("steps judged", f"{judgment.steps}" + (f" × {measurement.step_seconds:g} s" if measurement else "")),
        ("judged at", context.created_at.strftime("%Y-%m-%d %H:%M:%S UTC") if context.created_at else None),
        ("judge", judgment.judge),
        ("judgment id", context.judgment_id),
        ("input digest", judgment.input_digest),
    ]
    header += [f"<dt>{escape(k)}</dt><dd>{escape(v)}</dd>" for k, v in rows if v]
    header.append("</dl>")
    reasons = "".join(f"<li>{escape(r)}</li>" for r in judgment.reasons)
    notes = "".join(f'<p class="note">{escape(n)}</p>' for n in context.notes)
    if measurement is None:
        notes += '<p class="note">no per-step counts recorded for this judgment: the page shows its evidence only.</p>'
    sections = "".join(_metric_section(r, measurement, paths, policy, context.unavailable) for r in judgment.metrics)
    policy_html = ""
    if policy is not None:
        policy_html = (
            "<section><h2>Policy</h2>" + policy_table(policy)
            + f"<details><summary>as JSON</summary><pre>{escape(json.dumps(policy.model_dump(mode='json'), indent=2))}"
            "</pre></details></section>"
        )
    title = f"{judgment.verdict.value}: {context.rollout or context.title}"
    return (
        "<!DOCTYPE html>\n"
        f'<html lang="en"><head><meta charset="utf-8"><meta http-equiv="Content-Security-Policy" content="{_CSP}">'
        f'<meta name="viewport" content="width=device-width, initial-scale=1"><title>{escape(title)}</title>'
        f"<style>{CSS}</style></head><body>"
        f'<header>{"".join(header)}</header>{notes}'
        f'<section class="reasons"><h2>Why</h2><ul>{reasons}</ul></section>'
        f"{sections}{policy_html}"
        f"<footer>canary-analyzer · statistics: anytime-valid e-processes and confidence sequences"
        f" (docs/statistics.md)</footer>"
        "</body></html>\n"
    )

