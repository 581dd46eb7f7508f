"""In a pod: listen on all interfaces, Leases in the pod's namespace, /healthz and /readyz."""

import argparse
import textwrap

import httpx
import pytest

from orkestra_trio.apiserver import open_apiserver
from orkestra_trio.commands.run import configure
from orkestra_trio.kube.config import SERVICE_ACCOUNT_DIR_ENV, load_incluster, running_in_pod
from orkestra_trio.runtime.runtime import open_runtime
from orkestra_trio.web.app import open_web_app

KATALOG = """\
metadata: {name: pod}
spec:
  crds:
    thing:
      apiTypes: {group: pod.example.com, version: v1, kind: Thing, plural: things}
      operatorBox: {}
"""


def _service_account(tmp_path, namespace="operators"):
    folder = tmp_path / "sa"
    folder.mkdir()
    (folder / "token").write_text("t")
    (folder / "namespace").write_text(namespace)
    return folder


def test_a_pod_is_recognised_by_its_service_env_and_token(tmp_path):
    folder = _service_account(tmp_path)
    env = {"KUBERNETES_SERVICE_HOST": "10.0.0.1", "KUBERNETES_SERVICE_PORT": "443"}
    assert running_in_pod(env, str(folder))
    assert not running_in_pod({}, str(folder))
    assert not running_in_pod(env, str(tmp_path / "absent"))
    # The folder may be named by the environment (to run as a pod would, outside one).
    assert running_in_pod({**env, SERVICE_ACCOUNT_DIR_ENV: str(folder)})
    config = load_incluster({**env, SERVICE_ACCOUNT_DIR_ENV: str(folder)})
    assert config is not None and config.namespace == "operators"


def test_listen_default_is_left_to_run_time():
    parser = argparse.ArgumentParser()
    configure(parser)
    args = parser.parse_args(["k.yaml", "--leader-elect", "per-box"])
    assert args.listen is None and args.leader_elect == "per-box"
    assert parser.parse_args(["k.yaml", "--leader-elect"]).leader_elect == "single"


async def test_leases_default_to_the_configured_namespace(tmp_path):
    katalog = tmp_path / "k.yaml"
    katalog.write_text(textwrap.dedent(KATALOG))
    async with open_apiserver() as server:
        kubeconfig = tmp_path / "kc"
        kubeconfig.write_text(
            "current-context: x\n"
            f"clusters: [{{name: c, cluster: {{server: '{server.url}'}}}}]\n"
            "contexts: [{name: x, context: {cluster: c, namespace: operators}}]\n"
        )
        async with open_runtime(
            katalog, kubeconfig=kubeconfig, install=True, leader_elect=True
        ) as rt:
            assert rt.election is not None
            assert rt.election.config.namespace == "operators"


@pytest.mark.parametrize(("path", "alias"), [("/healthz", "/health"), ("/readyz", "/ready")])
async def test_probe_paths_and_their_aliases_answer_alike(tmp_path, path, alias):
    katalog = tmp_path / "k.yaml"
    katalog.write_text(textwrap.dedent(KATALOG))
    async with open_runtime(katalog, embedded=True) as rt:
        await rt.wait_ready()
        app = await open_web_app(rt)
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://rt") as http:
            first, second = await http.get(path), await http.get(alias)
    assert first.status_code == second.status_code == 200
    assert first.json() == second.json()
