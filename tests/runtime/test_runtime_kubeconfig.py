"""Against a cluster given by kubeconfig: the runtime installs nothing and waits for its CRD."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest
import trio
from runtime_helpers import DEPLOY, eventually

from orkestra_trio.apiserver import open_apiserver
from orkestra_trio.katalog import load_katalogs
from orkestra_trio.kube import open_kube_client
from orkestra_trio.runtime.crdinstall import CRD, install_crds
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
            # The one line says how: the Katalog's crdFile, or the runtime's flag.
            crd_file = KATALOG.parent / "website" / "crd.yaml"
            assert f"kubectl apply -f {crd_file}" in snap.last_error
            assert "--install-crds" in snap.last_error
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


async def test_install_crds_installs_the_missing_crds_and_nothing_else(tmp_path):
    async with open_apiserver(workload_simulation=False) as server:
        kubeconfig = server.write_kubeconfig(tmp_path / "kubeconfig")
        async with open_runtime(KATALOG, kubeconfig=kubeconfig, install_crds=True) as rt:
            box = rt.box("website")
            with trio.fail_after(10):
                await box.health.wait_until(lambda s: s.state is HealthState.PENDING)
            assert box.supervisor.restarts == 0
            assert server.request_count[("create", "customresourcedefinitions")] == 1
            # The sample crFiles are for the embedded server: not applied here.
            assert server.request_count[("create", "websites")] == 0
            async with open_kube_client(server.url) as kube:
                crd = await kube.get(CRD, "websites.demo.example.com")
            # The Katalog's crdFile, not a generated one: its printer columns are there.
            (version,) = crd["spec"]["versions"]
            assert version.get("additionalPrinterColumns")


@pytest.mark.slow
async def test_the_run_command_takes_install_crds(tmp_path):
    # The flag reaches the runtime: a real `run` process against a real API server.
    async with open_apiserver(workload_simulation=False) as server:
        kubeconfig = server.write_kubeconfig(tmp_path / "kubeconfig")
        command = [sys.executable, "-m", "orkestra_trio", "run", str(KATALOG)]
        command += ["--kubeconfig", str(kubeconfig), "--listen", "127.0.0.1:0", "--install-crds"]
        process = await trio.lowlevel.open_process(
            command,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            cwd=tmp_path,
            env={"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "HOME": str(tmp_path)},
        )
        try:
            with trio.fail_after(30):
                while server.request_count[("create", "customresourcedefinitions")] == 0:
                    assert process.poll() is None, "the runtime exited"
                    await trio.sleep(0.05)  # polling another process's effect, bounded above
        finally:
            process.send_signal(signal.SIGTERM)
            with trio.fail_after(20):
                await process.wait()
        assert server.request_count[("create", "websites")] == 0
