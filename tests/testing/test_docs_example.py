"""docs/testing.md's example runs as written: a user's pytest run beside the website Katalog."""

import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


def example() -> str:
    text = (ROOT / "docs" / "testing.md").read_text()
    (code,) = re.findall(r"```python\n(.*?)```", text, flags=re.DOTALL)
    return code


@pytest.mark.slow
def test_the_documented_property_tests_pass(tmp_path):
    shutil.copy(ROOT / "katalogs" / "website.yaml", tmp_path / "website.yaml")
    shutil.copytree(ROOT / "katalogs" / "website", tmp_path / "website")
    (tmp_path / "test_website.py").write_text(example())
    # A user's project: no pytest configuration; the plugin comes from the entry point.
    result = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "test_website.py"],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=240,
    )
    assert result.returncode == 0, result.stdout[-4000:] + result.stderr[-2000:]
    assert "3 passed" in result.stdout
