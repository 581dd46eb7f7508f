"""CRD schema handling: pruning, defaulting, validation causes, and CRD validation."""

import copy
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from orkestra_trio.apiserver.schema import (
    DUPLICATE,
    INVALID,
    NOT_SUPPORTED,
    REQUIRED,
    TOO_LONG,
    TOO_MANY,
    TYPE_INVALID,
    Cause,
    apply_defaults,
    invalid_message,
    prune,
    unknown_fields,
    validate,
    validate_crd,
)

SCHEMA: dict[str, Any] = {
    "type": "object",
    "properties": {
        "spec": {
            "type": "object",
            "required": ["size"],
            "properties": {
                "size": {"type": "integer", "minimum": 1, "maximum": 10},
                "mode": {"type": "string", "enum": ["fast", "slow"], "default": "fast"},
                "name": {"type": "string", "maxLength": 5, "pattern": "^[a-z]+$"},
                "ratio": {"type": "number", "exclusiveMinimum": True, "minimum": 0},
                "port": {"x-kubernetes-int-or-string": True},
                "tags": {
                    "type": "array",
                    "items": {"type": "string"},
                    "x-kubernetes-list-type": "set",
                    "maxItems": 3,
                },
                "items": {
                    "type": "array",
                    "x-kubernetes-list-type": "map",
                    "x-kubernetes-list-map-keys": ["name"],
                    "items": {
                        "type": "object",
                        "properties": {
                            "name": {"type": "string"},
                            "weight": {"type": "integer", "default": 1},
                        },
                    },
                },
                "labels": {"type": "object", "additionalProperties": {"type": "string"}},
                "free": {
                    "type": "object",
                    "x-kubernetes-preserve-unknown-fields": True,
                    "properties": {"known": {"type": "object", "properties": {}}},
                },
                "template": {
                    "type": "object",
                    "x-kubernetes-embedded-resource": True,
                    "properties": {
                        "spec": {"type": "object", "properties": {"a": {"type": "string"}}}
                    },
                },
                "maybe": {"type": "string", "nullable": True},
                "when": {"type": "string", "format": "date-time"},
            },
        },
        "status": {"type": "object", "properties": {"ready": {"type": "boolean"}}},
    },
}


def _cr(spec: dict[str, Any]) -> dict[str, Any]:
    return {
        "apiVersion": "example.com/v1",
        "kind": "Widget",
        "metadata": {"name": "w", "namespace": "default"},
        "spec": spec,
    }


def test_prune_drops_unknown_and_keeps_the_root_and_preserved() -> None:
    obj = _cr(
        {
            "size": 1,
            "bogus": 1,
            "items": [{"name": "a", "extra": 2}],
            "free": {"anything": {"x": 1}, "known": {"drop": 1}},
            "template": {
                "apiVersion": "v1",
                "kind": "Pod",
                "metadata": {"name": "p"},
                "spec": {"a": "x", "b": "y"},
            },
            "labels": {"k": "v"},
        }
    )
    obj["top"] = 1
    pruned = prune(obj, SCHEMA)
    assert pruned["apiVersion"] == "example.com/v1" and pruned["metadata"]["name"] == "w"
    assert "top" not in pruned
    spec = pruned["spec"]
    assert "bogus" not in spec
    assert spec["items"] == [{"name": "a"}]
    assert spec["free"] == {"anything": {"x": 1}, "known": {}}
    assert spec["template"] == {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": "p"},
        "spec": {"a": "x"},
    }
    assert spec["labels"] == {"k": "v"}
    assert sorted(unknown_fields(obj, SCHEMA)) == [
        "spec.bogus",
        "spec.free.known.drop",
        "spec.items[0].extra",
        "spec.template.spec.b",
        "top",
    ]
    assert obj["spec"]["bogus"] == 1  # input untouched


def test_no_schema_or_root_preserve_keeps_everything() -> None:
    obj = _cr({"x": 1})
    assert prune(obj, None) == obj
    assert prune(obj, {"type": "object", "x-kubernetes-preserve-unknown-fields": True}) == obj
    assert unknown_fields(obj, {}) == []


