"""Schemathesis (``--checks all``) against the live service: the OpenAPI document tells the truth (issue 13.9).

The real app is served by uvicorn on a loopback port, over the real backfilled Prometheus and a SQLite
ledger holding a judgment, a candidate and a promotion attempt (their ids given to schemathesis, so that
the operations on an id reach their logic instead of answering 404 to every guess). Every phase runs
(examples, coverage, fuzzing, stateful) with a fixed seed and a bounded number of examples per
operation, once with an admin token and once with no token at all: every answer must be declared
(status, media type, headers, body schema), none a 5xx, valid data accepted and invalid data refused.
"""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import httpx
import pytest

from analyzer.store.tokens import create_token
from tests.conftest import STEP
from tests.server.conftest import settings_for
from tests.support.service import Clock, live_server, make_app

SEED = 20261201
EXAMPLES = 20  # per operation and phase, with a token; half without (every answer a 401 there)
IMAGE = "registry.example/shop/checkout@sha256:" + "ab" * 32

#: Valid data the service may still refuse, with a documented 400 naming the field: JSON Schema cannot say
#: "canary differs from stable", nor "junit_xml is well-formed JUnit XML".
_CONFIG = """\
generation.unique-inputs = true

[[operations]]
include-path = "/api/v1/analysis"
checks.positive_data_acceptance.expected-statuses = ["2xx", "400", "401", "403"]

[[operations]]
include-path = "/api/v1/attempts/{{attempt_id}}/evidence"
checks.positive_data_acceptance.expected-statuses = ["2xx", "400", "401", "403", "404", "409"]

[[operations]]
include-path = "/api/v1/judgments/{{judgment_id}}"
parameters = {{ judgment_id = "{judgment}" }}

[[operations]]  # a page draws its plots (~1 s of CPU each): its ids are guessed, not followed from other answers
include-path = "/reports/{{judgment_id}}"
phases.stateful.enabled = false

[parameters]
candidate_id = "{candidate}"
attempt_id = "{attempt}"
"""


@dataclass
class Live:
    url: str
    admin: str
    config: Path
    operations: int  # in the document


@pytest.fixture(scope="module")
def live(backfilled, tmp_path_factory) -> Iterator[Live]:
    """The closed service (tokens required) on a port, with one judgment, candidate and attempt recorded."""
    tmp_path = tmp_path_factory.mktemp("schemathesis")
    settings = settings_for(backfilled.url, tmp_path, api_tokens=["argo-static-token"])
    app, analyzer = make_app(settings, Clock(backfilled.start + 20 * STEP + 5))
    admin = create_token(analyzer.database, "admin-1", "admin", datetime.now(UTC))
    with live_server(app) as url:
        auth = {"Authorization": f"Bearer {admin}"}
        judgment = httpx.get(f"{url}/api/v1/analysis", params=backfilled.args("healthy"), headers=auth).json()["id"]
        candidate = httpx.post(f"{url}/api/v1/candidates", headers=auth,
                               json={"artifacts": [{"name": "checkout", "image": IMAGE}]}).json()["id"]
        attempt = httpx.post(f"{url}/api/v1/evaluation/promote/{candidate}", headers=auth).json()["id"]
        config = tmp_path / "schemathesis.toml"
        config.write_text(_CONFIG.format(judgment=judgment, candidate=candidate, attempt=attempt))
        document = httpx.get(f"{url}/openapi.json").json()
        yield Live(url, admin, config, sum(len(methods) for methods in document["paths"].values()))


def _schemathesis(live: Live, examples: int, *headers: str) -> subprocess.CompletedProcess[str]:
    command = [sys.executable, "-m", "schemathesis.cli", "--config-file", str(live.config), "run",
               f"{live.url}/openapi.json", "--checks", "all", "--seed", str(SEED), "--max-examples", str(examples),
               "--workers", "1", "--no-color"]
    for header in headers:
        command += ["--header", header]
    return subprocess.run(command, capture_output=True, text=True, timeout=300, check=False)


def _assert_clean(live: Live, run: subprocess.CompletedProcess[str]) -> None:
    assert run.returncode == 0, run.stdout[-20_000:] + run.stderr[-2_000:]
    assert f"{live.operations} selected / {live.operations} total" in run.stdout  # every operation was run
    assert f"Tested: {live.operations}" in run.stdout


def test_with_an_admin_token_every_answer_is_documented(live):
    _assert_clean(live, _schemathesis(live, EXAMPLES, f"Authorization: Bearer {live.admin}"))


def test_without_a_token_every_answer_is_documented(live):
    _assert_clean(live, _schemathesis(live, EXAMPLES // 2))
