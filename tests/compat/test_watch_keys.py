"""observe.watch without keyFrom: an ownerReference of the box's kind, else every CR
(ORKESTRA-LANGUAGE 1.15: keyFrom.label, keyFrom.name, ownerReference, broadcast)."""

from pathlib import Path

import trio

from orkestra_trio.testing import open_test_cluster, run_katalog

KATALOG = """\
apiVersion: orkestra.orkspace.io/v1
kind: Katalog
metadata: {name: watch-keys}
spec:
  crds:
    app:
      apiTypes: {group: keys.example.com, version: v1, kind: App, plural: apps}
      operatorBox:
        observe:
          watch:
            - {apiVersion: v1, kind: Secret, on: [add, update]}
        status:
          fields:
            - {path: seen, value: "yes"}
"""

SECRET = ("v1", "Secret")


async def test_a_watch_without_key_from_follows_the_owner_else_every_cr(
    autojump_clock, tmp_path: Path
):
    path = tmp_path / "katalog.yaml"
    path.write_text(KATALOG)
    async with open_test_cluster() as cluster, run_katalog(path, cluster) as kat:
        for name in ("a", "b"):
            await kat.apply(kat.manifest("app", name))
        await kat.wait_steady()
        uid_a = kat.cr("app", "a")["metadata"]["uid"]

        def runs() -> dict[str, int]:
            return {n: len(kat.log.of("app", ("default", n))) for n in ("a", "b")}

        # A Secret owned by CR a (ownerReference of the box's kind): a alone.
        before = runs()
        owned = {
            "apiVersion": "v1",
            "kind": "Secret",
            "metadata": {
                "name": "owned",
                "namespace": "default",
                "ownerReferences": [
                    {"apiVersion": "keys.example.com/v1", "kind": "App", "name": "a", "uid": uid_a}
                ],
            },
            "stringData": {"k": "v"},
        }
        await cluster.kube.create(owned, namespace="default")
        await kat.wait_steady()
        after = runs()
        assert after["a"] == before["a"] + 1 and after["b"] == before["b"]

        # A Secret nobody owns and no keyFrom names: every CR of the box.
        before = after
        loose = {
            "apiVersion": "v1",
            "kind": "Secret",
            "metadata": {"name": "loose", "namespace": "default"},
            "stringData": {"k": "v"},
        }
        await cluster.kube.create(loose, namespace="default")
        await kat.wait_steady()
        after = runs()
        assert after["a"] == before["a"] + 1 and after["b"] == before["b"] + 1

        # Time passing alone reconciles nobody.
        await trio.sleep(60)
        assert runs() == after