def test_defaults() -> None:
    out = apply_defaults(
        _cr({"size": 1, "items": [{"name": "a"}, {"name": "b", "weight": 5}], "maybe": None}),
        SCHEMA,
    )
    assert out["spec"]["mode"] == "fast"
    assert out["spec"]["items"] == [{"name": "a", "weight": 1}, {"name": "b", "weight": 5}]
    assert out["spec"]["maybe"] is None  # nullable: a null stays
    out = apply_defaults({"spec": {"mode": None}}, SCHEMA)
    assert out["spec"]["mode"] == "fast"  # null on a non-nullable field with a default
    nested = {
        "type": "object",
        "properties": {
            "spec": {
                "type": "object",
                "default": {},
                "properties": {"x": {"type": "integer", "default": 3}},
            }
        },
    }
    assert apply_defaults({}, nested) == {"spec": {"x": 3}}


def _causes(spec: dict[str, Any]) -> list[Cause]:
    return validate(_cr(spec), SCHEMA)


def test_valid_object_has_no_causes() -> None:
    assert (
        _causes(
            {
                "size": 3,
                "mode": "slow",
                "name": "abc",
                "ratio": 0.5,
                "port": "http",
                "tags": ["a", "b"],
                "items": [{"name": "a"}, {"name": "b"}],
                "maybe": None,
                "when": "2024-01-02T03:04:05Z",
                "labels": {"a": "b"},
            }
        )
        == []
    )
    assert _causes({"size": 3, "port": 8080}) == []


@pytest.mark.parametrize(
    ("spec", "expected"),
    [
        ({}, [(REQUIRED, "spec.size", "Required value")]),
        (
            {"size": "3"},
            [
                (
                    TYPE_INVALID,
                    "spec.size",
                    'Invalid value: "3": spec.size in body must be of type integer: "3"',
                )
            ],
        ),
        (
            {"size": 1.5},
            [
                (
                    TYPE_INVALID,
                    "spec.size",
                    "Invalid value: 1.5: spec.size in body must be of type integer: 1.5",
                )
            ],
        ),
        (
            {"size": True},
            [
                (
                    TYPE_INVALID,
                    "spec.size",
                    "Invalid value: true: spec.size in body must be of type integer: true",
                )
            ],
        ),
        (
            {"size": 0},
            [
                (
                    INVALID,
                    "spec.size",
                    "Invalid value: 0: spec.size in body should be greater than or equal to 1",
                )
            ],
        ),
        (
            {"size": 11},
            [
                (
                    INVALID,
                    "spec.size",
                    "Invalid value: 11: spec.size in body should be less than or equal to 10",
                )
            ],
        ),
        (
            {"size": 1, "ratio": 0},
            [
                (
                    INVALID,
                    "spec.ratio",
                    "Invalid value: 0: spec.ratio in body should be greater than 0",
                )
            ],
        ),
        (
            {"size": 1, "mode": "warp"},
            [
                (
                    NOT_SUPPORTED,
                    "spec.mode",
                    'Unsupported value: "warp": supported values: "fast", "slow"',
                )
            ],
        ),
        (
            {"size": 1, "name": "abcdef"},
            [(TOO_LONG, "spec.name", "Too long: may not be more than 5 bytes")],
        ),
        (
            {"size": 1, "name": "AB"},
            [
                (
                    INVALID,
                    "spec.name",
                    "Invalid value: \"AB\": spec.name in body should match '^[a-z]+$'",
                )
            ],
        ),
        (
            {"size": 1, "port": 1.5},
            [
                (
                    TYPE_INVALID,
                    "spec.port",
                    "Invalid value: 1.5: spec.port in body must be of type integer,string: 1.5",
                )
            ],
        ),
        ({"size": 1, "tags": ["a", "a"]}, [(DUPLICATE, "spec.tags[1]", 'Duplicate value: "a"')]),
        (
            {"size": 1, "tags": ["a", "b", "c", "d"]},
            [(TOO_MANY, "spec.tags", "Too many: 4: must have at most 3 items")],
        ),
        (
            {"size": 1, "items": [{"name": "a"}, {"name": "a"}]},
            [(DUPLICATE, "spec.items[1]", 'Duplicate value: {"name":"a"}')],
        ),
        (
            {"size": 1, "items": [{"name": 3}]},
            [
                (
                    TYPE_INVALID,
                    "spec.items[0].name",
                    "Invalid value: 3: spec.items[0].name in body must be of type string: 3",
                )
            ],
        ),
        (
            {"size": 1, "labels": {"a": 1}},
            [
                (
                    TYPE_INVALID,
                    "spec.labels.a",
                    "Invalid value: 1: spec.labels.a in body must be of type string: 1",
                )
            ],
        ),
        (
            {"size": 1, "when": "yesterday"},
            [
                (
                    TYPE_INVALID,
                    "spec.when",
                    'Invalid value: "yesterday": spec.when in body must be of type date-time: "yesterday"',
                )
            ],
        ),
        (
            {"size": None},
            [
                (
                    TYPE_INVALID,
                    "spec.size",
                    'Invalid value: "null": spec.size in body must be of type integer: "null"',
                )
            ],
        ),
    ],
)
def test_validation_causes(spec: dict[str, Any], expected: list[tuple[str, str, str]]) -> None:
    assert [(c.type, c.field, c.message) for c in _causes(spec)] == expected


