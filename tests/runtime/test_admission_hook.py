"""The hook a box gives the embedded server (runtime/admission.py), called directly."""

from orkestra_trio.apiserver.admission import AdmissionRequest
from orkestra_trio.katalog import load_katalog
from orkestra_trio.runtime.admission import admission_hook

KATALOG = """\
apiVersion: orkestra.orkspace.io/v1
kind: Katalog
metadata: {name: t}
spec:
  crds:
    web:
      apiTypes: {group: d.example.com, version: v1, kind: Web, plural: webs}
      validation: {rules: [{field: spec.host, unique: true}]}
      mutation: {rules: [{field: spec.tier, default: standard}]}
      webhooks: {validation: true, mutation: false, operations: [CREATE]}
      operatorBox: {onReconcile: {configMaps: [{data: {a: b}}]}}
"""


def request(operation, name, deleting=False, **spec):
    metadata = {"name": name, "namespace": "default"}
    if deleting:
        metadata["deletionTimestamp"] = "2026-12-04T00:00:00Z"
    obj = {"apiVersion": "d.example.com/v1", "kind": "Web", "metadata": metadata, "spec": spec}
    return AdmissionRequest(operation, "d.example.com", "v1", "Web", "webs", "default", name, obj)


def test_the_hook_runs_what_webhooks_asks_for(tmp_path):
    path = tmp_path / "k.yaml"
    path.write_text(KATALOG)
    crd = load_katalog(path).crds["web"]
    taken = request("CREATE", "a", host="x").object
    hook = admission_hook(crd, lambda: [taken])
    denied = hook(request("CREATE", "b", host="x"))
    assert not denied.allowed and "already used" in denied.message
    allowed = hook(request("CREATE", "b", host="y"))
    assert allowed.allowed and allowed.patched is None  # mutation: false
    # Not a listed operation; a CR on its way out: let through.
    assert hook(request("UPDATE", "b", host="x")).allowed
    assert hook(request("CREATE", "b", deleting=True, host="x")).allowed
