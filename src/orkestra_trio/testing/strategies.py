"""Hypothesis strategies for operator tests: CRs from a CRD's schema, fault schedules.

``crs(crd)`` draws whole custom resources that the CRD's ``openAPIV3Schema``
accepts, so a property test explores the inputs a user may really send
(every enum value, boundary integers, optional fields absent or present)
rather than the one sample in the README. ``fault_schedules(boxes)`` draws
timed faults (:mod:`.faults`) aimed at boxes.

The schema subset covered is what CRDs use in practice: object with
properties/required/additionalProperties, string with enum/minLength/
maxLength/format, integer and number with bounds, boolean, array with
items/minItems/maxItems/uniqueItems and ``x-kubernetes-list-type`` set or
map (unique by ``x-kubernetes-list-map-keys``), nullable, ``x-kubernetes-int-or-string`` and
``x-kubernetes-preserve-unknown-fields`` (small free-form maps). ``pattern``
is honoured through ``st.from_regex``. Anything else draws nothing
special: the API server still validates what is sent.

This module imports hypothesis, a test dependency: import it from tests only.
"""

from __future__ import annotations

import json
import os
import string
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import yaml
from hypothesis import strategies as st

from orkestra_trio.katalog import CrdEntry

from .faults import ApiFault, BoxFault, ScheduledFault

_Loader: Any = getattr(yaml, "CSafeLoader", yaml.SafeLoader)

#: Bounds that keep drawn objects small (a CR is config, not data).
MAX_ITEMS = 4
MAX_STRING = 12
MAX_DEPTH = 4

#: DNS-1123 labels: what Kubernetes accepts as object names.
_NAME_ALPHABET = string.ascii_lowercase + string.digits


def object_names(max_size: int = 12) -> st.SearchStrategy[str]:
    """Valid Kubernetes object names (DNS-1123 labels), short and readable."""
    middle = st.text(_NAME_ALPHABET + "-", max_size=max(0, max_size - 2))
    return st.builds(
        lambda first, mid, last: (first + mid + last) if mid or last else first,
        st.sampled_from(string.ascii_lowercase),
        middle,
        st.sampled_from(_NAME_ALPHABET) | st.just(""),
    ).map(lambda name: name.strip("-") or "x")


def from_schema(schema: Mapping[str, Any], *, depth: int = 0) -> st.SearchStrategy[Any]:
    """Values that ``schema`` (an OpenAPI v3 schema as CRDs write it) accepts."""
    if schema.get("enum"):
        return st.sampled_from(list(schema["enum"]))
    base = _typed(schema, depth)
    if schema.get("nullable"):
        return st.none() | base
    return base


def _typed(schema: Mapping[str, Any], depth: int) -> st.SearchStrategy[Any]:
    if schema.get("x-kubernetes-int-or-string"):
        return st.integers(0, 65535) | _strings({"maxLength": MAX_STRING})
    kind = schema.get("type")
    if kind == "object" or (kind is None and "properties" in schema):
        return _objects(schema, depth)
    if kind == "string":
        return _strings(schema)
    if kind == "integer":
        return st.integers(*_bounds(schema, integer=True))
    if kind == "number":
        low, high = _bounds(schema, integer=False)
        return st.floats(
            low,
            high,
            allow_nan=False,
            allow_infinity=False,
            exclude_min=bool(schema.get("exclusiveMinimum")),
            exclude_max=bool(schema.get("exclusiveMaximum")),
        )
    if kind == "boolean":
        return st.booleans()
    if kind == "array":
        items = schema.get("items") or {}
        low = int(schema.get("minItems", 0))
        high = int(schema.get("maxItems", max(low, MAX_ITEMS)))
        element = from_schema(items, depth=depth + 1) if items else _free_scalars()
        most = min(high, max(low, MAX_ITEMS))
        list_type = schema.get("x-kubernetes-list-type")
        map_keys = tuple(schema.get("x-kubernetes-list-map-keys") or ())
        if list_type == "map" and map_keys:
            # A map list: items are told apart by their key fields.
            return st.lists(
                element,
                min_size=low,
                max_size=most,
                unique_by=lambda item: _key_of(item, map_keys),
            )
        if schema.get("uniqueItems") or list_type == "set":
            return st.lists(element, min_size=low, max_size=most, unique_by=_canonical)
        return st.lists(element, min_size=low, max_size=most)
    if schema.get("x-kubernetes-preserve-unknown-fields"):
        return _free_maps(depth)
    return _free_scalars()


