"""Service settings (pydantic-settings): environment variables ``CANARY_ANALYZER_*`` over a YAML file.

Precedence, highest first: arguments given in code, environment variables, the YAML file named by
``--config`` or ``CANARY_ANALYZER_CONFIG``, the defaults below. Nested values from the environment
use ``__`` (``CANARY_ANALYZER_PROMETHEUS_HEADERS__AUTHORIZATION='Bearer …'``).
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Literal, get_args

from pydantic import Field, SecretStr, ValidationError, model_validator
from pydantic_settings import BaseSettings, PydanticBaseSettingsSource, SettingsConfigDict, YamlConfigSettingsSource
from pydantic_settings.exceptions import SettingsError

from analyzer.errors import InputError, describe
from analyzer.grants import TokenReviewSettings
from analyzer.sources.cache import CachePolicy
from analyzer.sources.datasources import Datasource
from analyzer.sources.transport import HTTP_URL

#: Argo Rollouts' web provider gives up after 10 s by default; a look's deadline ends well before.
ARGO_WEB_TIMEOUT_SECONDS = 10.0
#: What the service keeps for itself (judging, storing, answering) within Argo's timeout.
OWN_BUDGET_SECONDS = 2.0
#: The events webhook notifications can announce (notify_events).
NotifyEvent = Literal["canary.failed", "candidate.quarantined", "stage.rolled_back", "promotion.forced",
                      "promotion.confirmed"]


class Settings(BaseSettings):
    """Everything ``canary-analyzer serve`` and ``export`` read from their environment."""

    model_config = SettingsConfigDict(env_prefix="CANARY_ANALYZER_", env_nested_delimiter="__", extra="forbid")

    prometheus_url: str = Field(default="http://127.0.0.1:9090", pattern=HTTP_URL,
                                description="Prometheus (or Thanos/Mimir) base URL (http:// or https://)")
    prometheus_headers: dict[str, str] = Field(default_factory=dict, description="sent with every query (auth)")
    prometheus_ca_file: Path | None = Field(default=None, description="CA bundle for an https Prometheus URL")
    prometheus_timeout_seconds: float = Field(default=2.0, gt=0, description="per connect or read of an attempt")
    prometheus_retries: int = Field(default=2, ge=0, le=5, description="retries on connection errors and 5xx")
    prometheus_compression: bool = Field(
        default=False, description="ask for gzip answers: worth it over a slow link; on loopback or in-cluster it"
        " only costs Prometheus a fifth more CPU per query"
    )
    window_cache: bool = Field(default=True, description="keep windows' past steps per process: a look fetches its"
                               " newest steps (docs/operations.md, incremental looks)")
    window_cache_reread_steps: int = Field(default=3, ge=1, le=60, description="newest kept steps fetched again"
                                           " at each look, for late samples")
    window_cache_refresh_looks: int = Field(default=30, ge=1, le=10_000, description="every this many looks a window"
                                            " is checked again: fetched whole, or (a window longer than"
                                            " window_cache_refresh_steps) its next window_cache_refresh_steps kept"
                                            " steps re-read")
    window_cache_refresh_steps: int = Field(default=120, ge=1, le=11_000, description="how many kept steps a longer"
                                            " window's periodic check re-reads, round robin from its start")
    window_cache_max_windows: int = Field(default=1024, ge=1, le=1_000_000, description="windows kept per process")
    window_cache_max_mib: int = Field(default=128, ge=1, le=65_536, description="memory of the kept windows per"
                                      " process")
    datasources: dict[str, Datasource] = Field(
        default_factory=dict, description="named query APIs that profiles send to (datasource: NAME)"
    )
    look_deadline_seconds: float = Field(
        default=8.0,
        gt=0,
        le=ARGO_WEB_TIMEOUT_SECONDS - OWN_BUDGET_SECONDS,
        description="every Prometheus call and store access of one look, retries included, ends by then"
        " (503 past it)",
    )
    # 4: a look is mostly CPU under the GIL, and each more thread judging at once adds switches, GIL handoffs
    # and cache misses to every look. 50 callers, 1 worker, PostgreSQL, rounds alternated: 16 threads cost
    # 20.5 ms of service CPU a look, 4 threads 15.8; with 1, 2 or 4 a look costs within 1 ms of one alone,
    # but 1 and 2 overlap too little of the looks' waits on Prometheus and the database (30 and 33 looks/s
    # against 43 with 4). Measured with bench/service_load.py's setup; see docs/operations.md#capacity-measured.
    look_workers: int = Field(
        default=4, ge=1, le=256, description="looks judged at once per process (their own threads, not the shared"
        " pool); more wait for a worker"
    )
    look_queue_seconds: float = Field(
        default=2.0, gt=0, le=ARGO_WEB_TIMEOUT_SECONDS - OWN_BUDGET_SECONDS,
        description="a look that finds no free worker within this is refused at once (503, Retry-After)",
    )
    database_url: str = Field(default="sqlite:///canary-analyzer.db", description="SQLite file or PostgreSQL URL")
    profiles_dir: Path | None = Field(default=None, description="extra query profiles (*.yaml); they win by name")
    api_tokens: list[SecretStr] = Field(
        default_factory=list, description="bearer tokens of unscoped analysis identities (Argo's); see token create"
    )
    token_cache_seconds: float = Field(
        default=10.0, ge=0, le=300, description="a ledger token's identity (or its absence) is kept this long per"
        " process, by the token's SHA-256, instead of read at every request: a revoked token stops working within"
        " this (0: read the ledger at every request)"
    )
    insecure_no_auth: bool = Field(
        default=False, description="without any token, anonymous callers may judge and read (never in production)"
    )
    token_review: TokenReviewSettings = Field(
        default_factory=TokenReviewSettings,
        description="Kubernetes service-account tokens as bearer tokens, checked by TokenReview (analyzer/grants.py)",
    )
    stages_file: Path | None = Field(default=None, description="stages.yaml for promotion (default V1 → V3 → V2)")
    promotion_drive_rollouts: bool = Field(
        default=False, description="promotion sets images on the stages' Rollouts (else: record and plan only)"
    )
    kubeconfig: str | None = Field(default=None, description="default: $KUBECONFIG, ~/.kube/config, or in-cluster")
    kube_context: str | None = None
    promotion_read_requires_token: bool = Field(
        default=True, description="deprecated and ignored: every read needs a token unless insecure_no_auth"
    )
    lookback_seconds: int = Field(default=6 * 3600, ge=60, description="how far back to look for the canary's start")
    max_steps: int = Field(default=1440, ge=1, le=10_000, description="longest window judged, in steps")
    window_gap_steps: int = Field(
        default=5, ge=1, le=1440,
        description="steps without a canary request after which its traffic starts a new window (abort, then retry)",
    )
    public_url: str | None = Field(default=None, description="base URL of this service, for links in judgments")
    report_signing_key: SecretStr | None = Field(
        default=None, description="HMAC key of report links (default: derived from api_tokens; none: open pages)"
    )
    report_link_ttl_seconds: int = Field(
        default=7 * 86400, ge=60, le=90 * 86400, description="how long a signed report link opens its page"
    )
    report_notification_key: SecretStr | None = Field(
        default=None,
        description="key of the links Argo Rollouts notifications compute to a canary's latest report (unset: off)",
    )
    audit_key: SecretStr | None = Field(
        default=None, description="HMAC key of the audit checkpoints (audit checkpoint / verify --checkpoint)"
    )
    max_body_bytes: int = Field(default=1_000_000, ge=1024, le=64_000_000, description="larger requests: 413")
    host: str = "0.0.0.0"
    port: int = Field(default=8080, ge=1, le=65535)
    log_level: str = "info"
    # The reactor (`canary-analyzer rollout reactor`, docs/reactor.md).
    reactor_namespaces: list[str] = Field(default_factory=list, description="namespaces it watches; empty = all")
    reactor_lease_seconds: int = Field(default=60, ge=5, le=3600, description="an unfinished claim expires after")
    reactor_resync_seconds: int = Field(default=300, ge=5, le=3600, description="each watch re-lists after this")
    reactor_gitops_markers: list[str] | None = Field(
        default=None, description="label/annotation keys meaning 'managed from Git' (default: Argo CD's and Flux's)"
    )
    reactor_metrics_port: int = Field(default=9464, ge=0, le=65535, description="its /metrics (0: none)")
    # Webhook notifications of canary fails, quarantines, rollbacks and forced promotions (analyzer/service/notify.py,
    # docs/promotion.md#notifications). Sent from a background queue: never on an API answer's time.
    notify_slack_url: SecretStr | None = Field(
        default=None, description="Slack (or Slack-compatible) incoming-webhook URL; a secret: it holds the token"
    )
    notify_webhook_url: SecretStr | None = Field(
        default=None, description="a generic webhook: JSON signed with HMAC-SHA256 (X-Canary-Analyzer-Signature)"
    )
    notify_webhook_secret: SecretStr | None = Field(default=None, description="the webhook's HMAC key")
    notify_webhook_secret_file: Path | None = Field(
        default=None, description="…or a file holding it (a mounted Secret; read at each send, so rotation works)"
    )
    notify_events: list[NotifyEvent] = Field(
        default_factory=lambda: list(get_args(NotifyEvent)), description="which events are sent (default: all)"
    )
    notify_retries: int = Field(default=4, ge=0, le=10, description="retries of a failed delivery (5xx, 429, none)")
    notify_backoff_seconds: float = Field(default=1.0, gt=0, le=60, description="retries wait 0, this, 2×, 4×…")
    notify_timeout_seconds: float = Field(default=5.0, gt=0, le=60, description="per connect or read of one delivery")
    notify_queue_size: int = Field(default=1000, ge=1, le=100_000, description="queued at most; more: dropped")


    def window_cache_policy(self) -> CachePolicy | None:
        """How each process keeps windows (None: every look fetches its whole window)."""
        if not self.window_cache:
            return None
        return CachePolicy(
            reread_steps=self.window_cache_reread_steps,
            refresh_looks=self.window_cache_refresh_looks,
            refresh_steps=self.window_cache_refresh_steps,
            max_entries=self.window_cache_max_windows,
            max_bytes=self.window_cache_max_mib * 2**20,
        )

    @model_validator(mode="after")
    def _an_attempt_fits_the_deadline(self) -> Settings:
        if self.prometheus_timeout_seconds >= self.look_deadline_seconds:
            raise ValueError(
                f"prometheus_timeout_seconds ({self.prometheus_timeout_seconds:g} s) must be shorter than"
                f" look_deadline_seconds ({self.look_deadline_seconds:g} s), which a 503 must beat to reach Argo"
                f" before its {ARGO_WEB_TIMEOUT_SECONDS:g} s web timeout"
            )
        return self


def load_settings(config_file: Path | None = None, **overrides: object) -> Settings:
    """Settings from the environment and an optional YAML file; bad values raise :class:`InputError`."""
    named = os.environ.get("CANARY_ANALYZER_CONFIG")
    path = config_file or (Path(named) if named else None)
    if path is not None and not path.is_file():
        raise InputError(f"config file {path} does not exist")

    class _FromFile(Settings):
        @classmethod
        def settings_customise_sources(
            cls,
            settings_cls: type[BaseSettings],
            init_settings: PydanticBaseSettingsSource,
            env_settings: PydanticBaseSettingsSource,
            dotenv_settings: PydanticBaseSettingsSource,
            file_secret_settings: PydanticBaseSettingsSource,
        ) -> tuple[PydanticBaseSettingsSource, ...]:
            sources: tuple[PydanticBaseSettingsSource, ...] = (init_settings, env_settings)
            if path is not None:
                sources += (YamlConfigSettingsSource(settings_cls, yaml_file=path),)
            return sources

    try:
        return _FromFile(**overrides)  # type: ignore[arg-type]
    except ValidationError as error:
        raise InputError(describe(error, f"settings ({path or 'environment'})")) from None
    except SettingsError as error:  # a value that is not JSON (CANARY_ANALYZER_API_TOKENS=abc): exit 4, named
        raise InputError(f"settings: {error} (a list or mapping is JSON, e.g. '[\"t1\"]')") from None
