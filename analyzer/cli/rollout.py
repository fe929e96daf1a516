"""`canary-analyzer rollout …`: read Argo Rollouts over the Kubernetes API, as the kubectl plugin does.

The verbs, flags, messages and exit codes follow `kubectl argo rollouts` (docs/rollouts.md has the table
and the few differences); this module has the group and the read commands (`get`, `list`, `status`),
``rollout_actions`` the commands that change a Rollout.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from analyzer.cli.common import (
    EXIT_USAGE,
    Context,
    Format,
    Kubeconfig,
    Namespace,
    app,
    err,
    fail,
    out,
    parse_duration,
    printed_as_data,
    show,
    version_text,
)
from analyzer.cli.rollout_views import fields_table, follow, listed, print_list, watch_changes

if TYPE_CHECKING:
    from rich.table import Table

    from analyzer.rollouts import Kube, RolloutStatus
    from analyzer.store import JudgmentRecord

rollout_app = typer.Typer(
    help="Argo Rollouts over the Kubernetes API, as `kubectl argo rollouts`: get, list, status, promote, abort, …",
    no_args_is_help=True,
)
app.add_typer(rollout_app, name="rollout")

Name = Annotated[str, typer.Argument(help="the Rollout's name", metavar="ROLLOUT")]
Output = Annotated[Format, typer.Option("--output", "-o", help="table, wide, json, yaml or name")]
#: The plugin's spellings of the kind, accepted before the name: `get rollout NAME`, `retry ro NAME`.
ROLLOUT_KIND = frozenset({"rollout", "rollouts", "ro"})
EXPERIMENT_KIND = frozenset({"experiment", "experiments", "exp"})
ANALYSIS_RUN_KIND = frozenset({"analysisrun", "analysisruns", "ar"})
def kube_for(context: str | None, kubeconfig: str | None) -> Kube:
    """The Kubernetes client for the kubeconfig (or the pod's service account); exit 4 when there is none."""
    from analyzer.errors import ClusterError
    from analyzer.rollouts import Kube

    try:
        return Kube(context=context, kubeconfig=kubeconfig)
    except ClusterError as error:
        raise fail(str(error)) from None


def rollout_name(first: str, second: str | None) -> str:
    """NAME, or the plugin's `rollout NAME`; any other kind is a usage error."""
    if second is None:
        return first
    if first not in ROLLOUT_KIND:
        raise fail(f"{first!r}: only Rollouts are supported here (rollout NAME, or NAME)", EXIT_USAGE)
    return second


def _latest(status: RolloutStatus) -> JudgmentRecord | None:
    """The newest judgment of this canary in the ledger the settings name (none if unreadable)."""
    from analyzer.errors import InputError
    from analyzer.service.analysis import latest_judgment
    from analyzer.settings import load_settings

    if not status.has_canary or status.canary_hash is None:
        return None
    try:
        settings = load_settings()
    except InputError:
        return None  # `get` works without service settings; the judgment line is then left out
    return latest_judgment(settings, status.namespace, status.name, status.canary_hash)


def step_text(status: RolloutStatus) -> str:
    """The current canary step counted from 1, with its kind: '2/6 (pause)'; '6/6 (done)' after the last."""
    if status.current_step is None:
        return "–"
    if status.current_step >= status.steps:
        return f"{status.steps}/{status.steps} (done)"
    return f"{status.current_step + 1}/{status.steps}" + (f" ({status.step_kind})" if status.step_kind else "")


def _status_table(status: RolloutStatus, judgment: JudgmentRecord | None) -> Table:
    rows = [
        ("Name", status.name),
        ("Namespace", status.namespace),
        ("Status", f"{status.phase}" + (f" – {status.message}" if status.message else "")),
        ("Strategy", status.strategy),
        ("Step", step_text(status)),
        ("SetWeight", "–" if status.set_weight is None else str(status.set_weight)),
        ("ActualWeight", "–" if status.actual_weight is None else str(status.actual_weight)),
        ("Images", "\n".join(f"{c}={i}" for c, i in status.images.items()) or "–"),
        ("Stable", status.stable_hash or "–"),
        ("Canary", status.canary_hash if status.has_canary and status.canary_hash else "–"),
        ("Paused", ", ".join(c.reason for c in status.pause_conditions) or ("user" if status.paused else "no")),
        ("Step analysis", f"{status.step_analysis.name} {status.step_analysis.phase}" if status.step_analysis else "–"),
        ("Background", f"{status.background_analysis.name} {status.background_analysis.phase}"
         if status.background_analysis else "–"),
        ("Replicas", f"{status.ready_replicas or 0} ready / {status.replicas or 0}"),
    ]
    if judgment is not None:
        reason = (judgment.body.get("reasons") or [""])[0]
        when = f"{judgment.created_at:%H:%M:%S}"
        rows.append(("Judgment", f"{judgment.verdict} (score {judgment.score:g}, {when}) {reason}"))
    return fields_table(rows)


def _read(kube: Kube, namespace: str, name: str) -> RolloutStatus:
    from analyzer.errors import ClusterError
    from analyzer.rollouts import read_status

    try:
        return read_status(kube.get(namespace, name))
    except ClusterError as error:
        raise fail(str(error)) from None


TERMINAL = {"Healthy", "Degraded"}


def _follow(kube: Kube, namespace: str, name: str, watch: bool, timeout: float) -> Iterator[RolloutStatus]:
    """The Rollout's status; with ``watch``, each change until Healthy, Degraded or the timeout (0: none)."""
    return follow(lambda: _read(kube, namespace, name), lambda s: s.phase in TERMINAL, watch, timeout)


@rollout_app.command("get")
def get_command(
    name: Annotated[
        str, typer.Argument(help="ROLLOUT, `rollout ROLLOUT` as the plugin writes it, or `experiment NAME`",
                            metavar="[rollout|experiment] NAME")
    ],
    plugin_name: Annotated[str | None, typer.Argument(hidden=True)] = None,
    namespace: Namespace = None,
    context: Context = None,
    kubeconfig: Kubeconfig = None,
    output: Output = Format.TABLE,
    watch: Annotated[bool, typer.Option("--watch", "-w", help="print again whenever it changes")] = False,
    timeout: Annotated[
        str, typer.Option("--timeout", "-t", metavar="DURATION", help="with --watch: stop after this long (0: never)")
    ] = "0",
) -> None:
    """A Rollout's state as `kubectl argo rollouts get rollout` shows it, plus the canary's latest judgment.

    `get experiment NAME` shows an Experiment: its templates' ReplicaSets and its analyses.
    """
    kube = kube_for(context, kubeconfig)
    if name in EXPERIMENT_KIND and plugin_name is not None:
        from analyzer.cli.experiment import get_experiment

        get_experiment(kube, namespace or kube.namespace, plugin_name, output, watch, parse_duration(timeout))
        return
    get_rollout(kube, namespace or kube.namespace, rollout_name(name, plugin_name), output, watch,
                parse_duration(timeout))


def get_rollout(kube: Kube, namespace: str, name: str, output: Format, watch: bool, timeout: float) -> None:
    """Print a Rollout (again on every change with ``watch``, until Healthy, Degraded or the timeout)."""
    for status in _follow(kube, namespace, name, watch, timeout):
        if output is Format.NAME:
            print(f"rollout/{status.name}")
        elif not printed_as_data(status.model_dump(mode="json"), output):
            show(_status_table(status, _latest(status)))


@rollout_app.command("list")
def list_command(
    kind: Annotated[
        str | None,
        typer.Argument(help="rollouts (the default), experiments or analysisruns",
                       metavar="[rollouts|experiments|analysisruns]"),
    ] = None,
    namespace: Namespace = None,
    all_namespaces: Annotated[bool, typer.Option("--all-namespaces", "-A", help="every namespace")] = False,
    name: Annotated[str | None, typer.Option("--name", help="only the object of this name")] = None,
    watch: Annotated[bool, typer.Option("--watch", "-w", help="rollouts: then a line whenever one changes")] = False,
    timestamps: Annotated[bool, typer.Option("--timestamps", help="with --watch: the time before each change")] = (
        False
    ),
    timeout: Annotated[
        str, typer.Option("--timeout", "-t", metavar="DURATION", help="with --watch: stop after this long (0: never)")
    ] = "0",
    context: Context = None,
    kubeconfig: Kubeconfig = None,
    output: Output = Format.TABLE,
) -> None:
    """Rollouts (or Experiments, or AnalysisRuns) of a namespace, or of all of them, one line each."""
    if kind is not None and kind not in ROLLOUT_KIND | EXPERIMENT_KIND | ANALYSIS_RUN_KIND:
        raise fail(f"{kind!r}: list rollouts, experiments or analysisruns", EXIT_USAGE)
    if watch and (kind not in (None, *ROLLOUT_KIND) or output not in (Format.TABLE, Format.WIDE)):
        raise fail("--watch lists rollouts as a table (-o table or wide)", EXIT_USAGE)
    kube = kube_for(context, kubeconfig)
    if kind in EXPERIMENT_KIND | ANALYSIS_RUN_KIND:
        from analyzer.cli.experiment import list_analysis_runs, list_experiments

        lister = list_experiments if kind in EXPERIMENT_KIND else list_analysis_runs
        lister(kube, None if all_namespaces else namespace or kube.namespace, name, output)
        return
    scope = None if all_namespaces else namespace or kube.namespace
    wide = output is Format.WIDE
    statuses = _listed_rollouts(kube, scope, name)
    columns = ["NAME", "STRATEGY", "STATUS", "STEP", "SET-WEIGHT"] + (["CANARY", "STABLE"] if wide else [])
    rows = [_rollout_row(s, wide) for s in statuses]
    print_list("rollout", statuses, output, columns, rows, all_namespaces)
    if watch:
        seen = {(s.namespace, s.name): row for s, row in zip(statuses, rows, strict=True)}
        for status, row in watch_changes(lambda: _listed_rollouts(kube, scope, name), lambda s: _rollout_row(s, wide),
                                         seen, parse_duration(timeout)):
            cells = [status.namespace, *row] if all_namespaces else row
            print("  ".join([_now_text(), *cells] if timestamps else cells), flush=True)


def _listed_rollouts(kube: Kube, namespace: str | None, name: str | None) -> list[RolloutStatus]:
    from analyzer.rollouts import read_status
    from analyzer.rollouts.client import ROLLOUTS

    return [s for s in map(read_status, listed(kube, namespace, ROLLOUTS)) if name is None or s.name == name]


def _rollout_row(s: RolloutStatus, wide: bool) -> list[str]:
    """One Rollout's line of `list`: name, strategy, status, step, weight (and both hashes, wide)."""
    row = [s.name, s.strategy, s.phase, step_text(s).split(" ")[0], "–" if s.set_weight is None else str(s.set_weight)]
    return row + ([s.canary_hash if s.has_canary and s.canary_hash else "–", s.stable_hash or "–"] if wide else [])


def _now_text() -> str:
    from datetime import UTC, datetime

    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


@rollout_app.command("status")
def status_command(
    name: Name,
    namespace: Namespace = None,
    context: Context = None,
    kubeconfig: Kubeconfig = None,
    watch: Annotated[bool, typer.Option("--watch/--no-watch", "-w", help="wait until Healthy or Degraded")] = True,
    timeout: Annotated[
        str, typer.Option("--timeout", "-t", metavar="DURATION", help="give up watching after this long (0: never)")
    ] = "0",
) -> None:
    """Watch the Rollout until Healthy (exit 0) or Degraded (exit 1); the timeout exits 1 too. --no-watch: once."""
    kube = kube_for(context, kubeconfig)
    status = None
    for status in _follow(kube, namespace or kube.namespace, name, watch, parse_duration(timeout)):
        quiet = not watch and status.phase in TERMINAL  # as the plugin: no message for a settled Rollout
        out.print(status.phase + (f" - {status.message}" if status.message and not quiet else ""), highlight=False)
    assert status is not None  # _follow yields at least once, or exits
    if status.phase == "Degraded":
        raise fail(f"the rollout is in a degraded state with message: {status.message}", 1)
    if watch and status.phase != "Healthy":
        raise fail("rollout status watch exceeded timeout", 1)


@rollout_app.command("lint")
def lint_command(
    files: Annotated[
        list[Path] | None,
        typer.Argument(exists=True, dir_okay=False, metavar="FILE",
                       help="YAML or JSON manifests, linted together (a Rollout may use a template of another)"),
    ] = None,
    filename: Annotated[
        list[Path] | None,
        typer.Option("--filename", "-f", exists=True, dir_okay=False, metavar="FILE",
                     help="a manifest, as the plugin takes it (repeatable)"),
    ] = None,
    output: Output = Format.TABLE,
) -> None:
    """Lint Rollout manifests: the CRD schema, Argo's Rollout rules, and references within the files.

    Silent and exit 0 when clean; otherwise one line per problem (file, object, field, what is wrong) and
    exit 1, as `kubectl argo rollouts lint`. -o json|yaml lists the problems as records, -o name the objects.
    """
    from analyzer.rollouts.lint import lint_files

    paths = [*(files or []), *(filename or [])]
    if not paths:
        raise fail("lint needs a FILE (or -f FILE)", EXIT_USAGE)
    documents, findings = lint_files(paths)
    if printed_as_data([f.as_dict() for f in findings], output):
        pass
    elif output is Format.NAME:
        for label in dict.fromkeys(f.object for f in findings):
            print(label)
    else:
        for finding in findings:
            out.print(str(finding), highlight=False, soft_wrap=True)
    if not any(d.kind == "Rollout" for d in documents) and not findings:
        err.print(f"note: no Rollout in {', '.join(map(str, paths))}: only the Argo objects' schemas were checked",
                  highlight=False)
    if findings:
        raise fail(f"{len(findings)} problem(s) in {', '.join(map(str, paths))}", 1)


@rollout_app.command("version")
def version_command(
    short: Annotated[bool, typer.Option("--short", help="print just the version number")] = False,
) -> None:
    """Print the version (the plugin's `version`; `canary-analyzer --version` says the same)."""
    print(version_text().split(" ")[1] if short else version_text())


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
