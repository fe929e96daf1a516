"""A judgment's report link, opened in headless chromium as a person would from Argo or Slack: no token."""

from __future__ import annotations

import re

import requests

from analyzer.settings import Settings
from tests.conftest import STEP
from tests.server.conftest import settings_for
from tests.support.chromium import visit
from tests.support.service import Clock, live_server, make_app


def test_the_link_opens_in_a_browser_and_stops_at_its_expiry(backfilled, tmp_path):
    settings: Settings = settings_for(backfilled.url, tmp_path, api_tokens=["argo-token"], report_link_ttl_seconds=600)
    clock = Clock(backfilled.start + 20 * STEP + 5)
    app, _ = make_app(settings, clock)
    with live_server(app) as base:
        made = requests.get(f"{base}/api/v1/analysis", params=backfilled.args("latency"),
                            headers={"Authorization": "Bearer argo-token"}, timeout=30).json()
        assert made["verdict"] == "fail" and "sig=" in made["report"]
        opened = visit(made["report"])
        assert opened.off_machine == []
        assert '<span class="badge fail">fail</span>' in opened.dom
        plots = re.findall(r'<figure class="plot" data-plot="([^"]+)"><svg', opened.dom)
        assert {"latency-per-step", "latency-evidence", "latency-distribution"} <= set(plots)
        clock.advance(600)
        assert "the report link has expired" in visit(made["report"]).dom


def test_swagger_ui_and_redoc_render_offline(backfilled, tmp_path):
    settings: Settings = settings_for(backfilled.url, tmp_path)
    app, _ = make_app(settings, Clock(backfilled.start))
    with live_server(app) as base:
        swagger = visit(f"{base}/docs")
        redoc = visit(f"{base}/redoc")
    assert swagger.off_machine == [] and redoc.off_machine == []
    assert 'class="swagger-ui' in swagger.dom and "/api/v1/analysis" in swagger.dom  # drawn from /openapi.json
    assert "/reports/{judgment_id}" in redoc.dom
