"""Webhook notifications: a canary failed, a candidate was quarantined, a stage rolled back, a promotion
was forced (requested, then confirmed by a second person).

Two kinds of receiver, either or both: a Slack incoming webhook (or anything that takes Slack's JSON:
Mattermost, Rocket.Chat, Discord's ``/slack`` endpoint), and a generic webhook that receives the
notification as JSON signed with HMAC-SHA256 (see :func:`sign`; receivers check it with
:func:`verify`, or the few lines docs/promotion.md shows).

Delivery never happens on a request's time. :meth:`Notifier.send` only puts the notification on a
bounded queue and returns; one background thread per process posts it, retrying connection errors,
timeouts, 429 and 5xx with exponential backoff, a bounded number of times (its own loop: urllib3's
retry logs the request path, which for Slack holds the webhook's token). When
the queue is full (a receiver that is down while events keep coming) the notification is dropped,
counted in ``canary_analyzer_notifications_dropped_total`` and logged. URLs and secrets are never
logged: a log line names the receiver kind and the event.
"""

from __future__ import annotations

import atexit
import hashlib
import hmac
import json
import logging
import queue
import threading
import time
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Protocol, get_args

import requests
from prometheus_client import Counter
from pydantic import SecretStr

from analyzer.errors import InputError
from analyzer.settings import NotifyEvent, Settings

log = logging.getLogger("canary_analyzer.notify")

SIGNATURE_HEADER = "X-Canary-Analyzer-Signature"
TIMESTAMP_HEADER = "X-Canary-Analyzer-Timestamp"
EVENT_HEADER = "X-Canary-Analyzer-Event"
DELIVERY_HEADER = "X-Canary-Analyzer-Delivery"
#: A receiver refuses signatures older than this (replays); retries keep their first timestamp.
TOLERANCE_SECONDS = 600
#: Longest wait between two tries, whatever the backoff has grown to.
BACKOFF_MAX_SECONDS = 60.0
_RETRIED_STATUSES = (429, 500, 502, 503, 504)
#: Every event a notifier can be asked for (the ``notify_events`` setting).
EVENTS: tuple[str, ...] = get_args(NotifyEvent)

DELIVERIES = Counter(
    "canary_analyzer_notifications_total",
    "Webhook notifications delivered or given up on (after the retries), by receiver (slack, webhook) and outcome",
    ["target", "outcome"],
)
DROPPED = Counter(
    "canary_analyzer_notifications_dropped_total",
    "Notifications dropped because the queue to the receivers was full, by event",
    ["event"],
)


@dataclass(frozen=True)
class Notification:
    """One event, said once for people (``title``, ``text``) and for programs (``event``, ``facts``)."""

    event: str  # canary.failed | candidate.quarantined | stage.rolled_back | promotion.forced | promotion.confirmed
    title: str
    text: str
    facts: dict[str, str] = field(default_factory=dict)
    severity: str = "warning"  # danger, warning or good: the colour of Slack's attachment bar
    link: str | None = None
    at: datetime = field(default_factory=lambda: datetime.now(UTC))

    def as_json(self) -> dict[str, Any]:
        return {"event": self.event, "title": self.title, "text": self.text, "facts": self.facts,
                "severity": self.severity, "link": self.link, "at": self.at.isoformat()}


def sign(secret: bytes, timestamp: int, body: bytes) -> str:
    """``sha256=<hex HMAC-SHA256(secret, "<timestamp>." + body)>``: the timestamp is signed with the body,
    so a captured request cannot be replayed later with a fresh timestamp."""
    return "sha256=" + hmac.new(secret, f"{timestamp}.".encode() + body, hashlib.sha256).hexdigest()


def verify(secret: bytes, timestamp: str, signature: str, body: bytes, now: float | None = None,
           tolerance_seconds: int = TOLERANCE_SECONDS) -> bool:
    """Whether a received webhook is ours and recent: the signature matches (constant-time) and the
    timestamp is within ``tolerance_seconds`` of ``now``."""
    try:
        sent = int(timestamp)
    except ValueError:
        return False
    if abs((time.time() if now is None else now) - sent) > tolerance_seconds:
        return False
    return hmac.compare_digest(sign(secret, sent, body), signature)


