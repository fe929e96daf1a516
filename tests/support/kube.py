"""An HTTP-level Kubernetes API for the tests: kmock's emulator, taught what our calls need.

No API server can run here, so the official ``kubernetes`` client talks over HTTP to
``kmock.KubernetesEmulator`` (objects in memory, every request recorded). kmock merges every PATCH
as a dict and does not serve PUT; this subclass adds RFC 6902 JSON patches, PUT with
``resourceVersion`` checks (409 on a stale one), optional injected conflicts, and a switch that
removes the status subresource (as on old Rollout CRDs) so that fallbacks can be tested. Creates are
answered 201 and a ``generateName`` is completed (with a counter, not random characters), as an API
server does.

With ``bookkeeping`` on it also keeps versions as an API server does: ``resourceVersion`` set on
create and bumped on every write (so a PUT with a stale one gets 409), ``metadata.generation``
bumped when the spec changes, RFC 7386 merge patches, and watch events for every write. The
reactor's tests use it; Leases and core Events are served too.
"""

from __future__ import annotations

import asyncio
import copy
import json
import threading
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import aiohttp.web
import attrs
import jsonpatch
import kmock

VERBS = {"get", "list", "watch", "create", "update", "patch", "delete"}


def _method(request: Any) -> str:
    return str(request.method.value if hasattr(request.method, "value") else request.method).upper()


def _status(code: int, reason: str, message: str) -> aiohttp.web.Response:
    body = {"apiVersion": "v1", "kind": "Status", "metadata": {}, "status": "Failure", "code": code,
            "reason": reason, "message": message}
    return aiohttp.web.json_response(body, status=code)


@attrs.define(kw_only=True)
class ArgoEmulator(kmock.KubernetesEmulator):
    status_subresource: bool = True
    conflicts: int = 0  # the next N PUTs answer 409
    forbidden: set[str] = attrs.field(factory=set)  # HTTP methods answered 403
    bookkeeping: bool = False  # resourceVersion, generation, merge patches and watch events as an API server
    generated: int = 0  # names completed from generateName so far

    async def _handle(self, request: Any) -> aiohttp.web.StreamResponse:
        meta = request.data.get("metadata") if _method(request) == "POST" and isinstance(request.data, dict) else None
        if isinstance(meta, dict) and meta.get("generateName") and not meta.get("name"):
            self.generated += 1  # the API server completes generateName with 5 random characters
            meta["name"] = f"{meta['generateName']}{self.generated:05d}"
        if self.bookkeeping and request.resource is not None:
            kept = await self._bookkept(request)
            if kept is not None:
                return kept
        if request.resource is not None and request.name and request.namespace:
            method = str(request.method.value if hasattr(request.method, "value") else request.method).upper()
            if method in self.forbidden:
                return _status(403, "Forbidden", f'rollouts.argoproj.io "{request.name}" is forbidden: User '
                               f'"system:serviceaccount:ci:deployer" cannot {method.lower()} resource')
            if request.subresource == "status" and not self.status_subresource:
                return _status(404, "NotFound", "the server could not find the requested resource")
            key = (request.resource, request.namespace, request.name)
            if method == "PUT":
                return await self._put(key, request)
            if method == "PATCH" and "json-patch" in request.headers.get("Content-Type", ""):
                return await self._json_patch(key, request)
        response = await super()._handle(request)
        if request.resource is not None and _method(request) == "POST" and response.status == 200:
            response.set_status(201, "Created")  # an API server's answer to a create (clients expect it)
        return response

    def _current(self, key: Any) -> Any:
        if key not in self._objects or self._objects[key].deleted:
            return None
        return self._objects[key]

    def _store(self, key: Any, new: dict[str, Any]) -> dict[str, Any]:
        obj = self._objects[key]
        version = int(obj.raw.get("metadata", {}).get("resourceVersion", "0") or 0) + 1
        new.setdefault("metadata", {})["resourceVersion"] = str(version)
        if self.bookkeeping and new.get("spec") != obj.raw.get("spec"):
            new["metadata"]["generation"] = int(obj.raw.get("metadata", {}).get("generation", 1)) + 1
        obj.delete()
        obj.create(new)
        return new

    async def _put(self, key: Any, request: Any) -> aiohttp.web.StreamResponse:
        async with self._lock:
            current = self._current(key)
            if current is None:
                return _status(404, "NotFound", f'"{request.name}" not found')
            sent = request.data.get("metadata", {}).get("resourceVersion")
            stored = current.raw.get("metadata", {}).get("resourceVersion")
            if self.conflicts > 0 or (sent and stored and sent != stored):
                self.conflicts = max(self.conflicts - 1, 0)
                return _status(409, "Conflict", "the object has been modified; please apply your changes to the "
                               "latest version and try again")
            stored = self._store(key, copy.deepcopy(request.data))
            await self._announce(key, stored)
            return aiohttp.web.json_response(stored)

    async def _json_patch(self, key: Any, request: Any) -> aiohttp.web.StreamResponse:
        async with self._lock:
            current = self._current(key)
            if current is None:
                return _status(404, "NotFound", f'"{request.name}" not found')
            patched = jsonpatch.apply_patch(copy.deepcopy(current.raw), json.loads(request.body))
            stored = self._store(key, patched)
            await self._announce(key, stored)
            return aiohttp.web.json_response(stored)

    async def _bookkept(self, request: Any) -> aiohttp.web.StreamResponse | None:
        """With bookkeeping: version a created object; apply a merge patch ourselves. None: not ours to answer."""
        method = str(request.method.value if hasattr(request.method, "value") else request.method).upper()
        if method == "POST" and isinstance(request.data, dict):
            meta = request.data.setdefault("metadata", {})
            meta.setdefault("resourceVersion", "1")
            meta.setdefault("generation", 1)
        if method == "PATCH" and request.name and "merge-patch" in request.headers.get("Content-Type", ""):
            key = (request.resource, request.namespace, request.name)
            async with self._lock:
                current = self._current(key)
                if current is None:
                    return _status(404, "NotFound", f'"{request.name}" not found')
                stored = self._store(key, _merged(copy.deepcopy(current.raw), json.loads(request.body)))
                await self._announce(key, stored)
                return aiohttp.web.json_response(stored)
        return None

    async def _announce(self, key: Any, stored: dict[str, Any]) -> None:
        """With bookkeeping, tell watchers of a PUT or patch (kmock announces only its own writes)."""
        if self.bookkeeping:
            await self._buses[key[0]].put({"type": "MODIFIED", "object": copy.deepcopy(stored)})