def _canonical(value: Any) -> str:
    return json.dumps(value, sort_keys=True, default=str)


def _key_of(item: Any, keys: tuple[str, ...]) -> str:
    if not isinstance(item, Mapping):
        return _canonical(item)
    return _canonical([item.get(key) for key in keys])


def _bounds(schema: Mapping[str, Any], *, integer: bool) -> tuple[Any, Any]:
    low = schema.get("minimum")
    high = schema.get("maximum")
    if integer:
        if low is not None and schema.get("exclusiveMinimum"):
            low = int(low) + 1
        if high is not None and schema.get("exclusiveMaximum"):
            high = int(high) - 1
        if schema.get("format") == "int32":
            low = max(-(2**31), low) if low is not None else -(2**31)
            high = min(2**31 - 1, high) if high is not None else 2**31 - 1
    return low, high


def _strings(schema: Mapping[str, Any]) -> st.SearchStrategy[str]:
    low = int(schema.get("minLength", 0))
    high = int(schema.get("maxLength", max(low, MAX_STRING)))
    pattern = schema.get("pattern")
    if pattern:
        return st.from_regex(pattern, fullmatch=True).filter(lambda s: low <= len(s) <= high)
    fmt = schema.get("format")
    if fmt == "date-time":
        return st.datetimes().map(lambda d: d.replace(microsecond=0).isoformat() + "Z")
    alphabet = string.ascii_letters + string.digits + "-._ "
    return st.text(alphabet, min_size=low, max_size=min(high, max(low, MAX_STRING)))


def _objects(schema: Mapping[str, Any], depth: int) -> st.SearchStrategy[dict[str, Any]]:
    properties: Mapping[str, Any] = schema.get("properties") or {}
    required = set(schema.get("required") or ())
    if not properties:
        extra = schema.get("additionalProperties")
        if isinstance(extra, Mapping) and depth < MAX_DEPTH:
            return st.dictionaries(
                object_names(8), from_schema(extra, depth=depth + 1), max_size=MAX_ITEMS
            )
        if schema.get("x-kubernetes-preserve-unknown-fields"):
            return _free_maps(depth)
        return st.just({})
    if depth >= MAX_DEPTH:
        # Deep enough: only what is required, drawn as simply as possible.
        properties = {k: v for k, v in properties.items() if k in required}
    fields = {name: from_schema(sub, depth=depth + 1) for name, sub in properties.items()}
    needed = {name: strat for name, strat in fields.items() if name in required}
    optional = {name: strat for name, strat in fields.items() if name not in required}
    return st.fixed_dictionaries(needed, optional=optional)


def _free_scalars() -> st.SearchStrategy[Any]:
    return st.integers(-1000, 1000) | st.booleans() | st.text(string.ascii_letters, max_size=8)


def _free_maps(depth: int) -> st.SearchStrategy[dict[str, Any]]:
    if depth >= MAX_DEPTH:
        return st.just({})
    return st.dictionaries(object_names(8), _free_scalars(), max_size=3)


# ----------------------------------------------------------------------- CRs


def crd_schema(crd: CrdEntry | Mapping[str, Any] | str | os.PathLike[str]) -> Mapping[str, Any]:
    """The served version's ``openAPIV3Schema`` of a CRD (a Katalog entry, a manifest or a file).

    A Katalog CRD without ``crdFile`` gets the runtime's permissive generated
    CRD: any spec, drawn as a small free-form map.
    """
    manifest: Mapping[str, Any] | None
    version = ""
    if isinstance(crd, CrdEntry):
        version = crd.api_types.version
        if crd.crd_file is None:
            return {"type": "object", "x-kubernetes-preserve-unknown-fields": True}
        manifest = _first_crd(Path(crd.crd_file))
    elif isinstance(crd, Mapping):
        manifest = crd
    else:
        manifest = _first_crd(Path(crd))
    versions: Sequence[Mapping[str, Any]] = (manifest.get("spec") or {}).get("versions") or ()
    chosen = next((v for v in versions if v.get("name") == version), None)
    if chosen is None:
        chosen = next((v for v in versions if v.get("storage")), versions[0] if versions else {})
    schema = (chosen.get("schema") or {}).get("openAPIV3Schema")
    return schema or {"type": "object", "x-kubernetes-preserve-unknown-fields": True}


