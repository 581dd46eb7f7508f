"""Admission rules (validation, mutation, conversion, webhooks) as pure decisions.

Both of Orkestra's layouts (ORKESTRA-LANGUAGE.md 1.16: the keys on the CRD
entry, or under ``admission:``) load onto one model; ``run_rules`` decides the
merge patch and the messages; the plan carries them.
"""

import pickle

import pytest

from orkestra_trio.katalog import KatalogError, load_katalog
from orkestra_trio.katalog.admission import (
    WARNING_REASON,
    AdmissionDenied,
    ConversionError,
    convert,
    run_rules,
    uses_unique,
)
from orkestra_trio.katalog.plan import ON_NEW_MESSAGE, Observed, plan_document, plan_reconcile

HEAD = """\
apiVersion: orkestra.orkspace.io/v1
kind: Katalog
metadata: {name: t}
spec:
  crds:
    web:
      apiTypes: {group: d.example.com, version: v1, kind: Web, plural: webs}
"""
BOX = """\
      operatorBox:
        onReconcile:
          configMaps: [{name: "{{ .metadata.name }}", data: {tier: "{{ .spec.tier }}"}}]
"""
RULES = """\
  validation:
    rules:
      - field: spec.replicas
        between: "1,10"
        message: "replicas must be 1-10, got {{ .spec.replicas }}"
        action: deny
      - field: spec.host
        unique: true
        action: deny
      - {field: spec.tier, in: "standard,premium", action: warn, link: "https://x/tiers"}
  mutation:
    mutateFirst: true
    rules:
      - {field: spec.tier, default: standard}
      - field: metadata.labels.team
        override: payments
        when: [{field: metadata.namespace, equals: payments}]
      - {field: spec.size, default: "{{ .spec.replicas }}"}
  conversion:
    storageVersion: v2
    paths: [{from: v1, to: v2, spec: {size: "{{ .spec.replicas }}"}}]
  webhooks: {validation: true, mutation: true, operations: [CREATE, UPDATE]}
"""


def indent(text: str, spaces: int) -> str:
    return "".join(" " * spaces + line if line.strip() else line for line in text.splitlines(True))


def load(tmp_path, text):
    path = tmp_path / "k.yaml"
    path.write_text(text)
    return load_katalog(path).crds["web"]


def cr(name="a", namespace="default", **spec):
    return {
        "apiVersion": "d.example.com/v1",
        "kind": "Web",
        "metadata": {"name": name, "namespace": namespace, "uid": f"u-{name}"},
        "spec": spec,
    }


@pytest.fixture
def gen_b(tmp_path):
    return load(tmp_path, HEAD + indent(RULES, 4) + BOX)


def test_both_layouts_load_to_one_model(tmp_path, gen_b):
    gen_c = load(tmp_path, HEAD + "      admission:\n" + indent(RULES, 6) + BOX)
    assert gen_b.admission == gen_c.admission
    admission = gen_b.admission
    assert [r.condition.operator for r in admission.validation] == ["between", "unique", "in"]
    assert [r.action for r in admission.validation] == ["deny", "deny", "warn"]
    assert [(r.field, r.override) for r in admission.mutation] == [
        ("spec.tier", False),
        ("metadata.labels.team", True),
        ("spec.size", False),
    ]
    assert admission.mutate_first is True
    assert admission.conversion.storage_version == "v2"
    assert admission.webhooks.operations == ("CREATE", "UPDATE")
    assert uses_unique(gen_b)


