"""Per-kind write rules: what the server sets, keeps and refuses on create and update.

kube-apiserver runs a "strategy" for each resource before it stores an object:
it fills in server-owned metadata, splits status from spec, bumps the
generation only when the spec changes, defaults and validates. Clients depend
on every one of these rules (controllers compare ``observedGeneration`` with
``generation``; informers rely on no-op writes not producing events), so they
live here, apart from the store's bookkeeping, as plain functions over dicts.
"""

from __future__ import annotations

import base64
import datetime as dt
import json
import re
import secrets as pyrandom
import uuid
from collections.abc import Mapping
from typing import Any

from orkestra_trio.apiserver import builtin_fields
from orkestra_trio.apiserver import schema as crd_schema
from orkestra_trio.apiserver.fieldmanager import managed_fields_equivalent
from orkestra_trio.apiserver.kinds import ResourceKind
from orkestra_trio.apiserver.registry import names
from orkestra_trio.apiserver.registry.initial_status import initial_status
from orkestra_trio.apiserver.status import ApiError, bad_request, invalid
from orkestra_trio.katalog.labelselector import SelectorError, label_selector_from_match

# Built-in kinds whose objects carry metadata.generation (the ones with a spec
# that a controller acts on). Custom resources always do.
_GENERATION_KINDS = frozenset(
    {
        ("apps", "deployments"),
        ("apps", "statefulsets"),
        ("apps", "replicasets"),
        ("apps", "daemonsets"),
        ("batch", "jobs"),
        ("batch", "cronjobs"),
        ("networking.k8s.io", "ingresses"),
        ("apiextensions.k8s.io", "customresourcedefinitions"),
        ("policy", "poddisruptionbudgets"),
    }
)

# Metadata fields only the server writes; a client's values are ignored.
_SERVER_OWNED_ON_UPDATE = (
    "uid",
    "creationTimestamp",
    "deletionTimestamp",
    "deletionGracePeriodSeconds",
    "generation",
    "selfLink",
)

_DNS1123_SUBDOMAIN = re.compile(
    r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$"
)
# The alphabet kube's generateName suffix uses (no vowels, no look-alikes).
_SUFFIX_ALPHABET = "bcdfghjklmnpqrstvwxz2456789"


