"""The report page offline: verdict, reasons, every plot drawn, nothing fetched, and a page without counts."""

from __future__ import annotations

import re
from html import escape

import pytest

from analyzer.judging import judge
from analyzer.model import Policy, Verdict
from analyzer.report.html import render_html
from analyzer.report.looks import evidence_over_looks, sampled_looks
from tests.report.conftest import CASES

PLOT = re.compile(r'<figure class="plot" data-plot="([^"]+)">(.*?)</figure>', re.S)


def plots(page: str) -> dict[str, str]:
    return dict(PLOT.findall(page))


@pytest.mark.parametrize("verdict", sorted(CASES))
def test_a_page_shows_the_verdict_the_reasons_and_every_plot(verdict, pages):
    judgment = judge(CASES[verdict], Policy())
    assert judgment.verdict is Verdict(verdict)
    page = pages[verdict]
    assert f'<span class="badge {verdict}">{verdict}</span>' in page
    for reason in judgment.reasons:
        assert escape(reason) in page
    drawn = plots(page)
    expected = {"error-rate-per-step", "latency-per-step", "latency-distribution"}
    if verdict != "inconclusive":  # a trickle never gets past the warm-up far enough for evidence
        expected |= {"error-rate-evidence", "latency-evidence"}
    assert expected <= set(drawn)
    for name, svg in drawn.items():
        assert svg.startswith("<svg") and svg.count("<path") >= 10, name
    ids = re.findall(r'\bid="([^"]+)"', page)
    assert len(ids) == len(set(ids)), "figures on one page must not share ids"
    assert not re.search(r'(src|href)="(https?:)?//', page), "the page must not load anything"
    assert "default-src 'none'" in page


def test_the_fail_page_marks_the_look_where_the_evidence_crossed(pages):
    judgment = judge(CASES["fail"], Policy())
    crossed = next(m for m in judgment.metrics if m.name == "error-rate").fail_step
    assert crossed is not None
    page = pages["fail"]
    assert f"fail crossed (look {crossed + 1})" in plots(page)["error-rate-per-step"]
    guards = page.split('id="metric-error-rate"')[1].split('<table class="guards">')[1].split("</table>")[0]
    assert guards.count('<tr class="met">') == 3  # a fail needs no guard: they are shown all the same


def test_the_unmet_guards_are_named_on_an_inconclusive_page(pages):
    assert re.search(r'<tr class="unmet"><th>canary requests</th>', pages["inconclusive"])


def test_the_evidence_over_looks_ends_at_the_judgment():
    measurement, policy = CASES["fail"], Policy()
    judgment = judge(measurement, policy)
    paths = evidence_over_looks(measurement, policy)
    for result in judgment.metrics:
        path = paths[result.name]
        assert path.looks[-1] == judgment.steps
        assert path.e_value[-1] == pytest.approx(result.e_value)
        assert path.upper[-1] == pytest.approx(result.interval.upper)
        assert path.verdicts[-1] is result.verdict
    # the fail e-value is the largest so far: it never decreases from look to look
    e = [v for v in paths["error-rate"].e_value if v is not None]
    assert e == sorted(e)


def test_long_windows_are_sampled_and_keep_their_last_look():
    assert sampled_looks(10) == list(range(1, 11))
    looks = sampled_looks(1440, max_looks=120)
    assert len(looks) <= 121 and looks[-1] == 1440 and looks == sorted(set(looks))


def test_per_pod_plots_when_the_data_has_pods(with_pods):
    policy = Policy()
    judgment = judge(with_pods, policy)
    drawn = plots(render_html(judgment, with_pods, policy))
    assert {"error-rate-pods", "latency-pods"} <= set(drawn)
    assert "canary: " in drawn["latency-pods"] and "stable: " in drawn["latency-pods"]


def test_a_page_without_the_measurement_still_says_why():
    measurement, policy = CASES["fail"], Policy()
    judgment = judge(measurement, policy)
    page = render_html(judgment)
    assert plots(page) == {}
    assert "no per-step counts recorded" in page
    assert escape(judgment.reasons[0]) in page
