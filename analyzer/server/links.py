"""Signed, expiring report links: a browser opens a judgment's page from Argo, Slack or a ticket, no token.

A link is ``/reports/{id}?expires=<epoch s>&sig=<HMAC-SHA256(key, "report:{id}:{expires}")>``: it opens
that one page until it expires, on every replica that has the same key, and nothing else. The key
is ``report_signing_key`` from the settings, else one derived from the API tokens (so a fleet that
shares its tokens shares its links, and revoking every token revokes every link), else a random key
of this process (links then open on this replica until it restarts; a warning says so once). The key
is never logged: the request log writes paths without their query, and settings hold it as a secret.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import logging
import secrets
import threading
from collections.abc import Callable
from dataclasses import dataclass
from urllib.parse import urlencode

from fastapi import Request

from analyzer.service.analysis import Analyzer
from analyzer.settings import Settings

#: Domain separation: a report-link key derived from API tokens signs nothing else.
_DERIVED = b"canary-analyzer report links\x00"
_PROCESS_KEY_LOCK = threading.Lock()
log = logging.getLogger("canary_analyzer")


class LinkRefusedError(Exception):
    """The link's signature is wrong, or it has expired."""


def signing_key(settings: Settings) -> bytes | None:
    """The report-link key the settings give (their key, or one derived from their tokens), if any."""
    if settings.report_signing_key is not None:
        return settings.report_signing_key.get_secret_value().encode()
    tokens = sorted(token.get_secret_value().encode() for token in settings.api_tokens)
    if not tokens:
        return None
    return hashlib.sha256(_DERIVED + b"\x00".join(tokens)).digest()


def _signature(key: bytes, judgment_id: str, expires: int) -> str:
    mac = hmac.new(key, f"report:{judgment_id}:{expires}".encode(), hashlib.sha256).digest()
    return base64.urlsafe_b64encode(mac).rstrip(b"=").decode()


@dataclass(frozen=True)
class ReportLinks:
    """Makes and checks report links for one service (its key, link lifetime, base URL and clock)."""

    key: bytes
    ttl_seconds: int
    base_url: str
    clock: Callable[[], float]

    def url(self, judgment_id: str) -> str:
        """The page's link, signed to expire ``ttl_seconds`` from now."""
        path = f"{self.base_url}/reports/{judgment_id}"
        expires = int(self.clock()) + self.ttl_seconds
        return f"{path}?{urlencode({'expires': expires, 'sig': _signature(self.key, judgment_id, expires)})}"

    def check(self, judgment_id: str, expires: int, signature: str) -> None:
        """Raise :class:`LinkRefusedError` unless ``signature`` is this service's for the page and still valid."""
        if not hmac.compare_digest(signature.encode(), _signature(self.key, judgment_id, expires).encode()):
            raise LinkRefusedError("the report link's signature is not valid for this judgment")
        if self.clock() >= expires:
            raise LinkRefusedError(
                "the report link has expired; `canary-analyzer judgments show ID` or the API gives a new one"
            )


def latest_signature(key: str, namespace: str, rollout: str, canary: str, expires: int) -> str:
    """sha256 hex of ``key:latest:namespace:rollout:canary:expires``, as a notification template computes it.

    Argo Rollouts' notification templates (Go templates with sprig) have ``sha256sum`` but no HMAC, so
    the link to a canary's latest report is a keyed hash. Its fields are DNS-1123 names, a hex hash
    and digits: no extended message parses, which is what a length-extension forgery would need. The
    key (``report_notification_key``) opens these redirects only, never the API.
    """
    return hashlib.sha256(f"{key}:latest:{namespace}:{rollout}:{canary}:{expires}".encode()).hexdigest()


def report_links(request: Request) -> ReportLinks:
    """The links of the service answering ``request``: its key, link lifetime, public base URL and clock."""
    analyzer: Analyzer = request.app.state.analyzer
    settings = analyzer.settings
    base = (settings.public_url or str(request.base_url)).rstrip("/")
    key = signing_key(settings) or _process_key(request)
    return ReportLinks(key, settings.report_link_ttl_seconds, base, analyzer.clock)


def _process_key(request: Request) -> bytes:
    """A random key of this app, made once: links it signs open on this replica until it restarts."""
    with _PROCESS_KEY_LOCK:
        key: bytes | None = getattr(request.app.state, "report_key", None)
        if key is None:
            key = secrets.token_bytes(32)
            request.app.state.report_key = key
            log.warning("report links are signed with a key of this process: they open on this replica until it"
                        " restarts; set report_signing_key (or api_tokens) to share them across replicas")
        return key
