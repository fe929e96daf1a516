"""The Prometheus client against a misbehaving server on loopback: typed errors, retries, warnings, deadlines."""

from __future__ import annotations

import threading
import time

import pytest

from analyzer.config import load_query_profile
from analyzer.sources import promapi
from analyzer.sources.promapi import Deadline, PrometheusError
from analyzer.sources.prometheus import PrometheusSource, Window
from analyzer.sources.queries import Target
from tests.support.faults import fault_server
from tests.support.logs import logged

TARGET = Target(namespace="shop", rollout="checkout", canary="c4a1e", stable="5b7d2")
WINDOW = Window(start=1_800_000_000, end=1_800_000_600, step=60)


def _matrix(result: object, **extra: object) -> dict[str, object]:
    return {"status": "success", "data": {"resultType": "matrix", "result": result}, **extra}


def _fetch(url: str, deadline: float = 5.0, **client: object):
    source = PrometheusSource(url, **client)  # type: ignore[arg-type]
    try:
        return source.fetch(load_query_profile("http"), TARGET, WINDOW, Deadline(deadline))
    finally:
        source.close()


MALFORMED = {
    "an empty object": {},
    "data null": {"status": "success", "data": None},
    "result an object": _matrix({}),
    "a vector, not a matrix": {"status": "success", "data": {"resultType": "vector", "result": []}},
    "values of the wrong shape": _matrix([{"metric": {"canary_analyzer_part": "0"}, "values": [[1_800_000_060]]}]),
    "values not a list": _matrix([{"metric": {"canary_analyzer_part": "0"}, "values": "1"}]),
    "a non-numeric value": _matrix([{"metric": {"canary_analyzer_part": "0"}, "values": [[1_800_000_060, "lots"]]}]),
    "labels not strings": _matrix([{"metric": {"canary_analyzer_part": 0}, "values": []}]),
    "status error on a 200": {"status": "error", "errorType": "internal", "error": "?"},
    "no part label": _matrix([{"metric": {}, "values": [[1_800_000_060, "1"]]}]),
    "warnings not strings": _matrix([], warnings=[{"w": 1}]),
    "an HTML page": "<html>gateway</html>",
    "an empty body": "",
    "cut-off JSON": '{"status": "succ',
}


@pytest.mark.parametrize("body", MALFORMED.values(), ids=MALFORMED.keys())
def test_a_malformed_200_is_a_typed_source_error(body):
    with fault_server() as server:
        server.answer(200, body)
        with pytest.raises(PrometheusError, match="malformed answer") as raised:
            _fetch(server.url)
    assert raised.value.kind == "malformed"


def test_a_gzipped_answer_is_read():
    series = [{"metric": {"canary_analyzer_part": "0", "pod": "checkout-c4a1e-a"}, "values": [[1_800_000_060, "7"]]}]
    with fault_server() as server:
        server.answer(200, _matrix(series), gzipped=True)
        fetched = _fetch(server.url)
    assert fetched.measurement.metrics["error-rate"].canary.total[0] == 7


def test_a_proxy_error_page_is_an_error_status_not_a_malformed_answer():
    with fault_server() as server:
        server.answer(500, "<html>Internal Server Error</html>")
        with pytest.raises(PrometheusError, match="answered HTTP 500") as raised:
            _fetch(server.url)
    assert raised.value.kind == "error"


def test_transient_statuses_are_retried_then_reported():
    with fault_server() as server:
        server.answer(503, "overloaded")
        with pytest.raises(PrometheusError, match="answered HTTP 503") as raised:
            _fetch(server.url, retries=2, backoff_seconds=0.01)
        assert server.requests == 3 and raised.value.kind == "error"


