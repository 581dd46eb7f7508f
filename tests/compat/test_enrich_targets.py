"""enrich: every Orkestra target on the children, a gated item, and enrichAll, on the
embedded server (katalogs/enrich-targets.yaml).

The test plays the cluster's other controllers (the embedded server runs the
Deployment/ReplicaSet/StatefulSet ones only): it makes the EndpointSlice of the
Service, the StatefulSet's claims, the CronJob's Jobs, the volumes, the node, the
Warning Events, and the HPA's, CronJob's and Ingress's status. The templates then
see each target's keys on the child (``.children.<kind>._<key>``), read from the
box's caches: a reconcile makes no request for them.
"""

import json
from pathlib import Path

from orkestra_trio.katalog.manifests import NAME_LABEL, OWNER_LABEL
from orkestra_trio.testing import open_test_cluster, run_katalog

KATALOG = Path(__file__).parent / "katalogs" / "enrich-targets.yaml"
ENRICHED = (
    "pods",
    "replicasets",
    "endpointslices",
    "persistentvolumeclaims",
    "persistentvolumes",
    "storageclasses",
    "nodes",
    "jobs",
    "secrets",
    "events",
)


def _seen(cluster, name):
    for obj in cluster.objects("configmaps", "default"):
        if obj["metadata"]["name"] == name:
            return obj["data"]
    raise AssertionError(f"no ConfigMap {name}")


def _reads(cluster):
    """get/list requests of the kinds enrichment reads (watches excluded)."""
    return sorted(
        (verb, resource, count)
        for (verb, resource), count in cluster.requests().items()
        if resource in ENRICHED and verb in ("get", "list")
    )


async def _cluster_state(kube):
    """What exists before the CR: a node, a StorageClass, volumes, a claim, a TLS Secret."""
    zone = {
        "topology.kubernetes.io/zone": "eu-west-1a",
        "topology.kubernetes.io/region": "eu-west-1",
        "node.kubernetes.io/instance-type": "m5.large",
    }
    await kube.create(
        {"apiVersion": "v1", "kind": "Node", "metadata": {"name": "node-a", "labels": zone}}
    )
    await kube.create(
        {
            "apiVersion": "storage.k8s.io/v1",
            "kind": "StorageClass",
            "metadata": {"name": "fast"},
            "provisioner": "ebs.csi.aws.com",
            "reclaimPolicy": "Retain",
        }
    )
    await kube.create(
        {
            "apiVersion": "v1",
            "kind": "PersistentVolume",
            "metadata": {"name": "pv-cache"},
            "spec": {
                "capacity": {"storage": "1Gi"},
                "accessModes": ["ReadWriteOnce"],
                "persistentVolumeReclaimPolicy": "Retain",
                "hostPath": {"path": "/cache"},
            },
        }
    )
    await kube.create(
        {
            "apiVersion": "v1",
            "kind": "PersistentVolumeClaim",
            "metadata": {"name": "archive-claim", "namespace": "default"},
            "spec": {
                "accessModes": ["ReadWriteOnce"],
                "resources": {"requests": {"storage": "5Gi"}},
            },
        }
    )
    await kube.create(
        {
            "apiVersion": "v1",
            "kind": "Secret",
            "metadata": {"name": "shop-tls", "namespace": "default"},
            "type": "kubernetes.io/tls",
            "data": {"tls.crt": "", "tls.key": ""},
        }
    )


def _warning(name, kind, about, reason, when):
    return {
        "apiVersion": "v1",
        "kind": "Event",
        "metadata": {"name": name, "namespace": "default"},
        "involvedObject": {"kind": kind, "name": about, "namespace": "default"},
        "type": "Warning",
        "reason": reason,
        "message": f"{reason} on {about}",
        "count": 2,
        "lastTimestamp": when,
    }


