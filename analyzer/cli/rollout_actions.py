"""`canary-analyzer rollout promote|abort|retry|pause|resume|undo|restart|set image|terminate`.

Each sends exactly what `kubectl argo rollouts` sends (analyzer.rollouts.actions) and prints the plugin's
one-line message; an error is one line on stderr and exit 4 (the API said no, or cannot be reached).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Annotated

import typer

from analyzer.cli.common import EXIT_USAGE, Context, Kubeconfig, Namespace, fail, out, parse_duration
from analyzer.cli.rollout import Name, kube_for, rollout_app, rollout_name

if TYPE_CHECKING:
    from analyzer.rollouts import Kube

set_app = typer.Typer(help="Update a Rollout: `set image ROLLOUT CONTAINER=IMAGE`.", no_args_is_help=True)
terminate_app = typer.Typer(help="Terminate an AnalysisRun: `terminate analysisrun NAME`.", no_args_is_help=True)
rollout_app.add_typer(set_app, name="set")
rollout_app.add_typer(terminate_app, name="terminate")

PluginName = Annotated[str | None, typer.Argument(hidden=True)]


def _do(context: str | None, kubeconfig: str | None, namespace: str | None, done: Callable[[object], str],
        act: Callable[[Kube, str], object]) -> None:
    """Run one action in the namespace; print ``done(result)``, or the error and exit 4."""
    from analyzer.errors import ClusterError, InputError

    kube = kube_for(context, kubeconfig)
    try:
        result = act(kube, namespace or kube.namespace)
    except (ClusterError, InputError) as error:
        raise fail(str(error)) from None
    out.print(done(result), highlight=False)


@rollout_app.command("promote")
def promote_command(
    name: Name,
    full: Annotated[bool, typer.Option("--full", help="skip the remaining steps, pauses and analysis")] = False,
    namespace: Namespace = None,
    context: Context = None,
    kubeconfig: Kubeconfig = None,
) -> None:
    """Promote: lift the pause or skip the current step (--full: go straight to 100 %)."""
    from analyzer.rollouts import actions

    _do(context, kubeconfig, namespace, lambda _: f"rollout '{name}' {'fully ' if full else ''}promoted",
        lambda k, ns: actions.promote(k, ns, name, full=full))


def _simple(verb: str, done: str, doc: str) -> None:
    """Register `rollout VERB ROLLOUT` (also `VERB rollout ROLLOUT`, as the plugin writes `retry`)."""

    def command(name: Name, plugin_name: PluginName = None, namespace: Namespace = None, context: Context = None,
                kubeconfig: Kubeconfig = None) -> None:
        from analyzer.rollouts import actions

        rollout = rollout_name(name, plugin_name)
        _do(context, kubeconfig, namespace, lambda _: f"rollout '{rollout}' {done}",
            lambda k, ns: getattr(actions, verb)(k, ns, rollout))

    rollout_app.command(verb, help=doc)(command)


_simple("abort", "aborted", "Abort the update: traffic and replicas go back to stable.")
_simple("retry", "retried", "Retry an aborted update from its first step (`retry rollout ROLLOUT` too).")
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
) -> None:
    """Roll the pod template back to an earlier revision."""
    from analyzer.rollouts import actions

    _do(context, kubeconfig, namespace, lambda revision: f"rollout '{name}' undone to revision {revision}",
        lambda k, ns: actions.undo(k, ns, name, to_revision or None))


@rollout_app.command("restart")
def restart_command(
    name: Name,
    after: Annotated[str, typer.Option("--in", "-i", help="restart the pods after this long, e.g. 30s, 5m, 1h")] = "0s",
    namespace: Namespace = None,
    context: Context = None,
    kubeconfig: Kubeconfig = None,
) -> None:
    """Restart the Rollout's pods (spec.restartAt)."""
    from datetime import timedelta

    from analyzer.rollouts import actions

    delay = timedelta(seconds=parse_duration(after))
    _do(context, kubeconfig, namespace, lambda at: f"rollout '{name}' restarts in {after} (at {at})",
        lambda k, ns: actions.restart(k, ns, name, delay))


Assignment = Annotated[
    str, typer.Argument(help="CONTAINER=IMAGE ('*' for every container)", metavar="CONTAINER=IMAGE")
]


@set_app.command("image")
@rollout_app.command("set-image", hidden=True)
def set_image_command(name: Name, assignment: Assignment, namespace: Namespace = None, context: Context = None,
                      kubeconfig: Kubeconfig = None) -> None:
    """Set a container's image: the update that starts a canary (`set image` and `set-image` are the same)."""
    from analyzer.rollouts import actions

    container, sep, image = assignment.partition("=")
    if not sep or not container or not image:
        raise fail(f"{assignment!r} is not CONTAINER=IMAGE", EXIT_USAGE)
    _do(context, kubeconfig, namespace, lambda _: f'rollout "{name}" image updated',
        lambda k, ns: actions.set_image(k, ns, name, container, image))


@terminate_app.command("analysisrun")
def terminate_analysis_run_command(
    name: Annotated[str, typer.Argument(help="the AnalysisRun's name", metavar="ANALYSISRUN")],
    namespace: Namespace = None,
    context: Context = None,
    kubeconfig: Kubeconfig = None,
) -> None:
    """Stop an AnalysisRun (spec.terminate): its metrics stop measuring and it ends Successful."""
    from analyzer.rollouts import actions

    _do(context, kubeconfig, namespace, lambda _: f"analysisRun '{name}' terminated",
        lambda k, ns: actions.terminate_analysis_run(k, ns, name))


for alias in ("ar", "analysisruns"):
    terminate_app.command(alias, hidden=True)(terminate_analysis_run_command)
