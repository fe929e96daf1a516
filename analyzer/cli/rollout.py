"""`canary-analyzer rollout …`: read and act on Argo Rollouts over the Kubernetes API."""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Iterator
from datetime import timedelta
from enum import StrEnum
from pathlib import Path
from typing import Annotated

import typer
import yaml
from rich.table import Table

from analyzer.cli.common import EXIT_INPUT, Context, Kubeconfig, Namespace, app, fail, out, parse_duration
from analyzer.errors import ClusterError, InputError
from analyzer.rollouts import Kube, RolloutStatus, actions, read_status
from analyzer.service.analysis import latest_judgment
from analyzer.settings import load_settings
from analyzer.store import JudgmentRecord

rollout_app = typer.Typer(
    help="Argo Rollouts control over the Kubernetes API: get, list, status, promote, abort, …",
    no_args_is_help=True,
)
app.add_typer(rollout_app, name="rollout")

Name = Annotated[str, typer.Argument(help="the Rollout's name")]


class Format(StrEnum):
    TABLE = "table"
    JSON = "json"
    YAML = "yaml"


def _kube(context: str | None, kubeconfig: str | None) -> Kube:
    try:
        return Kube(context=context, kubeconfig=kubeconfig)
    except ClusterError as error:
        raise fail(str(error)) from None


def _latest(status: RolloutStatus) -> JudgmentRecord | None:
    """The newest judgment of this canary in the ledger the settings name (none if unreadable)."""
    if not status.has_canary or status.canary_hash is None:
        return None
    try:
        settings = load_settings()
    except InputError:
        return None  # `get` works without service settings; the judgment line is then left out
    return latest_judgment(settings, status.namespace, status.name, status.canary_hash)


def _status_table(status: RolloutStatus, judgment: JudgmentRecord | None) -> Table:
    table = Table(show_header=False, box=None, pad_edge=False)
    table.add_column(style="bold")
    table.add_column()
    step = "–"
    if status.current_step is not None:
        step = f"{status.current_step}/{status.steps}" + (f" ({status.step_kind})" if status.step_kind else "")
    rows = [
        ("Name", status.name),
        ("Namespace", status.namespace),
        ("Status", f"{status.phase}" + (f" – {status.message}" if status.message else "")),
        ("Strategy", status.strategy),
        ("Step", step),
        ("SetWeight", "–" if status.set_weight is None else str(status.set_weight)),
        ("ActualWeight", "–" if status.actual_weight is None else str(status.actual_weight)),
        ("Images", ", ".join(f"{c}={i}" for c, i in status.images.items()) or "–"),
        ("Stable", status.stable_hash or "–"),
        ("Canary", status.canary_hash if status.has_canary else "–"),
        ("Paused", ", ".join(c.reason for c in status.pause_conditions) or ("user" if status.paused else "no")),
        ("Step analysis", f"{status.step_analysis.name} {status.step_analysis.phase}" if status.step_analysis else "–"),
        (
            "Background",
            f"{status.background_analysis.name} {status.background_analysis.phase}"
            if status.background_analysis
            else "–",
        ),
        ("Replicas", f"{status.ready_replicas or 0} ready / {status.replicas or 0}"),
    ]
    if judgment is not None:
        reason = (judgment.body.get("reasons") or [""])[0]
        when = f"{judgment.created_at:%H:%M:%S}"
        rows.append(("Judgment", f"{judgment.verdict} (score {judgment.score:g}, {when}) {reason}"))
    for key, value in rows:
        table.add_row(key, value)
    return table


def _emit(status: RolloutStatus, output: Format) -> None:
    if output is Format.JSON:
        print(status.model_dump_json(indent=2))
    elif output is Format.YAML:
        print(yaml.safe_dump(status.model_dump(mode="json"), sort_keys=False), end="")
    else:
        out.print(_status_table(status, _latest(status)))


def _read(kube: Kube, namespace: str, name: str) -> RolloutStatus:
    try:
        return read_status(kube.get(namespace, name))
    except ClusterError as error:
        raise fail(str(error)) from None


TERMINAL = {"Healthy", "Degraded"}


def _follow(kube: Kube, namespace: str, name: str, watch: bool, timeout: str) -> Iterator[RolloutStatus]:
    """The Rollout's status; with ``watch``, each change until Healthy, Degraded or the timeout."""
    deadline = time.monotonic() + parse_duration(timeout)
    last: RolloutStatus | None = None
    while True:
        status = _read(kube, namespace, name)
        if status != last:
            yield status
            last = status
        if not watch or status.phase in TERMINAL or time.monotonic() > deadline:
            return
        time.sleep(2)


