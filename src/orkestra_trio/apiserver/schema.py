"""CRD schemas: validate the CRD itself, then prune, default and validate custom resources.

A real server treats a custom resource in three steps with the version's
``openAPIV3Schema``: it prunes unknown fields (unless the schema says
``x-kubernetes-preserve-unknown-fields``), applies defaults, then validates
and answers 422 Invalid with one cause per failing field.  The causes carry
the Kubernetes cause types (``FieldValueRequired``, ``FieldValueTypeInvalid``
...) and field paths written as kube writes them (``spec.items[2].name``),
because kubectl prints them verbatim and clients match on them.

This is a small structural-schema validator of our own rather than a JSON
Schema library: the Kubernetes extensions (int-or-string, list types,
embedded resources, nullable) need custom handling anyway, and the subset of
JSON Schema that CRDs allow is small.
"""

from __future__ import annotations

import base64
import binascii
import copy
import json
import math
import re
from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any

import attrs

# Cause types, spelled as metav1.CauseType.
REQUIRED = "FieldValueRequired"
INVALID = "FieldValueInvalid"
NOT_SUPPORTED = "FieldValueNotSupported"
TYPE_INVALID = "FieldValueTypeInvalid"
DUPLICATE = "FieldValueDuplicate"
TOO_LONG = "FieldValueTooLong"
TOO_MANY = "FieldValueTooMany"
FORBIDDEN = "FieldValueForbidden"
NOT_FOUND = "FieldValueNotFound"


@attrs.frozen
class Cause:
    """One validation failure, as a Status ``details.causes`` entry.

    ``message`` is the error body without the field ("Required value",
    "Invalid value: 0: spec.replicas in body should be greater than or equal
    to 1"); ``str(cause)`` is the full "field: message" form kube prints.
    """

    type: str
    field: str
    message: str

    def to_status_cause(self) -> dict[str, str]:
        """The JSON a Status carries (metav1.StatusCause uses ``reason``)."""
        return {"reason": self.type, "message": self.message, "field": self.field}

    def __str__(self) -> str:
        return f"{self.field}: {self.message}" if self.field else self.message


def invalid_message(kind: str, group: str, name: str, causes: Sequence[Cause]) -> str:
    """The Status message of a 422: ``Widget.example.com "w1" is invalid: ...``."""
    qualified = f"{kind}.{group}" if group else kind
    if len(causes) == 1:
        detail = str(causes[0])
    else:
        detail = "[" + ", ".join(str(c) for c in causes) + "]"
    return f'{qualified} "{name}" is invalid: {detail}'


def _show(value: Any) -> str:
    """A value the way Go's %#v-ish error formatting shows it (strings quoted)."""
    if value is None:
        return '"null"'
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (int, float)):
        return json.dumps(value)
    if isinstance(value, str):
        return json.dumps(value)
    return json.dumps(value, sort_keys=True, separators=(",", ":"))


def _child(path: str, key: str) -> str:
    return f"{path}.{key}" if path else key


def _item(path: str, index: int) -> str:
    return f"{path}[{index}]"


# ==========================================================================
# pruning


# The fields every object keeps at its root (and embedded resources inside).
_ROOT_FIELDS = ("apiVersion", "kind", "metadata")


def _preserves(schema: Mapping[str, Any]) -> bool:
    return bool(schema.get("x-kubernetes-preserve-unknown-fields"))


