"""The ``canary-analyzer`` command line.

Exit codes: 0 pass, 1 fail, 3 inconclusive, 2 usage error, 4 input or infrastructure error.
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