class Target(Protocol):
    """A receiver: its kind (for metrics and logs) and the request that delivers a notification."""

    @property
    def name(self) -> str: ...

    def request(self, notification: Notification, delivery: str) -> tuple[str, bytes, dict[str, str]]: ...


_COLOURS = {"danger": "#d00000", "warning": "#e8a317", "good": "#2eb886"}


@dataclass(frozen=True)
class Slack:
    """Slack's incoming-webhook JSON: a ``text`` fallback and one attachment with the facts as fields."""

    url: SecretStr
    name: str = "slack"

    def request(self, notification: Notification, delivery: str) -> tuple[str, bytes, dict[str, str]]:
        attachment: dict[str, Any] = {
            "color": _COLOURS.get(notification.severity, _COLOURS["warning"]),
            "title": notification.title,
            "text": notification.text,
            "fields": [{"title": k, "value": v, "short": len(v) <= 40} for k, v in notification.facts.items()],
            "footer": f"canary-analyzer · {notification.event}",
            "ts": int(notification.at.timestamp()),
        }
        if notification.link:
            attachment["title_link"] = notification.link
        body = {"text": notification.title, "attachments": [attachment]}
        return self.url.get_secret_value(), json.dumps(body).encode(), {"Content-Type": "application/json"}


@dataclass(frozen=True)
class Webhook:
    """A generic receiver: the notification's JSON, signed (``secret`` is read at each delivery)."""

    url: SecretStr
    secret: Callable[[], bytes]
    name: str = "webhook"

    def request(self, notification: Notification, delivery: str) -> tuple[str, bytes, dict[str, str]]:
        body = json.dumps(notification.as_json(), sort_keys=True, separators=(",", ":")).encode()
        now = int(time.time())
        headers = {"Content-Type": "application/json", EVENT_HEADER: notification.event, DELIVERY_HEADER: delivery,
                   TIMESTAMP_HEADER: str(now), SIGNATURE_HEADER: sign(self.secret(), now, body)}
        return self.url.get_secret_value(), body, headers


def secret_reader(value: SecretStr | None, path: Path | None) -> Callable[[], bytes]:
    """The webhook key from the settings (or their environment variable), else from a file read at each
    delivery (a mounted Secret that is rotated); exactly one of them."""
    if (value is None) == (path is None):
        raise InputError("notify_webhook_url needs exactly one of notify_webhook_secret or notify_webhook_secret_file"
                         " (the HMAC key receivers check signatures with)")
    if value is not None:
        key = value.get_secret_value().encode()
        return lambda: key
    assert path is not None
    return lambda: path.read_bytes().rstrip(b"\r\n")


_STOP = object()