def test_combinators_and_object_limits() -> None:
    schema = {
        "type": "object",
        "properties": {
            "v": {
                "oneOf": [{"type": "integer"}, {"type": "string"}],
                "not": {"enum": ["forbidden"]},
            }
        },
        "maxProperties": 2,
        "minProperties": 1,
    }
    assert validate({"v": 1}, schema) == []
    assert [c.type for c in validate({"v": 1.5}, schema)] == [INVALID]
    assert "must not validate the schema (not)" in validate({"v": "forbidden"}, schema)[0].message
    assert [c.type for c in validate({}, schema)] == [INVALID]
    assert [c.type for c in validate({"v": 1, "a": 1, "b": 2}, schema)] == [TOO_MANY]
    any_of = {"anyOf": [{"type": "integer", "minimum": 5}, {"type": "string"}]}
    assert validate(3, any_of, "x")[0].message.endswith("must validate at least one schema (anyOf)")
    assert validate(7, any_of, "x") == []
    both = {"oneOf": [{"type": "number"}, {"type": "integer"}]}
    assert "Found 2 valid alternatives" in validate(1, both, "x")[0].message


def test_cause_formats() -> None:
    cause = Cause(REQUIRED, "spec.size", "Required value")
    assert str(cause) == "spec.size: Required value"
    assert cause.to_status_cause() == {
        "reason": REQUIRED,
        "message": "Required value",
        "field": "spec.size",
    }
    assert invalid_message("Widget", "example.com", "w", [cause]) == (
        'Widget.example.com "w" is invalid: spec.size: Required value'
    )
    two = [cause, Cause(INVALID, "spec.x", "Invalid value: 1: bad")]
    assert invalid_message("ConfigMap", "", "c", two) == (
        'ConfigMap "c" is invalid: [spec.size: Required value, spec.x: Invalid value: 1: bad]'
    )


# ---------------------------------------------------------- hypothesis properties

_keys = st.sampled_from(
    [
        "spec",
        "size",
        "mode",
        "items",
        "name",
        "weight",
        "free",
        "x",
        "labels",
        "template",
        "apiVersion",
        "kind",
        "metadata",
        "status",
        "ready",
    ]
)
_json = st.recursive(
    st.one_of(st.none(), st.booleans(), st.integers(-3, 30), st.text(max_size=3)),
    lambda inner: st.one_of(st.lists(inner, max_size=3), st.dictionaries(_keys, inner, max_size=4)),
    max_leaves=15,
)
_objects = st.dictionaries(_keys, _json, max_size=5)


@given(_objects)
def test_prune_is_idempotent_and_leaves_no_unknown_fields(obj: dict[str, Any]) -> None:
    once = prune(obj, SCHEMA)
    assert prune(once, SCHEMA) == once
    assert unknown_fields(once, SCHEMA) == []
    assert (unknown_fields(obj, SCHEMA) == []) == (once == obj)
    assert not [c for c in validate(once, SCHEMA) if "additional property" in c.message]


@given(_objects)
def test_defaulting_is_idempotent_and_pure(obj: dict[str, Any]) -> None:
    before = copy.deepcopy(obj)
    once = apply_defaults(obj, SCHEMA)
    assert apply_defaults(once, SCHEMA) == once
    assert obj == before


# ---------------------------------------------------------------- the CRD itself


