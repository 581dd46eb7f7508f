"""Pure helpers of the pipeline: the drift test, the status merge diff, the CR change filter."""

from __future__ import annotations

import base64
import types

from hypothesis import given
from hypothesis import strategies as st

from orkestra_trio.runtime.box import meaningful_cr_change
from orkestra_trio.runtime.children import comparable, contains
from orkestra_trio.runtime.informer import Change
from orkestra_trio.runtime.status import merge_diff

json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.text(max_size=5),
    lambda inner: (
        st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=3), inner, max_size=3)
    ),
    max_leaves=12,
)


def test_server_added_fields_are_not_drift():
    desired = {"spec": {"replicas": 2, "template": {"spec": {"containers": [{"name": "w"}]}}}}
    actual = {
        "metadata": {"uid": "u", "resourceVersion": "7"},
        "spec": {
            "replicas": 2,
            "strategy": {"type": "RollingUpdate"},
            "template": {"spec": {"containers": [{"name": "w", "imagePullPolicy": "Always"}]}},
        },
        "status": {"readyReplicas": 2},
    }
    assert contains(actual, desired)


def test_a_declared_field_with_another_value_is_drift():
    assert not contains({"spec": {"replicas": 7}}, {"spec": {"replicas": 2}})
    # A list of another length, or an element that differs.
    assert not contains({"ports": [{"port": 80}, {"port": 81}]}, {"ports": [{"port": 80}]})
    assert not contains({"ports": [{"port": 81}]}, {"ports": [{"port": 80}]})
    # A missing field that the Katalog declares.
    assert not contains({"spec": {}}, {"spec": {"replicas": 1}})
    # true is not 1, either way round; 1 is 1.0.
    assert not contains({"x": 1}, {"x": True})
    assert not contains({"x": True}, {"x": 1})
    assert contains({"x": 1.0}, {"x": 1})
    # A scalar where a mapping or list is declared, and the other way round.
    assert not contains({"x": "a"}, {"x": {"y": "a"}})
    assert not contains({"x": {"y": "a"}}, {"x": "a"})
    assert not contains({"x": "ab"}, {"x": ["a", "b"]})


def test_mappings_that_are_not_dicts_compare_as_dicts():
    # Katalog values arrive frozen (Mapping, not dict); cached objects are dicts.
    desired = types.MappingProxyType({"spec": types.MappingProxyType({"replicas": 2})})
    assert contains({"spec": {"replicas": 2, "paused": False}}, desired)
    assert not contains({"spec": {"replicas": 3}}, desired)
    assert contains(types.MappingProxyType({"replicas": 2, "x": 1}), {"replicas": 2})


def test_empty_desired_values_match_missing_fields():
    assert contains({"metadata": {}}, {"metadata": {"annotations": {}}, "data": []})


def test_secret_string_data_compares_as_base64_data():
    desired = {"apiVersion": "v1", "kind": "Secret", "stringData": {"password": "pw"}}
    stored = {
        "apiVersion": "v1",
        "kind": "Secret",
        "data": {"password": base64.b64encode(b"pw").decode()},
    }
    assert contains(stored, comparable(desired))
    assert not contains({**stored, "data": {"password": "eA=="}}, comparable(desired))


@given(json_values)
def test_everything_contains_itself(value):
    assert contains(value, value)


@given(
    st.dictionaries(st.text(max_size=3), json_values, max_size=4),
    st.dictionaries(st.text(max_size=3), json_values, max_size=4),
)
def test_merge_diff_applied_as_a_merge_patch_gives_the_new_status(old, new):
    def apply(target, patch):
        if not isinstance(patch, dict):
            return patch
        result = dict(target) if isinstance(target, dict) else {}
        for key, value in patch.items():
            if value is None:
                result.pop(key, None)
            else:
                result[key] = apply(result.get(key), value)
        return result

    def without_nulls(value):
        # A merge patch cannot set a null: the status we write never holds one.
        if isinstance(value, dict):
            return {k: without_nulls(v) for k, v in value.items() if v is not None}
        return value

    new = without_nulls(new)
    assert apply(old, merge_diff(old, new)) == new
    assert merge_diff(new, new) == {}


def _cr(rv, generation=1, **metadata):
    return {"metadata": {"resourceVersion": rv, "generation": generation, **metadata}}


def test_our_own_status_writes_do_not_enqueue_the_cr():
    key = ("default", "a")
    status_only = Change("MODIFIED", key, _cr("2"), _cr("1"))
    assert not meaningful_cr_change(status_only)
    assert meaningful_cr_change(Change("MODIFIED", key, _cr("2", generation=2), _cr("1")))
    assert meaningful_cr_change(
        Change("MODIFIED", key, _cr("2", deletionTimestamp="now"), _cr("1"))
    )
    assert meaningful_cr_change(Change("MODIFIED", key, _cr("2", finalizers=["x"]), _cr("1")))
    assert meaningful_cr_change(Change("ADDED", key, _cr("1"), None))
    assert meaningful_cr_change(Change("DELETED", key, None, _cr("1")))
