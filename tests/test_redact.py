"""Redaction: which credentials are masked, in which shapes, and that every log record is masked."""

from __future__ import annotations

import io
import logging

import pytest

from analyzer import redact
from analyzer.server.logs import JsonFormatter


@pytest.mark.parametrize(("text", "masked"), [
    ("Prometheus at http://reader:pa55@prom:9090 is unreachable", "Prometheus at http://***@prom:9090 is unreachable"),
    ("postgresql+psycopg://analyzer:s3cret@db:5432/canary", "postgresql+psycopg://***@db:5432/canary"),
    ("GET https://mimir/api?query=up&access_token=abc.def&step=60", "GET https://mimir/api?query=up&access_token=***&step=60"),
    ("/reports/0af?expires=1700000000&sig=9f8e7d", "/reports/0af?expires=1700000000&sig=***"),
    ("?client_secret=xyz&api_key=k1", "?client_secret=***&api_key=***"),
    ("{'Authorization': 'Bearer eyJhbGciOi', 'Accept': 'json'}", "{'Authorization': '***', 'Accept': 'json'}"),
    ('{"X-Scope-OrgID": "team-a", "n": 1}', '{"X-Scope-OrgID": "***", "n": 1}'),
    ("proxy said Authorization: Basic dXNlcjpwYXNz", "proxy said Authorization: ***"),
    ("x-api-key=k3y-value, next", "x-api-key=***, next"),
    ("token was Bearer abcdef123456 in the log", "token was Bearer *** in the log"),
])
def test_credentials_are_masked(text, masked):
    assert redact.redact(text) == masked
    assert redact.redact(masked) == masked  # masking twice changes nothing


@pytest.mark.parametrize("text", [
    "Prometheus at http://prom:9090 answered HTTP 500",
    "judgment 0af3 of shop/checkout: pass (score 97)",
    "the token 'ci-runner' has role analysis; this needs operator",
    "/api/v1/analysis?profile=http&namespace=shop&canary=abc",
])
def test_text_without_credentials_is_untouched(text):
    assert redact.redact(text) == text


@pytest.fixture
def json_log():
    """A logger writing through a JSON handler with redaction installed, as ``logs.configure`` sets it."""
    factory = logging.getLogRecordFactory()
    written = io.StringIO()
    handler = logging.StreamHandler(written)
    handler.setFormatter(JsonFormatter())
    redact.install(handler)
    redact.install(handler)  # idempotent
    logger = logging.getLogger("canary_analyzer.test_redact")
    logger.addHandler(handler)
    logger.setLevel(logging.DEBUG)
    try:
        yield logger, written
    finally:
        logger.removeHandler(handler)
        logging.setLogRecordFactory(factory)


def test_message_arguments_fields_and_tracebacks_are_masked(json_log):
    logger, written = json_log
    logger.warning("retrying %s", "http://u:pw-one@prom:9090/api")
    try:
        raise ConnectionError("HTTPConnectionPool(host='prom'): /api/v1/query?access_token=pw-two")
    except ConnectionError:
        logger.exception("unhandled error", extra={"fields": {"url": "https://u:pw-three@mimir", "n": [
            {"Authorization": "Bearer pw-four-long"}]}})
    text = written.getvalue()
    assert not [s for s in ("pw-one", "pw-two", "pw-three", "pw-four") if s in text], text
    assert "http://***@prom:9090/api" in text and "access_token=***" in text
    assert "Traceback (most recent call last)" in text and "ConnectionError" in text  # the exception stays, masked
    assert len(logger.handlers[0].filters) == 1  # installed twice, filtered once


def test_records_of_any_logger_reaching_any_handler_are_masked(json_log, caplog):
    """A library's logger (urllib3's, say) propagates to the root's handlers, not to ours: still masked."""
    with caplog.at_level(logging.DEBUG, logger="urllib3.connectionpool"):
        logging.getLogger("urllib3.connectionpool").debug('%s "GET /q?token=%s HTTP/1.1" 200', "http://prom", "pw-five")
    (record,) = [r for r in caplog.records if r.name == "urllib3.connectionpool"]
    assert record.getMessage() == 'http://prom "GET /q?token=*** HTTP/1.1" 200'


def test_a_bad_format_string_is_left_for_logging_to_report_with_its_arguments_masked():
    """Formatting fails when the record is written (logging reports it, printing the arguments), not when the
    record is made: the logging call itself never raises."""
    record = logging.LogRecord("x", logging.INFO, __file__, 1, "count %d", ("http://u:pw-six@prom",), None)
    redact.scrub(record)
    assert record.args == ("http://***@prom",) and record.msg == "count %d"