def _merged(target: Any, patch: Any) -> Any:
    """RFC 7386: objects merge key by key, null deletes, anything else replaces."""
    if not isinstance(patch, dict):
        return copy.deepcopy(patch)
    merged = dict(target) if isinstance(target, dict) else {}
    for key, value in patch.items():
        if value is None:
            merged.pop(key, None)
        else:
            merged[key] = _merged(merged.get(key), value)
    return merged


@dataclass
class Cluster:
    emulator: ArgoEmulator
    url: str
    kubeconfig: Path
    loop: asyncio.AbstractEventLoop

    def calls(self) -> list[tuple[str, str, str, Any]]:
        """(method, path, content type, JSON body) of every request so far, discovery excluded."""
        out = []
        for r in list(self.emulator._requests):
            method = str(r.method.value if hasattr(r.method, "value") else r.method).upper()
            body = json.loads(r.body) if r.body else None
            out.append((method, r.url.path, r.headers.get("Content-Type", "").split(";")[0], body))
        return out

    def queries(self) -> list[tuple[str, str, dict[str, str]]]:
        """(method, path, query parameters) of every request so far."""
        out = []
        for r in list(self.emulator._requests):
            method = str(r.method.value if hasattr(r.method, "value") else r.method).upper()
            out.append((method, r.url.path, dict(r.url.query)))
        return out

    def objects(self, plural: str, namespace: str) -> list[dict[str, Any]]:
        """Every stored object of a kind in a namespace."""
        return [
            copy.deepcopy(value.raw)
            for (resource, ns, _), value in self.emulator._objects.items()
            if (resource.plural, ns) == (plural, namespace) and not value.deleted
        ]

    def forget_calls(self) -> None:
        self.emulator._requests.clear()

    def obj(self, plural: str, namespace: str, name: str) -> dict[str, Any]:
        for (resource, ns, n), value in self.emulator._objects.items():
            if (resource.plural, ns, n) == (plural, namespace, name) and not value.deleted:
                return copy.deepcopy(value.raw)
        raise KeyError((plural, namespace, name))

    def _setup(self, method: str, path: str, body: Any = None, content_type: str = "application/json") -> None:
        """A request made as a test setup step, then forgotten."""
        data = json.dumps(body).encode() if body is not None else None
        req = urllib.request.Request(self.url + path, data=data, method=method, headers={"Content-Type": content_type})
        urllib.request.urlopen(req).read()
        self.forget_calls()

    def put(self, path: str, obj: dict[str, Any]) -> None:
        """Create an object (POST to its collection)."""
        self._setup("POST", path, obj)

    def patch(self, path: str, body: dict[str, Any]) -> None:
        self._setup("PATCH", path, body, "application/merge-patch+json")

    def delete(self, path: str) -> None:
        self._setup("DELETE", path)


