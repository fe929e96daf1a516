"""Imports flow one way (DESIGN.md): cli, server → service → adapters and pure cores → judging → model, stats."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

PACKAGE = Path(__file__).parents[1] / "analyzer"

# For each layer, the analyzer modules it must not import (upward or sideways into the entry points).
FORBIDDEN = {
    "stats": {"model", "judging", "sources", "store", "rollouts", "promotion", "service", "server", "cli", "report",
              "config", "settings"},
    "model": {"judging", "sources", "store", "rollouts", "promotion", "service", "server", "cli", "report"},
    "judging": {"sources", "store", "rollouts", "promotion", "service", "server", "cli", "report", "settings"},
    "promotion": {"sources", "store", "rollouts", "service", "server", "cli", "report", "judging"},
    "sources": {"store", "rollouts", "promotion", "service", "server", "cli", "report"},
    "store": {"sources", "rollouts", "service", "server", "cli", "report", "judging"},
    "rollouts": {"sources", "store", "promotion", "service", "server", "cli", "report", "judging"},
    "report": {"sources", "store", "rollouts", "promotion", "service", "server", "cli"},
    "service": {"server", "cli"},
    "server": {"cli"},
}


def _imports(path: Path) -> set[str]:
    tree = ast.parse(path.read_text())
    found = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and node.module and node.module.startswith("analyzer."):
            found.add(node.module.split(".")[1])
        elif isinstance(node, ast.Import):
            found |= {a.name.split(".")[1] for a in node.names if a.name.startswith("analyzer.")}
    return found


@pytest.mark.parametrize("layer", sorted(FORBIDDEN))
def test_no_upward_imports(layer):
    files = list((PACKAGE / layer).rglob("*.py")) if (PACKAGE / layer).is_dir() else [PACKAGE / f"{layer}.py"]
    assert files
    bad = {f"{f.relative_to(PACKAGE)} imports analyzer.{m}" for f in files for m in _imports(f) & FORBIDDEN[layer]}
    assert not bad, sorted(bad)


def test_stats_uses_only_numpy_and_scipy():
    """Pure computation: numpy, scipy and a few standard-library helpers, no I/O or framework."""
    for path in (PACKAGE / "stats").rglob("*.py"):
        tree = ast.parse(path.read_text())
        modules = {n.module.split(".")[0] for n in ast.walk(tree) if isinstance(n, ast.ImportFrom) and n.module}
        modules |= {a.name.split(".")[0] for n in ast.walk(tree) if isinstance(n, ast.Import) for a in n.names}
        assert modules <= {"__future__", "numpy", "scipy", "math", "dataclasses", "enum", "functools", "typing",
                           "collections", "bisect", "analyzer"}, (path, modules)


def test_the_service_and_our_judge_never_import_scipy_stats():
    """Issue 15: scipy.stats (~0.3 s and ~30 MB) stays off the live path; only the Kayenta judge and the
    report's descriptive diagnostics may load it."""
    import subprocess
    import sys

    probe = (
        "import sys, analyzer.server.asgi\n"
        "from analyzer.judging import judge\n"
        "from analyzer.model import Policy\n"
        "from analyzer.sources.simulate import Scenario, simulate\n"
        "judge(simulate(Scenario(steps=12, canary_pods=2, stable_pods=4), 1), Policy())\n"
        "print('scipy.stats' in sys.modules)\n"
    )
    loaded = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True)
    assert loaded.stdout.strip() == "False"
