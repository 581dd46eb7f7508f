"""Fixtures for the conformance suite: a real apiserver process and real kubectl binaries.

The embedded API server claims that kubectl and the official Python client
cannot tell it from kube-apiserver. These fixtures let the tests check that
claim the way a user meets it: ``python -m orkestra_trio apiserver`` as a
separate process on a loopback port, kubectl binaries of several versions run
against the kubeconfig it writes, and the official ``kubernetes`` client.

One server serves the whole session (tests use unique names), so the suite
pays the start-up cost once.
"""

from __future__ import annotations

from collections.abc import Iterator

import httpx
import pytest
from conformance_helpers import KUBECTL_VERSIONS, ApiServerProcess, Kubectl, kubectl_binary


@pytest.fixture(scope="session")
def apiserver(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ApiServerProcess]:
    server = ApiServerProcess(tmp_path_factory.mktemp("apiserver"))
    server.start()
    try:
        yield server
    finally:
        code = server.stop()
    # A clean shutdown is part of the contract: open watches must not hold it up.
    assert code == 0, f"apiserver exited with {code}\n{server.logs()}"


@pytest.fixture(scope="session")
def http(apiserver: ApiServerProcess) -> Iterator[httpx.Client]:
    """A plain HTTP client: the "other client" that changes objects behind kubectl's back."""
    with httpx.Client(base_url=apiserver.url, timeout=10) as client:
        yield client


@pytest.fixture(scope="session", params=KUBECTL_VERSIONS, ids=lambda v: f"kubectl{v}")
def kubectl(
    request: pytest.FixtureRequest,
    apiserver: ApiServerProcess,
    tmp_path_factory: pytest.TempPathFactory,
) -> Kubectl:
    version: str = request.param
    binary = kubectl_binary(version)
    if binary is None:
        if version == "1.20":
            pytest.skip(
                "tool missing: kubectl 1.20 not fetched: run `python tests/conformance/kubectl_fetch.py` "
                "(apt-get download kubernetes-client, then dpkg -x)"
            )
        pytest.skip(f"tool missing: kubectl.{version} not found next to the kubectl on PATH")
    cache = tmp_path_factory.mktemp(f"kubectl-cache-{version}")
    return Kubectl(version, binary, apiserver.kubeconfig, cache)
