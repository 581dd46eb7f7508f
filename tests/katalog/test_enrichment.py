"""katalog/enrichment.py: what each enrich target embeds, from a source of cached objects."""

from __future__ import annotations

from orkestra_trio.katalog.conditions import Condition
from orkestra_trio.katalog.enrichment import embedded, enrich_children, metric_summary
from orkestra_trio.katalog.model import EnrichItem


class Source:
    """Cached objects by kind (a stand-in for the runtime's informers)."""

    def __init__(self, **objects):
        self.objects = objects

    def pods(self, namespace):
        return self.objects.get("Pod", [])

    def selected_pods(self, namespace, selector):
        return [p for p in self.pods(namespace) if _has(p, selector)]

    def warnings(self, kind, namespace, name):
        return [
            e
            for e in self.objects.get("Event", [])
            if e["involvedObject"] == {"kind": kind, "name": name}
        ]

    def owned(self, kind, namespace):
        return self.objects.get(kind, [])

    def named(self, kind, namespace, name):
        return next((o for o in self.objects.get(kind, []) if o["metadata"]["name"] == name), None)


def _has(obj, selector):
    labels = obj["metadata"].get("labels") or {}
    return all(labels.get(k) == v for k, v in selector.items())


def _pod(name, owner_kind, labels):
    return {
        "metadata": {
            "name": name,
            "labels": labels,
            "ownerReferences": [{"kind": owner_kind, "name": "x", "controller": True}],
        },
        "status": {"phase": "Running"},
    }


DEPLOY = {
    "kind": "Deployment",
    "metadata": {"name": "web", "namespace": "ns", "uid": "d1"},
    "spec": {"selector": {"matchLabels": {"app": "web"}}},
}


def test_a_workloads_pods_are_those_run_through_its_controller_kind():
    """A Job's pods with the Deployment's labels are not the Deployment's (Orkestra's filter)."""
    source = Source(
        Pod=[
            _pod("web-a", "ReplicaSet", {"app": "web"}),
            _pod("migrate", "Job", {"app": "web"}),
            _pod("other", "ReplicaSet", {"app": "api"}),
        ]
    )
    out = embedded(DEPLOY, frozenset({"pods"}), source)
    assert [p["name"] for p in out["_pods"]] == ["web-a"]
    assert out["_pods"][0]["ordinal"] == -1
    # A target only enriches its kinds: a Service gets no _pods.
    service = {"kind": "Service", "metadata": {"name": "web"}, "spec": {}}
    assert embedded(service, frozenset({"pods"}), source) == {}


def test_a_workloads_warnings_include_its_pods_and_only_its_own_uid():
    def event(kind, name, reason, when, uid=None):
        involved = {"kind": kind, "name": name}
        e = {"involvedObject": involved, "reason": reason, "message": reason, "lastTimestamp": when}
        if uid:
            e["uid"] = uid
        return e

    source = Source(
        Pod=[_pod("web-a", "ReplicaSet", {"app": "web"})],
        Event=[
            event("Pod", "web-a", "BackOff", "2026-01-02T00:00:00Z"),
            event("Deployment", "web", "Stalled", "2026-01-01T00:00:00Z"),
        ],
    )
    out = embedded(DEPLOY, frozenset({"warnings"}), source)
    assert [w["reason"] for w in out["_warnings"]] == ["Stalled", "BackOff"]
    assert out["_warnings"][0]["count"] == 1  # a core Event without a count happened once


def test_a_headless_service_without_selector_gets_no_backing_pods():
    service = {"kind": "Service", "metadata": {"name": "db"}, "spec": {"clusterIP": "None"}}
    assert embedded(service, frozenset({"backingpods"}), Source()) == {}


def test_owner_is_the_controller_reference_and_absent_without_one():
    child = {
        "kind": "ConfigMap",
        "metadata": {
            "name": "c",
            "ownerReferences": [
                {"kind": "A", "name": "first", "uid": "1"},
                {"kind": "B", "name": "boss", "uid": "2", "controller": True},
            ],
        },
    }
    assert embedded(child, frozenset({"owner"}), Source()) == {
        "_owner": {"name": "boss", "kind": "B", "uid": "2"}
    }
    assert embedded({"kind": "ConfigMap", "metadata": {}}, frozenset({"owner"}), Source()) == {}


def test_hpa_metrics_of_every_source_type():
    assert metric_summary(
        {"type": "External", "external": {"metric": {"name": "q"}, "current": {"value": "3"}}}
    ) == {"type": "External", "name": "q", "current": "3"}
    assert metric_summary(
        {"type": "ContainerResource", "containerResource": {"name": "cpu", "current": {}}}
    ) == {"type": "ContainerResource", "name": "cpu", "current": None}
    assert metric_summary("junk") == {}


def test_a_gated_target_is_decided_on_the_children_the_ungated_ones_enriched():
    """The gate reads _pods, which the first pass embedded."""
    gate = Condition("{{ len .children.deployment._pods }}", "equals", "1")
    items = (EnrichItem("pods"), EnrichItem("owner", when=(gate,)))
    child = {
        **DEPLOY,
        "metadata": {**DEPLOY["metadata"], "ownerReferences": [{"kind": "X", "name": "x"}]},
    }
    source = Source(Pod=[_pod("web-a", "ReplicaSet", {"app": "web"})])
    extras, active = enrich_children({"metadata": {"name": "cr"}}, items, [child], source)
    assert active == {"pods", "owner"}
    assert set(extras[("Deployment", "ns", "web")]) == {"_pods", "_owner"}
    source = Source(Pod=[])
    extras, active = enrich_children({"metadata": {"name": "cr"}}, items, [child], source)
    assert active == {"pods"}
    assert set(extras[("Deployment", "ns", "web")]) == {"_pods"}
