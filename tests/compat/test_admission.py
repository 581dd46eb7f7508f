"""Orkestra's admission rules run on the embedded server: at reconcile, and at admission.

katalogs/admission.yaml: ``site`` writes ``validation``/``mutation`` on the CRD
entry (Gen B), ``guarded`` writes them under ``admission:`` with ``webhooks``
(Gen C). At reconcile a mutation is one patch of the CR, a ``deny`` rule
stops the reconcile with Ready=False and a Warning Event, a ``warn`` rule
posts a ``ValidationWarning`` Event once; ``unique`` compares with the box's
CRs. With ``webhooks`` the server runs the same rules before it stores a CR.
"""

from pathlib import Path

import pytest

from orkestra_trio.kube import KubeError
from orkestra_trio.testing import open_test_cluster, run_katalog

KATALOG = Path(__file__).parent / "katalogs" / "admission.yaml"


def ready_condition(cr):
    return next(c for c in cr["status"]["conditions"] if c["type"] == "Ready")


def reasons(events):
    return [(e["type"], e["reason"], e.get("count", 1)) for e in events]


async def test_validation_and_mutation_at_reconcile(autojump_clock):
    async with open_test_cluster() as cluster, run_katalog(KATALOG, cluster) as kat:
        # mutation: the default and the override land on the CR in one patch.
        await kat.apply(kat.manifest("site", "shop", {"replicas": 3, "host": "shop.example"}))
        await kat.wait_steady()
        cr = kat.cr("site", "shop")
        assert cr["spec"]["tier"] == "standard"
        assert cr["metadata"]["labels"]["managed-by"] == "orkestra"
        assert kat.ready("site", "shop")
        # Two writes of the CR: the mutation's patch, then one status write that already
        # sees the patched generation (status writes count under the CR's plural).
        assert cluster.write_count("sites") == 2
        config = kat.child("site", "shop", "ConfigMap", "shop")
        assert config["data"] == {"tier": "standard", "host": "shop.example"}
        # Steady: nothing is patched again (no write loop).
        before = cluster.write_count()
        await kat.advance(120)
        assert cluster.write_count() == before
        # The default comes back when the field is removed: one patch of the CR and one
        # status write, which already sees the patched generation (the ConfigMap is unchanged).
        await cluster.kube.merge_patch(
            ("adm.example.com/v1", "Site"), "shop", {"spec": {"tier": None}}, namespace="default"
        )
        await kat.wait_steady()
        assert kat.cr("site", "shop")["spec"]["tier"] == "standard"
        assert kat.ready("site", "shop")
        assert cluster.write_count() == before + 2

        # warn: one ValidationWarning Event, not one per reconcile; the reconcile goes on.
        await kat.apply(
            kat.manifest("site", "gold", {"replicas": 2, "host": "gold.example", "tier": "gold"})
        )
        await kat.wait_steady()
        assert kat.ready("site", "gold")
        runs = len(kat.log.of("site"))
        await cluster.kube.merge_patch(
            ("adm.example.com/v1", "Site"),
            "gold",
            {"metadata": {"annotations": {"a": "b"}}},
            namespace="default",
        )
        await kat.wait_steady()
        assert len(kat.log.of("site")) > runs  # reconciled again, with the same warning
        warnings = [e for e in kat.events("site", "gold") if e["reason"] == "ValidationWarning"]
        assert len(warnings) == 1 and warnings[0]["type"] == "Warning"
        assert warnings[0].get("count", 1) == 1
        assert "spec.tier must satisfy in standard,premium" in warnings[0]["message"]

        # deny: Ready=False with the rule's message, a Warning Event, no child, no patch.
        await kat.apply(kat.manifest("site", "big", {"replicas": 20, "host": "big.example"}))
        await kat.wait_steady()
        big = kat.cr("site", "big")
        ready = ready_condition(big)
        assert ready["status"] == "False"
        assert "replicas must be 1-10, got 20" in ready["message"]
        assert ("Warning", "SiteReconcileError", 1) in reasons(kat.events("site", "big"))
        assert kat.child("site", "big", "ConfigMap", "big") is None
        assert "tier" not in big["spec"]  # mutateFirst: the denied CR is validated mutated,
        # but a denied CR is never written to.

        # unique: a second CR with shop's host is denied; shop itself stays ready.
        await kat.apply(kat.manifest("site", "copy", {"replicas": 1, "host": "shop.example"}))
        await kat.wait_steady()
        message = ready_condition(kat.cr("site", "copy"))["message"]
        assert "spec.host 'shop.example' is already used by another Site" in message
        # unique read the box's informer cache: its one list, no other read of the CRs.
        reads = {verb: n for (verb, plural), n in cluster.requests().items() if plural == "sites"}
        assert reads.get("list") == 1 and "get" not in reads

        # Fixing the CR clears the error.
        await kat.apply(kat.manifest("site", "big", {"replicas": 4, "host": "big.example"}))
        await kat.wait_steady(within=1200)
        assert kat.ready("site", "big")
        assert kat.cr("site", "big")["spec"]["tier"] == "standard"


