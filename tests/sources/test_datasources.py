"""Per-profile datasources: what each request carries (tenant, headers, basic, bearer, OAuth2), readiness
through the query API under a path prefix, and secrets that stay out of messages and settings dumps."""

from __future__ import annotations

import base64
import json
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from analyzer.errors import InputError, SourceUnavailableError
from analyzer.settings import Settings
from analyzer.sources.datasources import Datasource, Sources, check_datasources
from analyzer.sources.promapi import Deadline, PrometheusError
from analyzer.sources.prometheus import PrometheusSource, Window
from analyzer.sources.queries import QueryProfile, Target
from tests.support.faults import fault_server
from tests.support.prometheus import free_port

PREFIX = "/prometheus"  # as a Mimir query frontend serves the Prometheus API
TARGET = Target(namespace="shop", rollout="checkout", canary="c4a1e", stable="5b7d2")
EMPTY_MATRIX = {"status": "success", "data": {"resultType": "matrix", "result": []}}


class Recorder:
    """A Prometheus-compatible API under PREFIX only (no /-/ready), and an OAuth2 token endpoint."""

    def __init__(self) -> None:
        self.requests: list[tuple[str, dict[str, str]]] = []
        self.tokens_issued = 0
        self.url = ""

    def answer(self, method: str, path: str, headers: dict[str, str]) -> tuple[int, object]:
        self.requests.append((path, headers))
        if method == "POST" and path == "/token":
            if headers.get("Authorization") != "Basic " + base64.b64encode(b"analyzer:s3cret-client").decode():
                return 401, {"error": "invalid_client"}
            self.tokens_issued += 1
            return 200, {"access_token": f"token-{self.tokens_issued}", "expires_in": 3600, "token_type": "Bearer"}
        if path.startswith(f"{PREFIX}/api/v1/query_range"):
            return 200, EMPTY_MATRIX
        if path.startswith(f"{PREFIX}/api/v1/query"):
            return 200, {"status": "success", "data": {"resultType": "vector", "result": []}}
        return 404, {"status": "error", "error": "not found"}


