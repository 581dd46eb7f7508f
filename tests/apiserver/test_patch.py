"""Merge, JSON and strategic merge patches behave as kube-apiserver applies them."""

import copy
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from orkestra_trio.apiserver.kinds import builtin, kinds_from_crd
from orkestra_trio.apiserver.patch import PatchError, create_merge_patch, json_patch, merge_patch
from orkestra_trio.apiserver.strategicmerge import strategic_merge_patch

DEPLOY = builtin("apps", "deployments")
PODS = builtin("", "pods")
SERVICES = builtin("", "services")
CONFIGMAPS = builtin("", "configmaps")

# ------------------------------------------------------------- merge patch


@pytest.mark.parametrize(
    ("target", "patch", "result"),
    [  # RFC 7386 appendix A
        ({"a": "b"}, {"a": "c"}, {"a": "c"}),
        ({"a": "b"}, {"b": "c"}, {"a": "b", "b": "c"}),
        ({"a": "b"}, {"a": None}, {}),
        ({"a": "b", "b": "c"}, {"a": None}, {"b": "c"}),
        ({"a": ["b"]}, {"a": "c"}, {"a": "c"}),
        ({"a": "c"}, {"a": ["b"]}, {"a": ["b"]}),
        ({"a": {"b": "c"}}, {"a": {"b": "d", "c": None}}, {"a": {"b": "d"}}),
        ({"a": [{"b": "c"}]}, {"a": [1]}, {"a": [1]}),
        (["a", "b"], ["c", "d"], ["c", "d"]),
        ({"a": "b"}, ["c"], ["c"]),
        ({"a": "foo"}, None, None),
        ({"a": "foo"}, "bar", "bar"),
        ({"e": None}, {"a": 1}, {"e": None, "a": 1}),
        ([1, 2], {"a": "b", "c": None}, {"a": "b"}),
        ({}, {"a": {"bb": {"ccc": None}}}, {"a": {"bb": {}}}),
    ],
)
def test_merge_patch_rfc7386_examples(target: Any, patch: Any, result: Any) -> None:
    before = copy.deepcopy(target)
    assert merge_patch(target, patch) == result
    assert target == before  # inputs are never mutated


_scalars = st.one_of(st.booleans(), st.integers(-5, 5), st.text(max_size=3))
_json_no_null = st.recursive(
    _scalars,
    lambda inner: st.one_of(
        st.lists(inner, max_size=3), st.dictionaries(st.text(max_size=3), inner, max_size=4)
    ),
    max_leaves=12,
)
_objects = st.dictionaries(st.text(max_size=3), _json_no_null, max_size=5)


@given(_objects, _objects)
def test_merge_patch_with_the_diff_yields_the_target(a: dict[str, Any], b: dict[str, Any]) -> None:
    assert merge_patch(a, create_merge_patch(a, b)) == b


@given(_objects)
def test_merge_patch_is_idempotent(a: dict[str, Any]) -> None:
    patch = {"x": {"y": 1}, "z": None}
    once = merge_patch(a, patch)
    assert merge_patch(once, patch) == once


# -------------------------------------------------------------- JSON patch


def test_json_patch_operations() -> None:
    doc = {"spec": {"items": ["a", "b"], "n": 1}, "x~y": {"a/b": 1}}
    ops = [
        {"op": "add", "path": "/spec/items/-", "value": "c"},
        {"op": "add", "path": "/spec/items/0", "value": "z"},
        {"op": "replace", "path": "/spec/n", "value": 2},
        {"op": "test", "path": "/spec/n", "value": 2},
        {"op": "copy", "from": "/spec/n", "path": "/spec/m"},
        {"op": "move", "from": "/spec/m", "path": "/status"},
        {"op": "remove", "path": "/spec/items/1"},
        {"op": "test", "path": "/x~0y/a~1b", "value": 1},
        {"op": "add", "path": "/spec/new", "value": {"k": [1]}},
    ]
    assert json_patch(doc, ops) == {
        "spec": {"items": ["z", "b", "c"], "n": 2, "new": {"k": [1]}},
        "x~y": {"a/b": 1},
        "status": 2,
    }
    assert doc["spec"]["items"] == ["a", "b"]  # not mutated


def test_json_patch_failed_test_is_422_invalid() -> None:
    with pytest.raises(PatchError) as err:
        json_patch({"a": 1}, [{"op": "test", "path": "/a", "value": 2}])
    assert (err.value.code, err.value.reason) == (422, "Invalid")
    # JSON equality: 1 and 1.0 are equal, true and 1 are not.
    assert json_patch({"a": 1}, [{"op": "test", "path": "/a", "value": 1.0}]) == {"a": 1}
    with pytest.raises(PatchError):
        json_patch({"a": 1}, [{"op": "test", "path": "/a", "value": True}])


