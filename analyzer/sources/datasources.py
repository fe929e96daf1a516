"""Datasources: where a profile's queries go, and the credentials they carry there.

The global ``prometheus_*`` settings are the default datasource. A profile that names ``datasource:``
is sent to that entry of the ``datasources`` setting instead: its own URL (a Mimir or Thanos query
frontend under a path prefix included), headers, tenant (``X-Scope-OrgID``, which Mimir, Cortex and
Loki read), one way to authenticate (basic, bearer, or OAuth2 client credentials) and a CA bundle.

Secrets are named, never written, in the settings: a :class:`SecretRef` points at a file (a mounted
Kubernetes Secret, or a projected token that the kubelet rotates) or at an environment variable,
and is read when a request is sent, so a rotated token is used without a restart. Nothing here puts
a secret in a message, a log line or a ``repr``.
"""

from __future__ import annotations

import functools
import json
import os
import threading
import time
import urllib.parse
from pathlib import Path

import urllib3
import urllib3.exceptions
from pydantic import BaseModel, ConfigDict, Field, SecretStr, model_validator

from analyzer.errors import InputError
from analyzer.sources import transport
from analyzer.sources.assemble import Fetched
from analyzer.sources.cache import CachePolicy
from analyzer.sources.promapi import Deadline, PrometheusError
from analyzer.sources.prometheus import PrometheusSource, Window
from analyzer.sources.queries import QueryProfile, Target

#: Renew an OAuth2 token this long before the expiry its server announced.
TOKEN_MARGIN_SECONDS = 30.0
#: The header multi-tenant Prometheus-compatible stores (Mimir, Cortex) read the tenant from.
TENANT_HEADER = "X-Scope-OrgID"


class SecretRef(BaseModel):
    """A secret kept outside the settings: the contents of ``file`` (trailing newline dropped) or ``$env``."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    file: Path | None = None
    env: str | None = Field(default=None, pattern=r"^[A-Za-z_][A-Za-z0-9_]*$")

    @model_validator(mode="after")
    def _exactly_one(self) -> SecretRef:
        if (self.file is None) == (self.env is None):
            raise ValueError("a secret is read from exactly one of 'file' or 'env'")
        return self

    def read(self) -> str:
        """The secret's value now; :class:`PrometheusError` (naming where, never what) when it cannot be read."""
        if self.env is not None:
            value = os.environ.get(self.env)
            if not value:
                raise PrometheusError("error", f"the credential variable ${self.env} is not set")
            return value
        assert self.file is not None
        try:
            return self.file.read_text(encoding="utf-8").rstrip("\r\n")
        except OSError as error:
            reason = error.strerror
            raise PrometheusError("error", f"the credential file {self.file} cannot be read: {reason}") from None


class BasicAuth(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)
    username: str
    password: SecretRef


class OAuth2(BaseModel):
    """OAuth2 client credentials (RFC 6749 §4.4): a token from ``token_url``, sent as a bearer token."""

    model_config = ConfigDict(extra="forbid", frozen=True)
    token_url: str
    client_id: str
    client_secret: SecretRef
    scopes: list[str] = Field(default_factory=list)


class Datasource(BaseModel):
    """One Prometheus-compatible query API and how to reach it."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    url: str = Field(pattern=transport.HTTP_URL, description="base URL (http:// or https://); the query API is"
                     " {url}/api/v1/query_range (Mimir: …/prometheus)")
    headers: dict[str, SecretStr] = Field(default_factory=dict, description="sent with every query")
    tenant: str | None = Field(default=None, description=f"sent as {TENANT_HEADER}")
    basic_auth: BasicAuth | None = None
    bearer_token: SecretRef | None = None
    oauth2: OAuth2 | None = None
    ca_file: Path | None = Field(default=None, description="CA bundle for an https URL")

    @model_validator(mode="after")
    def _one_way_in(self) -> Datasource:
        ways = [name for name in ("basic_auth", "bearer_token", "oauth2") if getattr(self, name) is not None]
        if len(ways) > 1:
            raise ValueError(f"choose one of {' or '.join(ways)}: each sets the Authorization header")
        if ways and any(key.lower() == "authorization" for key in self.headers):
            raise ValueError(f"an Authorization header and {ways[0]} both set the Authorization header")
        if self.tenant is not None and any(key.lower() == TENANT_HEADER.lower() for key in self.headers):
            raise ValueError(f"tenant and an {TENANT_HEADER} header both set the tenant")
        return self

    def static_headers(self) -> dict[str, str]:
        """The headers that do not change between requests (the tenant included)."""
        headers = {key: value.get_secret_value() for key, value in self.headers.items()}
        if self.tenant is not None:
            headers[TENANT_HEADER] = self.tenant
        return headers

    def auth(self, timeout_seconds: float) -> transport.Authorizer | None:
        """What gives each request's Authorization header, reading its secret then; None without one."""
        if self.basic_auth is not None:
            return functools.partial(_basic, self.basic_auth)
        if self.bearer_token is not None:
            return functools.partial(_bearer, self.bearer_token)
        if self.oauth2 is not None:
            return _ClientCredentials(self.oauth2, self.ca_file, timeout_seconds)
        return None


