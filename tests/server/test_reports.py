"""Report pages over HTTP: signed links that open without a token and stop at their expiry; offline API docs."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from datetime import datetime
from urllib.parse import parse_qs, urlsplit

import pytest
from fastapi.testclient import TestClient

from analyzer.server.links import ReportLinks
from analyzer.store import WindowKey
from analyzer.store.measurements import get_measurement
from tests.conftest import STEP
from tests.server.conftest import Service, settings_for
from tests.support.service import Clock, make_app

TOKEN = "t0ken-for-argo"
KEY = "report-key-never-logged"
AUTH = {"Authorization": f"Bearer {TOKEN}"}


@pytest.fixture
def guarded(backfilled, tmp_path) -> Iterator[Service]:
    """The service with a bearer token and a report-signing key; links live one hour."""
    settings = settings_for(backfilled.url, tmp_path, api_tokens=[TOKEN], report_signing_key=KEY,
                            report_link_ttl_seconds=3600, public_url="https://canary.example.test")
    clock = Clock(backfilled.start + 20 * STEP + 5)
    app, analyzer = make_app(settings, clock)
    with TestClient(app) as client:
        yield Service(client, clock, analyzer, settings)


def _path(link: str) -> str:
    parts = urlsplit(link)
    return f"{parts.path}?{parts.query}"


class _Remember(logging.Handler):
    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.lines: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.lines.append(record.getMessage() + str(getattr(record, "fields", "")))


@pytest.fixture
def logged() -> Iterator[_Remember]:
    """Every line the service logs (its logger may not propagate to pytest's capture)."""
    logger, handler = logging.getLogger("canary_analyzer"), _Remember()
    level = logger.level
    logger.addHandler(handler)
    logger.setLevel(logging.DEBUG)
    yield handler
    logger.removeHandler(handler)
    logger.setLevel(level)


def test_a_report_link_opens_without_a_token_until_it_expires(guarded, backfilled, logged):
    made = guarded.client.get("/api/v1/analysis", params=backfilled.args("errors"), headers=AUTH).json()
    assert made["verdict"] == "fail"
    link = made["report"]
    assert link.startswith(f"https://canary.example.test/reports/{made['id']}?expires=")
    page = guarded.client.get(_path(link))  # no Authorization header: a browser from a Slack message
    assert page.status_code == 200 and page.headers["content-type"].startswith("text/html")
    assert "default-src 'none'" in page.headers["content-security-policy"]
    assert '<span class="badge fail">fail</span>' in page.text
    assert page.text.count('<figure class="plot"') >= 5
    query = parse_qs(urlsplit(link).query)
    assert int(query["expires"][0]) == int(guarded.clock.now) + 3600

    tampered = guarded.client.get(_path(link)[:-2] + ("AA" if not link.endswith("AA") else "BB"))
    assert tampered.status_code == 403 and tampered.headers["content-type"] == "application/problem+json"
    other = guarded.client.get(f"/reports/{'0' * 32}?expires={query['expires'][0]}&sig={query['sig'][0]}")
    assert other.status_code == 403  # a signature opens its own page only
    assert guarded.client.get(f"/reports/{made['id']}").status_code == 401
    assert guarded.client.get(f"/reports/{made['id']}", headers=AUTH).status_code == 200

    guarded.clock.advance(3600)
    expired = guarded.client.get(_path(link))
    assert expired.status_code == 403 and "expired" in expired.json()["detail"]
    text = "\n".join(logged.lines)
    assert "/reports/" in text and KEY not in text and query["sig"][0] not in text


def test_an_unknown_judgment_is_a_404_problem(guarded):
    links = ReportLinks(KEY.encode(), 60, "", guarded.clock)
    response = guarded.client.get(links.url("f" * 32))
    assert response.status_code == 404 and response.headers["content-type"] == "application/problem+json"


def test_each_report_reads_its_own_look_from_the_one_stored_window(service, backfilled):
    args = backfilled.args("latency")
    first = service.client.get("/api/v1/analysis", params=args).json()
    service.clock.advance(3 * STEP)
    later = service.client.get("/api/v1/analysis", params=args).json()
    assert later["steps"] == first["steps"] + 3
    key = WindowKey("latency", "checkout", "http", args["canary"], args["stable"])
    start = int(datetime.fromisoformat(first["window"]["start"]).timestamp())
    with service.analyzer.database.session() as session:
        stored = get_measurement(session, key, start)
    assert stored is not None and stored.steps == later["steps"]
    page = service.client.get(urlsplit(first["report"]).path)  # an open service: links carry no signature
    assert page.status_code == 200
    assert first["input_digest"] in page.text
    assert "differ from what this look judged" not in page.text  # the stored prefix is exactly what look 1 saw
    assert f"<dt>steps judged</dt><dd>{first['steps']} × 60 s</dd>" in page.text


def test_swagger_ui_and_redoc_load_nothing_from_a_cdn(service):
    for path, asset in (("/docs", "/docs/assets/swagger-ui-bundle.js"), ("/redoc", "/docs/assets/redoc.standalone.js")):
        page = service.client.get(path)
        assert page.status_code == 200
        assert "cdn" not in page.text and "https://" not in page.text
        assert asset in page.text
        script = service.client.get(asset)
        assert script.status_code == 200 and len(script.content) > 500_000
    assert service.client.get("/docs/assets/swagger-ui.css").headers["content-type"].startswith("text/css")
    assert service.client.get("/docs/assets/..%2Fcore.py").status_code == 404
    assert "/reports/{judgment_id}" in service.client.get("/openapi.json").json()["paths"]