class Notifier:
    """A bounded queue and one thread that delivers what is on it to every target, with retries."""

    def __init__(self, targets: Sequence[Target], events: Sequence[str], *, retries: int = 4,
                 backoff_seconds: float = 1.0, timeout_seconds: float = 5.0, queue_size: int = 1000) -> None:
        self.targets = list(targets)
        self.events = frozenset(events)
        self._timeout = timeout_seconds
        self._queue: queue.Queue[object] = queue.Queue(maxsize=queue_size)
        self._closed = False
        self._retries, self._backoff = retries, backoff_seconds
        self._http = requests.Session()  # its adapters do not retry (nor log): _post does
        self._thread = threading.Thread(target=self._run, name="canary-analyzer-notifier", daemon=True)
        self._thread.start()
        atexit.register(self.close)

    def wants(self, event: str) -> bool:
        return event in self.events

    def send(self, notification: Notification) -> bool:
        """Queue ``notification`` for delivery and return at once; False when it is not wanted or dropped."""
        if not self.wants(notification.event) or self._closed:
            return False
        try:
            self._queue.put_nowait(notification)
        except queue.Full:
            DROPPED.labels(notification.event).inc()
            log.warning("notification dropped: %s queued notifications wait already (%s: %s)",
                        self._queue.maxsize, notification.event, notification.title)
            return False
        return True

    def close(self, timeout_seconds: float | None = None) -> None:
        """Deliver what is queued (waiting at most ``timeout_seconds``, default one delivery timeout), then
        stop. Run at interpreter exit too, so that a CLI command's notification leaves before it ends."""
        atexit.unregister(self.close)
        self._closed = True
        if not self._thread.is_alive():
            return
        try:
            self._queue.put(_STOP, timeout=timeout_seconds or self._timeout)
        except queue.Full:
            return
        self._thread.join(timeout_seconds or self._timeout)

    def _run(self) -> None:
        while True:
            item = self._queue.get()
            if item is _STOP:
                return
            assert isinstance(item, Notification)
            delivery = uuid.uuid4().hex  # the same on every retry: receivers can drop repeats
            for target in self.targets:
                self._deliver(target, item, delivery)

    def _deliver(self, target: Target, notification: Notification, delivery: str) -> None:
        try:
            failure = self._post(*target.request(notification, delivery))
        except Exception as error:  # a receiver's or a target's failure must not end the thread
            failure = type(error).__name__  # never the message: it may hold the URL
        DELIVERIES.labels(target.name, "failed" if failure else "sent").inc()
        if failure:
            log.warning("notification to %s failed after retries: %s (%s %s)", target.name, failure,
                        notification.event, delivery)
        else:
            log.info("notification sent to %s (%s %s)", target.name, notification.event, delivery)


    def _post(self, url: str, body: bytes, headers: dict[str, str]) -> str | None:
        """None once delivered, else why the last try failed. No answer, 429 and 5xx are tried again,
        after waits of 0, backoff, 2·backoff, 4·backoff … (at most BACKOFF_MAX_SECONDS); other answers not."""
        failure = None
        for attempt in range(self._retries + 1):
            if attempt > 1:
                time.sleep(min(self._backoff * 2 ** (attempt - 2), BACKOFF_MAX_SECONDS))
            try:
                answer = self._http.post(url, data=body, headers=headers, timeout=self._timeout,
                                         allow_redirects=False)
            except requests.RequestException as error:
                failure = type(error).__name__
                continue
            if answer.status_code < 300:
                return None
            failure = f"HTTP {answer.status_code}"
            if answer.status_code not in _RETRIED_STATUSES:
                return failure
        return failure


_current: tuple[tuple[Any, ...], Notifier] | None = None  # (the settings it was made from, the notifier)
_CURRENT_LOCK = threading.Lock()


def notifier_for(settings: Settings) -> Notifier | None:
    """The process's notifier as the settings configure it (None without a receiver), made once: every
    caller of one process with the same settings shares its queue and thread (see :func:`current`)."""
    global _current
    config = tuple(getattr(settings, name) for name in sorted(Settings.model_fields) if name.startswith("notify_"))
    targets: list[Target] = []
    if settings.notify_slack_url is not None:
        targets.append(Slack(settings.notify_slack_url))
    if settings.notify_webhook_url is not None:
        targets.append(Webhook(settings.notify_webhook_url,
                               secret_reader(settings.notify_webhook_secret, settings.notify_webhook_secret_file)))
    if not targets:
        return None
    with _CURRENT_LOCK:
        if _current is not None and _current[0] == config:
            return _current[1]
        if _current is not None:
            _current[1].close(0.1)  # other settings (tests): the old queue is not delivered any more
        made = Notifier(targets, settings.notify_events, retries=settings.notify_retries,
                        backoff_seconds=settings.notify_backoff_seconds,
                        timeout_seconds=settings.notify_timeout_seconds, queue_size=settings.notify_queue_size)
        _current = (config, made)
        return made


def current() -> Notifier | None:
    """The notifier :func:`notifier_for` made last in this process, if any."""
    return _current[1] if _current is not None else None
