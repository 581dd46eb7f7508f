"""fromSecret/fromNamespace in katalog/: the informer scopes a box needs, the Secrets one CR
copies and the copy itself (ORKESTRA-LANGUAGE.md 1.6); their load errors are in
test_secret_generation.py."""

from __future__ import annotations

from orkestra_trio.katalog import load_katalog
from orkestra_trio.katalog.copies import SourceScope, source_scopes
from orkestra_trio.katalog.plan import Observed, plan_reconcile
from orkestra_trio.katalog.render import build_context, source_refs

HEAD = (
    "apiVersion: orkestra.orkspace.io/v1\nkind: Katalog\nmetadata: {name: t}\n"
    "spec:\n  crds:\n    web:\n      apiTypes: {group: d.example.com, version: v1, "
    "kind: Web, plural: webs}\n      operatorBox:\n        onReconcile:\n          secrets:\n"
)
ENTRIES = """\
            - {name: a, fromSecret: tls-ca, fromNamespace: certs}
            - {name: b, fromSecret: '{{ .spec.db }}', fromNamespace: certs}
            - {name: c, fromSecret: shared-key}
            - {name: '{{ .site }}-d', fromSecret: '{{ .site }}-src', forEach: {field: spec.sites, as: site}}
"""
CR = {
    "apiVersion": "d.example.com/v1",
    "kind": "Web",
    "metadata": {"name": "w", "namespace": "team", "uid": "u"},
    "spec": {"db": "pg", "sites": ["x", "y"]},
}


def load(tmp_path, entries: str = ENTRIES):
    path = tmp_path / "k.yaml"
    path.write_text(HEAD + entries)
    return load_katalog(path).crds["web"]


def test_scopes_are_as_narrow_as_the_katalog_allows(tmp_path):
    box = load(tmp_path).operator_box
    # certs is read whole (a templated name there), so the one named in it is redundant;
    # so is shared-key, since the CR's namespace (None) is read whole for the forEach names.
    assert source_scopes(box) == (
        SourceScope("Secret", "certs", None),
        SourceScope("Secret", None, None),
    )
    narrow = load(tmp_path, "            - {name: a, fromSecret: tls-ca, fromNamespace: certs}\n")
    assert source_scopes(narrow.operator_box) == (SourceScope("Secret", "certs", "tls-ca"),)


def test_the_secrets_one_cr_copies_render_per_item(tmp_path):
    box = load(tmp_path).operator_box
    assert source_refs(box, build_context(CR)) == [
        ("Secret", "certs", "tls-ca"),
        ("Secret", "certs", "pg"),
        ("Secret", "team", "shared-key"),
        ("Secret", "team", "x-src"),
        ("Secret", "team", "y-src"),
    ]


def test_the_copy_takes_data_and_type_and_own_data_wins(tmp_path):
    crd = load(tmp_path, "            - {name: c, fromSecret: src, data: {mine: 'yes'}}\n")
    source = {"type": "kubernetes.io/basic-auth", "data": {"username": "dQ==", "mine": "bm8="}}
    plan = plan_reconcile(crd, Observed(CR, sources={("Secret", "team", "src"): source}))
    [child] = plan.children
    assert child.manifest["type"] == "kubernetes.io/basic-auth"
    assert child.manifest["data"] == {"username": "dQ==", "mine": "eWVz"}
    # Not in the cache: the reconcile's error, naming the entry's key and the Secret.
    missing = plan_reconcile(crd, Observed(CR))
    assert missing.children is None
    assert "fromSecret" in str(missing.error) and "team/src" in str(missing.error)


def test_configmaps_copy_through_the_same_scopes_refs_and_plan(tmp_path):
    crd = load(
        tmp_path,
        "            - {name: s, fromSecret: creds}\n"
        "          configMaps:\n"
        "            - {name: c, fromConfigMap: creds, toNamespaces: [mirror]}\n",
    )
    box = crd.operator_box
    # Same namespace and name, two kinds: two scopes, two refs, never one for the other.
    assert source_scopes(box) == (
        SourceScope("Secret", None, "creds"),
        SourceScope("ConfigMap", None, "creds"),
    )
    assert source_refs(box, build_context(CR)) == [
        ("Secret", "team", "creds"),
        ("ConfigMap", "team", "creds"),
    ]
    sources = {
        ("Secret", "team", "creds"): {"data": {"k": "dg=="}},
        ("ConfigMap", "team", "creds"): {"data": {"LEVEL": "info"}, "binaryData": {"b": "AA=="}},
    }
    plan = plan_reconcile(crd, Observed(CR, sources=sources))
    maps = [c.manifest for c in plan.children if c.manifest["kind"] == "ConfigMap"]
    assert [m["metadata"]["namespace"] for m in maps] == ["team", "mirror"]
    for manifest in maps:
        assert manifest["data"] == {"LEVEL": "info"} and manifest["binaryData"] == {"b": "AA=="}
        assert "fromConfigMap" not in manifest
    missing = plan_reconcile(
        crd, Observed(CR, sources={**sources, ("ConfigMap", "team", "creds"): None})
    )
    assert "fromConfigMap" in str(missing.error) and "ConfigMap team/creds" in str(missing.error)
