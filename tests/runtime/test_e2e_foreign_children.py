"""Children an ownerReference cannot reach: in another namespace, or cluster-scoped.

Kubernetes forbids an owner in another namespace (and a namespaced owner of a
cluster-scoped object), so such children carry the owner-uid label and the
owner-namespace annotation instead; the runtime maps their changes back to
the CR, prunes them, and deletes them under the finalizer when the CR goes.
"""

from __future__ import annotations

from runtime_helpers import absent, eventually, running

from orkestra_trio.katalog.manifests import OWNER_NAMESPACE_ANNOTATION, OWNER_UID_LABEL
from orkestra_trio.kube import NotFound
from orkestra_trio.runtime.pipeline import FINALIZER

KATALOG = """\
apiVersion: orkestra.orkspace.io/v1
kind: Katalog
metadata: {name: far}
spec:
  crds:
    tenant:
      apiTypes: {group: far.example.com, version: v1, kind: Tenant, plural: tenants}
      operatorBox:
        reconciler: {resync: 1h}
        onReconcile:
          namespaces:
            - name: "tenant-{{ .metadata.name }}"
          configMaps:
            - name: "{{ .metadata.name }}-{{ .site }}"
              namespace: shared
              forEach: {field: spec.sites, as: site}
              data: {site: "{{ .site }}"}
            - name: "{{ .metadata.name }}-local"
              data: {here: "yes"}
"""

TENANT = ("far.example.com/v1", "Tenant")
CONFIGMAP = ("v1", "ConfigMap")
NAMESPACE = ("v1", "Namespace")


async def gone(kube, ref, name, namespace=None):
    try:
        obj = await kube.get(ref, name, namespace=namespace)
    except NotFound:
        return True
    # A namespace on its way out is gone enough.
    return bool((obj.get("metadata") or {}).get("deletionTimestamp"))


async def test_children_elsewhere_are_mapped_pruned_and_deleted(tmp_path):
    async with running(tmp_path, KATALOG) as (_rt, kube):
        await kube.create({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "shared"}})
        tenant = await kube.create(
            {
                "apiVersion": "far.example.com/v1",
                "kind": "Tenant",
                "metadata": {"name": "acme", "namespace": "default"},
                "spec": {"sites": ["a", "b"]},
            }
        )
        uid = tenant["metadata"]["uid"]

        async def children():
            a = await kube.get(CONFIGMAP, "acme-a", namespace="shared")
            b = await kube.get(CONFIGMAP, "acme-b", namespace="shared")
            ns = await kube.get(NAMESPACE, "tenant-acme")
            return a, b, ns

        a, b, ns = await eventually(children, what="the children elsewhere")
        for child in (a, b, ns):
            metadata = child["metadata"]
            assert not metadata.get("ownerReferences")
            assert metadata["labels"][OWNER_UID_LABEL] == uid
            assert metadata["labels"]["orkestra.orkspace.io/owner"] == "acme"
            assert metadata["annotations"][OWNER_NAMESPACE_ANNOTATION] == "default"
        local = await eventually(
            lambda: kube.get(CONFIGMAP, "acme-local", namespace="default"), what="local child"
        )
        assert local["metadata"]["ownerReferences"][0]["uid"] == uid
        assert OWNER_UID_LABEL not in local["metadata"]["labels"]
        tenant = await kube.get(TENANT, "acme", namespace="default")
        assert FINALIZER in tenant["metadata"]["finalizers"]

        # A change of a child elsewhere reaches its CR (no resync for an hour).
        await kube.delete(CONFIGMAP, "acme-a", namespace="shared")
        await eventually(
            lambda: kube.get(CONFIGMAP, "acme-a", namespace="shared"), what="acme-a recreated"
        )

        # The forEach list shrinks: the child nobody declares any more is pruned.
        await kube.merge_patch(TENANT, "acme", {"spec": {"sites": ["a"]}}, namespace="default")
        await eventually(lambda: gone(kube, CONFIGMAP, "acme-b", "shared"), what="acme-b pruned")

        # Deleting the CR deletes them under the finalizer; the GC takes the local one.
        await kube.delete(TENANT, "acme", namespace="default")

        # Not merely marked (gone() accepts a deletionTimestamp): our finalizer released.
        await eventually(lambda: absent(kube, TENANT, "acme"), what="the CR removed")
        assert await gone(kube, CONFIGMAP, "acme-a", "shared")
        assert await gone(kube, NAMESPACE, "tenant-acme")
        await eventually(
            lambda: gone(kube, CONFIGMAP, "acme-local", "default"), what="GC of the local child"
        )