@pytest.fixture
def recorder() -> Iterator[Recorder]:
    recorder = Recorder()

    class Handler(BaseHTTPRequestHandler):
        def _reply(self, method: str) -> None:
            if method == "POST":
                self.rfile.read(int(self.headers.get("Content-Length", 0)))
            status, body = recorder.answer(method, self.path, dict(self.headers))
            data = json.dumps(body).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def do_GET(self) -> None:
            self._reply("GET")

        def do_POST(self) -> None:
            self._reply("POST")

        def log_message(self, *args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", free_port()), Handler)
    recorder.url = f"http://127.0.0.1:{server.server_port}"
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield recorder
    finally:
        server.shutdown()
        server.server_close()


def _profile(datasource: str | None) -> QueryProfile:
    from analyzer.config import load_query_profile

    return load_query_profile("http").model_copy(update={"datasource": datasource})


def _sources(recorder: Recorder, **datasource: object) -> Sources:
    default = PrometheusSource("http://127.0.0.1:9", timeout_seconds=0.5, retries=0)  # nothing listens there
    ds = Datasource.model_validate({"url": recorder.url + PREFIX, **datasource})
    return Sources.build(default, {"mimir": ds}, timeout_seconds=1.0, retries=0)


def _fetch(sources: Sources) -> None:
    sources.fetch(_profile("mimir"), TARGET, Window(start=0, end=600, step=60))


def test_a_profile_s_queries_go_to_its_datasource_with_the_tenant_and_headers(recorder):
    sources = _sources(recorder, tenant="team-a", headers={"X-Team": "checkout"})
    _fetch(sources)
    path, headers = recorder.requests[-1]
    assert path == f"{PREFIX}/api/v1/query_range"
    assert headers["X-Scope-OrgID"] == "team-a" and headers["X-Team"] == "checkout"
    assert "Authorization" not in headers


def test_bearer_token_from_a_file_is_read_per_request_so_that_rotation_needs_no_restart(recorder, tmp_path):
    token = tmp_path / "token"
    token.write_text("first\n")
    sources = _sources(recorder, bearer_token={"file": str(token)})
    _fetch(sources)
    token.write_text("second\n")
    _fetch(sources)
    assert [h["Authorization"] for _, h in recorder.requests] == ["Bearer first", "Bearer second"]


def test_basic_auth_password_from_the_environment(recorder, monkeypatch):
    monkeypatch.setenv("MIMIR_PASSWORD", "pa55")
    sources = _sources(recorder, basic_auth={"username": "reader", "password": {"env": "MIMIR_PASSWORD"}})
    _fetch(sources)
    assert recorder.requests[-1][1]["Authorization"] == "Basic " + base64.b64encode(b"reader:pa55").decode()


def test_oauth2_client_credentials_fetch_one_token_and_reuse_it(recorder, tmp_path):
    secret = tmp_path / "client-secret"
    secret.write_text("s3cret-client")
    sources = _sources(recorder, oauth2={"token_url": f"{recorder.url}/token", "client_id": "analyzer",
                                         "client_secret": {"file": str(secret)}, "scopes": ["metrics:read"]})
    _fetch(sources)
    _fetch(sources)
    queries = [h for p, h in recorder.requests if p.startswith(PREFIX)]
    assert recorder.tokens_issued == 1
    assert [h["Authorization"] for h in queries] == ["Bearer token-1", "Bearer token-1"]


def test_refused_client_credentials_are_a_source_error_that_names_no_secret(recorder, tmp_path):
    secret = tmp_path / "client-secret"
    secret.write_text("wrong-secret")
    sources = _sources(recorder, oauth2={"token_url": f"{recorder.url}/token", "client_id": "analyzer",
                                         "client_secret": {"file": str(secret)}})
    with pytest.raises(SourceUnavailableError, match="refused the client credentials") as raised:
        _fetch(sources)
    assert "wrong-secret" not in str(raised.value)


def test_a_missing_credential_is_a_source_error_naming_where_it_was_looked_for(recorder, tmp_path):
    sources = _sources(recorder, bearer_token={"env": "NO_SUCH_TOKEN_VARIABLE"})
    with pytest.raises(SourceUnavailableError, match=r"\$NO_SUCH_TOKEN_VARIABLE is not set"):
        _fetch(sources)


def test_readiness_asks_the_query_api_so_a_path_prefix_works(recorder):
    source = PrometheusSource(recorder.url + PREFIX)
    source.ping()
    assert recorder.requests[-1][0] == f"{PREFIX}/api/v1/query"
    with pytest.raises(SourceUnavailableError, match="not ready"):
        PrometheusSource(recorder.url + "/elsewhere").ping()


def test_readiness_covers_every_datasource(recorder):
    sources = _sources(recorder)
    with pytest.raises(SourceUnavailableError, match=r"127\.0\.0\.1:9"):
        sources.ping()  # the default one is down
    sources.named["mimir"].ping()


def test_secrets_in_headers_stay_out_of_settings_dumps():
    settings = Settings(datasources={"mimir": {"url": "https://mimir/prometheus",
                                               "headers": {"Authorization": "Bearer literal-secret"}}})
    assert "literal-secret" not in repr(settings) and "literal-secret" not in settings.model_dump_json()
    assert settings.datasources["mimir"].static_headers()["Authorization"] == "Bearer literal-secret"


@pytest.mark.parametrize("config, message", [
    ({"bearer_token": {"env": "A"}, "oauth2": {"token_url": "x", "client_id": "y", "client_secret": {"env": "B"}}},
     "choose one of"),
    ({"bearer_token": {"env": "A"}, "headers": {"authorization": "x"}}, "both set the Authorization header"),
    ({"tenant": "a", "headers": {"X-Scope-OrgID": "b"}}, "both set the tenant"),
    ({"bearer_token": {"env": "A", "file": "/t"}}, "exactly one of"),
])
def test_ambiguous_datasources_are_refused(config, message):
    with pytest.raises(ValueError, match=message):
        Datasource.model_validate({"url": "http://x", **config})


def test_a_profile_naming_an_unconfigured_datasource_is_refused_at_start_up():
    with pytest.raises(InputError, match=r"names datasource .thanos.*configured: mimir"):
        check_datasources({"http": _profile("thanos")}, {"mimir": Datasource(url="http://x")})


def test_settings_read_datasources_from_yaml(tmp_path: Path):
    from analyzer.settings import load_settings

    config = tmp_path / "config.yaml"
    config.write_text("datasources:\n  mimir:\n    url: https://mimir.example/prometheus\n    tenant: team-a\n"
                      "    bearer_token: {file: /var/run/secrets/mimir/token}\n")
    settings = load_settings(config)
    assert settings.datasources["mimir"].tenant == "team-a"


def test_credentials_in_the_url_are_sent_as_basic_auth(recorder):
    """As requests did: ``http://user:password@host`` (percent-encoded) authenticates each request."""
    source = PrometheusSource(recorder.url.replace("http://", "http://reader:p%40ss@") + PREFIX)
    source.fetch(_profile(None), TARGET, Window(start=0, end=600, step=60))
    assert recorder.requests[-1][1]["Authorization"] == "Basic " + base64.b64encode(b"reader:p@ss").decode()


@pytest.mark.parametrize("compress, accepted", [(False, "identity"), (True, "gzip, deflate")])
def test_the_query_is_a_form_and_gzip_is_asked_for_only_when_configured(recorder, compress, accepted):
    source = PrometheusSource(recorder.url + PREFIX, compress=compress, headers={"accept-encoding": "br"})
    source.fetch(_profile(None), TARGET, Window(start=0, end=600, step=60))
    headers = {key.lower(): value for key, value in recorder.requests[-1][1].items()}
    assert headers["content-type"] == "application/x-www-form-urlencoded"
    assert headers["accept-encoding"] == "br"  # a configured header wins, whatever its case
    source = PrometheusSource(recorder.url + PREFIX, compress=compress)
    source.fetch(_profile(None), TARGET, Window(start=0, end=600, step=60))
    assert recorder.requests[-1][1]["Accept-Encoding"] == accepted


def test_a_token_endpoint_that_drips_is_cut_at_the_look_s_deadline(recorder, tmp_path):
    secret = tmp_path / "client-secret"
    secret.write_text("s3cret-client")
    with fault_server() as endpoint:
        endpoint.answer(200, {"access_token": "t", "expires_in": 3600})
        endpoint.drip(0.02, headers_too=True)
        sources = _sources(recorder, oauth2={"token_url": f"{endpoint.url}/token", "client_id": "analyzer",
                                             "client_secret": {"file": str(secret)}})
        started = time.monotonic()
        with pytest.raises(PrometheusError, match="within the look's deadline of 1 s") as raised:
            sources.fetch(_profile("mimir"), TARGET, Window(start=0, end=600, step=60), Deadline(1.0))
        assert raised.value.kind == "timeout" and time.monotonic() - started < 1.5


def test_an_authorizer_gives_the_header_value_of_each_request(tmp_path):
    token = tmp_path / "token"
    token.write_text("first\n")
    authorizer = Datasource(url="http://x", bearer_token={"file": str(token)}).auth(1.0)
    assert authorizer is not None and authorizer() == "Bearer first"
    token.write_text("second")
    assert authorizer() == "Bearer second"
