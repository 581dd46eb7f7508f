"""ConfigMap `fromConfigMap`/`fromNamespace` (Orkestra's ConfigMap type) on the embedded server.

A `configMaps` entry copies an existing ConfigMap through the same machinery
as a Secret's `fromSecret` (katalog/copies.py, runtime/sources.py): the box
caches its sources with informers of its own (one ConfigMap by field selector
for a literal name), a change of a source is copied again with no event on the
CR, and a missing source fails the CR's reconcile until it appears.
"""

from pathlib import Path

import pytest

from orkestra_trio.katalog import KatalogError, load_katalog
from orkestra_trio.testing import open_test_cluster, run_katalog

KATALOG = """\
apiVersion: orkestra.orkspace.io/v1
kind: Katalog
metadata: {name: cm-copies}
spec:
  crds:
    team:
      apiTypes: {group: cmsources.example.com, version: v1, kind: Team, plural: teams}
      operatorBox:
        onReconcile:
          configMaps:
            # A literal name in a literal namespace: the box caches that one ConfigMap.
            - name: "{{ .metadata.name }}-settings"
              fromConfigMap: shared-settings
              fromNamespace: shared
              toNamespaces: [mirror]
            # A templated name in the CR's namespace.
            - name: "{{ .metadata.name }}-app"
              fromConfigMap: "{{ .spec.source }}"
"""


async def config_map(kat, namespace: str, name: str, data: dict, binary: dict | None = None):
    body = {
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "metadata": {"name": name, "namespace": namespace},
        "data": data,
    }
    if binary:
        body["binaryData"] = binary
    await kat.kube.apply(body, force=True)


async def start(kat, source: str) -> None:
    for namespace in ("shared", "mirror"):
        await kat.kube.create(
            {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": namespace}}
        )
    await config_map(kat, "shared", "shared-settings", {"LOG_LEVEL": "info"}, {"logo": "AAE="})
    await kat.apply(kat.manifest("team", "ops", {"source": source}))
    await kat.wait_steady()


async def test_configmaps_from_configmap_copy_and_follow_their_source(autojump_clock, tmp_path):
    path = tmp_path / "katalog.yaml"
    path.write_text(KATALOG)
    async with open_test_cluster() as cluster, run_katalog(path, cluster) as kat:
        await config_map(kat, "default", "app-source", {"MAX": "100"})
        await start(kat, "app-source")
        assert kat.ready("team", "ops"), kat.status("team", "ops")

        settings = kat.child("team", "ops", "ConfigMap", "ops-settings")
        assert settings["data"] == {"LOG_LEVEL": "info"}
        assert settings["binaryData"] == {"logo": "AAE="}
        assert settings["metadata"]["ownerReferences"][0]["name"] == "ops"
        mirrored = await kat.kube.get(("v1", "ConfigMap"), "ops-settings", namespace="mirror")
        assert mirrored["data"] == settings["data"]
        assert mirrored["binaryData"] == settings["binaryData"]
        assert kat.child("team", "ops", "ConfigMap", "ops-app")["data"] == {"MAX": "100"}

        # The sources' informers: one ConfigMap by name in shared, every ConfigMap of the
        # watched namespaces for the templated name; no label selector (not our children).
        scopes = sorted(
            (informer.namespace, informer.field_selector)
            for informer in kat.runtime.registry.informers
            if informer.info.kind == "ConfigMap" and not informer.label_selector
        )
        assert scopes == [("", ""), ("shared", "metadata.name=shared-settings")], scopes

        # A source changes: copied again (every namespace), with no event on the CR.
        generation = kat.cr("team", "ops")["metadata"]["generation"]
        await config_map(kat, "shared", "shared-settings", {"LOG_LEVEL": "debug"})
        await config_map(kat, "default", "app-source", {"MAX": "200"})
        await kat.wait_steady()
        for namespace in ("default", "mirror"):
            copy = await kat.kube.get(("v1", "ConfigMap"), "ops-settings", namespace=namespace)
            assert copy["data"] == {"LOG_LEVEL": "debug"}, namespace
        assert kat.child("team", "ops", "ConfigMap", "ops-app")["data"] == {"MAX": "200"}
        assert kat.cr("team", "ops")["metadata"]["generation"] == generation


async def test_configmaps_with_a_missing_source_fail_until_it_appears(autojump_clock, tmp_path):
    path = tmp_path / "katalog.yaml"
    path.write_text(KATALOG)
    async with open_test_cluster() as cluster, run_katalog(path, cluster) as kat:
        await start(kat, "later")
        assert not kat.ready("team", "ops")
        [ready] = [c for c in kat.status("team", "ops")["conditions"] if c["type"] == "Ready"]
        assert "fromConfigMap" in ready["message"] and "default/later" in ready["message"]

        # It appears: the source informer re-enqueues the CR that copies it.
        await config_map(kat, "default", "later", {"READY": "yes"})
        await kat.wait_steady()
        assert kat.ready("team", "ops"), kat.status("team", "ops")
        assert kat.child("team", "ops", "ConfigMap", "ops-app")["data"] == {"READY": "yes"}


@pytest.mark.parametrize(
    ("entry", "field", "words"),
    [
        ("{name: a, fromConfigMap: src, data: {K: v}}", "fromConfigMap", "keep one"),
        ("{name: a, fromNamespace: shared}", "fromNamespace", "fromConfigMap"),
        ("{name: a, fromConfigMap: [src]}", "fromConfigMap", "ConfigMap name"),
    ],
)
def test_configmaps_copy_keys_load_errors_name_the_line_and_field(
    tmp_path: Path, entry: str, field: str, words: str
):
    path = tmp_path / "katalog.yaml"
    head = KATALOG.split("          configMaps:\n")[0]
    path.write_text(f"{head}          configMaps:\n            - {entry}\n")
    with pytest.raises(KatalogError) as caught:
        load_katalog(path)
    message = str(caught.value)
    assert f"{path}:11:" in message and f"configMaps[0].{field}" in message and words in message, (
        message
    )