async def _controllers(kube, kat):
    """What the cluster's other controllers make of the children."""
    service = kat.child("stack", "shop", "Service", "shop")
    await kube.create(
        {
            "apiVersion": "discovery.k8s.io/v1",
            "kind": "EndpointSlice",
            "metadata": {
                "name": "shop-x1",
                "namespace": "default",
                # The EndpointSlice controller copies the Service's labels.
                "labels": {**service["metadata"]["labels"], "kubernetes.io/service-name": "shop"},
            },
            "addressType": "IPv4",
            "ports": [{"name": "http", "port": 80, "protocol": "TCP"}],
            "endpoints": [
                {"addresses": ["10.0.0.1"], "conditions": {"ready": True}},
                {"addresses": ["10.0.0.2"], "conditions": {"ready": False}},
            ],
        }
    )
    # The StatefulSet controller's claims carry its selector's labels.
    selector = {NAME_LABEL: "shop-db", OWNER_LABEL: "shop"}
    for ordinal in (0, 1):
        await kube.create(
            {
                "apiVersion": "v1",
                "kind": "PersistentVolumeClaim",
                "metadata": {
                    "name": f"data-shop-db-{ordinal}",
                    "namespace": "default",
                    "labels": selector,
                },
                "spec": {
                    "accessModes": ["ReadWriteOnce"],
                    "resources": {"requests": {"storage": "1Gi"}},
                },
            }
        )
    cron = kat.child("stack", "shop", "CronJob", "shop-nightly")
    labels = cron["spec"]["jobTemplate"]["metadata"]["labels"]
    owner = {
        "apiVersion": "batch/v1",
        "kind": "CronJob",
        "name": "shop-nightly",
        "uid": cron["metadata"]["uid"],
        "controller": True,
    }
    # The embedded server completes a Job at once; the newer one is held (suspended).
    for name, running in (("shop-nightly-100", False), ("shop-nightly-200", True)):
        template = cron["spec"]["jobTemplate"]["spec"]["template"]
        await kube.create(
            {
                "apiVersion": "batch/v1",
                "kind": "Job",
                "metadata": {
                    "name": name,
                    "namespace": "default",
                    "labels": labels,
                    "ownerReferences": [owner],
                },
                "spec": {"template": template, "suspend": running},
            }
        )
        await kat.advance(60)  # the next one is created a minute later
    active = [
        {
            "apiVersion": "batch/v1",
            "kind": "Job",
            "name": "shop-nightly-200",
            "namespace": "default",
        }
    ]
    await kube.patch_status(
        ("batch/v1", "CronJob"), "shop-nightly", {"status": {"active": active}}, namespace="default"
    )
    metrics = [
        {"type": "Resource", "resource": {"name": "cpu", "current": {"averageUtilization": 42}}},
        {"type": "Pods", "pods": {"metric": {"name": "qps"}, "current": {"averageValue": "10"}}},
    ]
    await kube.patch_status(
        ("autoscaling/v2", "HorizontalPodAutoscaler"),
        "shop",
        {"status": {"currentReplicas": 2, "desiredReplicas": 2, "currentMetrics": metrics}},
        namespace="default",
    )
    balancer = {
        "loadBalancer": {"ingress": [{"ip": "203.0.113.7"}, {"hostname": "lb.example.com"}]}
    }
    await kube.patch_status(
        ("networking.k8s.io/v1", "Ingress"), "shop", {"status": balancer}, namespace="default"
    )


