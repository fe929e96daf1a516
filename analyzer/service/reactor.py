"""The reactor: undo an update that Argo aborted because one of our judgments failed — once, on one replica.

Argo answers a fail by aborting: traffic goes back to stable, but the bad pod template stays in the
Rollout's spec (phase Degraded) until someone runs ``kubectl argo rollouts undo``. The reactor does
that step for Rollouts that opt in with the annotation ``canary-analyzer.io/on-fail``:

- ``undo``: the plugin-exact undo (:func:`analyzer.rollouts.actions.undo`) to the revision of
  ``status.stableRS`` — the last one that passed its analysis and was promoted, not merely the
  previous revision (which may be another aborted one) — unless a GitOps tool owns the Rollout:
  then it refuses, because Git would put the bad template back (docs/reactor.md says what to do);
- ``abort``: Argo's abort is kept; the failure is only reported.

For every incident (one aborted update: revision and canary hash) exactly one replica — the one whose
claim of the Rollout's Lease the API server accepted (:mod:`analyzer.rollouts.leases`) — re-reads the
Rollout, acts, posts the Events (the failure, then the undo or the refusal), appends the audit entry
with the judgment and its report link, counts it in ``canary_analyzer_reactor_actions_total``, logs
it and records the outcome on the Lease. Rollouts without the annotation are never touched.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, cast
from wsgiref.simple_server import WSGIRequestHandler, make_server

from prometheus_client import Counter, make_wsgi_app
from sqlalchemy.exc import SQLAlchemyError

from analyzer.errors import ClusterError
from analyzer.rollouts import Kube, actions, events
from analyzer.rollouts.client import ANALYSIS_RUNS, WATCH_READ_SLACK
from analyzer.rollouts.incidents import (
    GITOPS_MARKERS,
    AbortedUpdate,
    FailedJudgment,
    OnFail,
    aborted_update,
    failed_judgment,
    gitops_owner,
    on_fail,
)
from analyzer.rollouts.leases import Claims
from analyzer.settings import Settings
from analyzer.store.db import Database
from analyzer.store.judgments import get_judgment
from analyzer.store.ledger import append_audit, writing

log = logging.getLogger("canary_analyzer.reactor")

ACTIONS = Counter(
    "canary_analyzer_reactor_actions_total",
    "Aborted updates the reactor handled, by outcome (undone, refused, abort_kept, undo_failed)",
    ["outcome"],
)
ERRORS = Counter(
    "canary_analyzer_reactor_errors_total", "Reactor steps that failed, by cause (cluster, store, events)", ["cause"]
)
RETRY_SECONDS = 5.0  # after a failed watch, before the next one


@dataclass(frozen=True)
class Outcome:
    """What the reactor did about an incident: ``undone``, ``refused``, ``abort_kept``, ``undo_failed``, ``gone``."""

    action: str
    detail: str
    revision: int | None = None


@dataclass
class Reactor:
    kube: Kube
    database: Database
    identity: str
    gitops_markers: Sequence[str] = tuple(GITOPS_MARKERS)
    lease_seconds: int = 60
    clock: Callable[[], datetime] = field(default=lambda: datetime.now(UTC))
    settled: dict[str, str] = field(default_factory=dict)  # Rollout uid -> the incident this process is done with
    progress: dict[str, float] = field(default_factory=dict)  # watched namespace -> monotonic time of its last step

    def __post_init__(self) -> None:
        self.claims = Claims(self.kube, self.identity, self.lease_seconds, self.clock)

    def handle(self, obj: dict[str, Any]) -> Outcome | None:
        """React to one Rollout as the API (or a watch) returned it; None when there was nothing to do."""
        policy = on_fail(obj)
        update = aborted_update(obj) if policy is not None else None
        if policy is None or update is None or self.settled.get(update.uid) == update.key:
            return None
        selector = f"{actions.POD_TEMPLATE_HASH}={update.canary_hash}"
        failed = failed_judgment(update, self.kube.list_objects(update.namespace, ANALYSIS_RUNS, selector))
        if failed is None:  # aborted by a person, by an analysis error, or by another provider: not ours to undo
            self.settled[update.uid] = update.key
            return None
        claim = self.claims.claim(update)
        if claim.settled:
            self.settled[update.uid] = update.key
        if claim.lease is None:
            return None
        fresh = self.kube.get(update.namespace, update.rollout)
        now_update, policy = aborted_update(fresh), on_fail(fresh)
        if policy is None or now_update is None or now_update.key != update.key:
            outcome = Outcome("gone", "re-read, it was no longer opted in, or no longer aborted at this update")
        else:
            outcome = self._react(policy, fresh, update, failed)
            self._audit(update, failed, outcome)
            ACTIONS.labels(outcome.action).inc()
        self.claims.finish(claim.lease, f"{outcome.action}: {outcome.detail}")
        self.settled[update.uid] = update.key
        fields = {"namespace": update.namespace, "rollout": update.rollout, "incident": update.key,
                  "outcome": outcome.action, "judgment": failed.judgment_id, "report": failed.report}
        log.log(logging.INFO if outcome.action in ("undone", "abort_kept", "gone") else logging.WARNING,
                "%s/%s: %s", update.namespace, update.rollout, outcome.detail, extra={"fields": fields})
        return outcome

    def _event(self, obj: dict[str, Any], warning: bool, reason: str, message: str) -> None:
        """Post an Event; one that cannot be posted is logged and counted, and the audit entry still written."""
        try:
            events.record(self.kube, obj, warning, reason, message, self.identity, self.clock())
        except ClusterError as error:
            ERRORS.labels("events").inc()
            log.error("event %s on %s/%s not posted: %s", reason, obj["metadata"].get("namespace"),
                      obj["metadata"].get("name"), error)

    def _react(self, policy: OnFail, obj: dict[str, Any], update: AbortedUpdate, failed: FailedJudgment) -> Outcome:
        report = f"; report {failed.report}" if failed.report else ""
        self._event(obj, True, events.ANALYSIS_FAILED,
                    f"AnalysisRun {failed.analysis_run} failed on judgment {failed.judgment_id}: {failed.reason}"
                    f"{report}")
        if policy is OnFail.ABORT:
            return Outcome("abort_kept", f"revision {update.revision} stays aborted (on-fail: abort)")
        owner = gitops_owner(obj, self.gitops_markers)
        if owner is not None:
            detail = (f"not undone: managed by {owner}; Git would put the failed template back, so revert the change"
                      " in Git (docs/reactor.md)")
            self._event(obj, True, events.UNDO_REFUSED, detail)
            return Outcome("refused", detail)
        try:
            revision = actions.undo(self.kube, update.namespace, update.rollout, to_pod_hash=update.stable_hash)
        except ClusterError as error:
            detail = f"undo of revision {update.revision} failed: {error}"
            self._event(obj, True, events.UNDO_FAILED, detail)
            return Outcome("undo_failed", detail)
        detail = (f"undone to revision {revision} (stable {update.stable_hash}, the last that passed) after judgment"
                  f" {failed.judgment_id} failed revision {update.revision}: {failed.reason}{report}")
        self._event(obj, False, events.UNDONE, detail)
        return Outcome("undone", detail, revision)

    def _audit(self, update: AbortedUpdate, failed: FailedJudgment, outcome: Outcome) -> None:
        """One audit entry per incident, with the judgment that caused it (checked against the ledger)."""
        data = {
            "namespace": update.namespace,
            "rollout": update.rollout,
            "revision": update.revision,
            "canary_hash": update.canary_hash,
            "stable_hash": update.stable_hash,
            "analysis_run": failed.analysis_run,
            "judgment_id": failed.judgment_id,
            "report": failed.report,
            "to_revision": outcome.revision,
            "detail": outcome.detail,
        }
        try:
            with writing(self.database) as session:
                record = get_judgment(session, failed.judgment_id) if failed.judgment_id else None
                data["judgment_recorded"] = record is not None and record.key.canary_hash == update.canary_hash
                append_audit(session, self.clock(), f"reactor:{self.identity}", f"rollout.{outcome.action}",
                             reason=failed.reason, data=data)
        except SQLAlchemyError as error:
            ERRORS.labels("store").inc()
            log.error("audit entry for %s/%s not written: %s", update.namespace, update.rollout, error,
                      extra={"fields": data})

    def _safely(self, obj: dict[str, Any]) -> None:
        try:
            self.handle(obj)
        except ClusterError as error:
            ERRORS.labels("cluster").inc()
            meta = obj.get("metadata", {})
            log.error("%s/%s: %s", meta.get("namespace"), meta.get("name"), error)

    def follow(self, namespace: str | None, resync_seconds: int, stop: threading.Event) -> None:
        """Watch one namespace (None: all) until ``stop``: every Rollout on each (re)start, then each change."""
        where = namespace or ""
        while not stop.is_set():
            self.progress[where] = time.monotonic()
            try:
                for kind, obj in self.kube.watch(namespace, resync_seconds):
                    self.progress[where] = time.monotonic()
                    if stop.is_set():
                        return
                    if kind in ("ADDED", "MODIFIED"):
                        self._safely(obj)
            except ClusterError as error:
                ERRORS.labels("cluster").inc()
                log.error("watch of %s: %s", namespace or "all namespaces", error)
                stop.wait(RETRY_SECONDS)


def reactor_for(settings: Settings, identity: str) -> Reactor:
    """The reactor the settings describe (its ledger migrated, as the service's is)."""
    database = Database(settings.database_url)
    database.migrate()
    markers = settings.reactor_gitops_markers
    return Reactor(Kube(settings.kube_context, settings.kubeconfig), database, identity,
                   gitops_markers=tuple(GITOPS_MARKERS) if markers is None else tuple(markers),
                   lease_seconds=settings.reactor_lease_seconds)


def run(reactor: Reactor, namespaces: Sequence[str], resync_seconds: int, stop: threading.Event) -> None:
    """Follow each namespace (none given: the whole cluster) in its own thread until ``stop`` is set."""
    targets: list[str | None] = [*namespaces] or [None]
    threads = [
        threading.Thread(target=reactor.follow, args=(ns, resync_seconds, stop), name=f"reactor-{ns or 'all'}",
                         daemon=True)
        for ns in targets
    ]
    for thread in threads:
        thread.start()
    stop.wait()


def health_app(reactor: Reactor, resync_seconds: int) -> Callable[..., Any]:
    """WSGI: ``/metrics``; ``/healthz`` 503 once a watch loop has made no step for longer than a watch can last
    (it hangs: a restart helps); ``/readyz`` always 200 — the reactor's readiness must not take the judge it
    shares a pod with out of its Service."""
    metrics = make_wsgi_app()
    stalled_after = resync_seconds + 2 * WATCH_READ_SLACK + RETRY_SECONDS

    def app(environ: dict[str, Any], start_response: Callable[..., Any]) -> list[bytes]:
        path = environ.get("PATH_INFO", "")
        if path == "/healthz":
            now = time.monotonic()
            stalled = sorted(ns or "all namespaces" for ns, t in reactor.progress.items() if now - t > stalled_after)
            status = "503 Service Unavailable" if stalled or not reactor.progress else "200 OK"
            body = f"stalled: {', '.join(stalled)}" if stalled else "ok" if reactor.progress else "not started"
            start_response(status, [("Content-Type", "text/plain")])
            return [body.encode()]
        if path == "/readyz":
            start_response("200 OK", [("Content-Type", "text/plain")])
            return [b"ok"]
        return cast(list[bytes], metrics(environ, start_response))

    return app


class _Quiet(WSGIRequestHandler):
    def log_message(self, format: str, *args: Any) -> None:
        """Probes and scrapes are not news."""


def serve_http(reactor: Reactor, host: str, port: int, resync_seconds: int) -> None:
    """Serve :func:`health_app` on ``host:port`` from a daemon thread."""
    server = make_server(host, port, health_app(reactor, resync_seconds), handler_class=_Quiet)
    threading.Thread(target=server.serve_forever, name="reactor-http", daemon=True).start()
