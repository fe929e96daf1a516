"""How the `rollout` commands print: kubectl-style lists and objects that fit 80 columns, and watching.

Shared by the Rollout commands (analyzer.cli.rollout) and the Experiment/AnalysisRun ones
(analyzer.cli.experiment): a list folds names and messages rather than cutting them, an object is a
two-column field table, ``follow`` re-reads until a state settles (``get --watch``, ``status``), and
``watch_changes`` reports the lines of a list that change (``list --watch``).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator, Sequence
from typing import TYPE_CHECKING, Any, Protocol, TypeVar

from analyzer.cli.common import Format, err, fail, printed_as_data, show

if TYPE_CHECKING:
    from rich.table import Table

    from analyzer.rollouts import Kube

T = TypeVar("T")


class Listed(Protocol):
    """What a list shows of a status: its name, its namespace, and the record for -o json."""

    name: str
    namespace: str

    def model_dump(self, *, mode: str) -> dict[str, Any]: ...


#: How often ``follow`` and ``watch_changes`` read again (the plugin watches; re-reading keeps this stateless).
POLL_SECONDS = 2.0
#: List columns that hold free-length text: they fold onto more lines at 80 columns; the others never wrap.
FOLDING = frozenset({"NAMESPACE", "NAME", "OWNER", "MESSAGE"})


def list_table(columns: list[str]) -> Table:
    """A kubectl-style list (no box) that fits 80 columns by folding names and messages, never cutting them."""
    from rich.table import Table

    table = Table(box=None, pad_edge=False)
    for column in columns:
        table.add_column(column, overflow="fold", no_wrap=column not in FOLDING)
    return table


def listed(kube: Kube, namespace: str | None, plural: str) -> list[dict[str, Any]]:
    """The objects of a kind in a namespace (None: every namespace); exit 4 when the API says no."""
    from analyzer.errors import ClusterError

    try:
        return kube.list_objects(namespace, plural=plural)
    except ClusterError as error:
        raise fail(str(error)) from None


def print_list(kind: str, statuses: Sequence[Listed], output: Format, columns: list[str], rows: list[list[str]],
               all_namespaces: bool) -> None:
    """A list as -o asks: the records (json, yaml), ``kind/name`` lines, or the table (with NAMESPACE first
    for -A); an empty table is "No resources found." on stderr, as kubectl says it."""
    if printed_as_data([s.model_dump(mode="json") for s in statuses], output):
        return
    if output is Format.NAME:
        for s in statuses:
            print(f"{kind}/{s.name}")
        return
    if not statuses:
        err.print("No resources found.", highlight=False)
        return
    table = list_table(["NAMESPACE", *columns] if all_namespaces else columns)
    for status, row in zip(statuses, rows, strict=True):
        table.add_row(*([status.namespace, *row] if all_namespaces else row))
    show(table)


def fields_table(rows: list[tuple[str, str]]) -> Table:
    """One object as `get` shows it: a bold field name, then its value folded to fit 80 columns."""
    from rich.table import Table

    table = Table(show_header=False, box=None, pad_edge=False)
    table.add_column(style="bold", no_wrap=True)
    table.add_column(overflow="fold")
    for key, value in rows:
        table.add_row(key, value)
    return table


def watch_changes(
    read: Callable[[], Sequence[Listed]], row: Callable[[Any], list[str]], seen: dict[tuple[str, str], list[str]],
    timeout: float,
) -> Iterator[tuple[Any, list[str]]]:
    """Each listed object whose row differs from what ``seen`` holds (new ones too), every ``POLL_SECONDS``,
    until the timeout (0: until interrupted, as ``kubectl get -w``)."""
    deadline = time.monotonic() + timeout if timeout > 0 else float("inf")
    while time.monotonic() < deadline:
        time.sleep(POLL_SECONDS)
        for item in read():
            line = row(item)
            if seen.get((item.namespace, item.name)) != line:
                seen[(item.namespace, item.name)] = line
                yield item, line


def follow(read: Callable[[], T], settled: Callable[[T], bool], watch: bool, timeout: float) -> Iterator[T]:
    """What ``read`` returns; with ``watch``, each change until ``settled`` or the timeout (0: none)."""
    deadline = time.monotonic() + timeout if timeout > 0 else float("inf")
    last: T | None = None
    while True:
        status = read()
        if status != last:
            yield status
            last = status
        if not watch or settled(status) or time.monotonic() > deadline:
            return
        time.sleep(POLL_SECONDS)
