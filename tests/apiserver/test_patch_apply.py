"""Server-side apply: create-or-merge, ownership in managedFields, conflicts, force."""

from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from orkestra_trio.apiserver.fieldmanager import (
    fields_v1,
    leaf_values,
    managed_fields_equivalent,
    paths_from_fields_v1,
    record_update_manager,
    server_side_apply,
)
from orkestra_trio.apiserver.kinds import builtin
from orkestra_trio.apiserver.patch import ApplyConflict, PatchError
from orkestra_trio.apiserver.schema import json_equal

DEPLOY = builtin("apps", "deployments")
CM = builtin("", "configmaps")
T0 = "2026-01-01T00:00:00Z"
T1 = "2026-01-01T00:01:00Z"


def _deploy(
    replicas: int | None = 1,
    containers: list[dict[str, Any]] | None = None,
    labels: dict[str, str] | None = None,
) -> dict[str, Any]:
    spec: dict[str, Any] = {
        "template": {"spec": {"containers": containers or [{"name": "app", "image": "app:1"}]}}
    }
    if replicas is not None:
        spec["replicas"] = replicas
    meta: dict[str, Any] = {"name": "web", "namespace": "default"}
    if labels is not None:
        meta["labels"] = labels
    return {"apiVersion": "apps/v1", "kind": "Deployment", "metadata": meta, "spec": spec}


def _managers(obj: dict[str, Any]) -> dict[tuple[str, str], dict[str, Any]]:
    return {(e["manager"], e["operation"]): e for e in obj["metadata"]["managedFields"]}


def test_apply_creates_with_fields_v1_ownership() -> None:
    out = server_side_apply(
        None, _deploy(labels={"app": "web"}), manager="kubectl", force=False, kind=DEPLOY, now=T0
    )
    assert out["spec"]["replicas"] == 1
    assert out["metadata"]["name"] == "web"
    (entry,) = out["metadata"]["managedFields"]
    assert entry["manager"] == "kubectl"
    assert entry["operation"] == "Apply"
    assert entry["apiVersion"] == "apps/v1"
    assert entry["fieldsType"] == "FieldsV1"
    assert entry["time"] == T0
    assert entry["fieldsV1"] == {
        "f:metadata": {"f:labels": {"f:app": {}}},
        "f:spec": {
            "f:replicas": {},
            "f:template": {
                "f:spec": {
                    "f:containers": {'k:{"name":"app"}': {".": {}, "f:image": {}, "f:name": {}}}
                }
            },
        },
    }


def test_reapply_removes_fields_the_manager_stopped_applying() -> None:
    first = server_side_apply(
        None,
        _deploy(
            containers=[{"name": "app", "image": "a"}, {"name": "side", "image": "s"}],
            labels={"app": "web", "tier": "fe"},
        ),
        manager="m",
        force=False,
        kind=DEPLOY,
        now=T0,
    )
    second = server_side_apply(
        first,
        _deploy(replicas=None, labels={"app": "web"}),
        manager="m",
        force=False,
        kind=DEPLOY,
        now=T1,
    )
    assert "replicas" not in second["spec"]
    assert second["metadata"]["labels"] == {"app": "web"}
    assert [c["name"] for c in second["spec"]["template"]["spec"]["containers"]] == ["app"]
    assert second["metadata"]["managedFields"][0]["time"] == T1


def test_fields_set_by_others_survive_a_reapply() -> None:
    first = server_side_apply(None, _deploy(), manager="m", force=False, kind=DEPLOY, now=T0)
    edited = dict(first)
    edited = {**first, "metadata": {**first["metadata"], "annotations": {"note": "x"}}}
    edited = record_update_manager(first, edited, manager="kubectl-edit", now=T1, kind=DEPLOY)
    again = server_side_apply(edited, _deploy(), manager="m", force=False, kind=DEPLOY, now=T1)
    assert again["metadata"]["annotations"] == {"note": "x"}
    assert set(_managers(again)) == {("m", "Apply"), ("kubectl-edit", "Update")}


