"""The generated RBAC is enough and nothing in it is spare: proven on an RBAC-enforcing server.

The ``manifests`` output is applied to the embedded API server started with
``--authorization rbac``; the runtime then runs as a real process the way
its pod would: the Deployment's own arguments, the ConfigMap's files laid
out as the kubelet mounts them, the ServiceAccount's token, CA and namespace
files, ``KUBERNETES_SERVICE_HOST/PORT``, TLS. Every sample CR of the bundled
Katalogs reaches Ready with exactly the generated rights; taking a rule away
shows up as ``forbidden: <verb> <object>`` in the box's health and in the
CR's Events.
"""

from __future__ import annotations

import json
import os
import signal
import ssl
import subprocess
import sys
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import httpx
import pytest
import trio
import yaml

from orkestra_trio.apiserver import open_apiserver
from orkestra_trio.cli import main
from orkestra_trio.deploy.manifests import KATALOG_MOUNT
from orkestra_trio.katalog import load_katalogs
from orkestra_trio.kube import load_kubeconfig, open_kube_client
from orkestra_trio.kube.config import SERVICE_ACCOUNT_DIR_ENV
from orkestra_trio.runtime.crdinstall import read_objects
from runtime_banner import read_http_url

KATALOGS = Path(__file__).parents[2] / "katalogs"
BUNDLED = ["website.yaml", "cross-same-binary.yaml", "oncop-loader.yaml", "oncop-processor.yaml"]
READY_WITHIN = 60.0
POD_NAME = "orkestra-runtime-0"

pytestmark = pytest.mark.slow


def _manifests(capsys: pytest.CaptureFixture[str]) -> list[dict[str, Any]]:
    assert main(["manifests", *(str(KATALOGS / name) for name in BUNDLED)]) == 0
    return [obj for obj in yaml.safe_load_all(capsys.readouterr().out) if obj]


def _drop(objects: list[dict[str, Any]], group: str, resource: str, verb: str) -> None:
    """Take one verb on one resource out of the ClusterRole (the rule split as needed)."""
    role = next(o for o in objects if o["kind"] == "ClusterRole")
    rules = []
    found = False
    for rule in role["rules"]:
        if group in rule["apiGroups"] and resource in rule["resources"] and verb in rule["verbs"]:
            found = True
            rest = [r for r in rule["resources"] if r != resource]
            if rest:
                rules.append({**rule, "resources": rest})
            verbs = [v for v in rule["verbs"] if v != verb]
            if verbs:
                rules.append({"apiGroups": [group], "resources": [resource], "verbs": verbs})
        else:
            rules.append(rule)
    assert found, (group, resource, verb)
    role["rules"] = rules


class Pod:
    """The runtime process and what the test reads from it."""

    def __init__(self, process: trio.Process, url: str, lines: list[str], token: str) -> None:
        self.process = process
        self.url = url
        self.lines = lines
        #: The pod's own ServiceAccount token: what another runtime would send.
        self.token = token

    def http(self, *, authenticated: bool = True) -> httpx.AsyncClient:
        headers = {"Authorization": f"Bearer {self.token}"} if authenticated else {}
        return httpx.AsyncClient(base_url=self.url, headers=headers, timeout=5)


@asynccontextmanager
async def cluster_with_manifests(
    tmp_path: Path, objects: list[dict[str, Any]]
) -> AsyncIterator[tuple[Any, Any, dict[str, Any]]]:
    """The RBAC-enforcing server with ``objects`` and the sample CRs applied by an admin."""
    async with open_apiserver(authorization="rbac", workload_delay=0.05) as server:
        admin_config = load_kubeconfig(str(server.write_kubeconfig(tmp_path / "admin.kc")))
        async with open_kube_client(admin_config) as admin:
            for obj in objects:
                await admin.create(obj, namespace=obj["metadata"].get("namespace"))
            for crd in load_katalogs([KATALOGS / name for name in BUNDLED]).crds.values():
                for path in crd.cr_files:
                    for cr in read_objects(path):
                        await _create_when_served(admin, cr)
            yield server, admin, _deployment(objects)


async def _create_when_served(admin: Any, obj: dict[str, Any]) -> None:
    from orkestra_trio.kube import NotFound

    namespace = obj["metadata"].get("namespace")
    with trio.fail_after(10):
        while True:
            try:
                await admin.mapper.refresh(obj["apiVersion"])
                await admin.create(obj, namespace=namespace)
                return
            except NotFound:
                await trio.sleep(0.05)  # the CRD is being established


def _deployment(objects: list[dict[str, Any]]) -> dict[str, Any]:
    return next(o for o in objects if o["kind"] == "Deployment")


def _mount(objects: list[dict[str, Any]], root: Path) -> None:
    """Write the ConfigMap's files where the kubelet would (the volume's items)."""
    config_map = next(o for o in objects if o["kind"] == "ConfigMap")
    volume = next(
        v for v in _deployment(objects)["spec"]["template"]["spec"]["volumes"] if "configMap" in v
    )
    for item in volume["configMap"]["items"]:
        target = root / item["path"]
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(config_map["data"][item["key"]])