def _first_crd(path: Path) -> Mapping[str, Any]:
    for doc in yaml.load_all(path.read_text(encoding="utf-8"), Loader=_Loader):
        if isinstance(doc, Mapping) and doc.get("kind") == "CustomResourceDefinition":
            return doc
    raise ValueError(f"{path}: no CustomResourceDefinition in this file")


def crs(
    crd: CrdEntry,
    *,
    names: st.SearchStrategy[str] | None = None,
    namespace: str = "default",
    schema: Mapping[str, Any] | None = None,
) -> st.SearchStrategy[dict[str, Any]]:
    """Whole CRs of ``crd`` (a Katalog's CRD entry) whose spec its schema accepts."""
    root = schema if schema is not None else crd_schema(crd)
    spec_schema = (root.get("properties") or {}).get("spec")
    if spec_schema is None:
        spec_schema = {"type": "object", "x-kubernetes-preserve-unknown-fields": True}
    types = crd.api_types

    def build(name: str, spec: Any) -> dict[str, Any]:
        metadata: dict[str, Any] = {"name": name}
        if crd.namespaced:
            metadata["namespace"] = namespace
        return {
            "apiVersion": types.api_version,
            "kind": types.kind,
            "metadata": metadata,
            "spec": spec if isinstance(spec, dict) else {},
        }

    return st.builds(
        build, names if names is not None else object_names(), from_schema(spec_schema)
    )


# -------------------------------------------------------------------- faults


def box_faults(
    *, slow_seconds: st.SearchStrategy[float] | None = None
) -> st.SearchStrategy[BoxFault]:
    """One box-level fault: raises, hangs, slow (by default 0.1-5 s), template error."""
    seconds = slow_seconds if slow_seconds is not None else st.sampled_from([0.1, 0.5, 1.0, 5.0])
    return st.one_of(
        st.just(BoxFault.raises()),
        st.just(BoxFault.hangs()),
        st.builds(BoxFault.slow, seconds),
        st.just(BoxFault.template_error()),
    )


def api_faults() -> st.SearchStrategy[ApiFault]:
    """One API fault on a box's writes: 500, 409 or 429 (with a short Retry-After)."""
    return st.one_of(
        st.just(ApiFault(500)),
        st.just(ApiFault(409)),
        st.builds(ApiFault, st.just(429), st.sampled_from([None, 1])),
    )


def fault_schedules(
    boxes: Sequence[str],
    *,
    max_faults: int = 3,
    horizon: float = 60.0,
    durations: st.SearchStrategy[float] | None = None,
    faults: st.SearchStrategy[BoxFault | ApiFault] | None = None,
) -> st.SearchStrategy[list[ScheduledFault]]:
    """Timed faults aimed at ``boxes``, starting within ``horizon`` seconds, sorted by start.

    Shrinks towards fewer, earlier, shorter faults of the first kinds.
    """
    if not boxes:
        raise ValueError("fault_schedules needs at least one box name")
    length = durations if durations is not None else st.sampled_from([1.0, 5.0, 15.0, 30.0])
    kinds: st.SearchStrategy[BoxFault | ApiFault] = (
        faults if faults is not None else st.one_of(box_faults(), api_faults())
    )
    one = st.builds(
        ScheduledFault,
        at=st.integers(0, int(horizon)).map(float),
        box=st.sampled_from(list(boxes)),
        fault=kinds,
        duration=length,
    )
    return st.lists(one, max_size=max_faults).map(lambda xs: sorted(xs, key=lambda f: f.at))