async def test_webhooks_run_the_rules_at_admission(autojump_clock):
    async with open_test_cluster() as cluster, run_katalog(KATALOG, cluster) as kat:
        created = await kat.apply(kat.manifest("guarded", "one", {"replicas": 2, "host": "a"}))
        assert created["spec"]["tier"] == "standard"  # mutated before it was stored
        with pytest.raises(KubeError) as denied:
            await kat.apply(kat.manifest("guarded", "two", {"replicas": 9, "host": "b"}))
        assert denied.value.code == 400
        assert "denied the request: at most 5 replicas" in str(denied.value)
        assert kat.cr("guarded", "two") is None
        with pytest.raises(KubeError) as duplicate:
            await kat.apply(kat.manifest("guarded", "three", {"replicas": 1, "host": "a"}))
        assert "spec.host 'a' is already used by another Guarded" in str(duplicate.value)
        # UPDATE: the same rules; the CR keeps its stored version.
        with pytest.raises(KubeError):
            await kat.apply(kat.manifest("guarded", "one", {"replicas": 7, "host": "a"}))
        assert kat.cr("guarded", "one")["spec"]["replicas"] == 2
        # warn: admitted, with the warning.
        await kat.apply(
            kat.manifest("guarded", "old", {"replicas": 1, "host": "c", "tier": "legacy"})
        )
        await kat.wait_steady()
        assert kat.ready("guarded", "old") and kat.ready("guarded", "one")


CONVERSION = Path(__file__).parent / "katalogs" / "conversion.yaml"


async def test_conversion_paths_serve_both_versions(autojump_clock):
    async with open_test_cluster() as cluster, run_katalog(CONVERSION, cluster) as kat:
        v1 = {
            "apiVersion": "adm.example.com/v1",
            "kind": "Gauge",
            "metadata": {"name": "g", "namespace": "default"},
            "spec": {"replicas": 3},
        }
        answered = await cluster.kube.create(v1, namespace="default")
        assert answered["apiVersion"] == "adm.example.com/v1"  # served as it was written
        assert answered["spec"]["replicas"] == 3
        [stored] = cluster.objects("gauges", "default")
        assert stored["apiVersion"] == "adm.example.com/v2"  # stored in the storage version
        assert stored["spec"]["size"] == 3
        # The box (v2) reconciles the converted CR.
        await kat.wait_steady()
        assert kat.child("gauge", "g", "ConfigMap", "g")["data"] == {"size": "3"}
        # A v2 write reads back through v1 as well.
        await cluster.kube.merge_patch(
            ("adm.example.com/v2", "Gauge"), "g", {"spec": {"size": 5}}, namespace="default"
        )
        as_v1 = await cluster.kube.get(("adm.example.com/v1", "Gauge"), "g", namespace="default")
        assert as_v1["spec"]["replicas"] == 5