def _walk_unknown(
    obj: Any, schema: Mapping[str, Any], path: str, root: bool, found: list[str]
) -> Any:
    """Shared walk of prune and unknown_fields: returns the pruned value."""
    if isinstance(obj, dict):
        props = schema.get("properties")
        additional = schema.get("additionalProperties")
        keep_meta = root or bool(schema.get("x-kubernetes-embedded-resource"))
        preserve = _preserves(schema)
        out: dict[str, Any] = {}
        for key, value in obj.items():
            sub_path = _child(path, key)
            if keep_meta and key in _ROOT_FIELDS:
                if props and key in props and key != "metadata":
                    out[key] = _walk_unknown(value, props[key], sub_path, False, found)
                else:
                    out[key] = value
            elif props is not None and key in props:
                out[key] = _walk_unknown(value, props[key], sub_path, False, found)
            elif isinstance(additional, Mapping):
                out[key] = _walk_unknown(value, additional, sub_path, False, found)
            elif additional is True or preserve or (props is None and not schema.get("type")):
                # Unknown but allowed: keep, pruning nested known parts is impossible.
                out[key] = value
            else:
                found.append(sub_path)
        return out
    if isinstance(obj, list):
        items = schema.get("items")
        if isinstance(items, Mapping):
            return [
                _walk_unknown(v, items, _item(path, i), False, found) for i, v in enumerate(obj)
            ]
    return obj


def prune(obj: Any, schema: Mapping[str, Any] | None) -> Any:
    """Drop fields the schema does not declare; returns a new value.

    ``apiVersion``, ``kind`` and ``metadata`` stay at the root and in
    ``x-kubernetes-embedded-resource`` objects; ``x-kubernetes-preserve-
    unknown-fields`` keeps unknown fields at its level.  No schema keeps all.
    """
    if not schema:
        return copy.deepcopy(obj)
    return copy.deepcopy(_walk_unknown(obj, schema, "", True, []))


def unknown_fields(obj: Any, schema: Mapping[str, Any] | None) -> list[str]:
    """The paths pruning would drop (for ``fieldValidation=Strict|Warn``)."""
    if not schema:
        return []
    found: list[str] = []
    _walk_unknown(obj, schema, "", True, found)
    return found


# ==========================================================================
# defaulting


def apply_defaults(obj: Any, schema: Mapping[str, Any] | None, *, in_place: bool = False) -> Any:
    """Fill in ``default`` values for absent fields (recursively); returns a new value.

    A ``null`` for a non-nullable field with a default is replaced by the
    default, as a real server does since 1.20. ``in_place``: ``obj`` is the
    caller's own fresh copy (what :func:`prune` returns), filled in rather
    than copied again: a CR write's second deep copy was ~4 % of the server's
    CPU in ``bench/vs_kopf.py``.
    """
    if not in_place:
        obj = copy.deepcopy(obj)
    if not schema:
        return obj
    return _default(obj, schema)


def _default(obj: Any, schema: Mapping[str, Any]) -> Any:
    if isinstance(obj, dict):
        props = schema.get("properties") or {}
        for key, sub in props.items():
            if not isinstance(sub, Mapping):
                continue
            if "default" in sub and (
                key not in obj or (obj[key] is None and not sub.get("nullable"))
            ):
                obj[key] = copy.deepcopy(sub["default"])
            if key in obj:
                obj[key] = _default(obj[key], sub)
        additional = schema.get("additionalProperties")
        if isinstance(additional, Mapping):
            for key in list(obj):
                if key not in props:
                    obj[key] = _default(obj[key], additional)
    elif isinstance(obj, list):
        items = schema.get("items")
        if isinstance(items, Mapping):
            return [_default(v, items) for v in obj]
    return obj


# ==========================================================================
# validation


def _type_matches(value: Any, wanted: str) -> bool:
    if wanted == "object":
        return isinstance(value, dict)
    if wanted == "array":
        return isinstance(value, list)
    if wanted == "string":
        return isinstance(value, str)
    if wanted == "boolean":
        return isinstance(value, bool)
    if wanted == "integer":
        return isinstance(value, int) and not isinstance(value, bool)
    if wanted == "number":
        return isinstance(value, (int, float)) and not isinstance(value, bool)
    return True


