"""`canary-analyzer rollout promote|abort|retry|pause|resume|undo|restart|set image|terminate`.

Each sends exactly what `kubectl argo rollouts` sends (analyzer.rollouts.actions) and prints the plugin's
one-line message (``-o json|yaml``: the object's state afterwards, as ``get`` prints it; ``-o name``); an
error is one line on stderr and exit 4 (the API said no, or cannot be reached).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Annotated

import typer

from analyzer.cli.common import (
    EXIT_USAGE,
    Context,
    Format,
    Kubeconfig,
    Namespace,
    dump,
    fail,
    out,
    parse_duration,
)
from analyzer.cli.rollout import EXPERIMENT_KIND, Name, kube_for, rollout_app, rollout_name

if TYPE_CHECKING:
    from analyzer.rollouts import Kube

set_app = typer.Typer(help="Update a Rollout: `set image ROLLOUT CONTAINER=IMAGE`.", no_args_is_help=True)
terminate_app = typer.Typer(
    help="Terminate an AnalysisRun or an Experiment: `terminate analysisrun NAME`, `terminate experiment NAME`.",
    no_args_is_help=True,
)
rollout_app.add_typer(set_app, name="set")
rollout_app.add_typer(terminate_app, name="terminate")

PluginName = Annotated[str | None, typer.Argument(hidden=True)]


def _state(kube: Kube, namespace: str, kind: str, name: str) -> dict[str, object]:
    """The object's state after an action, as `get -o json` prints it (one more GET)."""
    from analyzer.rollouts.client import ANALYSIS_RUNS, EXPERIMENTS, ROLLOUTS
    from analyzer.rollouts.status import read_analysis_run, read_experiment, read_status

    plural, read = {"rollout": (ROLLOUTS, read_status), "analysisrun": (ANALYSIS_RUNS, read_analysis_run),
                    "experiment": (EXPERIMENTS, read_experiment)}[kind]
    return read(kube.get(namespace, name, plural=plural)).model_dump(mode="json")


def _do(context: str | None, kubeconfig: str | None, namespace: str | None, done: Callable[[object], str],
        act: Callable[[Kube, str], object], target: tuple[str, str], output: Format = Format.TABLE) -> None:
    """Run one action in the namespace and print ``done(result)`` (the plugin's line), or as -o asks: the
    target's (kind, name) state afterwards for json/yaml, ``kind/name`` for name. An error: exit 4."""
    from analyzer.errors import ClusterError, InputError

    kube = kube_for(context, kubeconfig)
    where = namespace or kube.namespace
    try:
        result = act(kube, where)
        state = _state(kube, where, *target) if output in (Format.JSON, Format.YAML) else None
    except (ClusterError, InputError) as error:
        raise fail(str(error)) from None
    if state is not None:
        print(dump(state, output.value), end="")
    elif output is Format.NAME:
        print("/".join(target))
    else:
        out.print(done(result), highlight=False)


ActionOutput = Annotated[
    Format, typer.Option("--output", "-o", help="json or yaml: the state afterwards (as `get`); name; table: a line")
]


@rollout_app.command("promote")
def promote_command(
    name: Name,
    full: Annotated[bool, typer.Option("--full", help="skip the remaining steps, pauses and analysis")] = False,
    namespace: Namespace = None,
    context: Context = None,
    kubeconfig: Kubeconfig = None,
    output: ActionOutput = Format.TABLE,
) -> None:
    """Promote: lift the pause or skip the current step (--full: go straight to 100 %)."""
    from analyzer.rollouts import actions

    _do(context, kubeconfig, namespace, lambda _: f"rollout '{name}' {'fully ' if full else ''}promoted",
        lambda k, ns: actions.promote(k, ns, name, full=full), ("rollout", name), output)


def _simple(verb: str, done: str, doc: str) -> None:
    """Register `rollout VERB ROLLOUT` (also `VERB rollout ROLLOUT`, as the plugin writes `retry`)."""

    def command(name: Name, plugin_name: PluginName = None, namespace: Namespace = None, context: Context = None,
                kubeconfig: Kubeconfig = None, output: ActionOutput = Format.TABLE) -> None:
        from analyzer.rollouts import actions

        if verb == "retry" and plugin_name is not None and name in EXPERIMENT_KIND:  # `retry experiment NAME`
            experiment = plugin_name
            _do(context, kubeconfig, namespace, lambda _: f"experiment '{experiment}' retried",
                lambda k, ns: actions.retry_experiment(k, ns, experiment), ("experiment", experiment), output)
            return
        rollout = rollout_name(name, plugin_name)
        _do(context, kubeconfig, namespace, lambda _: f"rollout '{rollout}' {done}",
            lambda k, ns: getattr(actions, verb)(k, ns, rollout), ("rollout", rollout), output)

    rollout_app.command(verb, help=doc)(command)