def _basic(config: BasicAuth) -> str:
    return transport.basic(config.username, config.password.read())


def _bearer(token: SecretRef) -> str:
    return f"Bearer {token.read()}"


class _ClientCredentials:
    """A bearer token from the token endpoint, kept until shortly before it expires (one fetch at a time).

    The fetch is made inside the query's call, so the look's deadline bounds it too."""

    def __init__(self, config: OAuth2, ca_file: Path | None, timeout_seconds: float) -> None:
        self._config = config
        self._ca_file = str(ca_file) if ca_file is not None else None
        self._timeout = timeout_seconds
        self._lock = threading.Lock()
        self._token: str | None = None
        self._expires = 0.0

    def __call__(self) -> str:
        with self._lock:
            if self._token is None or time.monotonic() >= self._expires:
                self._token, lifetime = self._fetch()
                self._expires = time.monotonic() + max(lifetime - TOKEN_MARGIN_SECONDS, 0.0)
            return f"Bearer {self._token}"

    def _fetch(self) -> tuple[str, float]:
        form = {"grant_type": "client_credentials"}
        if self._config.scopes:
            form["scope"] = " ".join(self._config.scopes)
        where = f"the OAuth2 token endpoint {self._config.token_url}"
        headers = {
            "Content-Type": transport.FORM,
            "Authorization": transport.basic(self._config.client_id, self._config.client_secret.read()),
        }
        try:
            with transport.pool(self._config.token_url, 1, self._ca_file) as endpoint:
                answer = endpoint.urlopen(
                    "POST", urllib3.util.parse_url(self._config.token_url).request_uri,
                    body=urllib.parse.urlencode(form).encode(), headers=headers, redirect=False,
                    timeout=urllib3.Timeout(self._timeout, self._timeout),
                    pool_timeout=self._timeout,  # type: ignore[arg-type]  # annotated int, waited as a float
                )
        except (urllib3.exceptions.HTTPError, ValueError) as error:  # ValueError: not an http(s) URL
            raise PrometheusError("unreachable", f"{where} did not answer: {type(error).__name__}") from None
        if answer.status != 200:
            raise PrometheusError("error", f"{where} refused the client credentials (HTTP {answer.status})")
        try:
            body = json.loads(answer.data)
            token, lifetime = body["access_token"], float(body.get("expires_in", 300))
        except (ValueError, KeyError, TypeError):
            raise PrometheusError("malformed", f"{where} answered without an access_token") from None
        if not isinstance(token, str) or not token:
            raise PrometheusError("malformed", f"{where} answered without an access_token")
        return token, lifetime


class Sources:
    """One client per datasource; a profile's calls go to the one it names (the default without a name)."""

    def __init__(self, default: PrometheusSource, named: dict[str, PrometheusSource] | None = None) -> None:
        self.default = default
        self.named = dict(named or {})

    @classmethod
    def build(
        cls, default: PrometheusSource, datasources: dict[str, Datasource], timeout_seconds: float, retries: int,
        compress: bool = False, cache: CachePolicy | None = None,
    ) -> Sources:
        """A client for each configured datasource, next to the default one (each with its own window cache)."""
        named = {
            name: PrometheusSource(
                ds.url,
                headers=ds.static_headers(),
                timeout_seconds=timeout_seconds,
                retries=retries,
                ca_file=str(ds.ca_file) if ds.ca_file else None,
                auth=ds.auth(timeout_seconds),
                compress=compress,
                cache=cache,
            )
            for name, ds in datasources.items()
        }
        return cls(default, named)

    def of(self, profile: QueryProfile) -> PrometheusSource:
        """The client of the profile's datasource (a name :func:`check_datasources` has checked)."""
        return self.default if profile.datasource is None else self.named[profile.datasource]

    def first_data(
        self, profile: QueryProfile, target: Target, since: float, until: float, deadline: Deadline | None = None
    ) -> int | None:
        return self.of(profile).first_data(profile, target, since, until, deadline)

    def fetch(self, profile: QueryProfile, target: Target, window: Window, deadline: Deadline | None = None) -> Fetched:
        return self.of(profile).fetch(profile, target, window, deadline)

    def ping(self) -> None:
        """Every datasource answers a query; the first that does not raises, named by its URL."""
        for source in (self.default, *self.named.values()):
            source.ping()

    def close(self) -> None:
        for source in (self.default, *self.named.values()):
            source.close()


def check_datasources(profiles: dict[str, QueryProfile], datasources: dict[str, Datasource]) -> None:
    """Refuse, at start-up, a profile whose ``datasource`` is not configured."""
    for profile in profiles.values():
        if profile.datasource is not None and profile.datasource not in datasources:
            known = ", ".join(sorted(datasources)) or "none"
            raise InputError(
                f"profile {profile.name!r} names datasource {profile.datasource!r}, which the"
                f" datasources setting does not configure (configured: {known})"
            )
