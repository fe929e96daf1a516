"""Regenerate the report screenshots in docs/img: ``python -m tests.report.screenshots docs/img``.

The pages of the test cases (a fail, a pass and an inconclusive canary), drawn by headless chromium
with the network off, the top of each page (header, reasons and the first metric's plots).
"""

from __future__ import annotations

import sys
import tempfile
from pathlib import Path

from PIL import Image

from analyzer.judging import judge
from analyzer.model import Policy
from analyzer.report.html import ReportContext, render_html
from tests.report.conftest import CASES
from tests.support.chromium import visit


def main(directory: Path) -> None:
    policy = Policy()
    context = ReportContext(namespace="shop", rollout="checkout", canary="7d9c5b", stable="5f4d8a", profile="http")
    with tempfile.TemporaryDirectory() as tmp:
        for verdict, measurement in CASES.items():
            page = Path(tmp) / f"{verdict}.html"
            page.write_text(render_html(judge(measurement, policy), measurement, policy, context), encoding="utf-8")
            shot = Path(tmp) / f"{verdict}.png"
            visited = visit(page.as_uri(), screenshot=shot, width=1000, height=1900)
            assert visited.off_machine == [], visited.off_machine
            image = Image.open(shot).convert("RGB").quantize(colors=64)  # a small PNG for the docs
            image.save(directory / f"report-{verdict}.png", optimize=True)


if __name__ == "__main__":
    main(Path(sys.argv[1]))
