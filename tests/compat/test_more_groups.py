"""Orkestra's replicaSets, pods, persistentVolumes, clusterRoles and clusterRoleBindings
groups on the embedded server.

Katalog: katalogs/more-groups.yaml. The namespaced children (a ReplicaSet, a
Pod) carry the CR's ownerReference; the cluster-scoped ones (PersistentVolume,
ClusterRole, ClusterRoleBinding) cannot, so they carry the owner-uid label and
are deleted by the runtime under its finalizer when the CR goes.
"""

from pathlib import Path

from orkestra_trio.katalog.manifests import OWNER_NAMESPACE_ANNOTATION, OWNER_UID_LABEL
from orkestra_trio.testing import open_test_cluster, run_katalog

KATALOG = Path(__file__).parent / "katalogs" / "more-groups.yaml"


def _cluster_object(cluster, plural, name):
    for obj in cluster.objects(plural, ""):
        if obj["metadata"]["name"] == name:
            return obj
    return None


async def test_replicasets_pods_and_cluster_scoped_groups(autojump_clock):
    async with open_test_cluster() as cluster, run_katalog(KATALOG, cluster) as kat:
        await kat.apply(kat.manifest("lab", "demo", {"workers": 3, "storage": "5Gi"}))
        await kat.wait_steady()
        assert kat.ready("lab", "demo"), kat.status("lab", "demo")
        uid = kat.cr("lab", "demo")["metadata"]["uid"]

        # replicaSets: the deployments' workload shorthand.
        workers = kat.child("lab", "demo", "ReplicaSet", "demo-workers")
        assert workers["apiVersion"] == "apps/v1"
        assert workers["spec"]["replicas"] == 3
        labels = {"app.kubernetes.io/name": "demo-workers", "orkestra.orkspace.io/owner": "demo"}
        assert workers["spec"]["selector"] == {"matchLabels": labels}
        assert workers["spec"]["template"]["metadata"]["labels"] == labels
        (container,) = workers["spec"]["template"]["spec"]["containers"]
        assert container["name"] == "demo-workers"
        assert container["image"] == "nginx"
        assert container["ports"] == [{"name": "http", "containerPort": 8080, "protocol": "TCP"}]

        # pods: the pod/container shorthand, no template.
        pod = kat.child("lab", "demo", "Pod", "demo-probe")
        assert pod["metadata"]["labels"]["app.kubernetes.io/name"] == "demo-probe"
        assert pod["metadata"]["labels"]["orkestra.orkspace.io/owner"] == "demo"
        assert pod["spec"]["restartPolicy"] == "Never"
        (container,) = pod["spec"]["containers"]
        assert container["image"] == "busybox:1.36"
        assert container["command"] == ["sleep", "3600"]
        assert container["env"] == [{"name": "LAB", "value": "demo"}]

        # persistentVolumes: cluster-scoped, tracked by label.
        pv = _cluster_object(cluster, "persistentvolumes", "demo-default-pv")
        assert pv is not None
        assert "namespace" not in pv["metadata"]
        assert "ownerReferences" not in pv["metadata"]
        assert pv["metadata"]["labels"][OWNER_UID_LABEL] == uid
        assert pv["metadata"]["annotations"][OWNER_NAMESPACE_ANNOTATION] == "default"
        assert pv["spec"]["capacity"] == {"storage": "5Gi"}
        assert pv["spec"]["accessModes"] == ["ReadWriteMany"]
        assert pv["spec"]["storageClassName"] == "manual"
        assert pv["spec"]["persistentVolumeReclaimPolicy"] == "Retain"
        assert pv["spec"]["hostPath"] == {"path": "/data/demo"}

        # clusterRoles / clusterRoleBindings: cluster-scoped, tracked by label.
        role = _cluster_object(cluster, "clusterroles", "lab-demo-reader")
        assert role["rules"] == [
            {"apiGroups": [""], "resources": ["nodes"], "verbs": ["get", "list"]}
        ]
        assert role["metadata"]["labels"][OWNER_UID_LABEL] == uid
        binding = _cluster_object(cluster, "clusterrolebindings", "lab-demo-reader")
        assert binding["roleRef"] == {
            "apiGroup": "rbac.authorization.k8s.io",
            "kind": "ClusterRole",
            "name": "lab-demo-reader",
        }
        assert binding["subjects"] == [
            {"kind": "ServiceAccount", "name": "demo-runner", "namespace": "default"}
        ]

        # Steady: nothing is rewritten.
        before = cluster.write_count()
        await kat.advance(60)
        assert cluster.write_count() == before

        # A change of the CR reaches the cluster-scoped child.
        await kat.apply(kat.manifest("lab", "demo", {"workers": 3, "storage": "8Gi"}))
        await kat.wait_steady()
        pv = _cluster_object(cluster, "persistentvolumes", "demo-default-pv")
        assert pv["spec"]["capacity"] == {"storage": "8Gi"}

        # Deleting the CR: the label-owned children go too (the runtime's finalizer).
        await kat.delete("lab", "demo")
        await kat.wait_steady()
        assert kat.cr("lab", "demo") is None
        assert _cluster_object(cluster, "persistentvolumes", "demo-default-pv") is None
        assert _cluster_object(cluster, "clusterroles", "lab-demo-reader") is None
        assert _cluster_object(cluster, "clusterrolebindings", "lab-demo-reader") is None
