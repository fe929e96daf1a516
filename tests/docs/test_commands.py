"""The commands in README.md and docs/ run as written, so that the docs cannot drift from the code.

- The README's two newcomer commands are in .ci/run character for character (CI runs them).
- Every `canary-analyzer …` line in a bash or YAML block parses: the command exists and knows every
  option it is given (it is run with ``--help`` appended, which stops before it acts).
- The commands that need no cluster and no Prometheus are run for real: the README's `judge` block on
  its own example, and its promotion walk on a fresh ledger.
- docs/rollouts.md's `rollout` block runs line by line against the Kubernetes API emulator.
"""

from __future__ import annotations

import json
import os
import re
import shlex
import subprocess
import sys
from pathlib import Path

import pytest
from typer.testing import CliRunner

from analyzer.cli import app
from tests.support.argo_objects import CANARY, NEW_IMAGE, OLD_IMAGE, STABLE, experiment, replica_set, rollout
from tests.support.kube import cluster

ROOT = Path(__file__).parents[2]
DOCS = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]
runner = CliRunner()
#: `canary-analyzer` where a shell would run it: line start, after VAR=value, $(, &&, ;, |, `run:` or `- `.
COMMAND = re.compile(r"(?:^|\$\(|&&|;|\||run:|^- |^(?:\w+=\S*\s+)+)\s*canary-analyzer(?=\s|$)")
#: Where a command ends on its line: a closing $( ), a chain, a pipe, a redirection or a comment.
END = re.compile(r"\)|&&|;|\|\||\s\|\s|\s>>?\s|\s#\s|\s#$")


def blocks(path: Path, languages: tuple[str, ...] = ("bash", "sh", "yaml")) -> list[str]:
    """The fenced code blocks of a Markdown file in those languages."""
    text = path.read_text(encoding="utf-8")
    return [m.group(2) for m in re.finditer(r"^```(\w*)\n(.*?)^```", text, re.M | re.S) if m.group(1) in languages]


def section_block(path: Path, heading: str) -> str:
    """The first bash block under a ``## heading``."""
    text = path.read_text(encoding="utf-8")
    section = text[text.index(f"## {heading}"):]
    return section[section.index("```bash\n") + 8: section.index("\n```", section.index("```bash\n"))]


def command_lines(text: str) -> list[str]:
    """Lines (backslash continuations joined) that run canary-analyzer."""
    joined = re.sub(r"\\\n\s*", " ", text)
    return [line.strip() for line in joined.splitlines() if COMMAND.search(line.strip())]


def arguments(line: str) -> list[str]:
    """The arguments after ``canary-analyzer`` in a documented line, up to where the command ends."""
    tail = line[COMMAND.search(line).end():]  # type: ignore[union-attr]
    cut = END.search(tail)
    return shlex.split(tail[: cut.start()] if cut else tail)


DOCUMENTED = [(f"{path.name}#{i + 1}", line) for path in DOCS
              for i, line in enumerate(line for block in blocks(path) for line in command_lines(block))]


def test_the_docs_show_commands():
    assert len(DOCUMENTED) > 40


@pytest.mark.parametrize(("where", "line"), DOCUMENTED, ids=[where for where, _ in DOCUMENTED])
def test_every_documented_command_parses(where, line):
    args = arguments(line)
    result = runner.invoke(app, [*args, "--help"])
    assert result.exit_code == 0, f"{where}: `canary-analyzer {' '.join(args)}`\n{result.output}"


def test_the_readme_commands_are_what_ci_runs():
    ci = [line.strip() for line in (ROOT / ".ci" / "run").read_text(encoding="utf-8").splitlines()]
    readme = ROOT / "README.md"
    for heading in ("Try it", "Run the tests"):
        for line in section_block(readme, heading).splitlines():
            assert line in ci, f"README ({heading}) runs `{line}`, which .ci/run does not"


def _bash(script: str, cwd: Path, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    """Run a documented block in bash, `canary-analyzer` being this checkout's (the venv's, or python -m)."""
    shim = f'canary-analyzer() {{ "{sys.executable}" -m analyzer.cli "$@"; }}\n'
    return subprocess.run(["bash", "-c", shim + script], cwd=cwd, env={**os.environ, **env}, capture_output=True,
                          text=True, timeout=300)


def test_the_readme_judge_block_runs(tmp_path):
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    example = json.loads(re.search(r"```json\n(.*?)```", readme, re.S).group(1))  # type: ignore[union-attr]
    (tmp_path / "measurement.json").write_text(json.dumps(example))
    summary = tmp_path / "summary.md"
    for line in command_lines(section_block(ROOT / "README.md", "Judge a measurement")):
        done = _bash(line, tmp_path, {"GITHUB_STEP_SUMMARY": str(summary)})
        assert done.returncode in (0, 1, 3), f"`{line}` exited {done.returncode}: {done.stderr}"
        assert "error" not in done.stderr.lower(), f"`{line}`: {done.stderr}"
    assert "Canary verdict" in summary.read_text() and (tmp_path / "canary.xml").exists()


def test_the_readme_promotion_walk_runs_on_a_fresh_ledger(tmp_path):
    ledger = tmp_path / "ledger.db"
    done = _bash(section_block(ROOT / "README.md", "Promote a release through V1 → V3 → V2"), tmp_path,
                 {"CANARY_ANALYZER_DATABASE_URL": f"sqlite:///{ledger}"})
    assert done.returncode == 0, done.stderr
    assert "error" not in done.stderr.lower(), done.stderr
    assert "gate: inconclusive" in done.stdout and "V1" in done.stdout  # no canary judgment yet: waiting


@pytest.fixture
def emulated(tmp_path):
    """The cluster docs/rollouts.md talks to: shop/checkout (Healthy, so that watches return), its
    ReplicaSets of revisions 2 and 3, the AnalysisRun and the Experiment the block terminates."""
    with cluster(tmp_path) as c:
        obj = rollout(phase="Healthy", message=None)
        c.put("/apis/argoproj.io/v1alpha1/namespaces/shop/rollouts", obj)
        for pod_hash, revision, image in ((STABLE, 2, OLD_IMAGE), (CANARY, 3, NEW_IMAGE)):
            c.put("/apis/apps/v1/namespaces/shop/replicasets", replica_set(obj, pod_hash, revision, image))
        c.put("/apis/argoproj.io/v1alpha1/namespaces/shop/analysisruns",
              {"apiVersion": "argoproj.io/v1alpha1", "kind": "AnalysisRun", "spec": {"metrics": []},
               "metadata": {"name": f"checkout-{CANARY}-3", "namespace": "shop"}})
        c.put("/apis/argoproj.io/v1alpha1/namespaces/shop/experiments", experiment())
        yield c


def test_the_rollout_block_runs_against_the_emulator(emulated, monkeypatch):
    monkeypatch.chdir(ROOT)  # the block names files as from the repository's root
    env = {"CANARY_ANALYZER_DATABASE_URL": "sqlite:///" + str(emulated.kubeconfig.parent / "ledger.db")}
    lines = command_lines(blocks(ROOT / "docs" / "rollouts.md")[0])
    assert len(lines) >= 15
    for line in lines:
        args = arguments(line)
        cluster_args = [] if args[1] in ("version", "lint") else ["--kubeconfig", str(emulated.kubeconfig)]
        result = runner.invoke(app, [*args, *cluster_args], env=env)
        assert result.exit_code == 0, f"`{line}`\n{result.output}"