async def _token(server: Any, namespace: str, name: str) -> str:
    context = ssl.create_default_context(cadata=server.ca_pem.decode())
    headers = {"Authorization": f"Bearer {server.admin_token}"}
    async with httpx.AsyncClient(
        base_url=server.url, verify=context, headers=headers, timeout=10
    ) as http:
        answer = await http.post(
            f"/api/v1/namespaces/{namespace}/serviceaccounts/{name}/token", json={"spec": {}}
        )
    assert answer.status_code == 201, answer.text
    return str(answer.json()["status"]["token"])


@asynccontextmanager
async def run_as_pod(
    tmp_path: Path, server: Any, objects: list[dict[str, Any]]
) -> AsyncIterator[Pod]:
    deployment = _deployment(objects)
    namespace = deployment["metadata"]["namespace"]
    pod_spec = deployment["spec"]["template"]["spec"]
    account = tmp_path / "serviceaccount"
    account.mkdir(exist_ok=True)
    token = await _token(server, namespace, pod_spec["serviceAccountName"])
    (account / "token").write_text(token)
    (account / "ca.crt").write_bytes(server.ca_pem)
    (account / "namespace").write_text(namespace)
    mount = tmp_path / "katalogs"
    _mount(objects, mount)
    args = [
        str(mount / arg[len(KATALOG_MOUNT) + 1 :]) if arg.startswith(KATALOG_MOUNT) else arg
        for arg in pod_spec["containers"][0]["args"]
    ]
    args[args.index("--listen") + 1] = "127.0.0.1:0"  # no fixed port in a test
    env = {k: v for k, v in os.environ.items() if k != "KUBECONFIG"}
    # What the kubelet fills in from the downward API.
    fields = {"metadata.name": POD_NAME, "metadata.namespace": namespace, "metadata.uid": "pod-uid"}
    for item in pod_spec["containers"][0].get("env", ()):
        env[item["name"]] = fields[item["valueFrom"]["fieldRef"]["fieldPath"]]
    env.update(
        {
            "HOME": str(tmp_path / "home"),
            "XDG_STATE_HOME": str(tmp_path / "state"),
            "KUBERNETES_SERVICE_HOST": server.host,
            "KUBERNETES_SERVICE_PORT": str(server.port),
            SERVICE_ACCOUNT_DIR_ENV: str(account),
        }
    )
    stderr = (tmp_path / "runtime.stderr").open("wb")
    process = await trio.lowlevel.open_process(
        [sys.executable, "-m", "orkestra_trio", *args],
        stdout=subprocess.PIPE,
        stderr=stderr,
        env=env,
        cwd=tmp_path,
    )
    lines: list[str] = []
    try:
        assert process.stdout is not None
        url = await read_http_url(process.stdout, lines)
        yield Pod(process, url, lines, token)
        process.send_signal(signal.SIGTERM)
        with trio.fail_after(30):
            code = await process.wait()
        assert code == 0, (tmp_path / "runtime.stderr").read_text()[-2000:]
    finally:
        if process.returncode is None:
            process.kill()
            await process.wait()
        stderr.close()


async def _eventually(check: Callable[[], Any], what: str, timeout: float = READY_WITHIN) -> Any:
    """Poll ``check`` (an async callable returning a truthy value when done) within ``timeout``."""
    last: Any = None
    with trio.move_on_after(timeout):
        while True:
            last = await check()
            if last:
                return last
            await trio.sleep(0.1)
    raise AssertionError(f"{what}: not within {timeout}s (last: {last!r})")


def _ready(obj: dict[str, Any]) -> bool:
    conditions = (obj.get("status") or {}).get("conditions") or ()
    return any(c.get("type") == "Ready" and c.get("status") == "True" for c in conditions)


async def _forbidden_event(admin: Any, name: str, needle: str) -> str | None:
    events = await admin.list(("v1", "Event"), namespace="default")
    for event in events.items:
        if event["involvedObject"].get("name") == name and needle in event.get("message", ""):
            return str(event["message"])
    return None


async def _health_error(pod: Pod, box: str) -> str:
    async with pod.http() as http:
        body = (await http.get(f"/katalog/{box}/health")).json()
    return str(body.get("lastError") or body.get("health", {}).get("lastError") or "")


