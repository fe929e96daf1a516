"""The ``canary-analyzer`` command line.

Exit codes: 0 pass, 1 fail, 3 inconclusive, 2 usage error, 4 input, configuration or infrastructure
error, 5 an unexpected error (one line and a hint; ``--debug`` prints the traceback). A reader that closes
the pipe early (``judge … | head``) changes nothing: the exit code is still the verdict's.
Importing it loads only typer and rich; each command imports what it needs when it runs.
"""

from analyzer.cli import (  # noqa: F401 - registers the commands, in the order --help lists them
    gate,
    judgments,
    ledger,
    offline,
    release,
    rollout,
    rollout_actions,
    serving,
    shell,
)
from analyzer.cli.common import app

__all__ = ["app"]
