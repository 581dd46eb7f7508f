"""Against a cluster given by kubeconfig: the runtime installs nothing and waits for its CRD."""

from __future__ import annotations

from pathlib import Path

import trio
from runtime_helpers import DEPLOY, eventually

from orkestra_trio.apiserver import open_apiserver
from orkestra_trio.katalog import load_katalogs
from orkestra_trio.kube import open_kube_client
from orkestra_trio.runtime.crdinstall import install_crds
from orkestra_trio.runtime.health import HealthState
from orkestra_trio.runtime.runtime import open_runtime

KATALOG = Path(__file__).parents[2] / "katalogs" / "website.yaml"


async def test_a_given_cluster_is_not_changed_and_a_missing_crd_is_waited_for(tmp_path):
    async with open_apiserver(workload_simulation=False) as server:
        kubeconfig = server.write_kubeconfig(tmp_path / "kubeconfig")
        async with open_runtime(KATALOG, kubeconfig=kubeconfig) as rt:
            assert not rt.embedded and rt.server_url == server.url
            box = rt.box("website")
            with trio.fail_after(10):
                snap = await box.health.wait_until(lambda s: s.last_error is not None)
            assert "install its CRD (websites.demo.example.com)" in snap.last_error
            assert snap.state is HealthState.NOT_STARTED
            # Nothing was installed or applied behind the user's back.
            assert server.request_count[("create", "customresourcedefinitions")] == 0
            assert server.request_count[("create", "websites")] == 0

            async with open_kube_client(server.url) as kube:
                await install_crds(kube, load_katalogs([KATALOG]))
                with trio.fail_after(20):  # the supervisor's restart backoff
                    await box.health.wait_until(lambda s: s.state is HealthState.PENDING)
                await kube.create(
                    {
                        "apiVersion": "demo.example.com/v1",
                        "kind": "Website",
                        "metadata": {"name": "late", "namespace": "default"},
                        "spec": {},
                    }
                )

                async def deployed():
                    return await kube.get(DEPLOY, "late", namespace="default")

                await eventually(deployed, what="the Deployment of a CR created later")
            assert box.supervisor.restarts >= 1
