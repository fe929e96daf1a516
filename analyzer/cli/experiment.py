"""`rollout get experiment`, `rollout list experiments`, `rollout list analysisruns`: Experiments and runs, read.

As the plugin shows them (docs/rollouts.md): an Experiment's templates (one ReplicaSet each, with its
pod-template hash — the hashes an Experiment baseline judges, docs/experiment-baseline.md) and its
analyses, read from the Experiment's own status in one GET; lists with the plugin's columns. The
commands are reached through `rollout get` and `rollout list` (analyzer.cli.rollout), which own the
options, and print as analyzer.cli.rollout_views does; `terminate experiment` is with the other actions
(analyzer.cli.rollout_actions).
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import TYPE_CHECKING

from analyzer.cli.common import Format, fail, printed_as_data, show
from analyzer.cli.rollout_views import fields_table, follow, listed, print_list

if TYPE_CHECKING:
    from rich.table import Table

    from analyzer.rollouts import Kube
    from analyzer.rollouts.status import ExperimentStatus


def _age(created: str | None, now: datetime) -> str:
    """kubectl's AGE: how long ago ``created`` (RFC 3339) was; '–' without one."""
    from analyzer.rollouts.durations import human

    if not created:
        return "–"
    return human((now - datetime.fromisoformat(created.replace("Z", "+00:00"))).total_seconds())


def timing(status: ExperimentStatus, now: datetime) -> tuple[str, str]:
    """(DURATION, REMAINING) as the plugin's list shows them: '–' where none applies."""
    from analyzer.rollouts.durations import go_duration_seconds, human

    seconds = go_duration_seconds(status.duration) if status.duration else None
    if seconds is None:
        return "–", "–"
    remaining = "–"
    if not status.completed and status.available_at:
        started = datetime.fromisoformat(status.available_at.replace("Z", "+00:00"))
        left = seconds - (now - started).total_seconds()
        remaining = human(left) if left > 0 else "–"
    return human(seconds), remaining


def _read_experiment(kube: Kube, namespace: str, name: str) -> ExperimentStatus:
    from analyzer.errors import ClusterError
    from analyzer.rollouts.client import EXPERIMENTS
    from analyzer.rollouts.status import read_experiment

    try:
        return read_experiment(kube.get(namespace, name, plural=EXPERIMENTS))
    except ClusterError as error:
        raise fail(str(error)) from None


def _experiment_table(status: ExperimentStatus, now: datetime) -> Table:

    duration, remaining = timing(status, now)
    rows = [
        ("Name", status.name),
        ("Namespace", status.namespace),
        ("Status", status.phase + (f" – {status.message}" if status.message else "")
         + (" (terminated)" if status.terminated else "")),
        ("Duration", duration + (f" ({remaining} left)" if remaining != "–" else "")),
        ("Age", _age(status.created, now)),
    ]
    for i, t in enumerate(status.templates):
        ready = f"{t.ready_replicas}/{t.replicas} ready"
        rows.append(("Templates" if i == 0 else "", f"{t.name}: {t.status}, {ready}, hash {t.pod_template_hash or '–'}"
                     + (f" – {t.message}" if t.message else "") + "".join(f"\n  {image}" for image in t.images)))
    for i, a in enumerate(status.analyses):
        rows.append(("Analyses" if i == 0 else "", f"{a.name}: {a.phase}" + (f" ({a.analysis_run})" if a.analysis_run
                     else "") + (f" – {a.message}" if a.message else "")))
    return fields_table(rows)


def get_experiment(kube: Kube, namespace: str, name: str, output: Format, watch: bool, timeout: float) -> None:
    """Print an Experiment (again on every change with ``watch``, until it completes or the timeout)."""

    def read() -> ExperimentStatus:
        return _read_experiment(kube, namespace, name)

    for status in follow(read, lambda s: s.completed, watch, timeout):
        if output is Format.NAME:
            print(f"experiment/{status.name}")
        elif not printed_as_data(status.model_dump(mode="json"), output):
            show(_experiment_table(status, datetime.now(UTC)))


def list_experiments(kube: Kube, namespace: str | None, name: str | None, output: Format) -> None:
    """The plugin's `list experiments`: NAME, STATUS, DURATION, REMAINING, AGE."""
    from analyzer.rollouts.client import EXPERIMENTS
    from analyzer.rollouts.status import read_experiment

    now = datetime.now(UTC)
    statuses = [s for s in map(read_experiment, listed(kube, namespace, EXPERIMENTS)) if name in (None, s.name)]
    rows = [[s.name, s.phase, *timing(s, now), _age(s.created, now)] for s in statuses]
    print_list("experiment", statuses, output, ["NAME", "STATUS", "DURATION", "REMAINING", "AGE"], rows,
               namespace is None)


def list_analysis_runs(kube: Kube, namespace: str | None, name: str | None, output: Format) -> None:
    """AnalysisRuns (not a plugin command): NAME, STATUS, OWNER, AGE; wide adds the message."""
    from analyzer.rollouts.client import ANALYSIS_RUNS
    from analyzer.rollouts.status import read_analysis_run

    now = datetime.now(UTC)
    statuses = [s for s in map(read_analysis_run, listed(kube, namespace, ANALYSIS_RUNS)) if name in (None, s.name)]
    wide = output is Format.WIDE
    rows = [[s.name, s.phase + (" (terminated)" if s.terminated else ""), s.owner or "–", _age(s.created, now)]
            + ([s.message or "–"] if wide else []) for s in statuses]
    columns = ["NAME", "STATUS", "OWNER", "AGE"] + (["MESSAGE"] if wide else [])
    print_list("analysisrun", statuses, output, columns, rows, namespace is None)
