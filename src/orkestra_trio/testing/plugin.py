"""The pytest plugin (entry point ``pytest11``): fixtures for testing a Katalog.

Installed with the package, so any project that depends on orkestra_trio gets:

* ``orkestra_cluster``: an in-process API server (:func:`.cluster.open_test_cluster`);
* ``orkestra_katalog``: the Katalog named by the test's ``@pytest.mark.katalog("path.yaml")``
  marker (paths relative to the test file) running against ``orkestra_cluster``
  (:func:`.handle.run_katalog`), as a :class:`.handle.KatalogHandle`.

Both are async fixtures for pytest-trio. Combine them with pytest-trio's
``autojump_clock`` fixture to run in virtual time. This module imports only
pytest at start-up (it is loaded by every pytest run of an environment
where the package is installed); the kit itself is imported by the fixtures.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

if TYPE_CHECKING:
    from .cluster import TestCluster
    from .handle import KatalogHandle


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers",
        "katalog(*paths): the Katalog file(s) the orkestra_katalog fixture runs "
        "(relative to the test file)",
    )


@pytest.fixture
async def orkestra_cluster() -> AsyncIterator[TestCluster]:
    """An embedded API server in the test's Trio loop, with ``.faults`` and a client ``.kube``."""
    from .cluster import open_test_cluster

    async with open_test_cluster() as cluster:
        yield cluster


@pytest.fixture
async def orkestra_katalog(
    request: pytest.FixtureRequest, orkestra_cluster: TestCluster
) -> AsyncIterator[KatalogHandle]:
    """The marker's Katalog running against ``orkestra_cluster``."""
    from .handle import run_katalog

    marker = request.node.get_closest_marker("katalog")
    if marker is None or not marker.args:
        pytest.fail(
            'orkestra_katalog needs the Katalog to run: @pytest.mark.katalog("my-katalog.yaml")'
        )
    base = Path(str(request.node.path)).parent
    paths = [base / str(arg) for arg in marker.args]
    async with run_katalog(paths, orkestra_cluster) as handle:
        yield handle