def now_rfc3339() -> str:
    """The current time as kube writes timestamps (seconds, UTC, ``Z``)."""
    return dt.datetime.now(dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def new_uid() -> str:
    return str(uuid.uuid4())


def has_generation(kind: ResourceKind) -> bool:
    return kind.is_custom or (kind.group, kind.plural) in _GENERATION_KINDS


def generate_name(prefix: str) -> str:
    return prefix + "".join(pyrandom.choice(_SUFFIX_ALPHABET) for _ in range(5))


def _kind_label(kind: ResourceKind) -> tuple[str, str]:
    """(Kind, group) as kube names them in Invalid messages."""
    return kind.kind, kind.group


def validate_metadata_name(kind: ResourceKind, name: str) -> None:
    """422 when a name breaks the resource's rule (DNS-1123 subdomain or label, DNS-1035)."""
    problems = names.name_problems(kind.group, kind.plural, name)
    if problems:
        k, g = _kind_label(kind)
        message = f'Invalid value: "{name}": ' + "; ".join(problems)
        raise invalid(
            k,
            g,
            name,
            [{"reason": "FieldValueInvalid", "message": message, "field": "metadata.name"}],
        )


def check_type_meta(kind: ResourceKind, obj: Mapping[str, Any]) -> None:
    """400 when the body's apiVersion/kind name another resource than the URL."""
    api_version = obj.get("apiVersion")
    body_kind = obj.get("kind")
    if kind.group == "events.k8s.io":
        return
    if api_version and api_version != kind.api_version:
        # kube accepts any served version of the same group for custom resources.
        group = api_version.rpartition("/")[0] if "/" in api_version else ""
        if group != kind.group:
            raise bad_request(
                f"the API version in the data ({api_version}) does not match the expected "
                f"API version ({kind.api_version})"
            )
    if body_kind and body_kind != kind.kind:
        raise bad_request(
            f"the kind in the data ({body_kind}) does not match the expected kind ({kind.kind})"
        )


def _go_type(value: Any) -> str:
    """How Go's encoding/json names a JSON value's type in its errors."""
    if isinstance(value, bool):
        return "bool"
    if isinstance(value, int | float):
        return "number"
    if isinstance(value, str):
        return "string"
    return "array" if isinstance(value, list) else "object"


def _check_string_maps(kind: ResourceKind, obj: Mapping[str, Any]) -> None:
    """400 as kube's JSON decoder gives it when a string map holds other values.

    Catches the classic ``data: {replicas: 3}`` in a ConfigMap (unquoted YAML
    numbers and booleans), which a real server refuses before storing.
    """
    meta = obj.get("metadata")
    maps: list[tuple[Any, str, str]] = [
        (meta, "labels", "ObjectMeta.metadata.labels"),
        (meta, "annotations", "ObjectMeta.metadata.annotations"),
    ]
    if (kind.group, kind.plural) in (("", "configmaps"), ("", "secrets")):
        fields = ("data", "stringData", "binaryData")
        maps += [(obj, field, f"{kind.kind}.{field}") for field in fields]
    for holder, field, go_field in maps:
        value = holder.get(field) if isinstance(holder, Mapping) else None
        if value is None:
            continue
        as_bytes = field == "binaryData" or (kind.plural == "secrets" and field == "data")
        item_type = "[]uint8" if as_bytes else "string"
        bad = None if isinstance(value, dict) else (value, f"map[string]{item_type}")
        for item in value.values() if isinstance(value, dict) else ():
            if item is not None and not isinstance(item, str):
                bad = (item, item_type)
                break
            if as_bytes and item and not _is_base64(item):
                raise bad_request(
                    f'{kind.kind} in version "{kind.version}" cannot be handled as a '
                    f"{kind.kind}: illegal base64 data in {go_field}"
                )
        if bad is not None:
            raise bad_request(
                f'{kind.kind} in version "{kind.version}" cannot be handled as a {kind.kind}: '
                f"json: cannot unmarshal {_go_type(bad[0])} into Go struct field {go_field} "
                f"of type {bad[1]}"
            )


def _is_base64(text: str) -> bool:
    try:
        # Go's decoder skips line breaks; everything else must be the standard alphabet.
        base64.b64decode(text.replace("\r", "").replace("\n", ""), validate=True)
    except ValueError:
        return False
    return True


_LABEL_VALUE = re.compile(r"^(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?$")
_LABEL_NAME = re.compile(r"^([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]$")
_WORKLOADS = frozenset(
    {
        ("apps", "deployments"),
        ("apps", "statefulsets"),
        ("apps", "replicasets"),
        ("apps", "daemonsets"),
    }
)


def _invalid_field(
    kind: ResourceKind, obj: Mapping[str, Any], field: str, message: str
) -> ApiError:
    k, g = _kind_label(kind)
    name = str((obj.get("metadata") or {}).get("name", ""))
    reason = "FieldValueRequired" if message.startswith("Required value") else "FieldValueInvalid"
    return invalid(k, g, name, [{"reason": reason, "message": message, "field": field}])


def _check_labels(
    kind: ResourceKind, obj: Mapping[str, Any], where: str = "metadata.labels"
) -> None:
    """Label keys and values as kube validates them (422 Invalid otherwise)."""
    labels = (obj.get("metadata") or {}).get("labels") or {}
    if not isinstance(labels, Mapping):
        return
    for key, value in labels.items():
        prefix, slash, name = str(key).rpartition("/")
        if (
            len(name) > 63
            or not _LABEL_NAME.match(name)
            or (slash and (len(prefix) > 253 or not _DNS1123_SUBDOMAIN.match(prefix)))
        ):
            raise _invalid_field(
                kind,
                obj,
                where,
                f'Invalid value: "{key}": name part must consist of alphanumeric characters, '
                "'-', '_' or '.', and must start and end with an alphanumeric character",
            )
        if isinstance(value, str) and (len(value) > 63 or not _LABEL_VALUE.match(value)):
            raise _invalid_field(
                kind,
                obj,
                where,
                f'Invalid value: "{value}": a valid label must be an empty string or consist of '
                "alphanumeric characters, '-', '_' or '.', and must start and end with an "
                "alphanumeric character",
            )


def _check_workload_selector(kind: ResourceKind, obj: Mapping[str, Any]) -> None:
    """A workload's selector is required and must select its own pod template."""
    spec = obj.get("spec")
    if not isinstance(spec, Mapping):
        return
    selector = spec.get("selector")
    if not selector:
        raise _invalid_field(kind, obj, "spec.selector", "Required value")
    template_labels = ((spec.get("template") or {}).get("metadata") or {}).get("labels") or {}
    try:
        matches = label_selector_from_match(selector).matches(template_labels)
    except SelectorError as exc:
        raise _invalid_field(kind, obj, "spec.selector", f"Invalid value: {exc}") from exc
    if not matches or not (selector.get("matchLabels") or selector.get("matchExpressions")):
        shown = ", ".join(f'"{k}":"{v}"' for k, v in sorted(template_labels.items()))
        raise _invalid_field(
            kind,
            obj,
            "spec.template.metadata.labels",
            f"Invalid value: map[string]string{{{shown}}}: `selector` does not match template "
            "`labels`",
        )


def _service_defaults(obj: dict[str, Any], old: Mapping[str, Any] | None) -> None:
    """The fields kube fills in a Service: type, a cluster IP, port protocols."""
    spec = obj.get("spec")
    if not isinstance(spec, dict):
        return
    spec.setdefault("type", "ClusterIP")
    spec.setdefault("sessionAffinity", "None")
    if spec["type"] != "ExternalName":
        old_spec = (old or {}).get("spec") or {}
        if old_spec.get("clusterIP") and not spec.get("clusterIP"):
            spec["clusterIP"] = old_spec["clusterIP"]
        if not spec.get("clusterIP"):
            # A stable pseudo-allocation inside 10.96.0.0/12 (no IPAM: storage only).
            digest = uuid.uuid4().int
            spec["clusterIP"] = (
                f"10.{96 + digest % 16}.{(digest >> 8) % 256}.{1 + (digest >> 16) % 254}"
            )
        spec.setdefault("clusterIPs", [spec["clusterIP"]])
        spec.setdefault("ipFamilies", ["IPv4"])
        spec.setdefault("ipFamilyPolicy", "SingleStack")
        spec.setdefault("internalTrafficPolicy", "Cluster")
    ports = spec.get("ports")
    if isinstance(ports, list):
        for port in ports:
            if isinstance(port, dict):
                port.setdefault("protocol", "TCP")
                if "port" in port:
                    port.setdefault("targetPort", port["port"])


def _apply_builtin_defaults(
    kind: ResourceKind,
    obj: dict[str, Any],
    *,
    creating: bool,
    old: Mapping[str, Any] | None = None,
) -> None:
    _check_string_maps(kind, obj)
    _check_labels(kind, obj)
    if (kind.group, kind.plural) in _WORKLOADS:
        _check_workload_selector(kind, obj)
    if (kind.group, kind.plural) == ("", "services"):
        _service_defaults(obj, old)
    key = (kind.group, kind.plural)
    if key == ("", "secrets"):
        string_data = obj.pop("stringData", None)
        if string_data:
            data = dict(obj.get("data") or {})
            for k, v in string_data.items():
                data[k] = base64.b64encode(str(v).encode()).decode()
            obj["data"] = data
        obj.setdefault("type", "Opaque")
    elif key == ("", "namespaces"):
        name = obj["metadata"].get("name", "")
        labels = dict(obj["metadata"].get("labels") or {})
        labels.setdefault("kubernetes.io/metadata.name", name)
        obj["metadata"]["labels"] = labels
        spec = dict(obj.get("spec") or {})
        spec.setdefault("finalizers", ["kubernetes"])
        obj["spec"] = spec
    elif key in (("apps", "deployments"), ("apps", "statefulsets"), ("apps", "replicasets")):
        workload_spec = obj.get("spec")
        if isinstance(workload_spec, dict):
            spec = workload_spec
            spec.setdefault("replicas", 1)
            if key == ("apps", "deployments"):
                spec.setdefault("revisionHistoryLimit", 10)
                spec.setdefault("progressDeadlineSeconds", 600)


def _custom_resource_checks(
    kind: ResourceKind, obj: dict[str, Any], field_validation: str, warnings: list[str]
) -> dict[str, Any]:
    """Prune, default and validate a custom resource against its version's schema."""
    schema = kind.schema
    if not schema:
        return obj
    name = str(obj.get("metadata", {}).get("name", ""))
    if field_validation in ("Strict", "Warn"):
        _report_unknown_fields(
            kind, crd_schema.unknown_fields(obj, schema), field_validation, warnings
        )
    pruned = crd_schema.prune(obj, schema)  # a deep copy: defaults may fill it in
    defaulted = crd_schema.apply_defaults(pruned, schema, in_place=True)
    causes = crd_schema.validate(defaulted, schema)
    if causes:
        raise invalid(
            kind.kind,
            kind.group,
            name,
            [{"reason": c.type, "message": c.message, "field": c.field} for c in causes],
        )
    result: dict[str, Any] = defaulted
    return result


def _report_unknown_fields(
    kind: ResourceKind, unknown: list[str], field_validation: str, warnings: list[str]
) -> None:
    """``fieldValidation``: Strict rejects unknown fields (400), Warn returns warnings."""
    if not unknown:
        return
    if field_validation == "Strict":
        detail = ", ".join(f'unknown field "{u}"' for u in unknown)
        raise ApiError(
            400,
            f'{kind.kind} in version "{kind.version}" cannot be handled as a '
            f"{kind.kind}: strict decoding error: {detail}",
            reason="BadRequest",
        )
    if field_validation == "Warn":
        warnings.extend(f'unknown field "{u}"' for u in unknown)


def _builtin_field_checks(
    kind: ResourceKind,
    obj: Mapping[str, Any],
    field_validation: str,
    warnings: list[str],
    old: Mapping[str, Any] | None = None,
) -> None:
    """Unknown fields of a built-in kind; on update only those the old object lacked.

    A real server never stores an unknown field (decoding drops it), so a
    field already stored here came from an ``Ignore`` write and is not the
    current request's mistake.
    """
    if kind.is_custom or field_validation not in ("Strict", "Warn"):
        return
    resource = (kind.group, kind.plural)
    unknown = builtin_fields.unknown_fields(resource, obj)
    if unknown and old is not None:
        stored = set(builtin_fields.unknown_fields(resource, old))
        unknown = [u for u in unknown if u not in stored]
    _report_unknown_fields(kind, unknown, field_validation, warnings)


def _crd_checks(obj: dict[str, Any]) -> None:
    causes = crd_schema.validate_crd(obj)
    if causes:
        raise invalid(
            "CustomResourceDefinition",
            "apiextensions.k8s.io",
            str(obj.get("metadata", {}).get("name", "")),
            [{"reason": c.type, "message": c.message, "field": c.field} for c in causes],
        )


def crd_status(crd: Mapping[str, Any], now: str) -> dict[str, Any]:
    """The status a freshly accepted CRD reports (names accepted, established)."""
    spec = crd.get("spec") or {}
    names = dict(spec.get("names") or {})
    names.setdefault("singular", str(names.get("kind", "")).lower())
    names.setdefault("listKind", f"{names.get('kind', '')}List")
    stored = [v.get("name") for v in spec.get("versions") or () if v.get("storage")]
    return {
        "acceptedNames": names,
        "conditions": [
            {
                "type": "NamesAccepted",
                "status": "True",
                "lastTransitionTime": now,
                "reason": "NoConflicts",
                "message": "no conflicts found",
            },
            {
                "type": "Established",
                "status": "True",
                "lastTransitionTime": now,
                "reason": "InitialNamesAccepted",
                "message": "the initial names have been accepted",
            },
        ],
        "storedVersions": stored,
    }


def prepare_create(
    kind: ResourceKind,
    obj: dict[str, Any],
    *,
    namespace: str,
    field_validation: str,
    warnings: list[str],
) -> dict[str, Any]:
    """The object to store for a create (``obj`` is owned by the caller and modified)."""
    if not isinstance(obj, dict):
        raise bad_request("the body of the request was not a JSON object")
    check_type_meta(kind, obj)
    _builtin_field_checks(kind, obj, field_validation, warnings)
    metadata = obj.get("metadata")
    if metadata is None:
        metadata = {}
    if not isinstance(metadata, dict):
        raise bad_request("metadata must be an object")
    metadata = dict(metadata)
    obj["metadata"] = metadata
    if kind.namespaced:
        body_ns = metadata.get("namespace")
        if body_ns and body_ns != namespace:
            raise bad_request(
                "the namespace of the provided object does not match the namespace sent on "
                "the request"
            )
        metadata["namespace"] = namespace
    else:
        metadata.pop("namespace", None)
    if not metadata.get("name"):
        prefix = metadata.get("generateName")
        if prefix:
            metadata["name"] = generate_name(str(prefix))
        else:
            k, g = _kind_label(kind)
            raise invalid(
                k,
                g,
                "",
                [
                    {
                        "reason": "FieldValueRequired",
                        "message": "Required value: name or generateName is required",
                        "field": "metadata.name",
                    }
                ],
            )
    name = str(metadata["name"])
    validate_metadata_name(kind, name)
    obj["apiVersion"] = kind.api_version
    obj["kind"] = kind.kind
    for field in ("deletionTimestamp", "deletionGracePeriodSeconds", "resourceVersion", "selfLink"):
        metadata.pop(field, None)
    metadata["uid"] = new_uid()
    metadata["creationTimestamp"] = now_rfc3339()
    if has_generation(kind):
        metadata["generation"] = 1
    else:
        metadata.pop("generation", None)
    if kind.has_status and kind.group != "apiextensions.k8s.io":
        obj.pop("status", None)
        start = None if kind.is_custom else initial_status(kind.group, kind.plural)
        if start is not None:
            obj["status"] = start
    _apply_builtin_defaults(kind, obj, creating=True)
    if kind.group == "apiextensions.k8s.io" and kind.plural == "customresourcedefinitions":
        _crd_checks(obj)
        obj["status"] = crd_status(obj, metadata["creationTimestamp"])
    if kind.is_custom:
        obj = _custom_resource_checks(kind, obj, field_validation, warnings)
    return _kube_order(obj)


def _kube_order(obj: dict[str, Any]) -> dict[str, Any]:
    """apiVersion, kind and metadata first, as kube serializes objects."""
    head = ("apiVersion", "kind", "metadata")
    ordered = {k: obj[k] for k in head if k in obj}
    for key, value in obj.items():
        if key not in ordered:
            ordered[key] = value
    return ordered


def prepare_update(
    kind: ResourceKind,
    old: Mapping[str, Any],
    new: dict[str, Any],
    *,
    subresource: str | None,
    field_validation: str,
    warnings: list[str],
) -> dict[str, Any]:
    """The object to store for an update of ``old`` by ``new`` (``new`` is modified).

    Applies the status split, keeps server-owned metadata and bumps the
    generation when the spec (for custom resources: anything but metadata and
    status) changed. The resourceVersion precondition is the store's job.
    """
    if not isinstance(new, dict):
        raise bad_request("the body of the request was not a JSON object")
    check_type_meta(kind, new)
    old_meta = old["metadata"]
    metadata = new.get("metadata")
    if not isinstance(metadata, dict):
        metadata = {}
    metadata = dict(metadata)
    new["metadata"] = metadata
    name = old_meta["name"]
    if metadata.get("name", name) != name:
        raise bad_request(
            f"the name of the object ({metadata.get('name')}) does not match the name on the "
            f"URL ({name})"
        )
    if kind.namespaced and metadata.get("namespace", old_meta.get("namespace")) != old_meta.get(
        "namespace"
    ):
        raise bad_request(
            "the namespace of the provided object does not match the namespace sent on the request"
        )
    if subresource == "status" and kind.has_status:
        # /status writes only status (and managedFields, which track that write).
        status = new.get("status")
        managed = metadata.get("managedFields")
        result = dict(old)
        result_meta = dict(old_meta)
        if managed is not None:
            result_meta["managedFields"] = managed
        # kube lets a status write carry the precondition.
        if "resourceVersion" in metadata:
            result_meta["resourceVersion"] = metadata["resourceVersion"]
        result["metadata"] = result_meta
        if status is None:
            result.pop("status", None)
        else:
            result["status"] = status
        if kind.is_custom:
            # kube prunes, defaults and validates on the status path as on any other:
            # a field the schema lacks must not be stored through /status either.
            result = _custom_resource_checks(kind, result, field_validation, warnings)
        return result
    _builtin_field_checks(kind, new, field_validation, warnings, old)
    new["apiVersion"] = old.get("apiVersion", kind.api_version)
    new["kind"] = kind.kind
    metadata["name"] = name
    if kind.namespaced:
        metadata["namespace"] = old_meta.get("namespace")
    for field in _SERVER_OWNED_ON_UPDATE:
        if field in old_meta:
            metadata[field] = old_meta[field]
        else:
            metadata.pop(field, None)
    if kind.has_status:
        if "status" in old:
            new["status"] = old["status"]
        else:
            new.pop("status", None)
    _apply_builtin_defaults(kind, new, creating=False, old=old)
    if kind.group == "apiextensions.k8s.io" and kind.plural == "customresourcedefinitions":
        _crd_checks(new)
    if kind.is_custom:
        new = _custom_resource_checks(kind, new, field_validation, warnings)
    if has_generation(kind) and _spec_changed(kind, old, new):
        new["metadata"]["generation"] = int(old_meta.get("generation") or 0) + 1
    _check_finalizers_while_deleting(kind, old, new)
    _check_immutable_fields(kind, old, new)
    return _kube_order(new)


def _spec_changed(kind: ResourceKind, old: Mapping[str, Any], new: Mapping[str, Any]) -> bool:
    if kind.is_custom:
        keys = (set(old) | set(new)) - {"metadata", "status", "apiVersion", "kind"}
        return any(old.get(k) != new.get(k) for k in keys)
    return old.get("spec") != new.get("spec")


# Spec fields kube refuses to change after create, per resource.
_IMMUTABLE: dict[tuple[str, str], tuple[str, ...]] = {
    ("apps", "deployments"): ("selector",),
    ("apps", "statefulsets"): ("selector",),
    ("apps", "replicasets"): ("selector",),
    ("apps", "daemonsets"): ("selector",),
    ("batch", "jobs"): ("selector", "template", "completionMode"),
}


def _check_immutable_fields(
    kind: ResourceKind, old: Mapping[str, Any], new: Mapping[str, Any]
) -> None:
    fields = _IMMUTABLE.get((kind.group, kind.plural))
    if not fields:
        return
    old_spec = old.get("spec") or {}
    new_spec = new.get("spec") or {}
    for field in fields:
        if field in old_spec and old_spec.get(field) != new_spec.get(field):
            raise _invalid_field(
                kind,
                new,
                f"spec.{field}",
                f"Invalid value: {json.dumps(new_spec.get(field), sort_keys=True)}: "
                "field is immutable",
            )


def _check_finalizers_while_deleting(
    kind: ResourceKind, old: Mapping[str, Any], new: Mapping[str, Any]
) -> None:
    """kube forbids adding finalizers once deletion has started."""
    if not old["metadata"].get("deletionTimestamp"):
        return
    before = set(old["metadata"].get("finalizers") or ())
    after = set(new["metadata"].get("finalizers") or ())
    added = sorted(after - before)
    if added:
        k, g = _kind_label(kind)
        raise invalid(
            k,
            g,
            str(old["metadata"].get("name", "")),
            [
                {
                    "reason": "FieldValueForbidden",
                    "message": "Forbidden: no new finalizers can be added if the object is "
                    "being deleted, found new finalizers " + str(added),
                    "field": "metadata.finalizers",
                }
            ],
        )


def equal_ignoring_bookkeeping(old: Mapping[str, Any], new: Mapping[str, Any]) -> bool:
    """Whether ``new`` writes nothing new over ``old`` (a no-op write).

    resourceVersion and managedFields timestamps are bookkeeping: a write that
    changes only those must not bump the revision or emit an event. A change of
    ownership alone (a second manager applying identical values) is a real
    write: later apply conflicts must name that manager.
    """
    if old.keys() != new.keys():
        return False
    for key, value in new.items():
        if key == "metadata":
            continue
        if old[key] != value:
            return False
    om = old["metadata"]
    nm = new["metadata"]
    keys = (set(om) | set(nm)) - {"resourceVersion", "managedFields"}
    return all(om.get(k) == nm.get(k) for k in keys) and managed_fields_equivalent(old, new)
