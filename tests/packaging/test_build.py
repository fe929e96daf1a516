"""What ``python -m build`` makes: an sdist and a wheel with the SPDX licence, the licence text, the data
files the package reads at run time, and one version everywhere."""

from __future__ import annotations

import subprocess
import tarfile
import zipfile
from email.parser import Parser
from pathlib import Path

import analyzer
from tests.packaging.conftest import Dists

PACKAGE_DATA = ("analyzer/profiles/http.yaml", "analyzer/store/migrations/env.py",
                "analyzer/store/migrations/versions/0001_judgments.py", "analyzer/py.typed",
                "analyzer/rollouts/schemas/Rollout.json", "analyzer/rollouts/schemas/Experiment.json")


def _metadata(wheel: Path) -> dict[str, list[str]]:
    with zipfile.ZipFile(wheel) as whl:
        name = next(n for n in whl.namelist() if n.endswith(".dist-info/METADATA"))
        message = Parser().parsestr(whl.read(name).decode())
    return {key: message.get_all(key) or [] for key in set(message.keys())}


def test_the_wheel_carries_the_spdx_licence_and_its_text(dists: Dists):
    meta = _metadata(dists.wheel)
    assert meta["License-Expression"] == ["Apache-2.0"]
    assert meta["License-File"] == ["LICENSE"]
    assert meta["Version"] == [analyzer.__version__]
    assert "License" not in meta  # the deprecated free-text field is gone
    names = set(zipfile.ZipFile(dists.wheel).namelist())
    assert any(n.endswith(".dist-info/licenses/LICENSE") for n in names)
    assert set(PACKAGE_DATA) <= names
    assert not any(n.startswith(("tests/", "bench/")) for n in names)


def test_the_sdist_holds_the_licence_readme_and_sources(dists: Dists):
    with tarfile.open(dists.sdist) as sdist:
        names = {n.split("/", 1)[1] for n in sdist.getnames() if "/" in n}
    assert {"LICENSE", "README.md", "pyproject.toml", *PACKAGE_DATA} <= names


def test_the_installed_command_reports_the_packaged_version(installed: Path, tmp_path: Path):
    result = subprocess.run([str(installed / "canary-analyzer"), "--version"], capture_output=True, text=True,
                            env={"PATH": str(installed), "HOME": str(tmp_path)}, check=True)
    assert result.stdout.strip() == f"canary-analyzer {analyzer.__version__}"


def test_the_installed_command_lints_with_the_packaged_schemas(installed: Path, tmp_path: Path):
    """`rollout lint` needs jsonschema and the CRD schemas at run time: both come with the wheel."""
    example = Path(__file__).parents[2] / "analysis-templates" / "example-rollout.yaml"
    typo = tmp_path / "typo.yaml"
    typo.write_text(example.read_text().replace("revisionHistoryLimit", "revisionHistoryLimt"))
    env = {"PATH": str(installed), "HOME": str(tmp_path)}
    clean, broken = (subprocess.run([str(installed / "canary-analyzer"), "rollout", "lint", str(path)],
                                    capture_output=True, text=True, env=env) for path in (example, typo))
    assert (clean.returncode, clean.stdout, clean.stderr) == (0, "", "")
    assert broken.returncode == 1 and "'revisionHistoryLimt' was unexpected" in broken.stdout
