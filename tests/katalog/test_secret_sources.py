"""fromSecret/fromNamespace in katalog/: the informer scopes a box needs, the Secrets one CR
copies and the copy itself (ORKESTRA-LANGUAGE.md 1.6); their load errors are in
test_secret_generation.py."""

from __future__ import annotations

from orkestra_trio.katalog import load_katalog
from orkestra_trio.katalog.plan import Observed, plan_reconcile
from orkestra_trio.katalog.render import build_context, source_refs
from orkestra_trio.katalog.secrets import SourceScope, source_scopes

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
    assert source_scopes(box) == (SourceScope("certs", None), SourceScope(None, None))
    narrow = load(tmp_path, "            - {name: a, fromSecret: tls-ca, fromNamespace: certs}\n")
    assert source_scopes(narrow.operator_box) == (SourceScope("certs", "tls-ca"),)


def test_the_secrets_one_cr_copies_render_per_item(tmp_path):
    box = load(tmp_path).operator_box
    assert source_refs(box, build_context(CR)) == [
        ("certs", "tls-ca"),
        ("certs", "pg"),
        ("team", "shared-key"),
        ("team", "x-src"),
        ("team", "y-src"),
    ]


def test_the_copy_takes_data_and_type_and_own_data_wins(tmp_path):
    crd = load(tmp_path, "            - {name: c, fromSecret: src, data: {mine: 'yes'}}\n")
    source = {"type": "kubernetes.io/basic-auth", "data": {"username": "dQ==", "mine": "bm8="}}
    plan = plan_reconcile(crd, Observed(CR, secrets={("team", "src"): source}))
    [child] = plan.children
    assert child.manifest["type"] == "kubernetes.io/basic-auth"
    assert child.manifest["data"] == {"username": "dQ==", "mine": "eWVz"}
    # Not in the cache: the reconcile's error, naming the entry's key and the Secret.
    missing = plan_reconcile(crd, Observed(CR))
    assert missing.children is None
    assert "fromSecret" in str(missing.error) and "team/src" in str(missing.error)
