"""open_test_cluster: injected API faults hit the operator's transport, never the test's client."""

import pytest

from orkestra_trio.kube import RetryPolicy, ServerError, open_kube_client
from orkestra_trio.testing import open_test_cluster

CM = ("v1", "ConfigMap")


def configmap(name):
    return {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": name}}


async def test_faults_spare_the_test_client_only(autojump_clock):
    async with (
        open_test_cluster(workload_simulation=False) as cluster,
        open_kube_client(
            cluster.url, transport=cluster.transport, retry=RetryPolicy(max_attempts=1)
        ) as operator,
    ):
        cluster.faults.fail_next(100, resource="configmaps", status=500)
        await cluster.kube.create(configmap("by-test"))
        assert (await cluster.kube.get(CM, "by-test"))["metadata"]["name"] == "by-test"
        with pytest.raises(ServerError):
            await operator.get(CM, "by-test")
        # Everything is counted; only the operator's request is the operator's.
        assert cluster.requests() == {("get", "configmaps"): 1}
        assert cluster.requests(include_test=True)[("create", "configmaps")] == 1
        assert cluster.request_count("get", "configmaps") == 2
