"""Exit codes keep their meaning when something goes wrong outside a command's own error handling.

A CI gate reads exit 1 as "the canary failed", so nothing else may end in 1:

- An unexpected exception (a bug) ends in :data:`EXIT_UNEXPECTED` (5) with one line naming it and a
  hint to rerun with ``--debug`` for the traceback; not Python's traceback and exit 1.
- A reader that stops early (``canary-analyzer judge m.json | head``) closes the pipe. Click answers
  the broken pipe with exit 1; here the rest of the output is dropped and the command ends as it would
  have — the verdict's code.

Only the console script (``Typer.__call__``) runs through this; ``CliRunner`` in tests calls the
command directly and sees exceptions as they are.
"""

from __future__ import annotations

import os
import shlex
import sys
from typing import Any, TextIO

import typer

EXIT_UNEXPECTED = 5


class _Options:
    """What the root callback parsed that the guard needs after the command has raised."""

    debug = False


options = _Options()


class _ClosedPipeTolerant:
    """stdout that, once its reader has gone, sends the rest to /dev/null instead of raising.

    The pipe's file descriptor is pointed at /dev/null, so that the buffered text and the interpreter's
    last flush at exit succeed too.
    """

    def __init__(self, stream: TextIO) -> None:
        self._stream = stream

    def _drop(self) -> None:
        devnull = os.open(os.devnull, os.O_WRONLY)
        try:
            os.dup2(devnull, self._stream.fileno())
        finally:
            os.close(devnull)

    def write(self, text: str) -> int:
        try:
            return self._stream.write(text)
        except BrokenPipeError:
            self._drop()
            return len(text)

    def flush(self) -> None:
        try:
            self._stream.flush()
        except BrokenPipeError:
            self._drop()
            self._stream.flush()  # the buffer, now into /dev/null

    def __getattr__(self, name: str) -> Any:
        return getattr(self._stream, name)


def _rerun(args: list[str]) -> str:
    return shlex.join(["canary-analyzer", "--debug", *(a for a in args if a != "--debug")])


def unexpected(error: BaseException, args: list[str]) -> int:
    """Report an error no command handles: one line and the hint (the traceback with ``--debug``); the code."""
    if options.debug:
        import traceback

        traceback.print_exception(error, file=sys.stderr)
    lines = str(error).strip().splitlines()
    message = f"{type(error).__name__}: {lines[0][:300]}" if lines else type(error).__name__
    print(f"error: unexpected {message}", file=sys.stderr)
    if not options.debug:
        print(f"hint: this is a bug (exit {EXIT_UNEXPECTED}); for the traceback, rerun with --debug: {_rerun(args)}",
              file=sys.stderr)
    return EXIT_UNEXPECTED


class GuardedTyper(typer.Typer):
    """The root app: exit codes 0/1/3 stay verdicts, 2 usage, 4 input or infrastructure, 5 a bug."""

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        if not isinstance(sys.stdout, _ClosedPipeTolerant):
            sys.stdout = _ClosedPipeTolerant(sys.stdout)
        try:
            return super().__call__(*args, **kwargs)
        except Exception as error:  # the point: any exception, reported in a line
            raise SystemExit(unexpected(error, list(kwargs.get("args") or sys.argv[1:]))) from None
        finally:
            sys.stdout.flush()