_RFC3339 = re.compile(r"^\d{4}-\d{2}-\d{2}[Tt ]\d{2}:\d{2}:\d{2}(\.\d+)?([Zz]|[+-]\d{2}:\d{2})$")
_UUID = re.compile(
    r"^[0-9a-fA-F]{8}-?[0-9a-fA-F]{4}-?[0-9a-fA-F]{4}-?[0-9a-fA-F]{4}-?[0-9a-fA-F]{12}$"
)
_HOSTNAME = re.compile(
    r"^(?=.{1,253}$)[a-zA-Z0-9]([-a-zA-Z0-9]{0,61}[a-zA-Z0-9])?(\.[a-zA-Z0-9]([-a-zA-Z0-9]{0,61}[a-zA-Z0-9])?)*$"
)
_DURATION = re.compile(r"^(\d+(\.\d+)?(ns|us|µs|ms|s|m|h))+$")


def _format_ok(value: str, fmt: str) -> bool:
    """Light checks for the string formats Kubernetes knows; others pass."""
    try:
        if fmt == "date-time":
            if not _RFC3339.match(value):
                return False
            datetime.fromisoformat(value.replace("Z", "+00:00").replace("z", "+00:00"))
            return True
        if fmt == "date":
            datetime.strptime(value, "%Y-%m-%d")
            return True
        if fmt == "byte":
            base64.b64decode(value, validate=True)
            return True
    except (ValueError, binascii.Error):
        return False
    if fmt == "uuid":
        return bool(_UUID.match(value))
    if fmt == "hostname":
        return bool(_HOSTNAME.match(value))
    if fmt == "duration":
        return bool(_DURATION.match(value))
    if fmt == "ipv4":
        parts = value.split(".")
        return len(parts) == 4 and all(
            p.isdigit() and int(p) < 256 and str(int(p)) == p for p in parts
        )
    if fmt == "email":
        return bool(re.match(r"^[^@\s]+@[^@\s]+\.[^@\s]+$", value))
    return True


def validate(obj: Any, schema: Mapping[str, Any] | None, path: str = "") -> list[Cause]:
    """Validate ``obj`` against an openAPIV3Schema; an empty list means valid.

    At the root, ``apiVersion``/``kind``/``metadata`` are the server's
    business and are not checked against the schema.
    """
    if not schema:
        return []
    causes: list[Cause] = []
    _validate(obj, schema, path, causes, root=(path == ""))
    return causes


def _validate(
    value: Any, schema: Mapping[str, Any], path: str, causes: list[Cause], *, root: bool = False
) -> None:
    where = path or "<root>"
    if value is None:
        if schema.get("nullable"):
            return
        wanted = schema.get("type")
        if wanted:
            causes.append(
                Cause(
                    TYPE_INVALID,
                    path,
                    f'Invalid value: "null": {where} in body must be of type {wanted}: "null"',
                )
            )
        return
    if schema.get("x-kubernetes-int-or-string"):
        if not (isinstance(value, str) or _type_matches(value, "integer")):
            causes.append(
                Cause(
                    TYPE_INVALID,
                    path,
                    f"Invalid value: {_show(value)}: {where} in body must be of type "
                    f"integer,string: {_show(value)}",
                )
            )
            return
    else:
        wanted = schema.get("type")
        if wanted and not _type_matches(value, str(wanted)):
            causes.append(
                Cause(
                    TYPE_INVALID,
                    path,
                    f"Invalid value: {_show(value)}: {where} in body must be of type {wanted}: "
                    f"{_show(value)}",
                )
            )
            return

    if "enum" in schema and not any(json_equal(value, e) for e in schema["enum"] or ()):
        supported = ", ".join(_show(e) for e in schema["enum"] or ())
        causes.append(
            Cause(
                NOT_SUPPORTED,
                path,
                f"Unsupported value: {_show(value)}: supported values: {supported}",
            )
        )

    if isinstance(value, (int, float)) and not isinstance(value, bool):
        _validate_number(value, schema, path, causes)
    elif isinstance(value, str):
        _validate_string(value, schema, path, causes)
    elif isinstance(value, list):
        _validate_array(value, schema, path, causes)
    elif isinstance(value, dict):
        _validate_object(value, schema, path, causes, root=root)

    _validate_combinators(value, schema, path, causes)