def test_mutation_defaults_only_where_missing_and_overrides_always(gen_b):
    outcome = run_rules(gen_b.admission, cr(namespace="payments", replicas=3))
    assert outcome.patch == {
        "spec": {"tier": "standard", "size": 3},
        "metadata": {"labels": {"team": "payments"}},
    }
    assert outcome.cr["spec"] == {"replicas": 3, "tier": "standard", "size": 3}
    # Once applied there is nothing left to patch: no write loop.
    again = run_rules(gen_b.admission, outcome.cr)
    assert again.patch is None
    # A value the user gave is kept by default:, replaced by override:.
    given = cr(namespace="payments", replicas=3, tier="premium", size=9)
    given["metadata"]["labels"] = {"team": "other"}
    assert run_rules(gen_b.admission, given).patch == {"metadata": {"labels": {"team": "payments"}}}
    # when: does not hold outside the payments namespace.
    assert run_rules(gen_b.admission, cr(replicas=3, tier="premium", size=3)).patch is None


def test_validation_denies_warns_and_renders_the_message(gen_b):
    outcome = run_rules(gen_b.admission, cr(replicas=12, tier="gold"))
    assert outcome.denials == ("replicas must be 1-10, got 12",)
    assert outcome.warnings == (
        "spec.tier must satisfy in standard,premium, got 'gold' (see https://x/tiers)",
    )


def test_unique_compares_with_the_other_crs_by_name(gen_b):
    mine = cr("a", replicas=2, host="shop.example.com")
    same_host = cr("b", replicas=2, host="shop.example.com")
    other_host = cr("c", replicas=2, host="blog.example.com")
    peers = [mine, other_host]
    assert run_rules(gen_b.admission, mine, peers=peers).denials == ()
    denied = run_rules(gen_b.admission, mine, peers=[*peers, same_host])
    assert denied.denials == ("spec.host 'shop.example.com' is already used by another Web",)
    # A CR without the field collides with none.
    assert (
        run_rules(gen_b.admission, cr("d", replicas=2), peers=[cr("e", replicas=2)]).denials == ()
    )


def test_mutate_first_false_validates_the_cr_as_it_came(tmp_path):
    crd = load(
        tmp_path,
        HEAD
        + "      validation: {rules: [{field: spec.tier, exists: true}]}\n"
        + "      mutation: {rules: [{field: spec.tier, default: standard}]}\n"
        + BOX,
    )
    denied = run_rules(crd.admission, cr())
    assert denied.denials and denied.patch is None  # denied: nothing is written
    assert run_rules(crd.admission, cr(), mutate_first=True).denials == ()


def test_the_plan_carries_the_patch_the_denial_and_the_warnings(gen_b):
    plan = plan_reconcile(gen_b, Observed(cr(replicas=3), now="2026-12-04T00:00:00Z"))
    assert plan.cr_patch == {"spec": {"tier": "standard", "size": 3}}
    # The children are rendered for the CR as patched.
    [child] = [c for c in plan.children if c.present]
    assert child.manifest["data"] == {"tier": "standard"}
    assert plan_document(plan)["crPatch"] == plan.cr_patch

    warned = plan_reconcile(gen_b, Observed(cr(replicas=3, tier="gold", size=3)))
    assert warned.cr_patch is None and warned.error is None
    [warning] = [e for e in warned.events if e.type == "Warning"]
    assert (warning.reason, warning.when) == (WARNING_REASON, ON_NEW_MESSAGE)

    denied = plan_reconcile(gen_b, Observed(cr(replicas=0)))
    assert isinstance(denied.error, AdmissionDenied)
    # Plans travel from a planner process by pickle (runtime/planner.py).
    assert pickle.loads(pickle.dumps(denied)).error.messages == denied.error.messages
    assert pickle.loads(pickle.dumps(gen_b)).admission == gen_b.admission
    assert denied.children is None and denied.labels is None and denied.cr_patch is None
    assert "replicas must be 1-10, got 0" in str(denied.error)


def test_unique_in_a_when_condition_reads_the_peers(tmp_path):
    crd = load(
        tmp_path,
        HEAD
        + "      operatorBox:\n        when: [{field: spec.host, unique: true}]\n"
        + "        onReconcile: {configMaps: [{data: {a: b}}]}\n",
    )
    assert uses_unique(crd)
    mine, twin = cr("a", host="x"), cr("b", host="x")
    assert plan_reconcile(crd, Observed(mine, peers=(mine, twin))).gated
    assert not plan_reconcile(crd, Observed(mine, peers=(mine,))).gated


