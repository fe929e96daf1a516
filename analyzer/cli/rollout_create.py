"""`canary-analyzer rollout create -f FILE` and `rollout create analysisrun`, as the plugin's `create`.

Documents are checked against their CRD's structural schema (analyzer.rollouts.lint) before anything is
sent; each is then POSTed to its collection (analyzer.rollouts.actions.create), and named as kubectl names
it: ``rollout.argoproj.io/checkout created``. `create analysisrun` makes an AnalysisRun of an
AnalysisTemplate (or, with --global, a ClusterAnalysisTemplate) from the cluster or a file.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from analyzer.cli.common import EXIT_USAGE, Context, Format, Kubeconfig, Namespace, dump, err, fail, out
from analyzer.cli.rollout import Output, kube_for, rollout_app

if TYPE_CHECKING:
    from analyzer.rollouts import Kube

create_app = typer.Typer(invoke_without_command=True)  # its help is create_command's docstring
rollout_app.add_typer(create_app, name="create")


@create_app.callback()
def create_command(
    ctx: typer.Context,
    files: Annotated[
        list[Path] | None,
        typer.Option("--filename", "-f", exists=True, dir_okay=False, metavar="FILE",
                     help="YAML or JSON manifest to create (repeatable; every document in it)"),
    ] = None,
    namespace: Namespace = None,
    context: Context = None,
    kubeconfig: Kubeconfig = None,
    output: Output = Format.TABLE,
    watch: Annotated[
        bool, typer.Option("--watch", "-w", help="then follow the Rollout or Experiment as `get --watch` does")
    ] = False,
) -> None:
    """Create Rollouts, AnalysisTemplates, ClusterAnalysisTemplates, AnalysisRuns or Experiments from files.

    Every document is checked against its CRD's schema first; when one fails, nothing is sent. Objects go
    to their own metadata.namespace, else to -n (ClusterAnalysisTemplates to the cluster). Prints
    `rollout.argoproj.io/NAME created` per object; -o json|yaml prints what the API stored, -o name the names.
    `create analysisrun` makes an AnalysisRun of a template.
    """
    if ctx.invoked_subcommand is not None:
        return
    if not files:
        raise fail("create needs -f FILE (or: create analysisrun --from TEMPLATE)", EXIT_USAGE)
    _create_files(files, namespace, context, kubeconfig, output, watch)


def _create_files(files: list[Path], namespace: str | None, context: str | None, kubeconfig: str | None,
                  output: Format, watch: bool) -> None:
    from analyzer.errors import ClusterError
    from analyzer.rollouts import actions
    from analyzer.rollouts.client import KINDS
    from analyzer.rollouts.lint import SCHEMA_FILES, Finding, read_documents, schema_problems
    from analyzer.rollouts.lint_rules import Problem

    documents, findings = [], []
    for path in files:
        docs, unreadable = read_documents(path)
        documents += docs
        findings += unreadable
    for doc in documents:
        if doc.kind not in SCHEMA_FILES or not str(doc.body.get("apiVersion", "")).startswith("argoproj.io/"):
            unsupported = Problem("kind", f"only {', '.join(KINDS)} can be created here",
                                  f"{doc.body.get('apiVersion')}/{doc.kind}")
            findings.append(Finding(doc.source, doc.label, unsupported))
        else:
            findings += [Finding(doc.source, doc.label, p) for p in schema_problems(doc)]
    if findings:
        for finding in findings:
            err.print(str(finding), highlight=False, soft_wrap=True)
        raise fail(f"nothing created: {len(findings)} problem(s) in the files")
    if not documents:
        raise fail("nothing to create: the files hold no objects", EXIT_USAGE)
    if watch and (len(documents) > 1 or documents[0].kind not in ("Rollout", "Experiment")):
        raise fail("--watch follows one Rollout or one Experiment" + (": these files hold several objects"
                                                                      if len(documents) > 1 else ""), EXIT_USAGE)
    kube = kube_for(context, kubeconfig)
    created = []
    for doc in documents:
        try:
            stored = actions.create(kube, namespace or kube.namespace, doc.body)
        except ClusterError as error:
            raise fail(str(error)) from None
        created.append(stored)
        if output in (Format.TABLE, Format.WIDE):
            out.print(f"{_resource(stored)} created", highlight=False)
    _print_created(created, output)
    if watch:
        _follow_created(kube, created[0], output)


def _follow_created(kube: Kube, obj: dict[str, Any], output: Format) -> None:
    """`create -w`: `get --watch` of what was just created, until it settles (no timeout, as the plugin)."""
    from analyzer.cli.experiment import get_experiment
    from analyzer.cli.rollout import get_rollout

    meta = obj.get("metadata") or {}
    follow = get_rollout if obj.get("kind") == "Rollout" else get_experiment
    follow(kube, str(meta.get("namespace", "")), str(meta.get("name", "")), output, True, 0.0)


def _print_created(created: list[dict[str, Any]], output: Format) -> None:
    """After the lines: -o name the resources, -o json|yaml what the API stored (a List for several)."""
    if output is Format.NAME:
        for stored in created:
            print(_resource(stored))
    elif output in (Format.JSON, Format.YAML):
        listed = {"apiVersion": "v1", "kind": "List", "items": created}  # several objects: kubectl's List
        print(dump(created[0] if len(created) == 1 else listed, output.value), end="")


def _resource(obj: dict[str, object]) -> str:
    """``rollout.argoproj.io/checkout``: the kind's singular and group, and the name, as kubectl prints them."""
    meta = obj.get("metadata")
    name = meta.get("name", "") if isinstance(meta, dict) else ""
    return f"{str(obj.get('kind', '')).lower()}.argoproj.io/{name}"