def _validate_number(
    value: float, schema: Mapping[str, Any], path: str, causes: list[Cause]
) -> None:
    where = path or "<root>"
    shown = _show(value)
    minimum = schema.get("minimum")
    if minimum is not None:
        if schema.get("exclusiveMinimum") and value <= minimum:
            causes.append(
                Cause(
                    INVALID,
                    path,
                    f"Invalid value: {shown}: {where} in body should be greater than {_show(minimum)}",
                )
            )
        elif value < minimum:
            causes.append(
                Cause(
                    INVALID,
                    path,
                    f"Invalid value: {shown}: {where} in body should be greater than or equal to {_show(minimum)}",
                )
            )
    maximum = schema.get("maximum")
    if maximum is not None:
        if schema.get("exclusiveMaximum") and value >= maximum:
            causes.append(
                Cause(
                    INVALID,
                    path,
                    f"Invalid value: {shown}: {where} in body should be less than {_show(maximum)}",
                )
            )
        elif value > maximum:
            causes.append(
                Cause(
                    INVALID,
                    path,
                    f"Invalid value: {shown}: {where} in body should be less than or equal to {_show(maximum)}",
                )
            )
    multiple = schema.get("multipleOf")
    if multiple:
        ratio = value / multiple
        if not math.isclose(ratio, round(ratio), rel_tol=0, abs_tol=1e-9):
            causes.append(
                Cause(
                    INVALID,
                    path,
                    f"Invalid value: {shown}: {where} in body should be a multiple of {_show(multiple)}",
                )
            )
    fmt = schema.get("format")
    if fmt == "int32" and isinstance(value, int) and not -(2**31) <= value < 2**31:
        causes.append(
            Cause(
                INVALID,
                path,
                f"Invalid value: {shown}: {where} in body must be of type int32: {shown}",
            )
        )
    if fmt == "int64" and isinstance(value, int) and not -(2**63) <= value < 2**63:
        causes.append(
            Cause(
                INVALID,
                path,
                f"Invalid value: {shown}: {where} in body must be of type int64: {shown}",
            )
        )


def _validate_string(value: str, schema: Mapping[str, Any], path: str, causes: list[Cause]) -> None:
    where = path or "<root>"
    shown = _show(value)
    max_length = schema.get("maxLength")
    if max_length is not None and len(value) > max_length:
        causes.append(Cause(TOO_LONG, path, f"Too long: may not be more than {max_length} bytes"))
    min_length = schema.get("minLength")
    if min_length is not None and len(value) < min_length:
        causes.append(
            Cause(
                INVALID,
                path,
                f"Invalid value: {shown}: {where} in body should be at least {min_length} chars long",
            )
        )
    pattern = schema.get("pattern")
    if pattern is not None:
        try:
            matched = re.search(pattern, value) is not None
        except re.error:
            matched = True  # validate_crd reports bad patterns; do not fail objects for it
        if not matched:
            causes.append(
                Cause(
                    INVALID,
                    path,
                    f"Invalid value: {shown}: {where} in body should match '{pattern}'",
                )
            )
    fmt = schema.get("format")
    if fmt and not _format_ok(value, str(fmt)):
        causes.append(
            Cause(
                TYPE_INVALID,
                path,
                f"Invalid value: {shown}: {where} in body must be of type {fmt}: {shown}",
            )
        )


def json_equal(a: Any, b: Any) -> bool:
    """Equality of JSON values: 1 == 1.0, but true != 1 (unlike Python's ==)."""
    if isinstance(a, bool) or isinstance(b, bool):
        return type(a) is type(b) and a == b
    if isinstance(a, dict) and isinstance(b, dict):
        return a.keys() == b.keys() and all(json_equal(a[k], b[k]) for k in a)
    if isinstance(a, list) and isinstance(b, list):
        return len(a) == len(b) and all(json_equal(x, y) for x, y in zip(a, b, strict=True))
    return bool(a == b)