_simple("abort", "aborted", "Abort the update: traffic and replicas go back to stable.")
_simple("retry", "retried", "Retry an aborted update from its first step (`retry rollout ROLLOUT` too); "
        "`retry experiment NAME` restarts a failed Experiment.")
_simple("pause", "paused", "Pause the Rollout (spec.paused).")
_simple("resume", "resumed",
        "Undo a `pause` (spec.paused: false). Controller pauses (steps, inconclusive analysis) need `promote`.")


@rollout_app.command("undo")
def undo_command(
    name: Name,
    to_revision: Annotated[
        int, typer.Option("--to-revision", min=0, help="the revision to go back to [default: 0, the previous one]")
    ] = 0,
    namespace: Namespace = None,
    context: Context = None,
    kubeconfig: Kubeconfig = None,
    output: ActionOutput = Format.TABLE,
) -> None:
    """Roll the pod template back to an earlier revision."""
    from analyzer.rollouts import actions

    _do(context, kubeconfig, namespace, lambda revision: f"rollout '{name}' undone to revision {revision}",
        lambda k, ns: actions.undo(k, ns, name, to_revision or None), ("rollout", name), output)


@rollout_app.command("restart")
def restart_command(
    name: Name,
    after: Annotated[str, typer.Option("--in", "-i", help="restart the pods after this long, e.g. 30s, 5m, 1h")] = "0s",
    namespace: Namespace = None,
    context: Context = None,
    kubeconfig: Kubeconfig = None,
    output: ActionOutput = Format.TABLE,
) -> None:
    """Restart the Rollout's pods (spec.restartAt)."""
    from datetime import timedelta

    from analyzer.rollouts import actions

    delay = timedelta(seconds=parse_duration(after))
    _do(context, kubeconfig, namespace, lambda at: f"rollout '{name}' restarts in {after} (at {at})",
        lambda k, ns: actions.restart(k, ns, name, delay), ("rollout", name), output)


Assignment = Annotated[
    str, typer.Argument(help="CONTAINER=IMAGE ('*' for every container)", metavar="CONTAINER=IMAGE")
]


@set_app.command("image")
@rollout_app.command("set-image", hidden=True)
def set_image_command(name: Name, assignment: Assignment, namespace: Namespace = None, context: Context = None,
                      kubeconfig: Kubeconfig = None, output: ActionOutput = Format.TABLE) -> None:
    """Set a container's image: the update that starts a canary (`set image` and `set-image` are the same)."""
    from analyzer.rollouts import actions

    container, sep, image = assignment.partition("=")
    if not sep or not container or not image:
        raise fail(f"{assignment!r} is not CONTAINER=IMAGE", EXIT_USAGE)
    _do(context, kubeconfig, namespace, lambda _: f'rollout "{name}" image updated',
        lambda k, ns: actions.set_image(k, ns, name, container, image), ("rollout", name), output)


def _terminate(kind: str, shown: str, action: str, aliases: tuple[str, ...], doc: str) -> None:
    """Register `terminate KIND NAME` (and its aliases): ``{"spec":{"terminate":true}}`` on that object."""

    def command(name: str, namespace: Namespace = None, context: Context = None, kubeconfig: Kubeconfig = None,
                output: ActionOutput = Format.TABLE) -> None:
        from analyzer.rollouts import actions

        _do(context, kubeconfig, namespace, lambda _: f"{shown} '{name}' terminated",
            lambda k, ns: getattr(actions, action)(k, ns, name), (kind.lower(), name), output)

    # an object, not a string: typer reads it as is (a string would be evaluated where `kind` is unknown)
    command.__annotations__["name"] = Annotated[str, typer.Argument(help=f"the {kind}'s name", metavar=kind.upper())]
    terminate_app.command(kind.lower(), help=doc)(command)
    for alias in aliases:
        terminate_app.command(alias, hidden=True, help=doc)(command)


_terminate("AnalysisRun", "analysisRun", "terminate_analysis_run", ("ar", "analysisruns"),
           "Stop an AnalysisRun (spec.terminate): its metrics stop measuring and it ends Successful.")
_terminate("Experiment", "experiment", "terminate_experiment", ("exp", "experiments"),
           "Stop an Experiment (spec.terminate): its ReplicaSets scale down and its analyses stop.")


from analyzer.cli import rollout_create  # noqa: E402, F401 - registers `rollout create` (after the actions, in --help)
