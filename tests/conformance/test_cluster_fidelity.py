"""Where the embedded server used to differ from kube-apiserver (issue 15), checked over HTTP.

Each test here failed against the server before the gap it names was closed:
a user's code that passes against the embedded server must pass on a real
cluster. The server is the shared ``python -m orkestra_trio apiserver``
process of the conformance suite; a test that needs another configuration
starts its own.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import yaml
from conformance_helpers import ApiServerProcess, Kubectl, wait_until

pytestmark = pytest.mark.slow

NS = "default"
GROUP = "fidelity.example.com"
GADGETS = f"/apis/{GROUP}/v1/namespaces/{NS}/gadgets"
DEPLOYMENTS = f"/apis/apps/v1/namespaces/{NS}/deployments"
SERVICES = f"/api/v1/namespaces/{NS}/services"
CONFIGMAPS = f"/api/v1/namespaces/{NS}/configmaps"
MERGE = {"content-type": "application/merge-patch+json"}


def deployment(name: str, replicas: int = 1, image: str = "nginx:1.27") -> dict[str, Any]:
    return {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": name},
        "spec": {
            "replicas": replicas,
            "selector": {"matchLabels": {"app": name}},
            "template": {
                "metadata": {"labels": {"app": name}},
                "spec": {"containers": [{"name": "web", "image": image}]},
            },
        },
    }


def created(http: httpx.Client, path: str, body: dict[str, Any]) -> dict[str, Any]:
    answer = http.post(path, json=body)
    assert answer.status_code == 201, answer.text
    result: dict[str, Any] = answer.json()
    return result


@pytest.fixture(scope="module")
def gadgets(http: httpx.Client) -> str:
    """A CRD whose status schema declares only ``phase``."""
    crd = {
        "apiVersion": "apiextensions.k8s.io/v1",
        "kind": "CustomResourceDefinition",
        "metadata": {"name": f"gadgets.{GROUP}"},
        "spec": {
            "group": GROUP,
            "scope": "Namespaced",
            "names": {"plural": "gadgets", "singular": "gadget", "kind": "Gadget"},
            "versions": [
                {
                    "name": "v1",
                    "served": True,
                    "storage": True,
                    "subresources": {"status": {}},
                    "schema": {
                        "openAPIV3Schema": {
                            "type": "object",
                            "properties": {
                                "spec": {
                                    "type": "object",
                                    "properties": {"size": {"type": "integer"}},
                                },
                                "status": {
                                    "type": "object",
                                    "properties": {"phase": {"type": "string"}},
                                },
                            },
                        }
                    },
                }
            ],
        },
    }
    created(http, "/apis/apiextensions.k8s.io/v1/customresourcedefinitions", crd)
    wait_until(
        lambda: http.get(GADGETS).status_code == 200, timeout=10, what="gadgets to be served"
    )
    return GADGETS


# ------------------------------------------------------------ status on create


@pytest.mark.parametrize(
    ("path", "body", "status"),
    [
        (DEPLOYMENTS, deployment("fid-status"), {}),
        (
            SERVICES,
            {"metadata": {"name": "fid-status"}, "spec": {"ports": [{"port": 80}]}},
            {"loadBalancer": {}},
        ),
        (
            f"/apis/batch/v1/namespaces/{NS}/jobs",
            {
                "metadata": {"name": "fid-status"},
                "spec": {
                    "template": {
                        "spec": {
                            "restartPolicy": "Never",
                            "containers": [{"name": "c", "image": "busybox"}],
                        }
                    }
                },
            },
            {},
        ),
    ],
    ids=["deployment", "service", "job"],
)
def test_a_new_builtin_object_comes_back_with_its_status(
    http: httpx.Client, path: str, body: dict[str, Any], status: dict[str, Any]
) -> None:
    answer = created(http, path, body)
    assert answer["status"] == status


# ------------------------------------------------------------ pruning on /status


def test_a_status_write_prunes_fields_the_schema_lacks(http: httpx.Client, gadgets: str) -> None:
    created(http, gadgets, {"metadata": {"name": "pruned"}, "spec": {"size": 1}})
    patched = http.patch(
        f"{gadgets}/pruned/status",
        json={"status": {"phase": "Ready", "note": "not in the schema"}},
        headers=MERGE,
    )
    assert patched.status_code == 200, patched.text
    assert patched.json()["status"] == {"phase": "Ready"}
    assert http.get(f"{gadgets}/pruned").json()["status"] == {"phase": "Ready"}
    # An unrelated write afterwards carries no warning about a stored unknown field.
    later = http.patch(
        f"{gadgets}/pruned",
        params={"fieldValidation": "Warn"},
        json={"spec": {"size": 2}},
        headers=MERGE,
    )
    assert later.status_code == 200, later.text
    assert "Warning" not in later.headers


def test_a_strict_status_write_with_an_unknown_field_is_refused(
    http: httpx.Client, gadgets: str
) -> None:
    created(http, gadgets, {"metadata": {"name": "strict"}, "spec": {"size": 1}})
    answer = http.patch(
        f"{gadgets}/strict/status",
        params={"fieldValidation": "Strict"},
        json={"status": {"phase": "Ready", "note": "x"}},
        headers=MERGE,
    )
    assert answer.status_code == 400, answer.text
    assert "status.note" in answer.json()["message"]


# ------------------------------------------------------------ name rules


@pytest.mark.parametrize(
    ("path", "body"),
    [
        (SERVICES, {"metadata": {"name": "9lives"}, "spec": {"ports": [{"port": 80}]}}),
        (SERVICES, {"metadata": {"name": "a.b"}, "spec": {"ports": [{"port": 80}]}}),
        ("/api/v1/namespaces", {"metadata": {"name": "dotted.namespace"}}),
        (CONFIGMAPS, {"metadata": {"name": "Upper"}}),
        (
            f"/apis/batch/v1/namespaces/{NS}/cronjobs",
            {
                "metadata": {"name": "c" * 53},
                "spec": {
                    "schedule": "* * * * *",
                    "jobTemplate": {
                        "spec": {
                            "template": {
                                "spec": {
                                    "restartPolicy": "Never",
                                    "containers": [{"name": "c", "image": "busybox"}],
                                }
                            }
                        }
                    },
                },
            },
        ),
    ],
    ids=["service-digit-first", "service-dot", "namespace-dot", "configmap-upper", "cronjob-53"],
)
def test_names_a_real_server_refuses_are_refused(
    http: httpx.Client, path: str, body: dict[str, Any]
) -> None:
    answer = http.post(path, json=body)
    assert answer.status_code == 422, answer.text
    status = answer.json()
    assert status["reason"] == "Invalid"
    assert [c["field"] for c in status["details"]["causes"]] == ["metadata.name"]


@pytest.mark.parametrize(
    ("path", "name"),
    [(SERVICES, "lives9"), (CONFIGMAPS, "dotted.name-9"), (DEPLOYMENTS, "9-dotted.deploy")],
)
def test_names_a_real_server_accepts_are_accepted(http: httpx.Client, path: str, name: str) -> None:
    body: dict[str, Any] = {"metadata": {"name": name}}
    if path == SERVICES:
        body["spec"] = {"ports": [{"port": 80}]}
    if path == DEPLOYMENTS:
        body = deployment("x")
        body["metadata"]["name"] = name
    created(http, path, body)


# ------------------------------------------------------------ resourceVersions


def test_a_watch_from_a_future_resource_version_is_refused(http: httpx.Client) -> None:
    current = int(http.get(CONFIGMAPS).json()["metadata"]["resourceVersion"])
    answer = http.get(
        CONFIGMAPS, params={"watch": "true", "resourceVersion": str(current + 1000)}, timeout=5
    )
    assert answer.status_code == 504, answer.text
    status = answer.json()
    assert status["reason"] == "Timeout"
    assert status["details"]["causes"][0]["reason"] == "ResourceVersionTooLarge"
    # A list at a future revision is refused the same way.
    listed = http.get(CONFIGMAPS, params={"resourceVersion": str(current + 1000)})
    assert listed.status_code == 504


@pytest.fixture(scope="module")
def compacting_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ApiServerProcess]:
    """A second server that compacts its watch history every half second."""
    server = ApiServerProcess(
        Path(tmp_path_factory.mktemp("compacting")), ("--compaction-interval", "0.5")
    )
    server.start()
    try:
        yield server
    finally:
        assert server.stop() == 0, server.logs()


def test_history_ages_out_by_time(compacting_server: ApiServerProcess) -> None:
    with httpx.Client(base_url=compacting_server.url, timeout=10) as client:
        first = created(client, CONFIGMAPS, {"metadata": {"name": "old"}})
        rv = first["metadata"]["resourceVersion"]
        created(client, CONFIGMAPS, {"metadata": {"name": "new"}})

        def expired() -> bool:
            # Each poll writes, as a busy cluster would: compaction needs later revisions.
            client.patch(f"{CONFIGMAPS}/new", json={"data": {"t": "x"}}, headers=MERGE)
            exact = client.get(
                CONFIGMAPS, params={"resourceVersion": rv, "resourceVersionMatch": "Exact"}
            )
            assert exact.status_code in (200, 410), exact.text
            return exact.status_code == 410

        wait_until(expired, timeout=10, what="the history to be compacted")
        exact = client.get(
            CONFIGMAPS, params={"resourceVersion": rv, "resourceVersionMatch": "Exact"}
        )
        assert exact.json()["reason"] == "Expired"
        assert "continue" not in exact.json()["message"]
        watch = client.get(CONFIGMAPS, params={"watch": "true", "resourceVersion": rv})
        event = json.loads(watch.text.splitlines()[0])
        assert event["type"] == "ERROR" and event["object"]["code"] == 410


# ------------------------------------------------------------ kinds users apply


def _new_kinds(tag: str) -> list[dict[str, Any]]:
    labels = {"app": f"fid{tag}"}
    selector = {"matchLabels": labels}
    return [
        {
            "apiVersion": "apps/v1",
            "kind": "DaemonSet",
            "metadata": {"name": f"agent-{tag}", "namespace": NS},
            "spec": {
                "selector": selector,
                "template": {
                    "metadata": {"labels": labels},
                    "spec": {"containers": [{"name": "a", "image": "busybox"}]},
                },
            },
        },
        {
            "apiVersion": "v1",
            "kind": "PersistentVolumeClaim",
            "metadata": {"name": f"data-{tag}", "namespace": NS},
            "spec": {
                "accessModes": ["ReadWriteOnce"],
                "resources": {"requests": {"storage": "1Gi"}},
            },
        },
        {
            "apiVersion": "v1",
            "kind": "PersistentVolume",
            "metadata": {"name": f"vol-{tag}"},
            "spec": {
                "capacity": {"storage": "1Gi"},
                "accessModes": ["ReadWriteOnce"],
                "hostPath": {"path": "/tmp/vol"},
            },
        },
        {
            "apiVersion": "autoscaling/v2",
            "kind": "HorizontalPodAutoscaler",
            "metadata": {"name": f"scale-{tag}", "namespace": NS},
            "spec": {
                "scaleTargetRef": {"apiVersion": "apps/v1", "kind": "Deployment", "name": "x"},
                "minReplicas": 1,
                "maxReplicas": 3,
            },
        },
        {
            "apiVersion": "policy/v1",
            "kind": "PodDisruptionBudget",
            "metadata": {"name": f"budget-{tag}", "namespace": NS},
            "spec": {"minAvailable": 1, "selector": selector},
        },
        {
            "apiVersion": "networking.k8s.io/v1",
            "kind": "NetworkPolicy",
            "metadata": {"name": f"deny-{tag}", "namespace": NS},
            "spec": {"podSelector": {}, "policyTypes": ["Ingress"]},
        },
        {"apiVersion": "v1", "kind": "Node", "metadata": {"name": f"node-{tag}"}},
    ]


def test_kubectl_applies_and_gets_the_kinds_katalogs_use(kubectl: Kubectl, tmp_path: Path) -> None:
    manifests = _new_kinds(kubectl.tag)
    path = tmp_path / "kinds.yaml"
    path.write_text(yaml.safe_dump_all(manifests))
    applied = kubectl.run("apply", "-f", str(path)).stdout
    assert applied.count("created") == len(manifests), applied
    listed = json.loads(kubectl.run("get", "ds,pvc,hpa,pdb,netpol", "-n", NS, "-o", "json").stdout)
    names = {item["metadata"]["name"] for item in listed["items"]}
    assert {
        m["metadata"]["name"] for m in manifests if m["kind"] not in ("Node", "PersistentVolume")
    } <= names
    cluster = json.loads(kubectl.run("get", "pv,nodes", "-o", "json").stdout)
    assert {f"vol-{kubectl.tag}", f"node-{kubectl.tag}"} <= {
        item["metadata"]["name"] for item in cluster["items"]
    }
    pvc = json.loads(
        kubectl.run("get", "pvc", f"data-{kubectl.tag}", "-n", NS, "-o", "json").stdout
    )
    assert pvc["status"]["phase"] == "Pending"
    kubectl.run("delete", "-f", str(path))