@create_app.command("analysisrun")
def create_analysis_run_command(
    template: Annotated[str | None, typer.Option("--from", metavar="TEMPLATE",
                                                 help="the AnalysisTemplate (--global: ClusterAnalysisTemplate) "
                                                      "in the cluster")] = None,
    from_file: Annotated[Path | None, typer.Option("--from-file", exists=True, dir_okay=False, metavar="FILE",
                                                   help="the template from a local file instead")] = None,
    cluster: Annotated[bool, typer.Option("--global", help="the template is a ClusterAnalysisTemplate")] = False,
    name: Annotated[str | None, typer.Option("--name", help="the run's name")] = None,
    generate_name: Annotated[
        str | None, typer.Option("--generate-name", help="a name prefix the API completes [default: TEMPLATE-]")
    ] = None,
    arguments: Annotated[list[str] | None, typer.Option(
        "--argument", "-a", metavar="NAME=VALUE", help="a value for an argument the template declares (repeatable)",
    )] = None,
    instance_id: Annotated[str | None, typer.Option("--instance-id", help="the Argo controller instance to run it")]
    = None,
    namespace: Namespace = None,
    context: Context = None,
    kubeconfig: Kubeconfig = None,
    output: Output = Format.TABLE,
) -> None:
    """Create an AnalysisRun from an AnalysisTemplate or ClusterAnalysisTemplate (the plugin's form).

    Exactly one of --from and --from-file. Prints `analysisrun.argoproj.io/NAME created`.
    """
    from analyzer.errors import ClusterError, InputError
    from analyzer.rollouts import actions
    from analyzer.rollouts.lint import read_documents

    if (template is None) == (from_file is None):
        raise fail("one of --from or --from-file must be specified", EXIT_USAGE)
    values: dict[str, str] = {}
    for assignment in arguments or []:
        key, sep, value = assignment.partition("=")
        if not sep or not key:
            raise fail(f"{assignment!r}: arguments must be in the form NAME=VALUE", EXIT_USAGE)
        values[key] = value
    kind = "ClusterAnalysisTemplate" if cluster else "AnalysisTemplate"
    kube = kube_for(context, kubeconfig)
    where = namespace or kube.namespace
    try:
        if from_file is not None:
            documents, findings = read_documents(from_file)
            found = [d.body for d in documents if d.kind == kind]
            if findings or not found:
                raise InputError(f"{from_file} holds no {kind}" + (f": {findings[0]}" if findings else ""))
            source = found[0]
        else:
            source = actions.analysis_template(kube, where, str(template), cluster)
        run = actions.analysis_run_from(source, values, where, name, generate_name, instance_id)
        stored = actions.create(kube, where, run)
    except (ClusterError, InputError) as error:
        raise fail(str(error)) from None
    if output in (Format.TABLE, Format.WIDE):
        out.print(f"{_resource(stored)} created", highlight=False)
    _print_created([stored], output)


create_app.command("ar", hidden=True)(create_analysis_run_command)