def _validate_array(
    value: list[Any], schema: Mapping[str, Any], path: str, causes: list[Cause]
) -> None:
    where = path or "<root>"
    max_items = schema.get("maxItems")
    if max_items is not None and len(value) > max_items:
        causes.append(
            Cause(TOO_MANY, path, f"Too many: {len(value)}: must have at most {max_items} items")
        )
    min_items = schema.get("minItems")
    if min_items is not None and len(value) < min_items:
        causes.append(
            Cause(
                INVALID,
                path,
                f"Invalid value: {len(value)}: {where} in body should have at least {min_items} items",
            )
        )
    list_type = schema.get("x-kubernetes-list-type")
    if schema.get("uniqueItems") or list_type == "set":
        for i, item in enumerate(value):
            if any(json_equal(item, earlier) for earlier in value[:i]):
                causes.append(Cause(DUPLICATE, _item(path, i), f"Duplicate value: {_show(item)}"))
    elif list_type == "map":
        keys = list(schema.get("x-kubernetes-list-map-keys") or ())
        seen: list[dict[str, Any]] = []
        for i, item in enumerate(value):
            if not isinstance(item, dict):
                continue
            ident = {k: item.get(k) for k in keys}
            if ident in seen:
                causes.append(Cause(DUPLICATE, _item(path, i), f"Duplicate value: {_show(ident)}"))
            seen.append(ident)
    items = schema.get("items")
    if isinstance(items, Mapping):
        for i, item in enumerate(value):
            _validate(item, items, _item(path, i), causes)


def _validate_object(
    value: dict[str, Any], schema: Mapping[str, Any], path: str, causes: list[Cause], *, root: bool
) -> None:
    where = path or "<root>"
    embedded = root or bool(schema.get("x-kubernetes-embedded-resource"))
    for key in schema.get("required") or ():
        if key not in value:
            causes.append(Cause(REQUIRED, _child(path, key), "Required value"))
    props = schema.get("properties") or {}
    additional = schema.get("additionalProperties")
    for key, sub_value in value.items():
        if embedded and root and key in _ROOT_FIELDS:
            continue  # the server validates these itself
        sub_path = _child(path, key)
        if key in props:
            if isinstance(props[key], Mapping):
                _validate(sub_value, props[key], sub_path, causes)
        elif isinstance(additional, Mapping):
            _validate(sub_value, additional, sub_path, causes)
        elif additional is False:
            causes.append(
                Cause(FORBIDDEN, sub_path, "Forbidden: additional property is not allowed")
            )
    count = len(value)
    max_props = schema.get("maxProperties")
    if max_props is not None and count > max_props:
        causes.append(
            Cause(TOO_MANY, path, f"Too many: {count}: must have at most {max_props} items")
        )
    min_props = schema.get("minProperties")
    if min_props is not None and count < min_props:
        causes.append(
            Cause(
                INVALID,
                path,
                f"Invalid value: {count}: {where} in body should have at least {min_props} properties",
            )
        )


def _validate_combinators(
    value: Any, schema: Mapping[str, Any], path: str, causes: list[Cause]
) -> None:
    where = path or "<root>"
    shown = _show(value)
    for sub in schema.get("allOf") or ():
        _validate(value, sub, path, causes)
    any_of = schema.get("anyOf")
    if any_of and all(_sub_causes(value, sub, path) for sub in any_of):
        causes.append(
            Cause(
                INVALID,
                path,
                f"Invalid value: {shown}: {where} in body must validate at least one schema (anyOf)",
            )
        )
    one_of = schema.get("oneOf")
    if one_of:
        passing = sum(1 for sub in one_of if not _sub_causes(value, sub, path))
        if passing != 1:
            found = "Found none valid" if passing == 0 else f"Found {passing} valid alternatives"
            causes.append(
                Cause(
                    INVALID,
                    path,
                    f"Invalid value: {shown}: {where} in body must validate one and only one "
                    f"schema (oneOf). {found}",
                )
            )
    not_schema = schema.get("not")
    if isinstance(not_schema, Mapping) and not _sub_causes(value, not_schema, path):
        causes.append(
            Cause(
                INVALID,
                path,
                f"Invalid value: {shown}: {where} in body must not validate the schema (not)",
            )
        )


