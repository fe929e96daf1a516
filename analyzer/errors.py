"""Errors that reach users, with messages that name the bad field and step."""

from __future__ import annotations

from collections.abc import Sequence

from pydantic import ValidationError

_TAGS = ("ratio", "histogram", "gauge")


class InputError(Exception):
    """Bad input (a measurement or policy): the message says what and where."""


def _where(loc: Sequence[int | str]) -> str:
    parts = list(loc)
    if len(parts) >= 3 and parts[0] == "metrics" and parts[2] in _TAGS:
        del parts[2]  # the discriminator tag pydantic inserts
    path = ""
    for part in parts:
        path += f"[{part}]" if isinstance(part, int) else ("." if path else "") + str(part)
    numbers = [p for p in parts if isinstance(p, int)]
    if parts and parts[0] == "metrics" and numbers:
        path += f" (step {numbers[0]})"
    return path or "(top level)"


def describe(error: ValidationError, what: str) -> str:
    """One line per problem, e.g. ``measurement: metrics.latency.canary[3][2] (step 3): <message>``."""
    return "\n".join(
        f"{what}: {_where(p['loc'])}: {str(p['msg']).removeprefix('Value error, ')}"
        for p in error.errors(include_url=False)
    )


class SourceUnavailableError(Exception):
    """The metrics source could not answer (unreachable, timed out, or an error status) after retries."""


class ClusterError(Exception):
    """The Kubernetes API refused or could not answer: the message names the object, the verb and why."""