def test_an_error_status_names_prometheus_reason_without_retrying_and_logs_its_message(caplog):
    """The error type reaches the caller; Prometheus' own text (it may quote label values) only the log."""
    with fault_server() as server:
        too_many = "query processing would load too many samples: PRIVATE-LABEL-VALUE"
        server.answer(422, {"status": "error", "errorType": "execution", "error": too_many})
        with logged(caplog, "canary_analyzer.prometheus"), pytest.raises(
            PrometheusError, match="HTTP 422: execution"
        ) as raised:
            _fetch(server.url)
        assert server.requests == 1
    assert "PRIVATE-LABEL-VALUE" not in str(raised.value) and "PRIVATE-LABEL-VALUE" in caplog.text


def test_a_body_that_is_not_json_is_logged_not_echoed(caplog):
    with fault_server() as server:
        server.answer(200, "<html>PRIVATE proxy page with session=abcdef</html>")
        with logged(caplog, "canary_analyzer.prometheus"), pytest.raises(PrometheusError) as raised:
            _fetch(server.url)
    assert raised.value.kind == "malformed" and "session=abcdef" not in str(raised.value)
    assert "session=abcdef" in caplog.text


def test_warnings_are_kept_and_make_every_metric_unavailable():
    with fault_server() as server:
        server.answer(200, _matrix([], warnings=["partial response: store 10.0.3.4:10901 did not answer"]))
        fetched = _fetch(server.url)
    assert set(fetched.unavailable) == {"error-rate", "latency"}
    assert all("store 10.0.3.4:10901 did not answer" in r for r in fetched.unavailable.values())


def test_promql_infos_are_not_partial_data():
    """ingress-nginx's counters lack _total; Prometheus 2.47-2.49 sent that info among the warnings."""
    info = 'PromQL info: metric might not be a counter, name does not end in _total/_sum/_count/_bucket: "x"'
    with fault_server() as server:
        server.answer(200, _matrix([], warnings=[info], infos=[info]))
        fetched = _fetch(server.url)
    assert not any("partial" in r for r in fetched.unavailable.values())


@pytest.mark.parametrize("headers_too", [False, True], ids=["body", "headers and body"])
def test_a_dripping_server_cannot_hold_a_look_past_its_deadline(headers_too):
    """One byte every 20 ms of a 10 kB answer would take 200 s; every read is quick, so only a deadline stops it."""
    with fault_server() as server:
        server.answer(200, _matrix([], padding="x" * 10_000))
        server.drip(0.02, headers_too=headers_too)
        started = time.monotonic()
        with pytest.raises(PrometheusError, match="within the look's deadline of 1 s") as raised:
            _fetch(server.url, deadline=1.0, timeout_seconds=0.5)
        elapsed = time.monotonic() - started
    assert raised.value.kind == "timeout"
    assert elapsed < 1.5


def test_retries_stop_at_the_deadline():
    """A server that never answers: three attempts of 2 s would take 6 s; the look's deadline is 1 s."""
    with fault_server() as server:
        server.answer(200, _matrix([]))
        server.drip(10.0, headers_too=True)  # the first byte comes after 10 s
        started = time.monotonic()
        with pytest.raises(PrometheusError) as raised:
            _fetch(server.url, deadline=1.0, timeout_seconds=0.4, retries=5)
        assert time.monotonic() - started < 1.5
    assert raised.value.kind == "timeout"


def test_looks_beyond_the_connections_wait_for_one_within_their_deadline(monkeypatch):
    """One connection, held by a dripping answer: a second look waits for it only until its own deadline."""
    monkeypatch.setattr(promapi, "WORKERS", 1)
    with fault_server() as server:
        server.answer(200, _matrix([], padding="x" * 100))
        server.drip(0.01)  # about 2 s
        source = PrometheusSource(server.url, timeout_seconds=1.0)
        try:
            busy = threading.Thread(target=lambda: source.call("/api/v1/query_range", {}, Deadline(5.0)))
            busy.start()
            time.sleep(0.2)
            started = time.monotonic()
            with pytest.raises(PrometheusError, match=r"within the look's deadline of 0\.3 s") as raised:
                source.fetch(load_query_profile("http"), TARGET, WINDOW, Deadline(0.3))
            assert raised.value.kind == "timeout" and time.monotonic() - started < 0.6
            busy.join()
        finally:
            source.close()
