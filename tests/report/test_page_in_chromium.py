"""The report pages in a real browser (headless Debian chromium), with every request off the machine caught."""

from __future__ import annotations

import re
from html import escape

import pytest
from PIL import Image

from analyzer.judging import judge
from analyzer.model import Policy
from tests.report.conftest import CASES
from tests.support.chromium import visit

FIGURE = re.compile(r'<figure class="plot" data-plot="([^"]+)">(.*?)</figure>', re.S)


@pytest.mark.parametrize("verdict", sorted(CASES))
def test_the_page_renders_every_plot_offline(verdict, pages, tmp_path):
    page = tmp_path / f"{verdict}.html"
    page.write_text(pages[verdict], encoding="utf-8")
    shot = tmp_path / f"{verdict}.png" if verdict == "fail" else None
    seen = visit(page.as_uri(), screenshot=shot)
    assert seen.off_machine == []
    figures = FIGURE.findall(seen.dom)
    assert len(figures) >= 3
    for name, svg in figures:  # drawn by the browser: each plot is an SVG with marks in it
        assert "<svg" in svg and len(re.findall(r"<(path|use)\b", svg)) >= 10, name
    assert f'class="badge {verdict}"' in seen.dom
    for reason in judge(CASES[verdict], Policy()).reasons:
        assert escape(reason, quote=False) in seen.dom
    if shot is not None:
        image = Image.open(shot).convert("L")
        low, high = image.getextrema()
        assert image.size == (1000, 2400) and high - low > 200  # not a blank page


def test_the_trap_sees_a_page_that_reaches_off_the_machine(tmp_path):
    """The check above can fail: a page that loads an image and a script from elsewhere is caught, both hosts."""
    page = tmp_path / "leak.html"
    page.write_text('<img src="http://example.com/x.png"><script src="https://cdn.example.org/a.js"></script>')
    assert sorted(visit(page.as_uri()).off_machine) == ["cdn.example.org", "example.com"]
