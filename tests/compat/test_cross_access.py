"""`crossAccess`, Katalog-wide and per CRD, on the embedded server (ORKESTRA-LANGUAGE 1.2, 1.3).

Orkestra's in-process cross read honours the observed CRD's crossAccess: an
entry observing a CRD with `crossAccess: false` loads and reads not found.
"""

from pathlib import Path

from orkestra_trio.katalog.loader import load_katalogs
from orkestra_trio.testing import open_test_cluster, run_katalog

KATALOG = """\
apiVersion: orkestra.orkspace.io/v1
kind: Katalog
metadata: {name: cross-access}
crossAccess: false
spec:
  crds:
    db:
      apiTypes: {group: access.example.com, version: v1, kind: Db, plural: dbs}
      operatorBox: {}
    open:
      apiTypes: {group: access.example.com, version: v1, kind: Open, plural: opens}
      crossAccess: true
      operatorBox: {}
    app:
      apiTypes: {group: access.example.com, version: v1, kind: App, plural: apps}
      operatorBox:
        cross:
          - {crd: db, as: db, selector: {name: "{{ .metadata.name }}"}}
          - {crd: open, as: open, selector: {name: "{{ .metadata.name }}"}}
        status:
          fields:
            - {path: db, value: "{{ .cross.db.found }}"}
            - {path: open, value: "{{ .cross.open.found }}"}
"""


async def test_cross_access_false_reads_not_found_and_true_overrides_it(
    autojump_clock, tmp_path: Path
):
    path = tmp_path / "katalog.yaml"
    path.write_text(KATALOG)
    loaded = load_katalogs([path])
    # db inherits the Katalog-wide false; open overrides it; app's entry on db warns.
    assert [loaded.crds[k].cross_access for k in ("db", "open", "app")] == [False, True, False]
    [warning] = loaded.warnings
    assert "crossAccess: false" in warning.message and warning.path.endswith("cross[0]")
    async with open_test_cluster() as cluster, run_katalog(path, cluster) as kat:
        await kat.apply(kat.manifest("db", "a"))
        await kat.apply(kat.manifest("open", "a"))
        await kat.wait_steady()
        await kat.apply(kat.manifest("app", "a"))
        await kat.wait_steady()
        status = kat.status("app", "a")
        # Both CRs exist: the one behind crossAccess: false reads as not found.
        assert (status["db"], status["open"]) == ("false", "true")
