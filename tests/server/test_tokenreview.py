"""Kubernetes service-account tokens as callers (issue 13.2): TokenReview against an HTTP-level emulator.

No API server can run here: the emulator answers ``POST /apis/authentication.k8s.io/v1/tokenreviews`` as
the API server does (tokens it issued, with their users and audiences) and records every request, so the
tests assert exactly what the service sends, with which credentials, and how often.
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from analyzer.errors import ClusterError, InputError
from analyzer.grants import TokenReviewSettings
from analyzer.rollouts import Kube
from analyzer.server.tokenreview import TokenReviewer
from analyzer.settings import load_settings
from tests.conftest import STEP
from tests.server.conftest import settings_for
from tests.support.service import Clock, make_app

PATH = "/apis/authentication.k8s.io/v1/tokenreviews"
OWN_TOKEN = "the-analyzer-s-own-sa-token"  # what the service authenticates to the API server with
ARGO = "eyJhbGciOiJSUzI1NiJ9.healthy-argo"  # a token of healthy/argo-analysis, for audience canary-analyzer
OTHER_AUDIENCE = "eyJhbGciOiJSUzI1NiJ9.healthy-argo-for-vault"
STRANGER = "eyJhbGciOiJSUzI1NiJ9.healthy-stranger"  # a real account without a grant
CI = "eyJhbGciOiJSUzI1NiJ9.ci-runner"  # ci/runner, granted operator across namespaces


@dataclass
class ReviewAPI:
    """The TokenReview endpoint of an API server: the tokens it issued, and every request it got."""

    issued: dict[str, tuple[str, list[str]]] = field(default_factory=lambda: {
        ARGO: ("system:serviceaccount:healthy:argo-analysis", ["canary-analyzer"]),
        OTHER_AUDIENCE: ("system:serviceaccount:healthy:argo-analysis", ["vault"]),
        STRANGER: ("system:serviceaccount:healthy:stranger", ["canary-analyzer"]),
        CI: ("system:serviceaccount:ci:runner", ["canary-analyzer"]),
    })
    requests: list[tuple[str, str, str, Any]] = field(default_factory=list)
    refuse: int | None = None  # answer this status instead (403: the service's account lacks the RBAC)
    kubeconfig: Path | None = None

    def review(self, spec: dict[str, Any]) -> tuple[int, dict[str, Any]]:
        if self.refuse is not None:
            return self.refuse, {"kind": "Status", "apiVersion": "v1", "status": "Failure", "code": self.refuse,
                                 "reason": "Forbidden", "message": "tokenreviews is forbidden"}
        status: dict[str, Any] = {"user": {}}
        user, audiences = self.issued.get(spec.get("token", ""), (None, []))
        wanted = spec.get("audiences") or ["https://kubernetes.default.svc"]
        valid = [a for a in audiences if a in wanted]
        if user is not None and valid:
            status = {"authenticated": True, "user": {"username": user, "uid": "u-1", "groups": [
                "system:serviceaccounts", f"system:serviceaccounts:{user.split(':')[2]}"]}, "audiences": valid}
        else:
            status["error"] = "[invalid bearer token, token lookup failed]"
        return 201, {"apiVersion": "authentication.k8s.io/v1", "kind": "TokenReview",
                     "metadata": {"creationTimestamp": None}, "spec": spec, "status": status}


@pytest.fixture
def api(tmp_path) -> Iterator[ReviewAPI]:
    state = ReviewAPI()

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
            state.requests.append(("POST", self.path, self.headers.get("Authorization", ""), body))
            status, answer = state.review(body["spec"]) if self.path == PATH else (404, {})
            data = json.dumps(answer).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def log_message(self, *args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    state.kubeconfig = tmp_path / "kubeconfig"
    state.kubeconfig.write_text(
        "apiVersion: v1\nkind: Config\n"
        f"clusters: [{{name: c, cluster: {{server: 'http://127.0.0.1:{server.server_address[1]}'}}}}]\n"
        f"users: [{{name: analyzer, user: {{token: {OWN_TOKEN}}}}}]\n"
        "contexts: [{name: c, context: {cluster: c, user: analyzer}}]\ncurrent-context: c\n")
    try:
        yield state
    finally:
        server.shutdown()
        server.server_close()


REVIEW = {"enabled": True, "audiences": ["canary-analyzer"], "grants": [
    {"service_account": "healthy/argo-analysis", "role": "analysis"},
    {"service_account": "ci/runner", "role": "operator", "unscoped": True},
]}


@pytest.fixture
def service(api, backfilled, tmp_path) -> Iterator[TestClient]:
    """The service with no static or ledger token at all: only the cluster's service accounts get in."""
    settings = settings_for(backfilled.url, tmp_path, api_tokens=[], token_review=REVIEW,
                            kubeconfig=str(api.kubeconfig))
    app, _ = make_app(settings, Clock(backfilled.start + 20 * STEP + 5))
    with TestClient(app) as client:
        yield client


def _bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def _review_of(token: str) -> tuple[str, str, str, dict[str, Any]]:
    spec = {"token": token, "audiences": ["canary-analyzer"]}
    return ("POST", PATH, f"Bearer {OWN_TOKEN}",
            {"apiVersion": "authentication.k8s.io/v1", "kind": "TokenReview", "spec": spec})