@rollout_app.command("get")
def get_command(
    name: Name,
    namespace: Namespace = None,
    context: Context = None,
    kubeconfig: Kubeconfig = None,
    output: Annotated[Format, typer.Option("--output", "-o")] = Format.TABLE,
    watch: Annotated[bool, typer.Option("--watch", "-w", help="print again whenever it changes")] = False,
    timeout: Annotated[str, typer.Option(help="with --watch: stop after this long")] = "30m",
) -> None:
    """A Rollout's state as `kubectl argo rollouts get` shows it, plus the canary's latest judgment."""
    kube = _kube(context, kubeconfig)
    for status in _follow(kube, namespace or kube.namespace, name, watch, timeout):
        _emit(status, output)


@rollout_app.command("list")
def list_command(
    namespace: Namespace = None,
    all_namespaces: Annotated[bool, typer.Option("--all-namespaces", "-A")] = False,
    context: Context = None,
    kubeconfig: Kubeconfig = None,
    output: Annotated[Format, typer.Option("--output", "-o")] = Format.TABLE,
) -> None:
    """Rollouts of a namespace (or all of them)."""
    kube = _kube(context, kubeconfig)
    try:
        statuses = [read_status(o) for o in kube.list_objects(None if all_namespaces else namespace or kube.namespace)]
    except ClusterError as error:
        raise fail(str(error)) from None
    if output is not Format.TABLE:
        data = [s.model_dump(mode="json") for s in statuses]
        print(json.dumps(data, indent=2) if output is Format.JSON else yaml.safe_dump(data, sort_keys=False), end="\n")
        return
    columns = ["NAME", "STRATEGY", "STATUS", "STEP", "SET-WEIGHT", "CANARY", "STABLE"]
    table = Table(*(["NAMESPACE", *columns] if all_namespaces else columns), box=None, pad_edge=False)
    for s in statuses:
        step = f"{s.current_step}/{s.steps}" if s.current_step is not None else "–"
        weight = str(s.set_weight) if s.set_weight is not None else "–"
        canary = s.canary_hash if s.has_canary and s.canary_hash else "–"
        row = [s.name, s.strategy, s.phase, step, weight, canary, s.stable_hash or "–"]
        table.add_row(*([s.namespace, *row] if all_namespaces else row))
    out.print(table)


@rollout_app.command("status")
def status_command(
    name: Name,
    namespace: Namespace = None,
    context: Context = None,
    kubeconfig: Kubeconfig = None,
    watch: Annotated[bool, typer.Option("--watch", "-w", help="wait until Healthy or Degraded")] = False,
    timeout: Annotated[str, typer.Option(help="with --watch: give up after this long (exit 3)")] = "30m",
) -> None:
    """Print the phase and message; with --watch exit 0 when Healthy, 1 when Degraded, 3 at the timeout."""
    kube = _kube(context, kubeconfig)
    line = ""
    phase = ""
    for status in _follow(kube, namespace or kube.namespace, name, watch, timeout):
        phase = status.phase
        if status.phase + status.message != line:
            out.print(status.phase + (f" - {status.message}" if status.message else ""), highlight=False)
            line = status.phase + status.message
    if watch and phase not in TERMINAL:
        raise typer.Exit(3)
    raise typer.Exit(1 if watch and phase == "Degraded" else 0)


def _do(
    context: str | None, kubeconfig: str | None, namespace: str | None, done: str, act: Callable[[Kube, str], object]
) -> None:
    kube = _kube(context, kubeconfig)
    ns = namespace or kube.namespace
    try:
        result = act(kube, ns)
    except (ClusterError, InputError) as error:
        raise fail(str(error), EXIT_INPUT) from None
    out.print(done.format(result=result, ns=ns), highlight=False)


@rollout_app.command("promote")
def promote_command(
    name: Name,
    full: Annotated[bool, typer.Option("--full", help="skip the remaining steps, pauses and analysis")] = False,
    namespace: Namespace = None,
    context: Context = None,
    kubeconfig: Kubeconfig = None,
) -> None:
    """Promote: lift the pause or skip the current step (--full: go straight to 100 %)."""
    _do(context, kubeconfig, namespace, f"rollout '{name}' {'fully ' if full else ''}promoted",
        lambda k, ns: actions.promote(k, ns, name, full=full))