def test_conflict_with_another_applier_then_force() -> None:
    first = server_side_apply(
        None, _deploy(replicas=1), manager="alice", force=False, kind=DEPLOY, now=T0
    )
    with pytest.raises(ApplyConflict) as err:
        server_side_apply(
            first, _deploy(replicas=3), manager="bob", force=False, kind=DEPLOY, now=T1
        )
    assert err.value.code == 409
    assert err.value.reason == "Conflict"
    assert isinstance(err.value, PatchError)
    assert err.value.causes == [
        {
            "type": "FieldManagerConflict",
            "message": 'conflict with "alice" using apps/v1',
            "field": ".spec.replicas",
        }
    ]
    assert err.value.message == (
        'Apply failed with 1 conflict: conflict with "alice" using apps/v1: .spec.replicas'
    )
    forced = server_side_apply(
        first, _deploy(replicas=3), manager="bob", force=True, kind=DEPLOY, now=T1
    )
    assert forced["spec"]["replicas"] == 3
    owners = _managers(forced)
    alice = paths_from_fields_v1(owners[("alice", "Apply")]["fieldsV1"])
    bob = paths_from_fields_v1(owners[("bob", "Apply")]["fieldsV1"])
    assert ("f:spec", "f:replicas") in bob
    assert ("f:spec", "f:replicas") not in alice
    # Both still co-own the container image they set to the same value.
    image = ("f:spec", "f:template", "f:spec", "f:containers", 'k:{"name":"app"}', "f:image")
    assert image in alice and image in bob


def test_several_conflicts_are_grouped_per_manager() -> None:
    first = server_side_apply(
        None,
        _deploy(replicas=1, labels={"a": "1"}),
        manager="alice",
        force=False,
        kind=DEPLOY,
        now=T0,
    )
    with pytest.raises(ApplyConflict) as err:
        server_side_apply(
            first,
            _deploy(replicas=3, labels={"a": "2"}),
            manager="bob",
            force=False,
            kind=DEPLOY,
            now=T1,
        )
    assert err.value.message == (
        'Apply failed with 2 conflicts: conflicts with "alice" using apps/v1:\n'
        "- .metadata.labels.a\n- .spec.replicas"
    )
    assert [c["field"] for c in err.value.causes] == [".metadata.labels.a", ".spec.replicas"]


def test_ownership_equivalence_ignores_only_timestamps() -> None:
    first = server_side_apply(None, _deploy(), manager="a", force=False, kind=DEPLOY, now=T0)
    again = server_side_apply(first, _deploy(), manager="a", force=False, kind=DEPLOY, now=T1)
    assert managed_fields_equivalent(first, again)
    shared = server_side_apply(first, _deploy(), manager="b", force=False, kind=DEPLOY, now=T1)
    assert not managed_fields_equivalent(first, shared)


def test_same_value_is_shared_ownership_without_conflict() -> None:
    first = server_side_apply(
        None, _deploy(replicas=2), manager="a", force=False, kind=DEPLOY, now=T0
    )
    second = server_side_apply(
        first, _deploy(replicas=2), manager="b", force=False, kind=DEPLOY, now=T1
    )
    assert set(_managers(second)) == {("a", "Apply"), ("b", "Apply")}
    # "b" stops applying replicas: "a" still owns it, so it stays.
    third = server_side_apply(
        second, _deploy(replicas=None), manager="b", force=False, kind=DEPLOY, now=T1
    )
    assert third["spec"]["replicas"] == 2


def test_update_then_apply_conflicts_with_the_updater() -> None:
    created = server_side_apply(
        None, _deploy(replicas=1), manager="op", force=False, kind=DEPLOY, now=T0
    )
    edited = {**created, "spec": {**created["spec"], "replicas": 5}}
    edited = record_update_manager(created, edited, manager="kubectl-edit", now=T1, kind=DEPLOY)
    owners = _managers(edited)
    assert owners[("kubectl-edit", "Update")]["fieldsV1"] == {"f:spec": {"f:replicas": {}}}
    assert ("f:spec", "f:replicas") not in paths_from_fields_v1(owners[("op", "Apply")]["fieldsV1"])
    with pytest.raises(ApplyConflict) as err:
        server_side_apply(
            edited, _deploy(replicas=1), manager="op", force=False, kind=DEPLOY, now=T1
        )
    assert "kubectl-edit" in err.value.causes[0]["message"]


def test_record_update_on_create_and_removal() -> None:
    cm = {
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "metadata": {"name": "c"},
        "data": {"a": "1", "b": "2"},
    }
    created = record_update_manager(None, cm, manager="client", now=T0, kind=CM)
    (entry,) = created["metadata"]["managedFields"]
    assert entry["operation"] == "Update"
    assert entry["fieldsV1"] == {"f:data": {"f:a": {}, "f:b": {}}}
    smaller = {**created, "data": {"a": "1"}}
    updated = record_update_manager(created, smaller, manager="other", now=T1, kind=CM)
    (entry,) = updated["metadata"]["managedFields"]  # "other" changed nothing it could own
    assert entry["manager"] == "client"
    assert entry["fieldsV1"] == {"f:data": {"f:a": {}}}


def test_apply_without_manager_is_400() -> None:
    with pytest.raises(PatchError) as err:
        server_side_apply(None, _deploy(), manager="", force=False, kind=DEPLOY, now=T0)
    assert err.value.code == 400


