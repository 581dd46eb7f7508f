"""One reconcile as one pure plan (katalog/plan.py): what the runtime applies and render prints."""

from pathlib import Path

import yaml

from orkestra_trio.katalog import load_katalogs
from orkestra_trio.katalog.plan import (
    ON_NEW_MESSAGE,
    Observed,
    plan_document,
    plan_failure,
    plan_outcome,
    plan_reconcile,
)
from orkestra_trio.katalog.render import RenderError

ROOT = Path(__file__).resolve().parents[2]
NOW = "2026-12-04T03:00:00Z"

SHOP = """\
apiVersion: orkestra.orkspace.io/v1
kind: Katalog
metadata: {name: shop}
spec:
  crds:
    shop:
      apiTypes: {group: kit.example.com, version: v1, kind: Shop, plural: shops}
      operatorBox:
        when:
          - {field: spec.open, operator: equals, value: "true"}
        requeue:
          after: "{{ .spec.every }}"
        onReconcile:
          configMaps:
            - name: "{{ .metadata.name }}-cfg"
              data: {size: "{{ .spec.size }}"}
        status:
          fields:
            - path: size
              value: "{{ .spec.size }}"
              type: int
"""


def shop_plan(tmp_path, spec, **observed):
    path = tmp_path / "shop.yaml"
    path.write_text(SHOP)
    crd = load_katalogs([path]).crds["shop"]
    cr = {
        "apiVersion": "kit.example.com/v1",
        "kind": "Shop",
        "metadata": {"name": "s1", "namespace": "default", "uid": "u1", "generation": 2},
        "spec": spec,
    }
    return crd, cr, plan_reconcile(crd, Observed(cr, now=NOW, **observed))


def test_website_plan_has_children_status_event_and_the_given_clock():
    crd = load_katalogs([ROOT / "katalogs" / "website.yaml"]).crds["website"]
    cr = yaml.safe_load((ROOT / "katalogs" / "website" / "cr-sample.yaml").read_text())
    cr["metadata"].update(uid="u1", generation=1)
    plan = plan_reconcile(crd, Observed(cr, now=NOW))
    assert not plan.gated and plan.error is None
    assert {child.kind for child in plan.children if child.present} == {
        "ConfigMap",
        "Deployment",
        "Service",
        "Ingress",
    }
    ready = next(c for c in plan.status["conditions"] if c["type"] == "Ready")
    assert (ready["status"], ready["lastTransitionTime"]) == ("True", NOW)
    assert plan.status["observedGeneration"] == 1
    assert [(e.type, e.reason) for e in plan.events] == [("Normal", "WebsiteReconciled")]
    # Pure: the same inputs, the same plan.
    assert plan_reconcile(crd, Observed(cr, now=NOW)) == plan


def test_gate_that_fails_plans_nothing(tmp_path):
    _, _, plan = shop_plan(tmp_path, {"open": "false", "size": "3"})
    assert plan.gated
    assert (plan.children, plan.status, plan.events) == (None, None, ())
    assert "gated" in plan_document(plan)


def test_requeue_after_comes_from_the_template(tmp_path):
    _, _, plan = shop_plan(tmp_path, {"open": "true", "size": "3", "every": "90s"})
    assert plan.requeue_after == 90.0
    assert plan.status["size"] == 3
    assert plan_document(plan)["requeueAfter"] == 90.0


def test_a_broken_status_keeps_the_children_and_says_why(tmp_path):
    """The runtime applies the children before it fails on the status, as it always did."""
    _, _, plan = shop_plan(tmp_path, {"open": "true", "size": "lots"})
    assert [child.name for child in plan.children] == ["s1-cfg"]
    assert plan.status is None and plan.requeue_after is None
    assert isinstance(plan.error, RenderError)
    assert "size" in str(plan.error)
    assert plan_document(plan)["error"] == str(plan.error)


def test_outcome_follows_the_children_seen_after_writes(tmp_path):
    crd, cr, plan = shop_plan(tmp_path, {"open": "true", "size": "3"})
    child = {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "s1-cfg"}}
    outcome = plan_outcome(crd, Observed(cr, children=[child], now=NOW))
    assert outcome.status == plan.status
    assert outcome.error is None


def test_a_plan_without_outcome_is_the_plan_less_its_status_and_requeue(tmp_path):
    crd, cr, plan = shop_plan(tmp_path, {"open": "true", "size": "3", "every": "30s"})
    observed = Observed(cr, now=NOW)
    early = plan_reconcile(crd, observed, outcome=False)
    assert early.outcome_later and not plan.outcome_later
    assert early.status is None and early.requeue_after is None and early.error is None
    assert plan.status is not None and plan.requeue_after == 30
    assert (early.children, early.labels, early.events) == (plan.children, plan.labels, plan.events)
    # What the runtime plans after the apply completes it.
    outcome = plan_outcome(crd, observed)
    assert (outcome.status, outcome.requeue_after) == (plan.status, plan.requeue_after)


def test_failure_plan_says_ready_false_and_keeps_the_declared_fields(tmp_path):
    crd, cr, _ = shop_plan(tmp_path, {"open": "true", "size": "3"})
    cr["status"] = {"size": 3}
    plan = plan_failure(crd, Observed(cr, now=NOW), "it broke")
    ready = next(c for c in plan.status["conditions"] if c["type"] == "Ready")
    assert (ready["status"], ready["message"], ready["lastTransitionTime"]) == (
        "False",
        "it broke",
        NOW,
    )
    assert plan.status["size"] == 3
    assert [(e.type, e.reason, e.message, e.when) for e in plan.events] == [
        ("Warning", "ShopReconcileError", "it broke", ON_NEW_MESSAGE)
    ]
