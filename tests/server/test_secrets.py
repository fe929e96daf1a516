"""No secret leaves (issue 13.7): credentials of the Prometheus URL and of a datasource never appear in a
log line, a problem body, /readyz or /metrics, however Prometheus fails.

The service runs with a Prometheus URL carrying a password, a tenant header, and a profile whose datasource
authenticates with a bearer token from a file. The metrics servers then fail as real ones do: unreachable,
HTTP 500 with an error body, 200 with a body that is not JSON, 401 — and the misbehaving ones echo the
credentials back (as proxies and gateways that print the request they refused do).
"""

from __future__ import annotations

import io
import logging
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
import yaml
from fastapi.testclient import TestClient

from analyzer.server import logs
from tests.server.conftest import settings_for
from tests.support.faults import FaultServer, fault_server
from tests.support.prometheus import free_port
from tests.support.service import Clock, make_app

PASSWORD = "pr0m-passw0rd-4xq"
TOKEN = "ds-bearer-t0ken-7kz"
TENANT = "tenant-orgid-9mw"
QUERY_TOKEN = "qs-access-t0ken-2hv"
SECRETS = (PASSWORD, TOKEN, TENANT, QUERY_TOKEN)
LOOK = {"namespace": "shop", "rollout": "checkout", "canary": "c0a0b", "stable": "5d0f"}

ECHOES = [  # what a misbehaving server sends back, each short enough to fit an echoed excerpt whole
    f"denied Authorization: Bearer {TOKEN}",
    f"for http://reader:{PASSWORD}@prom",
    f"'X-Scope-OrgID': '{TENANT}'",
    f"see /login?access_token={QUERY_TOKEN}",
]


@pytest.fixture
def logged(caplog) -> Iterator[Callable[[], list[str]]]:
    """Everything logged while the test runs, as the service configures logging: the lines its JSON
    handler writes, and every record any logger made (the capture sees records that handler does not)."""
    names = ("canary_analyzer", "uvicorn", "uvicorn.error", "uvicorn.access")
    saved = [(logging.getLogger(n), logging.getLogger(n).handlers, logging.getLogger(n).propagate,
              logging.getLogger(n).level, logging.getLogger(n).disabled) for n in names]
    factory = logging.getLogRecordFactory()
    caplog.set_level(logging.DEBUG)
    logs.configure("debug")
    written = io.StringIO()
    handler = logging.getLogger("canary_analyzer").handlers[0]
    assert isinstance(handler, logging.StreamHandler)
    handler.setStream(written)

    def read() -> list[str]:
        records = [r.getMessage() + (r.exc_text or "") + str(getattr(r, "fields", "")) for r in caplog.records]
        return written.getvalue().splitlines() + records

    try:
        yield read
    finally:
        logging.setLogRecordFactory(factory)
        for logger, handlers, propagate, level, disabled in saved:
            logger.handlers, logger.propagate, logger.level, logger.disabled = handlers, propagate, level, disabled


def _profiles(tmp_path: Path) -> Path:
    from analyzer.config import load_query_profile

    folder = tmp_path / "profiles"
    folder.mkdir(exist_ok=True)
    vendor = load_query_profile("http").model_dump(mode="json", exclude_none=True)
    (folder / "vendor.yaml").write_text(yaml.safe_dump({**vendor, "name": "vendor", "datasource": "vendor"}))
    return folder


def _service(tmp_path: Path, prometheus_url: str, vendor: FaultServer) -> TestClient:
    token = tmp_path / "vendor-token"
    token.write_text(TOKEN + "\n")
    settings = settings_for(
        prometheus_url.replace("http://", f"http://reader:{PASSWORD}@"), tmp_path,
        prometheus_headers={"X-Scope-OrgID": TENANT}, prometheus_timeout_seconds=0.5, prometheus_retries=0,
        look_deadline_seconds=2.0, profiles_dir=_profiles(tmp_path),
        datasources={"vendor": {"url": vendor.url, "bearer_token": {"file": str(token)}, "tenant": TENANT}},
    )
    app, _ = make_app(settings, Clock(1_700_000_000.0))
    return TestClient(app)


def _answers(client: TestClient) -> list[str]:
    """Every error the service can answer now: a look on each datasource, /readyz, /metrics."""
    texts = []
    for profile in ("http", "vendor"):
        answer = client.get("/api/v1/analysis", params={"profile": profile, **LOOK})
        assert answer.status_code == 503, answer.text
        texts.append(answer.text)
    ready = client.get("/readyz")
    assert ready.status_code == 200 and ready.json()["status"] == "degraded"
    texts.append(ready.text)
    texts.append(client.get("/metrics").text)
    return texts


def _leaks(texts: list[str]) -> list[str]:
    return [f"{secret!r} in {text[:300]!r}" for text in texts for secret in SECRETS if secret in text]


def test_no_secret_in_answers_or_logs_however_prometheus_fails(tmp_path, logged):
    answered: list[str] = []
    with fault_server() as prometheus, fault_server() as vendor:
        with _service(tmp_path, f"http://127.0.0.1:{free_port()}", vendor) as client:  # nothing listens there
            vendor.answer(401, "unauthorized")
            answered += _answers(client)
        with _service(tmp_path, prometheus.url, vendor) as client:
            for echo in ECHOES:
                for server in (prometheus, vendor):
                    server.answer(500, {"status": "error", "errorType": "internal", "error": echo})
                answered += _answers(client)
                for server in (prometheus, vendor):
                    server.answer(200, echo)  # not JSON
                answered += _answers(client)
                vendor.answer(401, echo)
                answered += _answers(client)
    assert not _leaks(answered)
    assert any("Prometheus at http://***@127.0.0.1" in text for text in answered)  # the URL is named, masked
    assert not _leaks(logged())


def test_the_logs_checked_above_do_show_the_failures(tmp_path, logged):
    """The log assertion above could pass on silence: the failures must be in the log, masked."""
    with fault_server() as prometheus, fault_server() as vendor:
        prometheus.answer(200, ECHOES[0])
        vendor.answer(200, ECHOES[0])
        with _service(tmp_path, prometheus.url, vendor) as client:
            client.get("/api/v1/analysis", params={"profile": "http", **LOOK})
            logging.getLogger("canary_analyzer").error("look failed: %s", ECHOES[1])
    lines = logged()
    assert not _leaks(lines)
    assert any('"path": "/api/v1/analysis", "status": 503' in line for line in lines)  # the JSON handler's
    assert any("look failed: for http://***@prom" in line for line in lines)