def _declare(emulator: ArgoEmulator) -> None:
    emulator.resources["argoproj.io/v1alpha1/rollouts"] = kmock.ResourceInfo(
        kind="Rollout", singular="rollout", namespaced=True, verbs=VERBS, subresources={"status", "scale"},
        shortnames={"ro"},
    )
    emulator.resources["argoproj.io/v1alpha1/analysisruns"] = kmock.ResourceInfo(
        kind="AnalysisRun", singular="analysisrun", namespaced=True, verbs=VERBS, shortnames={"ar"},
    )
    for kind, plural, namespaced in (("Experiment", "experiments", True),
                                     ("AnalysisTemplate", "analysistemplates", True),
                                     ("ClusterAnalysisTemplate", "clusteranalysistemplates", False)):
        emulator.resources[f"argoproj.io/v1alpha1/{plural}"] = kmock.ResourceInfo(
            kind=kind, singular=kind.lower(), namespaced=namespaced, verbs=VERBS,
        )
    emulator.resources["apps/v1/replicasets"] = kmock.ResourceInfo(
        kind="ReplicaSet", singular="replicaset", namespaced=True, verbs=VERBS, subresources={"status", "scale"},
        shortnames={"rs"},
    )
    emulator.resources["coordination.k8s.io/v1/leases"] = kmock.ResourceInfo(
        kind="Lease", singular="lease", namespaced=True, verbs=VERBS,
    )
    emulator.resources["v1/events"] = kmock.ResourceInfo(
        kind="Event", singular="event", namespaced=True, verbs=VERBS, shortnames={"ev"},
    )


@contextmanager
def cluster(workdir: Path, namespace: str = "shop") -> Iterator[Cluster]:
    """The emulator on a loopback port in its own thread, and a kubeconfig that points at it."""
    loop = asyncio.new_event_loop()
    ready = threading.Event()
    state: dict[str, Any] = {}
    stop = asyncio.Event()

    async def serve() -> None:
        async with ArgoEmulator() as emulator, kmock.Server(emulator) as server:
            _declare(emulator)
            state.update(emulator=emulator, url=str(server.url).rstrip("/"))
            ready.set()
            await stop.wait()

    thread = threading.Thread(target=lambda: loop.run_until_complete(serve()), daemon=True)
    thread.start()
    if not ready.wait(10):
        raise RuntimeError("the Kubernetes API emulator did not start")
    kubeconfig = workdir / "kubeconfig"
    kubeconfig.write_text(
        "apiVersion: v1\nkind: Config\n"
        f"clusters: [{{name: emulator, cluster: {{server: '{state['url']}'}}}}]\n"
        "users: [{name: ci, user: {token: ci-token}}]\n"
        f"contexts: [{{name: emulator, context: {{cluster: emulator, user: ci, namespace: {namespace}}}}}]\n"
        "current-context: emulator\n"
    )
    try:
        yield Cluster(state["emulator"], state["url"], kubeconfig, loop)
    finally:
        loop.call_soon_threadsafe(stop.set)
        thread.join(timeout=10)
