"""Motifs with inputs, Katalog-wide imports and include:, run on the embedded server.

The Katalog (katalogs/shop-with-motifs.yaml) imports a Motif of its own file
(web-stack, by name and version), one beside it (motifs/cache.yaml) and,
Katalog-wide, org-standards' profiles and notes; parts of its box come from
include: files (parts/). The children are checked field by field.
"""

import base64
from pathlib import Path

from orkestra_trio.testing import open_test_cluster, run_katalog

KATALOG = Path(__file__).parent / "katalogs" / "shop-with-motifs.yaml"


async def test_a_shop_composed_from_motifs_imports_and_includes(autojump_clock):
    async with open_test_cluster() as cluster, run_katalog(KATALOG, cluster) as kat:
        assert kat.box("shop").workers == 2  # reconcile.include: parts/shop-reconcile.yaml
        # setup: its objects exist before any CR.
        secret = await cluster.kube.get(("v1", "Secret"), "shop-registry", namespace="shop-system")
        assert base64.b64decode(secret["data"]["token"]) == b"dev"
        await kat.apply(kat.manifest("shop", "corner", {"version": "1.25"}))
        await kat.wait_steady()
        assert kat.ready("shop", "corner")

        # web-stack's Deployment: image from `with:` (a template over the CR),
        # port from the input's default, resources from org-standards' profile,
        # a label from its note.
        deploy = kat.child("shop", "corner", "Deployment", "corner")
        assert deploy["metadata"]["labels"]["team"] == "storefront"
        [container] = deploy["spec"]["template"]["spec"]["containers"]
        assert container["image"] == "nginx:1.25"
        assert container["ports"] == [{"name": "http", "containerPort": 8080, "protocol": "TCP"}]
        assert container["resources"] == {
            "requests": {"cpu": "200m", "memory": "64Mi"},
            "limits": {"memory": "128Mi"},
        }
        config = kat.child("shop", "corner", "ConfigMap", "corner-web")
        assert config["data"] == {"image": "nginx:1.25", "port": "8080"}
        # The CRD's own Service wins over web-stack's of the same name.
        service = kat.child("shop", "corner", "Service", "corner")
        assert service["spec"]["ports"] == [
            {"name": "http", "port": 443, "targetPort": 8080, "protocol": "TCP"}
        ]
        # From the included reconcile part.
        token = kat.child("shop", "corner", "Secret", "corner-token")
        assert base64.b64decode(token["data"]["owner"]) == b"corner"
        # cache's StatefulSet waits for its input `enabled`.
        assert kat.child("shop", "corner", "StatefulSet", "corner-cache") is None
        cr = kat.cr("shop", "corner")
        assert cr["status"]["phase"] == "Running"  # emit.status.include
        assert cr["status"]["cache"] is False
        assert cr["status"]["image"] == "nginx:1.25"  # web-stack's status field

        # Steady: nothing rewritten.
        before = cluster.write_count()
        await kat.advance(60)
        assert cluster.write_count() == before

        # Inputs follow the CR: a new version and the cache switched on.
        await kat.apply(
            kat.manifest("shop", "corner", {"version": "1.27", "cache": True, "cacheSize": "1Gi"})
        )
        await kat.wait_steady()
        deploy = kat.child("shop", "corner", "Deployment", "corner")
        [container] = deploy["spec"]["template"]["spec"]["containers"]
        assert container["image"] == "nginx:1.27"
        cache = kat.child("shop", "corner", "StatefulSet", "corner-cache")
        assert cache["spec"]["serviceName"] == "corner-cache"
        [redis] = cache["spec"]["template"]["spec"]["containers"]
        assert redis["image"] == "redis:7-alpine"
        assert redis["args"] == ["--maxmemory", "1Gi"]
        cr = kat.cr("shop", "corner")
        assert cr["status"]["image"] == "nginx:1.27"
        assert cr["status"]["cache"] is True

        # Off again: the Motif's conditional child goes, as an onReconcile child does.
        await kat.apply(kat.manifest("shop", "corner", {"version": "1.27", "cache": False}))
        await kat.wait_steady()
        assert kat.child("shop", "corner", "StatefulSet", "corner-cache") is None


KOMPOSER = Path(__file__).parent / "katalogs" / "shop-komposer.yaml"


async def test_a_komposer_brings_the_shop_with_its_overrides(autojump_clock):
    async with open_test_cluster() as cluster, run_katalog(KOMPOSER, cluster) as kat:
        # The Komposer's spec.crds override wins over the Katalog's included workers: 2.
        assert kat.box("shop").workers == 3
        await kat.apply(kat.manifest("shop", "corner", {"version": "1.25"}))
        await kat.wait_steady()
        assert kat.ready("shop", "corner")
        cr = kat.cr("shop", "corner")
        assert cr["metadata"]["labels"]["tier"] == "gold"  # labels: from the override
        deploy = kat.child("shop", "corner", "Deployment", "corner")
        [container] = deploy["spec"]["template"]["spec"]["containers"]
        assert container["image"] == "nginx:1.25"  # the imported Katalog's Motif, unchanged
        before = cluster.write_count()
        await kat.advance(60)
        assert cluster.write_count() == before