@pytest.mark.parametrize(
    ("ops", "code"),
    [
        ({"op": "add"}, 400),  # not a list
        ([{"path": "/a"}], 400),  # no op
        ([{"op": "add", "path": "/a"}], 400),  # no value
        ([{"op": "frobnicate", "path": "/a"}], 400),
        ([{"op": "move", "path": "/a"}], 400),  # no from
        ([{"op": "remove", "path": "/missing"}], 422),
        ([{"op": "replace", "path": "/missing", "value": 1}], 422),
        ([{"op": "add", "path": "/missing/deeper", "value": 1}], 422),
        ([{"op": "add", "path": "/l/5", "value": 1}], 422),
        ([{"op": "add", "path": "/l/01", "value": 1}], 422),
        ([{"op": "move", "from": "/o", "path": "/o/inner"}], 422),
    ],
)
def test_json_patch_errors(ops: Any, code: int) -> None:
    with pytest.raises(PatchError) as err:
        json_patch({"a": 1, "l": [0], "o": {}}, ops)
    assert err.value.code == code


def test_json_patch_operation_limit_is_413() -> None:
    ops = [{"op": "test", "path": "", "value": {}}] * 10001
    with pytest.raises(PatchError) as err:
        json_patch({}, ops)
    assert (err.value.code, err.value.reason) == (413, "RequestEntityTooLarge")
    assert json_patch({}, ops[:10000]) == {}


_pointer_keys = st.text(alphabet="ab~/", min_size=1, max_size=3)


@given(_objects, _pointer_keys, _json_no_null)
def test_json_patch_add_then_remove_restores(doc: dict[str, Any], key: str, value: Any) -> None:
    if key in doc:
        return
    pointer = "/" + key.replace("~", "~0").replace("/", "~1")
    added = json_patch(doc, [{"op": "add", "path": pointer, "value": value}])
    assert added[key] == value
    assert json_patch(added, [{"op": "remove", "path": pointer}]) == doc


# ------------------------------------------------------- strategic merge patch


def _deployment(containers: list[dict[str, Any]], **meta: Any) -> dict[str, Any]:
    return {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": "web", **meta},
        "spec": {"replicas": 1, "template": {"spec": {"containers": containers}}},
    }


def test_smp_merges_containers_by_name() -> None:
    live = _deployment(
        [
            {"name": "app", "image": "app:1", "env": [{"name": "A", "value": "1"}]},
            {"name": "side", "image": "side:1"},
        ]
    )
    patch = {
        "spec": {
            "template": {
                "spec": {
                    "containers": [
                        {"name": "app", "image": "app:2", "env": [{"name": "B", "value": "2"}]},
                        {"name": "new", "image": "new:1"},
                    ]
                }
            }
        }
    }
    out = strategic_merge_patch(live, patch, DEPLOY)
    containers = out["spec"]["template"]["spec"]["containers"]
    assert [c["name"] for c in containers] == ["app", "side", "new"]
    assert containers[0]["image"] == "app:2"
    assert containers[0]["env"] == [{"name": "A", "value": "1"}, {"name": "B", "value": "2"}]
    assert live["spec"]["template"]["spec"]["containers"][0]["image"] == "app:1"


def test_smp_delete_directive_and_null() -> None:
    live = _deployment([{"name": "app", "image": "a"}, {"name": "side", "image": "s"}])
    live["metadata"]["labels"] = {"a": "1", "b": "2"}
    patch = {
        "metadata": {"labels": {"a": None}},
        "spec": {"template": {"spec": {"containers": [{"name": "side", "$patch": "delete"}]}}},
    }
    out = strategic_merge_patch(live, patch, DEPLOY)
    assert out["metadata"]["labels"] == {"b": "2"}
    assert out["spec"]["template"]["spec"]["containers"] == [{"name": "app", "image": "a"}]


def test_smp_set_element_order_as_kubectl_apply_sends_it() -> None:
    live = _deployment([{"name": "a", "image": "a"}, {"name": "b", "image": "b"}])
    patch = {
        "spec": {
            "template": {
                "spec": {
                    "$setElementOrder/containers": [{"name": "b"}, {"name": "a"}],
                    "containers": [{"name": "a", "image": "a2"}],
                }
            }
        }
    }
    out = strategic_merge_patch(live, patch, DEPLOY)
    assert out["spec"]["template"]["spec"]["containers"] == [
        {"name": "b", "image": "b"},
        {"name": "a", "image": "a2"},
    ]
    assert "$setElementOrder/containers" not in out["spec"]["template"]["spec"]


def test_smp_replace_directives() -> None:
    live = _deployment([{"name": "a", "image": "a"}, {"name": "b", "image": "b"}])
    patch = {
        "spec": {
            "template": {
                "spec": {"containers": [{"$patch": "replace"}, {"name": "c", "image": "c"}]}
            }
        }
    }
    out = strategic_merge_patch(live, patch, DEPLOY)
    assert out["spec"]["template"]["spec"]["containers"] == [{"name": "c", "image": "c"}]
    out = strategic_merge_patch(
        {"data": {"a": "1", "b": "2"}}, {"data": {"$patch": "replace", "c": "3"}}, CONFIGMAPS
    )
    assert out == {"data": {"c": "3"}}
    out = strategic_merge_patch(
        {"data": {"a": "1"}, "x": 1}, {"data": {"$patch": "delete"}}, CONFIGMAPS
    )
    assert out == {"x": 1}