def test_fields_v1_round_trip() -> None:
    paths = {("f:a", "f:b"), ("f:a", "f:c"), ("f:l", 'k:{"name":"x"}', "."), ("f:s", 'v:"p"')}
    assert paths_from_fields_v1(fields_v1(paths)) == paths


def test_apply_finalizers_as_a_set() -> None:
    live = server_side_apply(
        None,
        {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "c", "finalizers": ["a"]}},
        manager="one",
        force=False,
        kind=CM,
        now=T0,
    )
    out = server_side_apply(
        live,
        {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "c", "finalizers": ["b"]}},
        manager="two",
        force=False,
        kind=CM,
        now=T1,
    )
    assert out["metadata"]["finalizers"] == ["a", "b"]
    fv1 = _managers(out)[("two", "Apply")]["fieldsV1"]
    assert fv1 == {"f:metadata": {"f:finalizers": {'v:"b"': {}}}}


# ---------------------------------------------------------- hypothesis properties

_names = st.sampled_from(["a", "b", "c", "d"])
# No 0/1 next to booleans: ownership ignores 1 -> true changes (see patch._diff).
_scalars = st.one_of(st.integers(2, 4), st.sampled_from(["x", "y"]), st.booleans())
_env = st.lists(
    st.fixed_dictionaries({"name": _names, "value": st.sampled_from(["1", "2"])}),
    min_size=1,
    max_size=3,
    unique_by=lambda e: e["name"],
)
_container = st.fixed_dictionaries(
    {"name": _names, "image": st.sampled_from(["i:1", "i:2"])},
    optional={"env": _env, "args": st.lists(st.sampled_from(["-v", "-q"]), min_size=1, max_size=2)},
)


@st.composite
def _configs(draw: st.DrawFn) -> dict[str, Any]:
    """Deployment configurations without empty maps or lists (their ownership is an edge case)."""
    spec: dict[str, Any] = {}
    if draw(st.booleans()):
        spec["replicas"] = draw(st.integers(0, 3))
    containers = draw(st.lists(_container, max_size=3, unique_by=lambda c: c["name"]))
    if containers:
        spec["template"] = {"spec": {"containers": containers}}
    extra = draw(st.dictionaries(st.sampled_from(["p", "q"]), _scalars, max_size=2))
    spec.update(extra)
    meta: dict[str, Any] = {"name": "web", "namespace": "default"}
    labels = draw(st.dictionaries(_names, st.sampled_from(["1", "2"]), max_size=2))
    if labels:
        meta["labels"] = labels
    config: dict[str, Any] = {"apiVersion": "apps/v1", "kind": "Deployment", "metadata": meta}
    if spec:
        config["spec"] = spec
    return config


def _content(obj: dict[str, Any]) -> dict[str, Any]:
    meta = {k: v for k, v in obj["metadata"].items() if k != "managedFields"}
    return {**obj, "metadata": meta}


@settings(max_examples=100, deadline=None)
@given(_configs(), _configs())
def test_reapplying_converges_to_the_new_configuration(
    a: dict[str, Any], b: dict[str, Any]
) -> None:
    # One manager: applying a then b leaves exactly what applying b alone gives.
    first = server_side_apply(None, a, manager="m", force=False, kind=DEPLOY, now=T0)
    second = server_side_apply(first, b, manager="m", force=False, kind=DEPLOY, now=T1)
    fresh = server_side_apply(None, b, manager="m", force=False, kind=DEPLOY, now=T1)
    assert _content(second) == _content(fresh)
    assert second["metadata"]["managedFields"] == fresh["metadata"]["managedFields"]


@settings(max_examples=100, deadline=None)
@given(_configs(), _configs())
def test_update_ownership_matches_the_leaf_difference(a: dict[str, Any], b: dict[str, Any]) -> None:
    created = record_update_manager(None, a, manager="one", now=T0, kind=DEPLOY)
    updated = record_update_manager(created, b, manager="two", now=T1, kind=DEPLOY)
    old_leaves = leaf_values(a, DEPLOY)
    new_leaves = leaf_values(b, DEPLOY)
    changed = {
        p for p, v in new_leaves.items() if p not in old_leaves or not json_equal(old_leaves[p], v)
    }
    owners = {
        e["manager"]: paths_from_fields_v1(e["fieldsV1"])
        for e in updated["metadata"].get("managedFields", [])
    }
    assert owners.get("two", set()) == changed
    # "one" keeps exactly its unchanged leaves that still exist.
    assert owners.get("one", set()) == {p for p in old_leaves if p in new_leaves} - changed
    # Everything the object sets has an owner.
    assert set(new_leaves) == owners.get("one", set()) | owners.get("two", set())
