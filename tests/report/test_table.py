"""The judgment table at 80 columns (a CI log): nothing cut, every column explained, wide folds to blocks."""

from __future__ import annotations

import pytest
from rich.console import Console

import analyzer
from analyzer.model import Judgment
from analyzer.report import render, render_markdown
from analyzer.sources.simulate import Scenario, simulate

LONG_NAME = "checkout-payment-authorisation-error-rate"


def _text(judgment: Judgment, width: int, wide: bool = False) -> list[str]:
    console = Console(width=width, record=True, color_system=None)
    console.print(render(judgment, wide=wide))
    return console.export_text().splitlines()


@pytest.fixture(scope="module")
def judgment() -> Judgment:
    """A failing judgment with a long metric name, a latency metric and a non-critical flag."""
    measurement = simulate(Scenario(error_ratio=3.0, error_metric=LONG_NAME), seed=3)
    policy = {"metrics": {LONG_NAME: {"kind": "ratio"}, "latency": {"kind": "histogram", "critical": False}}}
    return analyzer.judge(measurement, policy)


def test_the_table_fits_80_columns_and_cuts_nothing(judgment):
    lines = _text(judgment, 80)
    assert max(map(len, lines)) <= 80
    text = "\n".join(lines)
    header = next(line for line in lines if "metric" in line and "verdict" in line)
    assert header.split() == ["metric", "verdict", "canary", "stable", "ratio"]
    assert LONG_NAME in text
    for result in judgment.metrics:
        assert result.verdict.value in text
    assert "(non-critical)" in text and "…" not in text


def test_the_ratio_column_says_what_it_is(judgment):
    text = " ".join(_text(judgment, 80))
    assert "canary ÷ stable event rate" in text and "slower than the quantile's bound" in text
    assert "not a ratio of quantiles" in render_markdown(judgment)


def test_wide_shows_the_evidence_as_columns_or_blocks(judgment):
    roomy = _text(judgment, 160, wide=True)
    assert any(line.split()[:2] == ["metric", "verdict"] and "interval" in line for line in roomy)
    narrow = _text(judgment, 80, wide=True)
    assert max(map(len, narrow)) <= 80 and "…" not in "\n".join(narrow)
    assert sum("e-value / threshold" in line for line in narrow) == len(judgment.metrics)  # one block per metric