def _sub_causes(value: Any, schema: Mapping[str, Any], path: str) -> list[Cause]:
    out: list[Cause] = []
    _validate(value, schema, path, out)
    return out


# ==========================================================================
# the CRD object itself

_DNS_LABEL = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$")
_DNS_1035 = re.compile(r"^[a-z]([-a-z0-9]*[a-z0-9])?$")
_DNS_SUBDOMAIN = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$")
_KIND_NAME = re.compile(r"^[A-Za-z][A-Za-z0-9]*$")
_COLUMN_TYPES = ("integer", "number", "string", "boolean", "date")
_SCHEMA_TYPES = ("object", "array", "string", "integer", "number", "boolean")


def validate_crd(crd: Mapping[str, Any]) -> list[Cause]:
    """Check a CustomResourceDefinition as the API server does before accepting it."""
    causes: list[Cause] = []
    spec = crd.get("spec")
    meta = crd.get("metadata") or {}
    if not isinstance(spec, Mapping):
        return [Cause(REQUIRED, "spec", "Required value")]
    group = spec.get("group")
    names = spec.get("names") if isinstance(spec.get("names"), Mapping) else {}
    plural = names.get("plural") if isinstance(names, Mapping) else None

    if not group:
        causes.append(Cause(REQUIRED, "spec.group", "Required value"))
    elif not isinstance(group, str) or not _DNS_SUBDOMAIN.match(group):
        causes.append(
            Cause(
                INVALID,
                "spec.group",
                f"Invalid value: {_show(group)}: a lowercase RFC 1123 subdomain is required",
            )
        )
    elif "." not in group:
        causes.append(
            Cause(
                INVALID,
                "spec.group",
                f"Invalid value: {_show(group)}: should be a domain with at least one dot",
            )
        )
    name = meta.get("name")
    if plural and group and name != f"{plural}.{group}":
        causes.append(
            Cause(
                INVALID,
                "metadata.name",
                f'Invalid value: {_show(name)}: must be spec.names.plural+"."+spec.group',
            )
        )

    scope = spec.get("scope")
    if not scope:
        causes.append(Cause(REQUIRED, "spec.scope", "Required value"))
    elif scope not in ("Cluster", "Namespaced"):
        causes.append(
            Cause(
                NOT_SUPPORTED,
                "spec.scope",
                f'Unsupported value: {_show(scope)}: supported values: "Cluster", "Namespaced"',
            )
        )

    causes.extend(_validate_names(names if isinstance(names, Mapping) else {}))
    causes.extend(_validate_versions(spec.get("versions")))
    return causes


def _validate_names(names: Mapping[str, Any]) -> list[Cause]:
    causes: list[Cause] = []
    # (name, required, pattern, what a valid value is)
    rules = (
        ("plural", True, _DNS_LABEL, "a lowercase RFC 1123 label is required"),
        ("singular", False, _DNS_LABEL, "a lowercase RFC 1123 label is required"),
        ("kind", True, _KIND_NAME, "must be a valid kind name"),
        ("listKind", False, _KIND_NAME, "must be a valid kind name"),
    )
    for key, required, pattern, what in rules:
        value = names.get(key)
        field = f"spec.names.{key}"
        if not value:
            if required:
                causes.append(Cause(REQUIRED, field, "Required value"))
        elif not isinstance(value, str) or not pattern.match(value):
            causes.append(Cause(INVALID, field, f"Invalid value: {_show(value)}: {what}"))
    if names.get("kind") and names.get("listKind") and names["kind"] == names["listKind"]:
        causes.append(
            Cause(
                INVALID,
                "spec.names.listKind",
                f"Invalid value: {_show(names['listKind'])}: kind and listKind may not be the same",
            )
        )
    for key in ("shortNames", "categories"):
        for i, label in enumerate(names.get(key) or ()):
            if not isinstance(label, str) or not _DNS_LABEL.match(label):
                causes.append(
                    Cause(
                        INVALID,
                        f"spec.names.{key}[{i}]",
                        f"Invalid value: {_show(label)}: a lowercase RFC 1123 label is required",
                    )
                )
    return causes


