"""The pytest plugin's fixtures, loaded through the package's pytest11 entry point."""

import subprocess
import sys

import pytest

from orkestra_trio.runtime.health import HealthState
from orkestra_trio.testing import KatalogHandle, TestCluster


def test_the_plugin_is_registered(pytestconfig):
    assert pytestconfig.pluginmanager.has_plugin("orkestra_trio")


@pytest.mark.katalog("katalogs/shop.yaml")
async def test_fixtures(autojump_clock, orkestra_katalog, orkestra_cluster):
    assert isinstance(orkestra_cluster, TestCluster)
    assert isinstance(orkestra_katalog, KatalogHandle)
    assert orkestra_katalog.cluster is orkestra_cluster
    await orkestra_katalog.apply(orkestra_katalog.manifest("shop", "p", {"size": 2}))
    await orkestra_katalog.wait_steady()
    assert orkestra_katalog.ready("shop", "p")
    assert orkestra_katalog.health("shop").state is HealthState.HEALTHY


def test_missing_marker_is_a_clear_failure(tmp_path):
    # A separate pytest run: the plugin must come from the entry point alone.
    (tmp_path / "test_x.py").write_text("async def test_x(orkestra_katalog):\n    pass\n")
    result = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "-o", "trio_mode=true"],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 1, result.stdout
    assert "needs the Katalog to run" in result.stdout
    assert "1 failed" in result.stdout