async def test_generated_rights_bring_every_sample_cr_to_ready(tmp_path, capsys):
    objects = _manifests(capsys)
    samples = [
        cr
        for crd in load_katalogs([KATALOGS / name for name in BUNDLED]).crds.values()
        for path in crd.cr_files
        for cr in read_objects(path)
    ]
    async with (
        cluster_with_manifests(tmp_path, objects) as (server, admin, _),
        run_as_pod(tmp_path, server, objects) as pod,
    ):

        async def all_ready() -> list[str] | bool:
            waiting = []
            for cr in samples:
                meta = cr["metadata"]
                obj = await admin.get(
                    (cr["apiVersion"], cr["kind"]), meta["name"], namespace=meta.get("namespace")
                )
                if not _ready(obj):
                    waiting.append(f"{cr['kind']} {meta['name']}")
            return not waiting or False

        await _eventually(all_ready, "every sample CR Ready")
        # The surface is reachable from every pod: probes open, the rest only with a
        # ServiceAccount token the cluster vouches for (a TokenReview, with the pod's rights).
        async with pod.http(authenticated=False) as anonymous, pod.http() as reader:
            assert (await anonymous.get("/healthz")).status_code == 200
            assert (await anonymous.get("/metrics")).status_code == 401
            assert (await anonymous.get("/katalog")).status_code == 401
            forged = await anonymous.get("/katalog", headers={"Authorization": "Bearer forged"})
            assert forged.status_code == 401
            assert (await reader.get("/metrics")).status_code == 200
            assert (await reader.get("/katalog")).status_code == 200
        # The pod found its Lease namespace in the service-account namespace file.
        lease_namespace = _deployment(objects)["metadata"]["namespace"]
        leases = await admin.list(("coordination.k8s.io/v1", "Lease"), namespace=lease_namespace)
        assert leases.items, "no Lease in the pod's namespace"

        # Take away one right while it runs: the next write that needs it is refused,
        # and says so in the box's health and on the CR.
        cluster_role = next(o for o in objects if o["kind"] == "ClusterRole")
        narrowed = json.loads(json.dumps([cluster_role]))
        _drop(narrowed, "apps", "deployments", "create")
        current = await admin.get(
            ("rbac.authorization.k8s.io/v1", "ClusterRole"), cluster_role["metadata"]["name"]
        )
        await admin.replace({**current, "rules": narrowed[0]["rules"]})
        await admin.create(
            {
                "apiVersion": "demo.example.com/v1",
                "kind": "Website",
                "metadata": {"name": "blocked", "namespace": "default"},
                "spec": {"image": "nginx:1.27"},
            },
            namespace="default",
        )
        needle = "forbidden: create apps/v1 Deployment default/blocked"

        async def health_says() -> str | None:
            error = await _health_error(pod, "website")
            return error if needle in error else None

        error = await _eventually(health_says, "the forbidden create in the box's health")
        assert 'cannot create resource "deployments" in API group "apps"' in error
        await _eventually(
            lambda: _forbidden_event(admin, "blocked", needle), "the forbidden create as an Event"
        )


@pytest.mark.parametrize(
    ("group", "resource", "verb", "box", "needle"),
    [
        # The child informer cannot list: the box never starts, and says why.
        ("", "configmaps", "list", "website", "forbidden: list v1 ConfigMap in all namespaces"),
        # It lists but cannot watch: the cache would go stale; health says so.
        (
            "apps",
            "statefulsets",
            "watch",
            "managed-database",
            "forbidden: watch apps/v1 StatefulSet",
        ),
        # Children block their owner's deletion: that needs update on its finalizers.
        (
            "demo.example.com",
            "websites/finalizers",
            "update",
            "website",
            "forbidden: create v1 ConfigMap default/my-site-page-home",
        ),
        # Events are refused: no Event can say so, the box's health does.
        ("", "events", "create", "website", "forbidden: create v1 Event"),
        # Reconciles run but the status write is refused.
        (
            "demo.example.com",
            "loaders/status",
            "patch",
            "loader",
            "forbidden: patch status demo.example.com/v1 Loader default/ingest-loader",
        ),
    ],
    ids=lambda value: value if isinstance(value, str) and "forbidden" not in value else None,
)
async def test_one_rule_less_is_a_clear_forbidden_in_health(
    tmp_path, capsys, group, resource, verb, box, needle
):
    objects = _manifests(capsys)
    _drop(objects, group, resource, verb)
    async with (
        cluster_with_manifests(tmp_path, objects) as (server, _admin, _),
        run_as_pod(tmp_path, server, objects) as pod,
    ):

        async def health_says() -> str | None:
            error = await _health_error(pod, box)
            return error if needle in error else None

        error = await _eventually(health_says, f"{needle!r} in box {box}'s health")
        assert f'cannot {verb} resource "{resource}"' in error
        if verb in ("list", "watch"):
            # No CR to tell: the Event goes on the runtime's pod (kubectl describe pod).
            namespace = _deployment(objects)["metadata"]["namespace"]

            async def pod_event() -> str | None:
                events = await _admin.list(("v1", "Event"), namespace=namespace)
                for event in events.items:
                    involved = event["involvedObject"]
                    mine = involved.get("kind") == "Pod" and involved.get("name") == POD_NAME
                    if mine and needle in event.get("message", ""):
                        return str(event["reason"])
                return None

            assert await _eventually(pod_event, "the BoxBlocked Event on the pod") == "BoxBlocked"