def _validate_versions(versions: Any) -> list[Cause]:
    causes: list[Cause] = []
    if not isinstance(versions, list) or not versions:
        return [
            Cause(
                INVALID,
                "spec.versions",
                "Invalid value: null: must have exactly one version marked as storage version",
            )
        ]
    seen: set[str] = set()
    storage = 0
    for i, ver in enumerate(versions):
        base = f"spec.versions[{i}]"
        if not isinstance(ver, Mapping):
            causes.append(Cause(TYPE_INVALID, base, "Invalid value: must be an object"))
            continue
        vname = ver.get("name")
        if not vname:
            causes.append(Cause(REQUIRED, f"{base}.name", "Required value"))
        elif not isinstance(vname, str) or not _DNS_1035.match(vname):
            causes.append(
                Cause(
                    INVALID,
                    f"{base}.name",
                    f"Invalid value: {_show(vname)}: a DNS-1035 label is required",
                )
            )
        elif vname in seen:
            causes.append(Cause(DUPLICATE, f"{base}.name", f"Duplicate value: {_show(vname)}"))
        else:
            seen.add(vname)
        if ver.get("storage"):
            storage += 1
        schema = (
            (ver.get("schema") or {}).get("openAPIV3Schema")
            if isinstance(ver.get("schema"), Mapping)
            else None
        )
        if schema is None:
            causes.append(
                Cause(
                    REQUIRED,
                    f"{base}.schema.openAPIV3Schema",
                    "Required value: schemas are required",
                )
            )
        elif not isinstance(schema, Mapping):
            causes.append(
                Cause(
                    TYPE_INVALID,
                    f"{base}.schema.openAPIV3Schema",
                    "Invalid value: must be an object",
                )
            )
        else:
            causes.extend(_structural(schema, f"{base}.schema.openAPIV3Schema", root=True))
        causes.extend(_validate_columns(ver.get("additionalPrinterColumns"), base))
        subs = ver.get("subresources")
        if isinstance(subs, Mapping) and isinstance(subs.get("scale"), Mapping):
            scale = subs["scale"]
            for key in ("specReplicasPath", "statusReplicasPath"):
                path = scale.get(key)
                field = f"{base}.subresources.scale.{key}"
                if not path:
                    causes.append(Cause(REQUIRED, field, "Required value"))
                elif not str(path).startswith(
                    "." + ("spec" if key.startswith("spec") else "status") + "."
                ):
                    causes.append(
                        Cause(
                            INVALID,
                            field,
                            f"Invalid value: {_show(path)}: should be a json path under .{'spec' if key.startswith('spec') else 'status'}",
                        )
                    )
    if storage != 1:
        causes.append(
            Cause(
                INVALID,
                "spec.versions",
                f"Invalid value: {_show([v.get('name') for v in versions if isinstance(v, Mapping)])}: "
                "must have exactly one version marked as storage version",
            )
        )
    if not any(isinstance(v, Mapping) and v.get("served") for v in versions):
        causes.append(
            Cause(INVALID, "spec.versions", "Invalid value: must have at least one served version")
        )
    return causes


