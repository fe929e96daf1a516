"""The ``canary-analyzer`` command line.

Exit codes: 0 pass, 1 fail, 3 inconclusive, 2 usage error, 4 input or infrastructure error.
"""

from analyzer.cli import gate, offline, promotion, rollout, serving  # noqa: F401 - registers the commands
from analyzer.cli.common import app

__all__ = ["app"]
