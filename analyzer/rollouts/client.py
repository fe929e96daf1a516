"""A thin typed door to the Kubernetes API for Rollouts, AnalysisRuns and ReplicaSets (and, for the
reactor, the Leases and Events it writes).

Every call goes through :func:`_translated`, which turns the client's exceptions into
:class:`~analyzer.errors.ClusterError` with a message that names the object, the verb and the
cause (not found, forbidden, conflict, unreachable), or re-raises :class:`NotFound` where a caller
has a fallback (the status subresource of an old CRD).
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any, cast

import urllib3
from kubernetes import client, config, watch
from kubernetes.client.exceptions import ApiException
from kubernetes.config.config_exception import ConfigException

from analyzer.errors import ClusterError

GROUP, VERSION = "argoproj.io", "v1alpha1"
ROLLOUTS, ANALYSIS_RUNS, EXPERIMENTS = "rollouts", "analysisruns", "experiments"
#: The Argo kinds `create` sends: kind -> (plural, namespaced).
KINDS = {
    "Rollout": (ROLLOUTS, True),
    "AnalysisTemplate": ("analysistemplates", True),
    "ClusterAnalysisTemplate": ("clusteranalysistemplates", False),
    "AnalysisRun": (ANALYSIS_RUNS, True),
    "Experiment": (EXPERIMENTS, True),
}
REQUEST_TIMEOUT = (5.0, 20.0)  # connect, read (seconds)
SERVICE_ACCOUNT_NAMESPACE = "/var/run/secrets/kubernetes.io/serviceaccount/namespace"
#: Sent with every create and full update, as client-go does; the generated client sets no Content-Type there.
JSON_BODY = {"Content-Type": "application/json"}
WATCH_READ_SLACK = 30.0  # seconds a watch may stay silent past its server-side timeout before we give up on it


class NotFound(ClusterError):  # noqa: N818 - reads as the HTTP status it is
    """404: the object, or the subresource, does not exist."""


class Conflict(ClusterError):  # noqa: N818
    """409: the object changed since it was read."""


def _reason(error: ApiException) -> str:
    try:
        return str(json.loads(error.body or "{}").get("message") or error.reason)
    except ValueError:
        return str(error.reason)


@contextmanager
def _translated(verb: str, what: str, context: str | None) -> Iterator[None]:
    where = f" (context {context})" if context else ""
    try:
        yield
    except ApiException as error:
        if error.status == 404:
            raise NotFound(f"{what} not found{where}") from None
        if error.status == 409 and verb == "create":
            raise Conflict(f"{what} already exists{where}") from None
        if error.status == 409:
            raise Conflict(f"{what} was changed by someone else while we {verb} it: {_reason(error)}") from None
        if error.status == 403:
            raise ClusterError(f"forbidden: these credentials may not {verb} {what}{where}: {_reason(error)}") from None
        if error.status == 401:
            raise ClusterError(f"unauthorized: the Kubernetes API refused these credentials{where}") from None
        failed = f"the Kubernetes API failed to {verb} {what}: HTTP {error.status} {_reason(error)}"
        raise ClusterError(failed) from None
    except (urllib3.exceptions.HTTPError, OSError) as error:
        raise ClusterError(f"cannot reach the Kubernetes API{where} to {verb} {what}: {type(error).__name__}") from None


class Kube:
    """The API client for one kubeconfig context (or the in-cluster service account)."""

    def __init__(self, context: str | None = None, kubeconfig: str | None = None) -> None:
        self.context = context
        self.namespace = "default"  # of the kubeconfig context, or of the in-cluster service account
        configuration = client.Configuration()
        try:
            config.load_kube_config(  # type: ignore[no-untyped-call]
                config_file=kubeconfig, context=context, client_configuration=configuration
            )
            contexts, active = config.list_kube_config_contexts(config_file=kubeconfig)  # type: ignore[no-untyped-call]
            chosen = next((c for c in contexts if c["name"] == context), active) if context else active
            self.namespace = (chosen or {}).get("context", {}).get("namespace") or "default"
        except (ConfigException, OSError) as kube_error:
            if context or kubeconfig:
                raise ClusterError(f"kubeconfig: {kube_error}") from None
            try:
                config.load_incluster_config(client_configuration=configuration)  # type: ignore[no-untyped-call]
                self.namespace = Path(SERVICE_ACCOUNT_NAMESPACE).read_text().strip() or "default"
            except (ConfigException, OSError):
                raise ClusterError(
                    f"no Kubernetes credentials: no usable kubeconfig ({kube_error}) and not inside a cluster"
                ) from None
        self.api = client.ApiClient(configuration)
        self.custom = client.CustomObjectsApi(self.api)
        self.apps = client.AppsV1Api(self.api)
        self.core = client.CoreV1Api(self.api)
        self.coordination = client.CoordinationV1Api(self.api)

    def _t(self, verb: str, what: str) -> Any:
        return _translated(verb, what, self.context)

    def get(self, namespace: str, name: str, plural: str = ROLLOUTS) -> dict[str, Any]:
        with self._t("get", f"{plural} {namespace}/{name}"):
            obj = self.custom.get_namespaced_custom_object(
                GROUP, VERSION, namespace, plural, name, _request_timeout=REQUEST_TIMEOUT
            )
        return cast(dict[str, Any], obj)

    def get_cluster(self, name: str, plural: str) -> dict[str, Any]:
        """A cluster-scoped Argo object (a ClusterAnalysisTemplate)."""
        with self._t("get", f"{plural} {name}"):
            obj = self.custom.get_cluster_custom_object(GROUP, VERSION, plural, name, _request_timeout=REQUEST_TIMEOUT)
        return cast(dict[str, Any], obj)

    def list_objects(
        self, namespace: str | None, plural: str = ROLLOUTS, selector: str | None = None
    ) -> list[dict[str, Any]]:
        """Objects of a namespace (None: all namespaces), only those matching the label ``selector`` if given."""
        options: dict[str, Any] = {"_request_timeout": REQUEST_TIMEOUT}
        if selector:
            options["label_selector"] = selector
        with self._t("list", f"{plural} in {namespace or 'all namespaces'}"):
            if namespace is None:
                answer = self.custom.list_cluster_custom_object(GROUP, VERSION, plural, **options)
            else:
                answer = self.custom.list_namespaced_custom_object(GROUP, VERSION, namespace, plural, **options)
        return cast(list[dict[str, Any]], cast(dict[str, Any], answer).get("items", []))

    def watch(self, namespace: str | None, timeout_seconds: int) -> Iterator[tuple[str, dict[str, Any]]]:
        """(event type, Rollout) as they change, starting with every existing one as ``ADDED``.

        No resourceVersion is sent, so the API server begins with the current state of every object
        ("get state and start at most recent"): each new watch is also a full resync. The stream ends
        after ``timeout_seconds`` (the server's timeout; the read timeout is a little longer).
        """
        options: dict[str, Any] = {
            "timeout_seconds": timeout_seconds,
            "_request_timeout": (REQUEST_TIMEOUT[0], timeout_seconds + WATCH_READ_SLACK),
        }
        stream = watch.Watch()  # type: ignore[no-untyped-call]
        with self._t("watch", f"{ROLLOUTS} in {namespace or 'all namespaces'}"):
            if namespace is None:
                events = stream.stream(  # type: ignore[no-untyped-call]
                    self.custom.list_cluster_custom_object, GROUP, VERSION, ROLLOUTS, **options
                )
            else:
                events = stream.stream(  # type: ignore[no-untyped-call]
                    self.custom.list_namespaced_custom_object, GROUP, VERSION, namespace, ROLLOUTS, **options
                )
            for event in events:
                yield str(event["type"]), cast(dict[str, Any], event["object"])

    def create(self, obj: dict[str, Any], namespace: str) -> dict[str, Any]:
        """POST an Argo object (a kind of :data:`KINDS`) to its collection; returns what the API stored."""
        plural, namespaced = KINDS[obj["kind"]]
        meta = obj.get("metadata") or {}
        name = meta.get("name") or f"{meta.get('generateName', '')}*"
        with self._t("create", f"{plural} {namespace + '/' if namespaced else ''}{name}"):
            if namespaced:
                answer = self.custom.create_namespaced_custom_object(
                    GROUP, VERSION, namespace, plural, obj, _headers=JSON_BODY, _request_timeout=REQUEST_TIMEOUT
                )
            else:
                answer = self.custom.create_cluster_custom_object(
                    GROUP, VERSION, plural, obj, _headers=JSON_BODY, _request_timeout=REQUEST_TIMEOUT
                )
        return cast(dict[str, Any], answer)

    def merge_patch(
        self, namespace: str, name: str, body: dict[str, Any], plural: str = ROLLOUTS, status: bool = False
    ) -> None:
        """A JSON merge patch (``application/merge-patch+json``), on the status subresource if asked."""
        target = f"{plural} {namespace}/{name}" + ("/status" if status else "")
        with self._t("patch", target):
            if status:
                self.custom.patch_namespaced_custom_object_status(
                    GROUP, VERSION, namespace, plural, name, body, _request_timeout=REQUEST_TIMEOUT
                )
            else:
                self.custom.patch_namespaced_custom_object(
                    GROUP, VERSION, namespace, plural, name, body, _request_timeout=REQUEST_TIMEOUT
                )

    def json_patch(self, namespace: str, name: str, operations: list[dict[str, Any]], plural: str = ROLLOUTS) -> None:
        """An RFC 6902 JSON patch (``application/json-patch+json``)."""
        with self._t("patch", f"{plural} {namespace}/{name}"):
            self.custom.patch_namespaced_custom_object(
                GROUP,
                VERSION,
                namespace,
                plural,
                name,
                operations,
                _content_type="application/json-patch+json",
                _request_timeout=REQUEST_TIMEOUT,
            )

    def replace(self, namespace: str, name: str, obj: dict[str, Any], plural: str = ROLLOUTS) -> None:
        """A full update (PUT); the object's resourceVersion guards against lost updates."""
        with self._t("update", f"{plural} {namespace}/{name}"):
            self.custom.replace_namespaced_custom_object(
                GROUP,
                VERSION,
                namespace,
                plural,
                name,
                obj,
                _headers=JSON_BODY,
                _request_timeout=REQUEST_TIMEOUT,
            )

    def replica_sets(self, namespace: str, selector: str) -> list[dict[str, Any]]:
        with self._t("list", f"replicasets in {namespace}"):
            answer = self.apps.list_namespaced_replica_set(
                namespace, label_selector=selector, _request_timeout=REQUEST_TIMEOUT
            )
        items: list[dict[str, Any]] = self._plain(answer).get("items", [])
        return items

    def lease(self, namespace: str, name: str) -> dict[str, Any] | None:
        """A coordination.k8s.io/v1 Lease as plain JSON, or None when there is none."""
        try:
            with self._t("get", f"leases {namespace}/{name}"):
                answer = self.coordination.read_namespaced_lease(name, namespace, _request_timeout=REQUEST_TIMEOUT)
        except NotFound:
            return None
        return self._plain(answer)

    def create_lease(self, namespace: str, lease: dict[str, Any]) -> dict[str, Any]:
        """Create a Lease; :class:`Conflict` when one of that name exists."""
        with self._t("create", f"leases {namespace}/{lease['metadata']['name']}"):
            answer = self.coordination.create_namespaced_lease(
                namespace, cast(Any, lease), _headers=JSON_BODY, _request_timeout=REQUEST_TIMEOUT
            )
        return self._plain(answer)

    def replace_lease(self, namespace: str, lease: dict[str, Any]) -> dict[str, Any]:
        """Update a Lease (PUT); :class:`Conflict` when its resourceVersion is no longer the stored one."""
        name = lease["metadata"]["name"]
        with self._t("update", f"leases {namespace}/{name}"):
            answer = self.coordination.replace_namespaced_lease(
                name, namespace, cast(Any, lease), _headers=JSON_BODY, _request_timeout=REQUEST_TIMEOUT
            )
        return self._plain(answer)

    def create_event(self, namespace: str, event: dict[str, Any]) -> None:
        """Create a core/v1 Event (what ``kubectl describe`` and ``kubectl get events`` show)."""
        with self._t("create", f"events in {namespace}"):
            self.core.create_namespaced_event(
                namespace, cast(Any, event), _headers=JSON_BODY, _request_timeout=REQUEST_TIMEOUT
            )

    def _plain(self, answer: Any) -> dict[str, Any]:
        plain: dict[str, Any] = self.api.sanitize_for_serialization(answer)  # type: ignore[no-untyped-call]
        return plain