def _simple(verb: str, act: Callable[[Kube, str, str], None], done: str, doc: str) -> None:
    """Register `rollout VERB NAME` for an action that needs nothing but the Rollout."""

    def command(
        name: Name, namespace: Namespace = None, context: Context = None, kubeconfig: Kubeconfig = None
    ) -> None:
        _do(context, kubeconfig, namespace, f"rollout '{name}' {done}", lambda k, ns: act(k, ns, name))

    rollout_app.command(verb, help=doc)(command)


_simple("abort", actions.abort, "aborted", "Abort the update: traffic and replicas go back to stable.")
_simple("retry", actions.retry, "retried", "Retry an aborted update from its first step.")
_simple("pause", actions.pause, "paused", "Pause the Rollout (spec.paused).")
_simple(
    "resume",
    actions.resume,
    "resumed",
    "Undo a `pause` (spec.paused: false). Controller pauses (steps, inconclusive analysis) need `promote`.",
)


@rollout_app.command("undo")
def undo_command(
    name: Name,
    to_revision: Annotated[int | None, typer.Option("--to-revision", min=1, help="default: the previous one")] = None,
    namespace: Namespace = None,
    context: Context = None,
    kubeconfig: Kubeconfig = None,
) -> None:
    """Roll the pod template back to an earlier revision."""
    _do(context, kubeconfig, namespace, f"rollout '{name}' undone to revision {{result}}",
        lambda k, ns: actions.undo(k, ns, name, to_revision))


@rollout_app.command("restart")
def restart_command(
    name: Name,
    after: Annotated[str, typer.Option("--in", help="restart the pods after this long, e.g. 10s")] = "0s",
    namespace: Namespace = None,
    context: Context = None,
    kubeconfig: Kubeconfig = None,
) -> None:
    """Restart the Rollout's pods (spec.restartAt)."""
    delay = timedelta(seconds=parse_duration(after))
    _do(context, kubeconfig, namespace, f"rollout '{name}' restarts at {{result}}",
        lambda k, ns: actions.restart(k, ns, name, delay))


@rollout_app.command("set-image")
def set_image_command(
    name: Name,
    assignment: Annotated[str, typer.Argument(help="CONTAINER=IMAGE ('*' for every container)")],
    namespace: Namespace = None,
    context: Context = None,
    kubeconfig: Kubeconfig = None,
) -> None:
    """Set a container's image: the update that starts a canary."""
    container, sep, image = assignment.partition("=")
    if not sep or not container or not image:
        raise typer.BadParameter(f"{assignment!r} is not CONTAINER=IMAGE")
    _do(context, kubeconfig, namespace, f"rollout '{name}' image updated",
        lambda k, ns: actions.set_image(k, ns, name, container, image))


@rollout_app.command("reactor")
def reactor_command(
    config: Annotated[
        Path | None, typer.Option("--config", "-c", help="YAML settings file (else CANARY_ANALYZER_CONFIG)")
    ] = None,
    identity: Annotated[
        str | None, typer.Option(help="this replica's name on Leases and Events [default: $POD_NAME, the host name]")
    ] = None,
) -> None:
    """Undo annotated Rollouts whose update Argo aborted on a failed judgment, once across replicas (docs/reactor.md).

    Runs until SIGTERM or Ctrl-C. Rollouts opt in with the annotation canary-analyzer.io/on-fail: undo
    (or abort, to keep Argo's abort and only report it).
    """
    import os
    import signal
    import socket
    import threading

    from sqlalchemy.exc import SQLAlchemyError

    from analyzer.errors import ClusterError, InputError
    from analyzer.server.logs import configure
    from analyzer.service import reactor
    from analyzer.settings import load_settings

    try:
        settings = load_settings(config)
        engine = reactor.reactor_for(settings, identity or os.environ.get("POD_NAME") or socket.gethostname())
    except (InputError, ClusterError) as error:
        raise fail(str(error)) from None
    except SQLAlchemyError as error:
        raise fail(f"the database is unavailable: {type(error).__name__}") from None
    configure(settings.log_level)
    if settings.reactor_metrics_port:
        reactor.serve_http(engine, settings.host, settings.reactor_metrics_port, settings.reactor_resync_seconds)
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    try:
        reactor.run(engine, settings.reactor_namespaces, settings.reactor_resync_seconds, stop)
    except KeyboardInterrupt:
        stop.set()