def test_conversion_paths_convert_and_chain(tmp_path):
    crd = load(
        tmp_path,
        HEAD
        + "      conversion:\n        storageVersion: v3\n        paths:\n"
        + "          - {from: v1, to: v2, spec: {size: '{{ .spec.replicas }}'}}\n"
        + "          - {from: v2, to: v3, spec: {shape.size: '{{ .spec.size }}', kind: web}}\n",
    )
    conversion = crd.admission.conversion
    v2 = convert(conversion, cr(replicas=3), "v2")
    assert v2["apiVersion"] == "d.example.com/v2" and v2["spec"] == {"replicas": 3, "size": 3}
    v3 = convert(conversion, cr(replicas=3), "v3")
    assert v3["spec"]["shape"] == {"size": 3} and v3["spec"]["kind"] == "web"
    assert convert(conversion, v3, "v3") is v3
    with pytest.raises(ConversionError, match="no path from v3 to v1"):
        convert(conversion, v3, "v1")


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        ("      validation: {rules: [{field: spec.a, between: '1'}]}\n", "between takes"),
        ("      validation: {rules: [{field: spec.a, unique: false}]}\n", "write unique: true"),
        ("      validation: {rules: [{field: spec.a, equals: b, action: block}]}\n", "deny, warn"),
        ("      validation: {rules: [{field: spec.a, equals: b, fires: {}}]}\n", "fires is not"),
        ("      validation: {include: [r.yaml]}\n", "file not found: r.yaml"),
        ("      validation: {rules: [{field: spec.a, bogus: b}]}\n", "unknown condition operator"),
        ("      mutation: {rules: [{field: status.x, default: b}]}\n", "a mutation sets a field"),
        ("      mutation: {rules: [{field: spec.x}]}\n", "exactly one of default or override"),
        (
            "      mutation: {rules: [{field: spec.x, default: a, override: b}]}\n",
            "exactly one of default or override",
        ),
        ("      webhooks: {operations: [DELETE]}\n", "must be one of CREATE, UPDATE"),
        ("      conversion: {paths: [{from: v1, to: v1}]}\n", "between two versions"),
        ("      conversion: {participant: true}\n", "participant is not"),
        (
            "      webhooks: {validation: true}\n      admission: {webhooks: {mutation: true}}\n",
            "webhooks is also written at",
        ),
    ],
)
def test_bad_rules_are_one_line_errors_at_their_place(tmp_path, extra, message):
    path = tmp_path / "k.yaml"
    path.write_text(HEAD + extra + BOX)
    with pytest.raises(KatalogError) as caught:
        load_katalog(path)
    found = [str(issue) for issue in caught.value.issues]
    assert any(message in issue and str(path) in issue for issue in found), found
    assert all("\n" not in issue for issue in found)


def test_conversion_is_checked_against_the_crd_file(tmp_path):
    (tmp_path / "crd.yaml").write_text(
        "apiVersion: apiextensions.k8s.io/v1\nkind: CustomResourceDefinition\n"
        "metadata: {name: webs.d.example.com}\n"
        "spec:\n  group: d.example.com\n  names: {kind: Web, plural: webs}\n  scope: Namespaced\n"
        "  versions:\n    - {name: v1, served: true, storage: true}\n"
    )
    path = tmp_path / "k.yaml"
    path.write_text(
        HEAD
        + "      crdFile: crd.yaml\n"
        + "      conversion: {storageVersion: v2, paths: [{from: v1, to: v2}]}\n"
        + BOX
    )
    with pytest.raises(KatalogError) as caught:
        load_katalog(path)
    found = " ".join(str(issue) for issue in caught.value.issues)
    assert "stores version 'v1', but conversion.storageVersion is 'v2'" in found
    assert "serves no version 'v2', which conversion.paths names" in found
