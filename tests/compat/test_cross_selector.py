"""A same-runtime cross entry's `crd`, `as` and `selector` (name, namespace, labels) on the
embedded server (ORKESTRA-LANGUAGE 1.8)."""

from pathlib import Path

from orkestra_trio.testing import open_test_cluster, run_katalog

KATALOG = """\
apiVersion: orkestra.orkspace.io/v1
kind: Katalog
metadata: {name: cross-selector}
spec:
  crds:
    db:
      apiTypes: {group: select.example.com, version: v1, kind: Db, plural: dbs}
      operatorBox: {}
    app:
      apiTypes: {group: select.example.com, version: v1, kind: App, plural: apps}
      operatorBox:
        cross:
          - crd: db
            selector: {name: "{{ .spec.db }}", namespace: data}
          - crd: db
            as: hot
            selector: {labels: {tier: "{{ .spec.tier }}"}}
        status:
          fields:
            - {path: db, value: "{{ .cross.db.found }}/{{ .cross.db.name }}/{{ .cross.db.spec.size }}"}
            - {path: hot, value: "{{ .cross.hot.found }}/{{ .cross.hot.name }}"}
            - {path: dbWhere, value: "{{ .cross.db.namespace }}"}
"""


async def test_cross_selector_name_namespace_and_labels(autojump_clock, tmp_path: Path):
    path = tmp_path / "katalog.yaml"
    path.write_text(KATALOG)
    async with open_test_cluster() as cluster, run_katalog(path, cluster) as kat:
        await cluster.kube.create(
            {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "data"}}
        )
        # The same name in two namespaces: selector.namespace picks "data".
        await kat.apply(kat.manifest("db", "main", {"size": "small"}))
        await kat.apply(kat.manifest("db", "main", {"size": "large"}, namespace="data"))
        # By labels, in the reader's namespace: the first by name whose labels match.
        await kat.apply(kat.manifest("db", "b-hot", {}, labels={"tier": "hot"}))
        await kat.apply(kat.manifest("db", "c-hot", {}, labels={"tier": "hot"}))
        await kat.apply(kat.manifest("db", "a-cold", {}, labels={"tier": "cold"}))
        await kat.apply(kat.manifest("db", "z-hot", {}, labels={"tier": "hot"}, namespace="data"))
        await kat.wait_steady()
        await kat.apply(kat.manifest("app", "web", {"db": "main", "tier": "hot"}))
        await kat.wait_steady()
        status = kat.status("app", "web")
        # `as` defaults to the crd key.
        assert status["db"] == "true/main/large"
        assert status["hot"] == "true/b-hot"

        # Nothing matches: the not-found answer (naming what was looked for, as
        # Orkestra's does), and the reconcile goes on.
        await kat.apply(kat.manifest("app", "web", {"db": "gone", "tier": "warm"}))
        await kat.wait_steady()
        status = kat.status("app", "web")
        assert (status["db"], status["hot"]) == ("false/gone/", "false/")
        assert status["dbWhere"] == "data"
