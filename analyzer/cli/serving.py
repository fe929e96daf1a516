"""Service commands: run the Argo Rollouts metric provider, export a past canary from Prometheus."""

from __future__ import annotations

import os
import shutil
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from enum import StrEnum
from pathlib import Path
from typing import Annotated

import typer

from analyzer.cli.common import EXIT_USAGE, Config, OutputFile, app, dump, err, fail, write

#: prometheus-client's multiprocess mode: where each process writes its metric values.
MULTIPROC_ENV = "PROMETHEUS_MULTIPROC_DIR"


class MeasurementFormat(StrEnum):
    JSON = "json"
    YAML = "yaml"


@app.command("serve")
def serve_command(
    config: Config = None,
    host: Annotated[str | None, typer.Option(help="listen address [settings: host, 0.0.0.0]")] = None,
    port: Annotated[int | None, typer.Option(help="listen port [settings: port, 8080]")] = None,
    workers: Annotated[int, typer.Option(min=1, max=16, help="uvicorn worker processes")] = 1,
    insecure_no_auth: Annotated[bool, typer.Option(
        "--insecure-no-auth", "--insecure",
        help="start without any token: anonymous callers judge and read (never in production)",
    )] = False,
) -> None:
    """Run the Argo Rollouts metric provider (FastAPI on uvicorn). Settings: docs/operations.md.

    Without a token (``api_tokens`` or ``token create``) it refuses to start (exit 4): nothing is open by default."""
    # Taken before anything imports prometheus-client, which reads it once: this process writes no metric
    # files, and each start's workers get a directory of their own inside it (see worker_metrics).
    metrics_dir = os.environ.pop(MULTIPROC_ENV, None) or None
    import uvicorn
    from sqlalchemy.exc import SQLAlchemyError

    from analyzer.errors import InputError
    from analyzer.server.auth import refuse_open
    from analyzer.service.analysis import check_settings
    from analyzer.settings import load_settings
    from analyzer.store import Database

    if config is not None:
        os.environ["CANARY_ANALYZER_CONFIG"] = str(config)
    if insecure_no_auth:
        os.environ["CANARY_ANALYZER_INSECURE_NO_AUTH"] = "true"  # the workers read their settings again
    try:
        settings = load_settings()
        check_settings(settings)  # bad profiles or database URL: a message here, not a worker's traceback
        database = Database(settings.database_url)
        # Once, here, before any worker starts: workers migrating a fresh SQLite file at once race on
        # alembic_version ("table alembic_version already exists"); each worker then finds the schema current.
        database.migrate()
        if not settings.insecure_no_auth and not settings.api_tokens:
            refuse_open(settings, database)
        elif settings.insecure_no_auth:
            err.print("[bold red]insecure_no_auth: requests without a token are served[/]")
        database.dispose()
    except InputError as error:
        raise fail(str(error)) from None
    except SQLAlchemyError as error:  # the ledger could not be migrated or read for the token check
        raise fail(f"database: {type(error).__name__}: {str(error).splitlines()[0]}") from None
    with worker_metrics(workers, metrics_dir):
        uvicorn.run(
            "analyzer.server.asgi:app",
            factory=True,
            host=host or settings.host,
            port=port or settings.port,
            workers=workers,
            log_config=None,
            access_log=False,
            http="analyzer.server.nodelay:H11NoDelayProtocol",
        )


@contextmanager
def worker_metrics(workers: int, parent: str | None) -> Iterator[None]:
    """With several workers, their counters go to files in a directory of this start's own
    (prometheus-client's multiprocess mode), which ``/metrics`` adds up whichever worker answers.

    A new directory per start, inside ``parent`` (``$PROMETHEUS_MULTIPROC_DIR``) when set, else in the
    temporary directory: an emptyDir survives a container restart, and the last start's counts must not
    be added again. It is removed when serving ends. One worker keeps its metrics in memory."""
    if workers == 1:
        yield
        return
    if parent is not None:
        Path(parent).mkdir(parents=True, exist_ok=True)
    directory = tempfile.mkdtemp(prefix="canary-analyzer-metrics-", dir=parent)
    os.environ[MULTIPROC_ENV] = directory  # the workers are new interpreters: they read it at import
    try:
        yield
    finally:
        shutil.rmtree(directory, ignore_errors=True)
        os.environ.pop(MULTIPROC_ENV, None)


@app.command("export")
def export_command(
    namespace: Annotated[str, typer.Option("--namespace", "-n", help="the Rollout's namespace")],
    rollout: Annotated[str, typer.Option(help="the Rollout's name")],
    canary: Annotated[str, typer.Option(help="canary pod-template hash")],
    stable: Annotated[str, typer.Option(help="stable pod-template hash")],
    start: Annotated[datetime, typer.Option("--from", help="start (ISO 8601; UTC unless an offset is given)")],
    end: Annotated[datetime, typer.Option("--to", help="end (ISO 8601)")],
    profile: Annotated[str, typer.Option("--profile", "-p", help="query profile")] = "http",
    config: Config = None,
    output: Annotated[MeasurementFormat, typer.Option("--output", "-o", help="json or yaml")] = MeasurementFormat.JSON,
    output_file: OutputFile = None,
) -> None:
    """Write a measurement file from Prometheus for a canary/stable pair, to re-judge it offline."""
    from pydantic import ValidationError

    from analyzer.errors import InputError, SourceUnavailableError, describe
    from analyzer.service.export import export_measurement
    from analyzer.settings import load_settings
    from analyzer.sources.queries import Target

    try:
        target = Target(namespace=namespace, rollout=rollout, canary=canary, stable=stable)
    except ValidationError as error:
        raise fail(describe(error, "arguments"), EXIT_USAGE) from None
    try:
        measurement = export_measurement(
            load_settings(config), profile, target, _utc(start), _utc(end)
        )
    except (InputError, SourceUnavailableError) as error:
        raise fail(str(error)) from None
    write(dump(measurement.model_dump(mode="json"), output.value), output_file)
    err.print(f"{max((m.steps for m in measurement.metrics.values()), default=0)} steps", highlight=False)


def _utc(moment: datetime) -> datetime:
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)