async def test_enrich_targets_embed_on_the_children_from_the_boxs_caches(autojump_clock):
    async with open_test_cluster() as cluster, run_katalog(KATALOG, cluster) as kat:
        kube = cluster.kube
        await _cluster_state(kube)
        cr = await kat.apply(kat.manifest("stack", "shop", {"debug": False}))
        await kat.wait_steady()
        await _controllers(kube, kat)
        await kat.wait_steady()
        seen = _seen(cluster, "shop-seen")
        pods = sorted(
            (
                p
                for p in cluster.objects("pods", "default")
                if p["metadata"]["labels"].get(NAME_LABEL) == "shop"
            ),
            key=lambda p: p["metadata"]["name"],
        )
        names = [p["metadata"]["name"] for p in pods]
        assert len(names) == 2

        # pods: Orkestra's summary of each pod of the Deployment.
        summaries = json.loads(seen["pods"])
        assert [s["name"] for s in summaries] == names
        first, pod = summaries[0], pods[0]
        assert first["ip"] == pod["status"]["podIP"]
        assert first["phase"] == "Running"
        assert first["ready"] is True
        assert first["restartCount"] == 0
        assert first["ordinal"] == -1
        assert first["exitCode"] == -1
        (container,) = first["containers"]
        assert (container["name"], container["image"], container["state"]) == (
            "shop",
            "nginx",
            "Running",
        )
        assert seen["podCount"] == "2"
        assert seen["readyPodCount"] == "2"
        assert seen["podNames"] == "[" + " ".join(names) + "]"

        # owner: the child's controller owner, the CR.
        assert json.loads(seen["owner"]) == {
            "name": "shop",
            "kind": "Stack",
            "uid": cr["metadata"]["uid"],
        }

        # replicasets: the Deployment's ReplicaSets (the embedded server's controller made one).
        (replica_set,) = [
            rs
            for rs in cluster.objects("replicasets", "default")
            if rs["metadata"]["name"].startswith("shop-")
        ]
        assert seen["replicaSets"] == replica_set["metadata"]["name"] + " "
        assert seen["replicaSetCount"] == "1"

        # endpoints: {ip, port, ready} per address of the Service's EndpointSlice.
        assert json.loads(seen["endpoints"]) == [
            {"ip": "10.0.0.1", "port": 80, "ready": True},
            {"ip": "10.0.0.2", "port": 80, "ready": False},
        ]
        assert seen["serviceEndpoints"] == "[10.0.0.1:80 10.0.0.2:80]"
        assert seen["hasEndpoints"] == "true"

        # backingpods: the pods the Service's selector selects (the Deployment's).
        assert seen["backingPods"] == "[" + " ".join(names) + "]"

        # pvcs: the StatefulSet's claims (volumeClaimTemplate-name-ordinal).
        assert seen["pvcs"] == "data-shop-db-0 data-shop-db-1 "
        assert seen["pvcCount"] == "2"

        # pvc and storageclass: the claim's bound volume and its StorageClass (full objects).
        assert seen["pv"] == "pv-cache"
        assert seen["pvReclaimPolicy"] == "Retain"
        assert seen["storageClass"] == "ebs.csi.aws.com"
        # pv: the claim bound to the volume.
        assert seen["claim"] == "archive-claim"

        # node: the pod's node, by its topology labels.
        assert json.loads(seen["node"]) == {
            "name": "node-a",
            "zone": "eu-west-1a",
            "region": "eu-west-1",
            "instanceType": "m5.large",
        }
        assert seen["zone"] == "eu-west-1a"

        # hpa: current metrics, normalised, and the scale target.
        assert json.loads(seen["metrics"]) == [
            {"type": "Resource", "name": "cpu", "current": 42},
            {"type": "Pods", "name": "qps", "current": "10"},
        ]
        assert json.loads(seen["scaleTarget"]) == {
            "name": "shop",
            "kind": "Deployment",
            "apiVersion": "apps/v1",
        }

        # cronjob: the active Jobs, the newest Job and the newest that succeeded.
        assert seen["activeJobs"] == "shop-nightly-200 "
        assert seen["lastJob"] == "shop-nightly-200"
        assert seen["lastJobSucceeded"] == "false"
        assert seen["lastSuccessfulJob"] == "shop-nightly-100"

        # ingress (gated by an `or` on the second pass: the Service has a ready endpoint).
        assert json.loads(seen["loadBalancerIPs"]) == ["203.0.113.7", "lb.example.com"]
        assert seen["tlsSecrets"] == "shop-tls "

        # events is gated by `when: spec.debug == "true"`: no _warnings yet.
        await kube.create(
            _warning("shop.1", "Deployment", "shop", "ProgressDeadline", "2026-01-01T00:00:00Z")
        )
        await kube.create(
            _warning(f"{names[0]}.1", "Pod", names[0], "BackOff", "2026-01-01T00:01:00Z")
        )
        await kat.wait_steady()
        seen = _seen(cluster, "shop-seen")
        assert seen["gated"] == "ingress"
        assert seen["warnings"] == "null"
        assert seen["hasWarnings"] == "false"

        # The gate opens: the Deployment's Warnings and its pods', oldest first.
        before = _reads(cluster)
        await kat.apply(kat.manifest("stack", "shop", {"debug": True}))
        await kat.wait_steady()
        seen = _seen(cluster, "shop-seen")
        assert seen["gated"] == "warnings ingress"
        assert json.loads(seen["warnings"]) == [
            {
                "reason": "ProgressDeadline",
                "message": "ProgressDeadline on shop",
                "count": 2,
                "lastTimestamp": "2026-01-01T00:00:00Z",
            },
            {
                "reason": "BackOff",
                "message": f"BackOff on {names[0]}",
                "count": 2,
                "lastTimestamp": "2026-01-01T00:01:00Z",
            },
        ]
        assert seen["hasWarnings"] == "true"
        assert seen["firstWarning"] == "ProgressDeadline on shop"
        # Those reconciles read the caches: no get or list of what enrichment reads.
        assert _reads(cluster) == before

        # A related object changes: the CR reconciles from the cache's new version.
        await kube.patch_status(
            ("networking.k8s.io/v1", "Ingress"),
            "shop",
            {"status": {"loadBalancer": {"ingress": [{"ip": "203.0.113.8"}]}}},
            namespace="default",
        )
        await kube.delete(("v1", "Node"), "node-a")
        await kat.wait_steady()
        seen = _seen(cluster, "shop-seen")
        assert json.loads(seen["loadBalancerIPs"]) == ["203.0.113.8"]
        assert seen["node"] == "null"

        # The caches opened for one object (a volume, a claim, a StorageClass, the node,
        # the TLS Secret) or for the Service's pods close once no CR reads them.
        box = kat.box("stack")
        opened = list(box.enrichment.lazy.values())
        fields = sorted(i.field_selector for i in opened if i.field_selector)
        assert fields == [
            "metadata.name=archive-claim",
            "metadata.name=fast",
            "metadata.name=node-a",
            "metadata.name=pv-cache",
            "metadata.name=shop-tls",
        ]
        assert [i.label_selector for i in opened if i.label_selector] == [
            f"{NAME_LABEL}=shop,{OWNER_LABEL}=shop"
        ]
        await kat.delete("stack", "shop")
        await kat.wait_steady()
        assert box.enrichment.lazy == {}
        running = {id(i) for i in box.registry.informers}
        assert not [i.describe() for i in opened if id(i) in running]


async def test_enrich_all_gives_every_target_to_the_children(autojump_clock):
    async with open_test_cluster() as cluster, run_katalog(KATALOG, cluster) as kat:
        await kat.apply(kat.manifest("mirror", "m1"))
        await kat.wait_steady()
        seen = _seen(cluster, "m1-seen")
        # enrichAll: the Deployment's pods, ReplicaSets, owner and warnings; the Service's
        # backing pods, endpoints, owner and warnings.
        assert seen["keys"] == "_owner _pods _replicaSets _warnings "
        assert seen["serviceKeys"] == "_backingPods _endpoints _owner _warnings "
        assert seen["podCount"] == "1"
        assert seen["backingPodCount"] == "1"