def test_a_granted_account_judges_its_own_namespace_with_one_review(service, api, backfilled):
    for _ in range(3):
        answer = service.get("/api/v1/analysis", params=backfilled.args("healthy"), headers=_bearer(ARGO))
        assert answer.status_code == 200, answer.text
    other = service.get("/api/v1/analysis", params=backfilled.args("errors"), headers=_bearer(ARGO))
    assert other.status_code == 403 and "may not judge namespace errors" in other.json()["detail"]
    assert api.requests == [_review_of(ARGO)]  # asked once, with the service's own credentials; then cached
    ci = service.get("/api/v1/judgments", params={"namespace": "healthy"}, headers=_bearer(CI))
    assert ci.status_code == 200 and ci.json()  # an unscoped operator reads every namespace
    assert api.requests[1:] == [_review_of(CI)]


@pytest.mark.parametrize(("token", "status", "detail"), [
    ("not-a-kubernetes-token", 401, "Unknown or revoked token"),
    (OTHER_AUDIENCE, 401, "Unknown or revoked token"),  # issued for another audience: refused
    (STRANGER, 403, "system:serviceaccount:healthy:stranger is a valid Kubernetes identity without a grant"),
])
def test_tokens_the_cluster_does_not_vouch_for_or_grant_are_refused(service, api, backfilled, token, status, detail):
    for _ in range(2):
        answer = service.get("/api/v1/analysis", params=backfilled.args("healthy"), headers=_bearer(token))
        assert answer.status_code == status and detail in answer.json()["detail"]
    assert api.requests == [_review_of(token)]  # the refusal is kept too (for a tenth of the time)


def test_an_api_server_that_refuses_the_review_is_a_503_naming_the_rbac(service, api, backfilled):
    api.refuse = 403
    answer = service.get("/api/v1/analysis", params=backfilled.args("healthy"), headers=_bearer(ARGO))
    assert answer.status_code == 503 and answer.headers["retry-after"] == "5"
    assert "refused a TokenReview: HTTP 403" in answer.json()["detail"] and "create on tokenreviews" in answer.text
    assert ARGO not in answer.text


def test_answers_expire_so_a_deleted_account_stops_working(api):
    now = [1000.0]
    reviewer = TokenReviewer(TokenReviewSettings.model_validate(REVIEW), lambda: Kube(kubeconfig=str(api.kubeconfig)),
                             clock=lambda: now[0])
    assert reviewer.username(ARGO) == "system:serviceaccount:healthy:argo-analysis"
    del api.issued[ARGO]  # the account (or its Secret) is deleted
    now[0] += 59
    assert reviewer.username(ARGO) is not None and len(api.requests) == 1  # within cache_seconds
    now[0] += 2
    assert reviewer.username(ARGO) is None and len(api.requests) == 2
    now[0] += 5  # refusals are kept 6 s (a tenth)
    assert reviewer.username(ARGO) is None and len(api.requests) == 2
    now[0] += 2
    api.refuse = 500
    with pytest.raises(ClusterError, match="HTTP 500"):
        reviewer.username(ARGO)


def test_an_api_server_that_is_gone_is_a_cluster_error(tmp_path):
    from tests.support.prometheus import free_port

    kubeconfig = tmp_path / "gone"
    kubeconfig.write_text(
        "apiVersion: v1\nkind: Config\n"
        f"clusters: [{{name: c, cluster: {{server: 'http://127.0.0.1:{free_port()}'}}}}]\n"
        "users: [{name: u, user: {token: t}}]\ncontexts: [{name: c, context: {cluster: c, user: u}}]\n"
        "current-context: c\n")
    reviewer = TokenReviewer(TokenReviewSettings.model_validate(REVIEW), lambda: Kube(kubeconfig=str(kubeconfig)))
    started = time.monotonic()
    with pytest.raises(ClusterError, match="did not answer a TokenReview"):
        reviewer.username(ARGO)
    assert time.monotonic() - started < 1.0  # no retries with backoff: Argo gets its 503 at once


def test_without_review_tokens_of_the_cluster_are_unknown_and_nothing_is_asked(api, backfilled, tmp_path):
    settings = settings_for(backfilled.url, tmp_path, api_tokens=["a-static-token-of-16"],
                            kubeconfig=str(api.kubeconfig))
    app, _ = make_app(settings, Clock(backfilled.start + 20 * STEP + 5))
    with TestClient(app) as client:
        answer = client.get("/api/v1/analysis", params=backfilled.args("healthy"), headers=_bearer(ARGO))
    assert answer.status_code == 401 and api.requests == []


@pytest.mark.parametrize(("grant", "message"), [
    ({"service_account": "healthy/argo", "role": "root"}, "role 'root' is not one of viewer"),
    ({"service_account": "Healthy/argo", "role": "viewer"},
     r"token_review.grants\[0\].service_account: String should match"),
    ({"service_account": "ci/runner", "role": "admin", "unscoped": True, "namespaces": ["a"]}, "not both"),
])
def test_bad_grants_are_refused_at_start_naming_the_setting(tmp_path, grant, message):
    config = tmp_path / "config.yaml"
    config.write_text(json.dumps({"token_review": {"enabled": True, "grants": [grant]}}))
    with pytest.raises(InputError, match=message):
        load_settings(config)