def _validate_columns(columns: Any, base: str) -> list[Cause]:
    causes: list[Cause] = []
    for i, col in enumerate(columns or ()):
        field = f"{base}.additionalPrinterColumns[{i}]"
        if not isinstance(col, Mapping):
            causes.append(Cause(TYPE_INVALID, field, "Invalid value: must be an object"))
            continue
        if not col.get("name"):
            causes.append(Cause(REQUIRED, f"{field}.name", "Required value"))
        if not col.get("jsonPath"):
            causes.append(Cause(REQUIRED, f"{field}.jsonPath", "Required value"))
        ctype = col.get("type")
        if not ctype:
            causes.append(Cause(REQUIRED, f"{field}.type", "Required value"))
        elif ctype not in _COLUMN_TYPES:
            supported = ", ".join(_show(t) for t in _COLUMN_TYPES)
            causes.append(
                Cause(
                    NOT_SUPPORTED,
                    f"{field}.type",
                    f"Unsupported value: {_show(ctype)}: supported values: {supported}",
                )
            )
    return causes


def _structural(schema: Mapping[str, Any], path: str, *, root: bool = False) -> list[Cause]:
    """The structural-schema basics: types present and known, patterns compile."""
    causes: list[Cause] = []
    stype = schema.get("type")
    preserve = _preserves(schema)
    if root and stype != "object":
        if not stype:
            causes.append(
                Cause(REQUIRED, f"{path}.type", "Required value: must not be empty at the root")
            )
        else:
            causes.append(
                Cause(
                    NOT_SUPPORTED,
                    f"{path}.type",
                    f'Unsupported value: {_show(stype)}: supported values: "object"',
                )
            )
    elif stype is not None and stype not in _SCHEMA_TYPES:
        supported = ", ".join(_show(t) for t in _SCHEMA_TYPES)
        causes.append(
            Cause(
                NOT_SUPPORTED,
                f"{path}.type",
                f"Unsupported value: {_show(stype)}: supported values: {supported}",
            )
        )
    pattern = schema.get("pattern")
    if isinstance(pattern, str):
        try:
            re.compile(pattern)
        except re.error as err:
            causes.append(
                Cause(INVALID, f"{path}.pattern", f"Invalid value: {_show(pattern)}: {err}")
            )
    if schema.get("x-kubernetes-list-type") == "map" and not schema.get(
        "x-kubernetes-list-map-keys"
    ):
        causes.append(
            Cause(
                REQUIRED,
                f"{path}.x-kubernetes-list-map-keys",
                "Required value: must not be empty if x-kubernetes-list-type is map",
            )
        )
    if isinstance(schema.get("properties"), Mapping) and schema.get("additionalProperties") not in (
        None,
        False,
    ):
        causes.append(
            Cause(
                FORBIDDEN,
                f"{path}.additionalProperties",
                "Forbidden: additionalProperties and properties are mutual exclusive",
            )
        )
    for key, sub in (schema.get("properties") or {}).items():
        sub_path = f"{path}.properties[{key}]"
        if not isinstance(sub, Mapping):
            causes.append(Cause(TYPE_INVALID, sub_path, "Invalid value: must be an object"))
            continue
        if _lacks_type(sub):
            causes.append(
                Cause(
                    REQUIRED,
                    f"{sub_path}.type",
                    "Required value: must not be empty for specified object fields",
                )
            )
        causes.extend(_structural(sub, sub_path))
    items = schema.get("items")
    if isinstance(items, Mapping):
        if _lacks_type(items):
            causes.append(
                Cause(
                    REQUIRED,
                    f"{path}.items.type",
                    "Required value: must not be empty for specified array items",
                )
            )
        causes.extend(_structural(items, f"{path}.items"))
    elif stype == "array" and not preserve:
        causes.append(Cause(REQUIRED, f"{path}.items", "Required value: must be specified"))
    additional = schema.get("additionalProperties")
    if isinstance(additional, Mapping):
        causes.extend(_structural(additional, f"{path}.additionalProperties"))
    return causes


def _lacks_type(schema: Mapping[str, Any]) -> bool:
    """A structural schema must type every property and item, unless it opts out."""
    return (
        not schema.get("type")
        and not _preserves(schema)
        and not schema.get("x-kubernetes-int-or-string")
    )
