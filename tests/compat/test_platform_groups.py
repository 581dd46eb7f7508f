"""Orkestra's further resource groups and ordered deletion, on the embedded server.

Katalog: katalogs/platform-groups.yaml. Every child is checked field by
field; the status reads children through Orkestra's `.children.<kind>` form.
"""

from pathlib import Path

from orkestra_trio.testing import open_test_cluster, run_katalog

KATALOG = Path(__file__).parent / "katalogs" / "platform-groups.yaml"


async def test_platform_groups_and_ordered_deletion(autojump_clock):
    async with open_test_cluster() as cluster, run_katalog(KATALOG, cluster) as kat:
        await kat.apply(kat.manifest("tenant", "acme", {"maxReplicas": 7, "storage": "5Gi"}))
        await kat.wait_steady()
        assert kat.ready("tenant", "acme"), kat.status("tenant", "acme")

        deny = kat.child("tenant", "acme", "NetworkPolicy", "acme-deny")
        assert deny["spec"] == {"podSelector": {}, "policyTypes": ["Ingress", "Egress"]}
        web = kat.child("tenant", "acme", "NetworkPolicy", "acme-web")
        assert web["spec"]["podSelector"] == {"matchLabels": {"app": "web"}}
        assert web["spec"]["ingress"] == [{"ports": [{"port": 8080, "protocol": "TCP"}]}]

        role = kat.child("tenant", "acme", "Role", "acme-reader")
        assert role["rules"] == [
            {"apiGroups": [""], "resources": ["configmaps"], "verbs": ["get", "list"]}
        ]
        binding = kat.child("tenant", "acme", "RoleBinding", "acme-reader")
        assert binding["roleRef"] == {
            "apiGroup": "rbac.authorization.k8s.io",
            "kind": "Role",
            "name": "acme-reader",
        }
        assert binding["subjects"] == [
            {"kind": "ServiceAccount", "name": "acme-runner", "namespace": "default"}
        ]

        pvc = kat.child("tenant", "acme", "PersistentVolumeClaim", "acme-data")
        assert pvc["spec"]["accessModes"] == ["ReadWriteOnce"]
        assert pvc["spec"]["resources"] == {"requests": {"storage": "5Gi"}}
        assert pvc["spec"]["storageClassName"] == "standard"

        deploy = kat.child("tenant", "acme", "Deployment", "acme")
        pod = deploy["spec"]["template"]["spec"]
        assert pod["volumes"] == [
            {"name": "data", "persistentVolumeClaim": {"claimName": "acme-data"}}
        ]
        agent = kat.child("tenant", "acme", "DaemonSet", "acme-agent")
        assert agent["spec"]["template"]["spec"]["containers"][0]["image"] == "busybox"

        hpa = kat.child("tenant", "acme", "HorizontalPodAutoscaler", "acme")
        assert hpa["spec"]["scaleTargetRef"] == {
            "apiVersion": "apps/v1",
            "kind": "Deployment",
            "name": "acme",
        }
        assert (hpa["spec"]["minReplicas"], hpa["spec"]["maxReplicas"]) == (2, 7)
        assert hpa["spec"]["metrics"] == [
            {
                "type": "Resource",
                "resource": {
                    "name": "cpu",
                    "target": {"type": "Utilization", "averageUtilization": 75},
                },
            }
        ]
        pdb = kat.child("tenant", "acme", "PodDisruptionBudget", "acme")
        assert pdb["spec"]["minAvailable"] == 1
        assert pdb["spec"]["selector"] == {
            "matchLabels": {
                "app.kubernetes.io/name": "acme",
                "orkestra.orkspace.io/owner": "acme",
            }
        }

        status = kat.status("tenant", "acme")
        assert status["hpaMax"] == 7 and status["storage"] == "5Gi"

        # Steady: nothing is rewritten.
        before = cluster.write_count()
        await kat.advance(60)
        assert cluster.write_count() == before

        # Ordered deletion: the Deployment goes first, then the PVC, then the CR.
        await kat.delete("tenant", "acme")
        await kat.wait_steady()
        assert kat.cr("tenant", "acme") is None
        deletes = [
            (verb, resource)
            for verb, resource in cluster.requests()
            if verb == "delete" and resource in ("deployments", "persistentvolumeclaims")
        ]
        assert deletes[:2] == [
            ("delete", "deployments"),
            ("delete", "persistentvolumeclaims"),
        ]


async def test_ordered_deletion_timeout_follows_trios_clock(autojump_clock):
    async with open_test_cluster() as cluster, run_katalog(KATALOG, cluster) as kat:
        await kat.apply(kat.manifest("tenant", "acme", {"maxReplicas": 3}))
        await kat.wait_steady()
        # A finalizer nobody removes holds the PVC, so the "data" group never finishes.
        await cluster.kube.merge_patch(
            ("v1", "PersistentVolumeClaim"),
            "acme-data",
            {"metadata": {"finalizers": ["example.com/hold"]}},
            namespace="default",
        )
        await kat.delete("tenant", "acme")
        await kat.advance(60)
        reasons = [e["reason"] for e in kat.events("tenant", "acme")]
        assert "OrderedDeletionTimeout" not in reasons
        # Past the Katalog's 5m timeout (virtual time): a Warning, and the CR still held.
        await kat.advance(300)
        timed_out = [
            e for e in kat.events("tenant", "acme") if e["reason"] == "OrderedDeletionTimeout"
        ]
        assert timed_out and timed_out[-1]["type"] == "Warning"
        assert "acme-data" in timed_out[-1]["message"]
        assert kat.cr("tenant", "acme") is not None
        await cluster.kube.merge_patch(
            ("v1", "PersistentVolumeClaim"),
            "acme-data",
            {"metadata": {"finalizers": []}},
            namespace="default",
        )
        await kat.wait_steady()
        assert kat.cr("tenant", "acme") is None