def test_smp_lists_without_merge_key_are_replaced() -> None:
    live = {
        "spec": {"tolerations": [{"key": "a"}], "containers": [{"name": "c", "args": ["x", "y"]}]}
    }
    patch = {"spec": {"tolerations": [{"key": "b"}], "containers": [{"name": "c", "args": ["z"]}]}}
    out = strategic_merge_patch(live, patch, PODS)
    assert out["spec"]["tolerations"] == [{"key": "b"}]
    assert out["spec"]["containers"] == [{"name": "c", "args": ["z"]}]


def test_smp_ports_merge_by_container_port_and_service_port() -> None:
    pod = {
        "spec": {"containers": [{"name": "c", "ports": [{"containerPort": 80, "name": "http"}]}]}
    }
    out = strategic_merge_patch(
        pod, {"spec": {"containers": [{"name": "c", "ports": [{"containerPort": 443}]}]}}, PODS
    )
    assert out["spec"]["containers"][0]["ports"] == [
        {"containerPort": 80, "name": "http"},
        {"containerPort": 443},
    ]
    svc = {"spec": {"ports": [{"port": 80, "targetPort": 8080}]}}
    out = strategic_merge_patch(
        svc, {"spec": {"ports": [{"port": 80, "targetPort": 9090}]}}, SERVICES
    )
    assert out["spec"]["ports"] == [{"port": 80, "targetPort": 9090}]


def test_smp_finalizers_union_and_delete_from_primitive_list() -> None:
    live = {"metadata": {"finalizers": ["a", "b"]}}
    out = strategic_merge_patch(live, {"metadata": {"finalizers": ["c", "a"]}}, CONFIGMAPS)
    assert out["metadata"]["finalizers"] == ["a", "b", "c"]
    out = strategic_merge_patch(
        live, {"metadata": {"$deleteFromPrimitiveList/finalizers": ["a"]}}, CONFIGMAPS
    )
    assert out["metadata"]["finalizers"] == ["b"]


def test_smp_conditions_merge_by_type() -> None:
    live = {
        "status": {
            "conditions": [
                {"type": "Available", "status": "False"},
                {"type": "Progressing", "status": "True"},
            ]
        }
    }
    out = strategic_merge_patch(
        live, {"status": {"conditions": [{"type": "Available", "status": "True"}]}}, DEPLOY
    )
    assert out["status"]["conditions"] == [
        {"type": "Available", "status": "True"},
        {"type": "Progressing", "status": "True"},
    ]


def test_smp_owner_references_merge_by_uid() -> None:
    live = {"metadata": {"ownerReferences": [{"uid": "1", "name": "a"}]}}
    out = strategic_merge_patch(
        live, {"metadata": {"ownerReferences": [{"uid": "2", "name": "b"}]}}, CONFIGMAPS
    )
    assert [r["uid"] for r in out["metadata"]["ownerReferences"]] == ["1", "2"]


def test_smp_retain_keys() -> None:
    live = {"spec": {"strategy": {"type": "RollingUpdate", "rollingUpdate": {"maxSurge": 1}}}}
    patch = {"spec": {"strategy": {"$retainKeys": ["type"], "type": "Recreate"}}}
    out = strategic_merge_patch(live, patch, DEPLOY)
    assert out["spec"]["strategy"] == {"type": "Recreate"}
    with pytest.raises(PatchError) as err:
        strategic_merge_patch(
            live, {"spec": {"strategy": {"$retainKeys": ["type"], "other": 1}}}, DEPLOY
        )
    assert err.value.code == 422


def test_smp_errors() -> None:
    with pytest.raises(PatchError) as err:
        strategic_merge_patch(
            {"spec": {"containers": []}}, {"spec": {"containers": [{"image": "x"}]}}, PODS
        )
    assert err.value.code == 400
    with pytest.raises(PatchError) as err:
        strategic_merge_patch({}, {"$patch": "bogus"}, PODS)
    assert err.value.code == 400


def test_smp_on_custom_resources_is_415() -> None:
    (crd_kind,) = kinds_from_crd(
        {
            "spec": {
                "group": "g.io",
                "names": {"plural": "ws", "kind": "W"},
                "versions": [{"name": "v1", "served": True, "storage": True}],
            }
        }
    )
    with pytest.raises(PatchError) as err:
        strategic_merge_patch({}, {"spec": {}}, crd_kind)
    assert (err.value.code, err.value.reason) == (415, "UnsupportedMediaType")


@given(_objects, _objects)
def test_smp_without_lists_equals_merge_patch(a: dict[str, Any], b: dict[str, Any]) -> None:
    # With no directives and no merge-keyed lists, SMP is a merge patch.
    patch = create_merge_patch(a, b)
    if "$" in repr(patch) or "metadata" in patch or "spec" in patch or "status" in patch:
        return
    assert strategic_merge_patch(a, patch, CONFIGMAPS) == merge_patch(a, patch)
