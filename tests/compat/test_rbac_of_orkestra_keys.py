"""RBAC derived from a Katalog covers what Orkestra's keys make the box do."""

from orkestra_trio.deploy.rbac import derive_rights
from orkestra_trio.katalog import load_katalogs

KATALOG = """\
apiVersion: orkestra.orkspace.io/v1
kind: Katalog
metadata: {name: t}
spec:
  crds:
    web:
      apiTypes: {group: d.example.com, version: v1, kind: Web, plural: webs}
      operatorBox:
        observe:
          watch: [{apiVersion: v1, kind: Pod, keyFrom: {label: app}}]
          events: {failed: {reason: Failed, regarding: {kind: Pod}}}
        reconcile:
          onDelete:
            ordered: true
            groups:
              - name: data
                persistentVolumeClaims: [{name: "{{ .metadata.name }}-data"}]
"""


def test_watch_and_ordered_delete_are_granted(tmp_path):
    path = tmp_path / "k.yaml"
    path.write_text(KATALOG)
    rights = derive_rights(load_katalogs([path]))
    verbs = {(g.api_group, g.resource): g.verbs for g in rights.cluster}
    assert {"list", "watch"} <= verbs[("", "pods")]
    assert {"list", "watch"} <= verbs[("events.k8s.io", "events")]  # observe.events
    assert "delete" in verbs[("", "persistentvolumeclaims")]
    assert "update" in verbs[("d.example.com", "webs/finalizers")]


COPIES = """\
apiVersion: orkestra.orkspace.io/v1
kind: Katalog
metadata: {name: t}
spec:
  crds:
    app:
      apiTypes: {group: d.example.com, version: v1, kind: App, plural: apps}
      operatorBox:
        onReconcile:
          secrets: [{name: copy, fromSecret: registry-creds, fromNamespace: shared}]
"""


def test_from_secret_sources_are_readable_in_every_namespace(tmp_path):
    path = tmp_path / "k.yaml"
    path.write_text(COPIES)
    rights = derive_rights(load_katalogs([path]))
    verbs = {(g.api_group, g.resource): g.verbs for g in rights.cluster}
    # ClusterRole: fromNamespace may be any namespace; the box lists and watches its sources.
    assert {"get", "list", "watch"} <= verbs[("", "secrets")]
