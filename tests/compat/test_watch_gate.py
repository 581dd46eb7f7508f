"""`observe.watch` with its own `enqueueGate` and `index` (ORKESTRA-LANGUAGE 1.15), on the
embedded server: an update of a watched object reconciles its CR only when a sentinel of the
watch's gate fired; adds always pass; `index` is checked at load."""

from pathlib import Path

import pytest
import trio

from orkestra_trio.katalog import KatalogError, load_katalogs
from orkestra_trio.testing import open_test_cluster, run_katalog

KATALOG = """\
apiVersion: orkestra.orkspace.io/v1
kind: Katalog
metadata: {name: watch-gate}
spec:
  crds:
    site:
      apiTypes: {group: watch.example.com, version: v1, kind: Site, plural: sites}
      operatorBox:
        observe:
          watch:
            - apiVersion: v1
              kind: ConfigMap
              on: [add, update]
              keyFrom: {label: app}
              index: [{name: byApp, field: metadata.labels.app}]
              enqueueGate: {sentinels: [labelsChanged]}
        status:
          fields:
            - {path: phase, value: Seen}
"""


def _configmap(labels: dict[str, str], value: str) -> dict:
    return {
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "metadata": {"name": "settings", "namespace": "default", "labels": labels},
        "data": {"value": value},
    }


async def test_a_watch_enqueue_gate_lets_only_its_sentinels_through(autojump_clock, tmp_path: Path):
    path = tmp_path / "katalog.yaml"
    path.write_text(KATALOG)
    async with open_test_cluster() as cluster, run_katalog(path, cluster) as kat:
        await kat.apply(kat.manifest("site", "a"))
        await kat.wait_steady()
        box = kat.box("site")

        async def reconciles_after(change) -> int:
            before = box.health.total_reconciles
            await change()
            await kat.wait_steady()
            await trio.sleep(1)
            return box.health.total_reconciles - before

        async def add() -> None:
            await kat.kube.create(_configmap({"app": "a"}, "1"))

        async def edit_data() -> None:
            await kat.kube.apply(_configmap({"app": "a"}, "2"), force=True)

        async def edit_labels() -> None:
            await kat.kube.apply(_configmap({"app": "a", "tier": "web"}, "2"), force=True)

        assert await reconciles_after(add) == 1  # an add always passes
        assert await reconciles_after(edit_data) == 0  # no sentinel of the gate fired
        assert await reconciles_after(edit_labels) == 1  # labelsChanged


def test_a_watch_index_must_name_a_field(tmp_path: Path):
    path = tmp_path / "katalog.yaml"
    path.write_text(KATALOG.replace("field: metadata.labels.app", "field: 'not a path'"))
    with pytest.raises(KatalogError) as caught:
        load_katalogs([path])
    [issue] = caught.value.issues
    assert "index" in str(issue) and "katalog.yaml:" in str(issue)


ONE_OBJECT = """\
apiVersion: orkestra.orkspace.io/v1
kind: Katalog
metadata: {name: watch-one}
spec:
  crds:
    site:
      apiTypes: {group: watch.example.com, version: v1, kind: Site, plural: sites}
      operatorBox:
        observe:
          watch:
            - apiVersion: v1
              kind: ConfigMap
              namespace: platform
              name: shared-config
              keyFrom: {name: a, namespace: default}
        status:
          fields:
            - {path: phase, value: Seen}
"""


async def test_a_watch_namespace_and_name_narrow_it_to_one_object(autojump_clock, tmp_path: Path):
    """Orkestra's watch `namespace` and `name`: only that object (a field-selected informer
    in that namespace) reconciles the CR; its namesakes elsewhere and its neighbours do not."""
    path = tmp_path / "katalog.yaml"
    path.write_text(ONE_OBJECT)
    async with open_test_cluster() as cluster, run_katalog(path, cluster) as kat:
        await kat.kube.create(
            {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "platform"}}
        )
        await kat.apply(kat.manifest("site", "a"))
        await kat.wait_steady()
        box = kat.box("site")

        def configmap(namespace: str, name: str, value: str) -> dict:
            return {
                "apiVersion": "v1",
                "kind": "ConfigMap",
                "metadata": {"name": name, "namespace": namespace},
                "data": {"value": value},
            }

        async def reconciles_after(namespace: str, name: str, value: str) -> int:
            before = box.health.total_reconciles
            await kat.kube.apply(configmap(namespace, name, value), force=True)
            await kat.wait_steady()
            await trio.sleep(1)
            return box.health.total_reconciles - before

        assert await reconciles_after("default", "shared-config", "1") == 0  # other namespace
        assert await reconciles_after("platform", "other-config", "1") == 0  # other name
        assert await reconciles_after("platform", "shared-config", "1") == 1
        assert await reconciles_after("platform", "shared-config", "2") == 1


def test_a_watch_name_must_be_a_kubernetes_name(tmp_path: Path):
    path = tmp_path / "katalog.yaml"
    path.write_text(ONE_OBJECT.replace("name: shared-config", "name: Shared_Config"))
    with pytest.raises(KatalogError) as caught:
        load_katalogs([path])
    [issue] = caught.value.issues
    assert issue.path.endswith("watch[0].name") and "katalog.yaml" in issue.file