def _crd(**changes: Any) -> dict[str, Any]:
    crd: dict[str, Any] = {
        "apiVersion": "apiextensions.k8s.io/v1",
        "kind": "CustomResourceDefinition",
        "metadata": {"name": "widgets.example.com"},
        "spec": {
            "group": "example.com",
            "scope": "Namespaced",
            "names": {
                "plural": "widgets",
                "singular": "widget",
                "kind": "Widget",
                "shortNames": ["wd"],
            },
            "versions": [
                {
                    "name": "v1",
                    "served": True,
                    "storage": True,
                    "schema": {"openAPIV3Schema": SCHEMA},
                    "additionalPrinterColumns": [
                        {"name": "Size", "type": "integer", "jsonPath": ".spec.size"}
                    ],
                }
            ],
        },
    }
    for path, value in changes.items():
        cur = crd
        parts = path.split("__")
        for p in parts[:-1]:
            cur = cur[p]
        if value is None:
            cur.pop(parts[-1], None)
        else:
            cur[parts[-1]] = value
    return crd


def test_valid_crd() -> None:
    assert validate_crd(_crd()) == []


@pytest.mark.parametrize(
    ("changes", "field", "ctype"),
    [
        ({"metadata__name": "wrong"}, "metadata.name", INVALID),
        ({"spec__group": None}, "spec.group", REQUIRED),
        ({"spec__group": "nodots"}, "spec.group", INVALID),
        ({"spec__scope": "Global"}, "spec.scope", NOT_SUPPORTED),
        ({"spec__scope": None}, "spec.scope", REQUIRED),
        ({"spec__names__kind": None}, "spec.names.kind", REQUIRED),
        (
            {"spec__names__plural": "Widgets", "metadata__name": "Widgets.example.com"},
            "spec.names.plural",
            INVALID,
        ),
        ({"spec__names__shortNames": ["W D"]}, "spec.names.shortNames[0]", INVALID),
        ({"spec__versions": []}, "spec.versions", INVALID),
    ],
)
def test_invalid_crds(changes: dict[str, Any], field: str, ctype: str) -> None:
    causes = validate_crd(_crd(**changes))
    assert (ctype, field) in [(c.type, c.field) for c in causes], causes


def test_crd_version_rules() -> None:
    crd = _crd()
    v1 = crd["spec"]["versions"][0]
    crd["spec"]["versions"].append({**copy.deepcopy(v1), "storage": True})
    fields = [(c.type, c.field) for c in validate_crd(crd)]
    assert (DUPLICATE, "spec.versions[1].name") in fields
    assert (INVALID, "spec.versions") in fields  # two storage versions
    crd = _crd()
    del crd["spec"]["versions"][0]["schema"]
    assert [(c.type, c.field) for c in validate_crd(crd)] == [
        (REQUIRED, "spec.versions[0].schema.openAPIV3Schema")
    ]


def test_crd_structural_schema_basics() -> None:
    crd = _crd()
    crd["spec"]["versions"][0]["schema"]["openAPIV3Schema"] = {
        "properties": {
            "spec": {"properties": {"x": {"type": "strng"}, "l": {"type": "array"}}},
            "ok": {"x-kubernetes-preserve-unknown-fields": True},
        }
    }
    fields = {c.field for c in validate_crd(crd)}
    base = "spec.versions[0].schema.openAPIV3Schema"
    assert f"{base}.type" in fields
    assert f"{base}.properties[spec].type" in fields
    assert f"{base}.properties[spec].properties[x].type" in fields
    assert f"{base}.properties[spec].properties[l].items" in fields
    assert f"{base}.properties[ok].type" not in fields


def test_crd_printer_columns_and_scale() -> None:
    crd = _crd()
    ver = crd["spec"]["versions"][0]
    ver["additionalPrinterColumns"] = [
        {"name": "X", "type": "float", "jsonPath": ".spec.x"},
        {"type": "string"},
    ]
    ver["subresources"] = {"scale": {"specReplicasPath": "spec.replicas"}}
    fields = {(c.type, c.field) for c in validate_crd(crd)}
    base = "spec.versions[0]"
    assert (NOT_SUPPORTED, f"{base}.additionalPrinterColumns[0].type") in fields
    assert (REQUIRED, f"{base}.additionalPrinterColumns[1].name") in fields
    assert (REQUIRED, f"{base}.additionalPrinterColumns[1].jsonPath") in fields
    assert (INVALID, f"{base}.subresources.scale.specReplicasPath") in fields
    assert (REQUIRED, f"{base}.subresources.scale.statusReplicasPath") in fields
