"""The container image's contents, proven without a container engine.

No Docker engine runs here, so the test does what the Dockerfile's stages do: build the wheel,
install it into a fresh virtual environment, and run the entrypoint's commands from there, with the
only writable path a data directory. It also checks the Dockerfile's promises as text. The wheel and
the virtual environment come from ``conftest.py`` (``python -m build`` on what the Dockerfile copies).
"""

from __future__ import annotations

import json
import os
import re
import subprocess
from pathlib import Path

import httpx

from tests.support.prometheus import free_port, wait_until_up

ROOT = Path(__file__).parents[2]


def test_dockerfile_is_multi_stage_non_root_and_serves():
    text = (ROOT / "Dockerfile").read_text()
    stages = re.findall(r"^FROM (\S+)(?: AS (\S+))?", text, re.M)
    assert len(stages) == 2 and all(image.startswith("python:3.12-slim") for image, _ in stages)
    final = text[text.rindex("\nFROM "):]
    assert re.search(r"^USER 10001:10001$", final, re.M)
    assert 'ENTRYPOINT ["canary-analyzer"]' in final and 'CMD ["serve"]' in final
    assert 'VOLUME ["/var/lib/canary-analyzer"]' in final
    assert not re.search(r"apt-get|build-essential|gcc", final)  # no build tools in the final stage
    ignored = (ROOT / ".dockerignore").read_text().split()
    assert {"tests", ".git", "*.db"} <= set(ignored)


def test_entrypoint_commands_run_from_the_installed_wheel(installed, tmp_path):
    cli = str(installed / "canary-analyzer")
    env = {"PATH": str(installed), "HOME": str(tmp_path), "PYTHONDONTWRITEBYTECODE": "1"}
    assert "serve" in subprocess.run([cli, "--help"], capture_output=True, text=True, env=env, check=True).stdout
    schema = subprocess.run([cli, "schema", "measurement"], capture_output=True, text=True, env=env, check=True)
    assert json.loads(schema.stdout)["title"] == "Measurement"
    demo = subprocess.run([cli, "demo", "--steps", "12", "--delay", "0"], capture_output=True, text=True, env=env)
    assert demo.returncode == 0 and "summary:" in demo.stdout


def test_serve_from_the_installed_wheel_writes_only_to_its_data_directory(installed, tmp_path):
    data = tmp_path / "data"
    data.mkdir()
    port = free_port()
    env = {"PATH": str(installed), "HOME": str(data), "PYTHONDONTWRITEBYTECODE": "1",
           "CANARY_ANALYZER_DATABASE_URL": f"sqlite:///{data / 'canary-analyzer.db'}",
           "CANARY_ANALYZER_PROMETHEUS_URL": "http://127.0.0.1:9",
           "CANARY_ANALYZER_API_TOKENS": '["a-token-for-the-image-test"]'}  # nothing is open by default
    before = set(os.listdir(tmp_path))
    process = subprocess.Popen([str(installed / "canary-analyzer"), "serve", "--host", "127.0.0.1", "--port",
                                str(port)], cwd=data, env=env, stderr=subprocess.PIPE, text=True)
    try:
        assert wait_until_up(f"http://127.0.0.1:{port}/healthz", process), "serve did not start"
        ready = httpx.get(f"http://127.0.0.1:{port}/readyz")
        assert ready.status_code == 200 and ready.json()["status"] == "degraded"
        assert "Prometheus" in ready.json()["prometheus"] and ready.json()["database"] == "ok"
        auth = {"Authorization": "Bearer a-token-for-the-image-test"}
        assert httpx.get(f"http://127.0.0.1:{port}/api/v1/judgments").status_code == 401
        assert httpx.get(f"http://127.0.0.1:{port}/api/v1/judgments", headers=auth).json()["items"] == []
    finally:
        process.terminate()
        process.wait(timeout=10)
    assert set(os.listdir(tmp_path)) == before
    assert "canary-analyzer.db" in os.listdir(data)
