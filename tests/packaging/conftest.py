"""The distribution as a newcomer gets it: ``python -m build`` makes the sdist and, from it, the wheel;
the wheel goes into a fresh virtual environment. Built once per session, from exactly what the
Dockerfile's build stage copies (so the image and the wheel are the same package).
"""

from __future__ import annotations

import shutil
import subprocess
import sys
import venv
from dataclasses import dataclass
from pathlib import Path

import pytest

ROOT = Path(__file__).parents[2]
#: What the Dockerfile copies into its build stage, and nothing else.
SOURCES = ("pyproject.toml", "README.md", "LICENSE", "analyzer")


@dataclass(frozen=True)
class Dists:
    sdist: Path
    wheel: Path


@pytest.fixture(scope="session")
def dists(tmp_path_factory: pytest.TempPathFactory) -> Dists:
    work = tmp_path_factory.mktemp("dist")
    source = work / "src"
    source.mkdir()
    for name in SOURCES:
        if (ROOT / name).is_dir():
            shutil.copytree(ROOT / name, source / name, ignore=shutil.ignore_patterns("__pycache__"))
        else:
            shutil.copy(ROOT / name, source / name)
    subprocess.run([sys.executable, "-m", "build", "--outdir", str(work / "dist"), str(source)],
                   check=True, capture_output=True, timeout=600)
    return Dists(sdist=next((work / "dist").glob("canary_analyzer-*.tar.gz")),
                 wheel=next((work / "dist").glob("canary_analyzer-*.whl")))


@pytest.fixture(scope="session")
def installed(dists: Dists, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The bin directory of a fresh virtual environment with the wheel (and its dependencies) installed."""
    env = tmp_path_factory.mktemp("venv") / "venv"
    venv.create(env, with_pip=True)
    subprocess.run([str(env / "bin" / "python"), "-m", "pip", "install", "--quiet", str(dists.wheel)],
                   check=True, timeout=900)
    return env / "bin"
