"""Secret ``fromSecret``/``fromNamespace`` (and ``toNamespaces``) on the embedded server (1.6).

Katalog: katalogs/secret-copies.yaml. The box caches its sources with
informers of its own, as narrow as the Katalog allows (one Secret by field
selector for a literal name); the plan copies from those caches, and a change
of a source is copied again with no event on the CR.
"""

import base64
from pathlib import Path

from orkestra_trio.testing import open_test_cluster, run_katalog

KATALOG = Path(__file__).parent / "katalogs" / "secret-copies.yaml"


def b64(text: str) -> str:
    return base64.b64encode(text.encode()).decode()


async def secret(kat, namespace: str, name: str, data: dict, type_: str = "Opaque") -> None:
    await kat.kube.apply(
        {
            "apiVersion": "v1",
            "kind": "Secret",
            "metadata": {"name": name, "namespace": namespace},
            "type": type_,
            "data": {key: b64(value) for key, value in data.items()},
        },
        force=True,
    )


async def test_from_secret_copies_and_follows_its_source(autojump_clock):
    async with open_test_cluster() as cluster, run_katalog(KATALOG, cluster) as kat:
        for namespace in ("shared", "mirror"):
            await kat.kube.create(
                {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": namespace}}
            )
        docker = "kubernetes.io/dockerconfigjson"
        await secret(kat, "shared", "registry-creds", {".dockerconfigjson": "{}"}, docker)
        await secret(kat, "default", "db-creds", {"user": "app", "password": "s3cret"})
        await kat.apply(kat.manifest("app", "web", {"mirror": "mirror", "dbSecret": "db-creds"}))
        await kat.wait_steady()
        assert kat.ready("app", "web"), kat.status("app", "web")

        registry = kat.child("app", "web", "Secret", "web-registry")
        assert registry["type"] == docker
        assert registry["data"] == {".dockerconfigjson": b64("{}")}
        assert registry["metadata"]["ownerReferences"][0]["name"] == "web"
        mirrored = await kat.kube.get(("v1", "Secret"), "web-registry", namespace="mirror")
        assert mirrored["type"] == docker and mirrored["data"] == registry["data"]
        db = kat.child("app", "web", "Secret", "web-db")
        assert db["type"] == "Opaque"
        assert db["data"] == {
            "user": b64("app"),
            "password": b64("s3cret"),
            "purpose": b64("database"),
        }

        # The sources' informers: one Secret by name in shared, every Secret of the
        # watched namespaces for the templated name; no label selector (not our children).
        scopes = sorted(
            (informer.namespace, informer.field_selector, informer.label_selector)
            for informer in kat.runtime.registry.informers
            if informer.info.kind == "Secret" and not informer.label_selector
        )
        assert scopes == [("", "", ""), ("shared", "metadata.name=registry-creds", "")], scopes

        # A source changes: copied again, with no event on the CR.
        generation = kat.cr("app", "web")["metadata"]["generation"]
        await secret(kat, "default", "db-creds", {"user": "app", "password": "rotated"})
        await kat.wait_steady()
        assert kat.child("app", "web", "Secret", "web-db")["data"]["password"] == b64("rotated")
        await secret(kat, "shared", "registry-creds", {".dockerconfigjson": '{"auths":{}}'}, docker)
        await kat.wait_steady()
        for namespace in ("default", "mirror"):
            copy = await kat.kube.get(("v1", "Secret"), "web-registry", namespace=namespace)
            assert copy["data"] == {".dockerconfigjson": b64('{"auths":{}}')}, namespace
        assert kat.cr("app", "web")["metadata"]["generation"] == generation


async def test_a_missing_source_fails_the_reconcile_until_it_appears(autojump_clock):
    async with open_test_cluster() as cluster, run_katalog(KATALOG, cluster) as kat:
        for namespace in ("shared", "mirror"):
            await kat.kube.create(
                {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": namespace}}
            )
        await secret(kat, "shared", "registry-creds", {".dockerconfigjson": "{}"})
        await kat.apply(kat.manifest("app", "web", {"mirror": "mirror", "dbSecret": "later"}))
        await kat.wait_steady()
        assert not kat.ready("app", "web")
        [ready] = [c for c in kat.status("app", "web")["conditions"] if c["type"] == "Ready"]
        assert "fromSecret" in ready["message"] and "default/later" in ready["message"]

        # It appears: the source informer re-enqueues the CR that copies it.
        await secret(kat, "default", "later", {"token": "t"})
        await kat.wait_steady()
        assert kat.ready("app", "web"), kat.status("app", "web")
        assert kat.child("app", "web", "Secret", "web-db")["data"]["token"] == b64("t")
