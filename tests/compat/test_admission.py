"""Orkestra's admission rules run on the embedded server: at reconcile, and at admission.

katalogs/admission.yaml: ``site`` writes ``validation``/``mutation`` on the CRD
entry (Gen B), ``guarded`` writes them under ``admission:`` with ``webhooks``
(Gen C). At reconcile a mutation is one patch of the CR, a ``deny`` rule
stops the reconcile with Ready=False and a Warning Event, a ``warn`` rule
posts a ``ValidationWarning`` Event once; ``unique`` compares with the box's
CRs. With ``webhooks`` the server runs the same rules before it stores a CR.
"""

from pathlib import Path

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
        config = kat.child("site", "shop", "ConfigMap", "shop")
        assert config["data"] == {"tier": "standard", "host": "shop.example"}
        # Steady: nothing is patched again (no write loop).
        before = cluster.write_count()
        await kat.advance(120)
        assert cluster.write_count() == before

        # warn: one ValidationWarning Event, not one per reconcile; the reconcile goes on.
        await kat.apply(
            kat.manifest("site", "gold", {"replicas": 2, "host": "gold.example", "tier": "gold"})
        )
        await kat.wait_steady()
        assert kat.ready("site", "gold")
        await kat.advance(120)
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

        # Fixing the CR clears the error.
        await kat.apply(kat.manifest("site", "big", {"replicas": 4, "host": "big.example"}))
        await kat.wait_steady(within=1200)
        assert kat.ready("site", "big")
        assert kat.cr("site", "big")["spec"]["tier"] == "standard"
