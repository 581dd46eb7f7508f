"""Orkestra's ``gateway`` block and a CRD's ``serve`` block: the model and the decisions.

The gateway API (web/gateway.py serves it) turns a caller's flat *intent*
(``{"target": "site", "host": "shop.example"}``) into a CR, in Orkestra's
stages: target resolution, token check, CR build from ``serve.fields``,
provenance annotations, admission, server-side apply. Everything here is a
pure function of the Katalog and the request; the HTTP and the API server
calls are the web layer's.

What the CR carries afterwards (ORKESTRA-LANGUAGE.md 1.7): the provenance
annotations ``serve-target`` (the primary target), ``serve-alias`` (the alias
used, "" for the primary) and ``serve-source`` ("" for a static token), and
``serve-intent``, the intent as JSON, which templates read as ``.request``.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Mapping
from typing import Any

import attrs

from orkestra_trio.katalog.conditions import conditions_hold
from orkestra_trio.katalog.model import (
    CrdEntry,
    Gateway,
    KatalogSet,
    Serve,
    ServeField,
    ServeTarget,
    Text,
)
from orkestra_trio.katalog.provenance import (
    SERVE_ALIAS_ANNOTATION,
    SERVE_INTENT_ANNOTATION,
    SERVE_SOURCE_ANNOTATION,
    SERVE_TARGET_ANNOTATION,
)
from orkestra_trio.katalog.template import TemplateRenderError

#: The field manager of the gateway's server-side applies (Orkestra's).
GATEWAY_FIELD_MANAGER = "orkestra-gateway"

OPERATIONS = ("get", "list", "create", "update", "delete", "*")
SCHEMA_OPERATIONS = ("get", "list")
FIELD_TYPES = ("string", "integer", "number", "boolean", "enum")
_WHOLE = re.compile(r"-?(0|[1-9][0-9]{0,17})")
#: Intent keys that are the request's own, never a field.
_INTENT_KEYS = frozenset({"target", "name", "namespace"})


@attrs.frozen
class Violation:
    field: str
    message: str

    def as_json(self) -> dict[str, str]:
        return {"field": self.field, "message": self.message, "severity": "error"}


@attrs.frozen
class Resolved:
    """A request's target: the CRD, its serve block, the primary and the alias used."""

    crd: CrdEntry
    serve: Serve
    target: ServeTarget

    @property
    def alias(self) -> str:
        return "" if self.target.primary else self.target.name


def gateways(katalogs: KatalogSet) -> list[Gateway]:
    """The Katalogs' gateway blocks whose API is on."""
    return [k.gateway for k in katalogs.katalogs if k.gateway.enabled and k.gateway.api_enabled]


def gateway_crds(katalogs: KatalogSet) -> list[CrdEntry]:
    """The CRDs the gateway API serves: served CRDs of the Katalogs that turn it on."""
    return [
        crd
        for katalog in katalogs.katalogs
        if katalog.gateway.enabled and katalog.gateway.api_enabled
        for crd, _ in served(katalog.crds.values())
    ]


def default_target(crd: CrdEntry) -> str:
    """The primary target's name when ``serve.target`` is not written: the kind, lowercased."""
    return crd.api_types.kind.lower()


def served(crds: Iterable[CrdEntry]) -> list[tuple[CrdEntry, Serve]]:
    return [
        (crd, crd.serve)
        for crd in crds
        if crd.enabled and crd.serve is not None and crd.serve.enabled
    ]


def resolve_target(crds: Iterable[CrdEntry], name: str) -> Resolved | None:
    """The enabled serve target called ``name`` (or a CRD key: its primary target)."""
    for crd, serve in served(crds):
        for target in serve.targets:
            if target.name == name and target.enabled:
                return Resolved(crd, serve, target)
    for crd, serve in served(crds):
        if crd.key == name and serve.primary.enabled:
            return Resolved(crd, serve, serve.primary)
    return None


def resolve_kind(crds: Iterable[CrdEntry], kind: str) -> Resolved | None:
    """The served CRD a resources/schema URL names: its kind, plural, key or a target."""
    wanted = kind.lower()
    for crd, serve in served(crds):
        types = crd.api_types
        if wanted in (types.kind.lower(), types.plural, crd.key):
            return Resolved(crd, serve, serve.primary)
    return resolve_target(crds, kind)


def resolve_cr(crds: Iterable[CrdEntry], api_version: str, kind: str) -> Resolved | None:
    for crd, serve in served(crds):
        if crd.api_types.api_version == api_version and crd.api_types.kind == kind:
            return Resolved(crd, serve, serve.primary)
    return None


def token_denial(
    resolved: Resolved, token: str, operation: str, endpoint_class: str, namespace: str
) -> str | None:
    """Why ``token`` may not do ``operation`` here (None: it may).

    The target's own ``tokens`` when it declares them (a token absent from them
    is denied), else the CRD's ``serve.tokens``; neither: every gateway token may.
    """
    grants = resolved.target.tokens
    if grants is None:
        grants = resolved.serve.tokens
    if not grants:
        return None
    grant = grants.get(token)
    if grant is None:
        return f"token {token!r} has no access to target {resolved.target.name!r}"
    return grant.allows(operation, endpoint_class, namespace)


# --- building the CR -----------------------------------------------------------


def _set(obj: dict[str, Any], path: str, value: Any) -> None:
    keys = path.split(".")
    for key in keys[:-1]:
        nxt = obj.get(key)
        if not isinstance(nxt, dict):
            nxt = obj[key] = {}
        obj = nxt
    obj[keys[-1]] = value


def _get(obj: Mapping[str, Any], path: str) -> Any:
    value: Any = obj
    for key in path.split("."):
        if not isinstance(value, Mapping):
            return None
        value = value.get(key)
    return value


def _empty(value: Any) -> bool:
    return value is None or value == "" or value == [] or value == {}


def _typed(text: str) -> Any:
    """A rendered template's text as a whole number or a boolean when it reads as one.

    Other text stays text: a tag ``1.20`` is not the number 1.2.
    """
    if _WHOLE.fullmatch(text):
        return int(text)
    return {"true": True, "false": False}.get(text, text)


def _render(text: Text, context: Mapping[str, Any], field: str) -> tuple[Any, Violation | None]:
    try:
        return _typed(text.render(context)), None
    except TemplateRenderError as exc:
        return None, Violation(field, f"could not render: {exc}")


def _provenance(cr: dict[str, Any], resolved: Resolved, source: str, intent: Any) -> None:
    annotations = cr.setdefault("metadata", {}).setdefault("annotations", {})
    annotations[SERVE_TARGET_ANNOTATION] = resolved.serve.primary.name
    annotations[SERVE_ALIAS_ANNOTATION] = resolved.alias
    annotations[SERVE_SOURCE_ANNOTATION] = source
    if intent is not None:
        annotations[SERVE_INTENT_ANNOTATION] = json.dumps(intent, sort_keys=True)


def _field_value(
    field: ServeField, submitted: Any, intent: Mapping[str, Any]
) -> list[tuple[str, Any, Violation | None]]:
    """(spec path, value, problem) for one submitted field: value/values, or as sent."""
    context = {"value": submitted, "request": intent}
    if field.values:
        out: list[tuple[str, Any, Violation | None]] = []
        for path, text in field.values.items():
            value, problem = _render(text, context, f"spec.{path}")
            out.append((path.removeprefix("spec."), value, problem))
        return out
    if field.value is not None:
        value, problem = _render(field.value, context, f"spec.{field.spec_path}")
        return [(field.spec_path, value, problem)]
    return [(field.spec_path, submitted, None)]


def _ordered(fields: Iterable[ServeField]) -> list[ServeField]:
    """Declared order first (``order`` > 0 ascending), then the rest as written."""
    listed = list(fields)
    return sorted(listed, key=lambda f: (f.order <= 0, f.order if f.order > 0 else 0))


def build_from_intent(
    resolved: Resolved, intent: Mapping[str, Any], *, source: str = ""
) -> tuple[dict[str, Any], list[Violation]]:
    """Target mode: the CR the intent asks for, and what is wrong with the intent.

    Fields map to ``spec.<path>`` (``value``/``values`` render over ``.value`` and
    ``.request``), labels and annotations to metadata; a field the serve block
    does not declare goes to ``spec.<name>`` as sent (the CRD's schema checks it).
    ``default`` fills an absent field, ``override`` always wins; ``required`` and
    ``enum`` are checked in the fields' ``order``.
    """
    crd, serve = resolved.crd, resolved.serve
    spec: dict[str, Any] = {}
    labels: dict[str, str] = {}
    annotations: dict[str, str] = {}
    problems: list[Violation] = []
    by_name = {f.name: f for f in serve.fields}
    label_fields = {f.name: f for f in serve.labels}
    annotation_fields = {f.name: f for f in serve.annotations}
    for key, submitted in intent.items():
        if key in _INTENT_KEYS:
            continue
        if key in label_fields or key in annotation_fields:
            field = label_fields.get(key) or annotation_fields[key]
            where = f"metadata.{'labels' if key in label_fields else 'annotations'}.{key}"
            if field.disabled:
                problems.append(Violation(where, f"{key} is disabled: {field.disabled}"))
                continue
            bucket = labels if key in label_fields else annotations
            bucket[key] = submitted if isinstance(submitted, str) else json.dumps(submitted)
            continue
        field_or_none = by_name.get(key)
        if field_or_none is None:
            if key in serve.ignore or f"spec.{key}" in serve.ignore:
                problems.append(Violation(f"spec.{key}", f"{key} is not a serve field"))
                continue
            field_or_none = ServeField(name=key)
        field = field_or_none
        if field.disabled:
            problems.append(
                Violation(f"spec.{field.spec_path}", f"{key} is disabled: {field.disabled}")
            )
            continue
        for path, mapped, problem in _field_value(field, submitted, intent):
            if problem is not None:
                problems.append(problem)
            else:
                _set(spec, path, mapped)
    for field in serve.fields:
        if field.default is not None and _empty(_get(spec, field.spec_path)):
            _set(spec, field.spec_path, field.default)
        if field.override is not None:
            _set(spec, field.spec_path, field.override)
    for field in _ordered((*serve.fields, *serve.labels, *serve.annotations)):
        # Checked on what the caller sent (their vocabulary), before any translation.
        if field in serve.labels or field in serve.annotations:
            kind = "labels" if field in serve.labels else "annotations"
            where = f"metadata.{kind}.{field.name}"
        else:
            where = f"spec.{field.spec_path}"
        submitted = intent.get(field.name)
        # A field its when/or hides (conditions over the intent's fields) is not required.
        shown = conditions_hold(field.when, field.or_, intent)
        if field.required and shown and _empty(submitted) and field.default is None:
            problems.append(Violation(where, f"{field.name} is required"))
        if field.enum and not _empty(submitted) and str(submitted) not in field.enum:
            problems.append(
                Violation(where, f"{field.name} must be one of {', '.join(field.enum)}")
            )
    metadata: dict[str, Any] = {}
    if labels:
        metadata["labels"] = labels
    if annotations:
        metadata["annotations"] = annotations
    cr: dict[str, Any] = {
        "apiVersion": crd.api_types.api_version,
        "kind": crd.api_types.kind,
        "metadata": metadata,
        "spec": spec,
    }
    requested = intent.get("name")
    problems += _identity(cr, resolved, requested if isinstance(requested, str) else "", intent)
    _provenance(cr, resolved, source, dict(intent))
    return cr, problems


def prepare_cr(
    resolved: Resolved, body: Mapping[str, Any], *, source: str = ""
) -> tuple[dict[str, Any], list[Violation]]:
    """Full CR mode: the CR as sent, its identity decided as in target mode, provenance stamped."""
    cr = json.loads(json.dumps(body))  # a deep, plain copy
    metadata = cr.get("metadata")
    if not isinstance(metadata, dict):
        metadata = cr["metadata"] = {}
    if not isinstance(cr.get("spec", {}), dict):
        return cr, [Violation("spec", "spec must be an object")]
    requested = metadata.get("name")
    problems = _identity(cr, resolved, requested if isinstance(requested, str) else "", body)
    _provenance(cr, resolved, source, None)
    return cr, problems


def _identity(
    cr: dict[str, Any], resolved: Resolved, requested: str, request: Mapping[str, Any]
) -> list[Violation]:
    """``metadata.name`` (``serve.name`` wins over the caller's) and the namespace.

    Both templates render over the CR as built and ``.request``, what was sent.
    """
    serve, crd = resolved.serve, resolved.crd
    metadata = cr.setdefault("metadata", {})
    context = {"metadata": metadata, "spec": cr.get("spec") or {}, "request": request}
    problems: list[Violation] = []
    name = _decided(serve.name, context, "metadata.name", requested, problems)
    if name is None:
        problems.append(Violation("metadata.name", "name is required"))
    else:
        metadata["name"] = name
    metadata.pop("namespace", None)
    if crd.namespaced and serve.namespace is not None:
        namespace = _decided(serve.namespace, context, "metadata.namespace", "", problems)
        if namespace is not None:
            metadata["namespace"] = namespace
        elif not problems or problems[-1].field != "metadata.namespace":
            problems.append(Violation("metadata.namespace", "serve.namespace rendered empty"))
    return problems


def _decided(
    text: Text | None, context: Mapping[str, Any], field: str, given: str, problems: list[Violation]
) -> str | None:
    """The template's text when there is one (else ``given``); None when empty or failed."""
    value: Any = given
    if text is not None:
        value, problem = _render(text, context, field)
        if problem is not None:
            problems.append(problem)
            return None
    return None if _empty(value) else str(value)


def request_context(cr: Mapping[str, Any]) -> dict[str, Any]:
    """``.request`` in templates: the intent the gateway recorded on the CR ({} otherwise)."""
    annotations = (cr.get("metadata") or {}).get("annotations") or {}
    raw = annotations.get(SERVE_INTENT_ANNOTATION) if isinstance(annotations, Mapping) else None
    if not isinstance(raw, str):
        return {}
    try:
        intent = json.loads(raw)
    except ValueError:
        return {}
    return intent if isinstance(intent, dict) else {}


# --- the form schema --------------------------------------------------------------


def _field_schema(
    field: ServeField, destination: str, openapi: Mapping[str, Any]
) -> dict[str, Any]:
    out: dict[str, Any] = {
        "name": field.name,
        "path": destination,
        "label": field.label or str(openapi.get("description") or field.name),
        "category": field.category or "Spec",
        "required": field.required,
    }
    kind = field.type or str(openapi.get("type") or "string")
    out["type"] = "enum" if field.enum else kind
    for key, value in (
        ("hint", field.hint),
        ("placeholder", field.placeholder),
        ("order", field.order),
        ("disabled", field.disabled),
        ("enum", list(field.enum) or openapi.get("enum")),
        ("default", field.default),
    ):
        if value:
            out[key] = value
    out.update(_conditions_json(field))
    return out


def _conditions_json(field: ServeField) -> dict[str, Any]:
    """A field's ``when``/``or`` as the form reads them (absent when it has none)."""
    return {
        key: [
            {"field": c.field, "operator": c.operator, "value": c.value, "negate": c.negate}
            for c in conditions
        ]
        for key, conditions in (("when", field.when), ("or", field.or_))
        if conditions
    }


def form_schema(resolved: Resolved, spec_schema: Mapping[str, Any] | None = None) -> dict[str, Any]:
    """``GET /api/v1/schema/{kind}``: the flat form of a target (fields in form order).

    ``spec_schema``: the CRD's OpenAPI ``spec`` schema when known; its properties
    the serve block does not describe are listed too (unless ``ignore``d).
    """
    crd, serve = resolved.crd, resolved.serve
    properties = dict((spec_schema or {}).get("properties") or {})
    required_by_schema = set((spec_schema or {}).get("required") or ())
    fields: list[dict[str, Any]] = []
    declared = {f.spec_path.split(".")[0] for f in serve.fields}
    for field in _ordered(serve.fields):
        top = field.spec_path.split(".")[0]
        fields.append(_field_schema(field, f"spec.{field.spec_path}", properties.get(top) or {}))
    for name, schema in properties.items():
        if name in declared or name in serve.ignore or f"spec.{name}" in serve.ignore:
            continue
        plain = ServeField(name=name, required=name in required_by_schema)
        fields.append(
            _field_schema(plain, f"spec.{name}", schema if isinstance(schema, Mapping) else {})
        )
    for bucket, entries in (("labels", serve.labels), ("annotations", serve.annotations)):
        for field in _ordered(entries):
            fields.append(_field_schema(field, f"metadata.{bucket}.{field.name}", {}))
    return {
        **catalog_entry(resolved),
        "namespaced": crd.namespaced,
        "requireServeName": serve.name is None,
        "modes": {"target": serve.target_mode, "cr": serve.cr_mode},
        "aliases": [t.name for t in serve.targets if not t.primary and t.enabled],
        "fields": fields,
    }


def catalog_entry(resolved: Resolved) -> dict[str, Any]:
    """One line of ``GET /api/v1/schema``: a serve-enabled target."""
    crd, serve = resolved.crd, resolved.serve
    return {
        "target": resolved.target.name,
        "kind": crd.api_types.kind,
        "apiVersion": crd.api_types.api_version,
        "category": serve.category,
        "description": serve.description or crd.description,
    }


# --- the raw schema ------------------------------------------------------------------


@attrs.frozen
class Refusal:
    """A request the gateway answers with an error: its status and JSON body."""

    status: int
    body: Mapping[str, Any]


def _refusal(status: int, error: str, message: str, **extra: str) -> Refusal:
    return Refusal(status, {"error": error, "message": message, **extra})


def raw_schema_crds(katalogs: KatalogSet) -> list[CrdEntry]:
    """The CRDs ``/api/v1/raw-schema`` describes: every enabled one of the Katalogs
    whose gateway API is on (with or without ``serve``, as Orkestra's lookup by kind)."""
    return [
        crd
        for katalog in katalogs.katalogs
        if katalog.gateway.enabled and katalog.gateway.api_enabled
        for crd in katalog.crds.values()
        if crd.enabled
    ]


def resolve_raw(crds: Iterable[CrdEntry], kind: str, api_version: str) -> CrdEntry | Refusal:
    """The CRD ``?kind=`` (and ``?apiVersion=``, when given) names, or why there is none."""
    if not kind:
        return _refusal(400, "missing parameter", '"kind" query parameter is required')
    listed = list(crds)
    by_kind = [c for c in listed if c.api_types.kind == kind] or [
        c for c in listed if c.api_types.kind.lower() == kind.lower()
    ]
    if not by_kind:
        return _refusal(404, "kind not found", f"kind {kind!r} not found in the Katalog")
    if not api_version:
        return by_kind[0]
    for crd in by_kind:
        if crd.api_types.api_version == api_version:
            return crd
    stored = by_kind[0].api_types.api_version
    return _refusal(
        400,
        "apiVersion mismatch",
        f"kind {kind!r} found, but apiVersion {api_version!r} did not match the stored "
        f"version {stored!r}",
        kind=by_kind[0].api_types.kind,
        apiVersion=stored,
    )


def raw_schema_denial(crd: CrdEntry, token: str) -> str | None:
    """Why ``token`` may not read this CRD's raw schema (``schema`` class, ``get``); None: it may.

    Only the CRD's ``serve.tokens`` restrict it (no serve block, or no tokens: every
    gateway token may), as Orkestra's check.
    """
    serve = crd.serve
    if serve is None or not serve.tokens:
        return None
    grant = serve.tokens.get(token)
    if grant is None:
        return f"token {token!r} has no access to {crd.api_types.kind}"
    return grant.allows("get", "schema", "")


def spec_schema(
    crd_object: Mapping[str, Any], version: str | None = None
) -> Mapping[str, Any] | None:
    """The OpenAPI schema of ``spec`` in a CRD object, for the version named ``version``
    (None: the storage version); None when that version has none."""
    for entry in (crd_object.get("spec") or {}).get("versions") or ():
        if not isinstance(entry, Mapping):
            continue
        wanted = entry.get("storage") is True if version is None else entry.get("name") == version
        if wanted:
            schema = (entry.get("schema") or {}).get("openAPIV3Schema") or {}
            spec = (schema.get("properties") or {}).get("spec")
            return spec if isinstance(spec, Mapping) else None
    return None


def storage_spec_schema(crd_object: Mapping[str, Any]) -> tuple[dict[str, Any], list[str]]:
    """The storage version's ``spec`` properties and required names ({} and []: none)."""
    spec = spec_schema(crd_object)
    if spec is None or not isinstance(spec.get("properties"), Mapping):
        return {}, []
    required = [r for r in spec.get("required") or () if isinstance(r, str)]
    return dict(spec["properties"]), required


def _field_config(field: ServeField) -> dict[str, Any]:
    """A serve field as Orkestra's field configuration spells it (empty keys left out)."""
    out: dict[str, Any] = {}
    for key, value in (
        ("label", field.label),
        ("hint", field.hint),
        ("placeholder", field.placeholder),
        ("category", field.category),
        ("order", field.order),
        ("required", field.required),
        ("disabled", field.disabled),
        ("path", field.path),
        ("value", field.value.source if field.value is not None else ""),
        ("values", {path: text.source for path, text in field.values.items()}),
        ("default", field.default),
        ("override", field.override),
        ("enum", list(field.enum)),
        ("type", field.type),
    ):
        if value not in (None, "", 0, False, [], {}):
            out[key] = value
    out.update(_conditions_json(field))
    return out


def raw_schema(crd: CrdEntry, crd_object: Mapping[str, Any]) -> dict[str, Any]:
    """``GET /api/v1/raw-schema``: the CRD's own OpenAPI ``spec`` schema (its storage
    version), with the serve block's labels and annotations when it declares some."""
    properties, required = storage_spec_schema(crd_object)
    spec = {k: v for k, v in (("properties", properties), ("required", required)) if v}
    out: dict[str, Any] = {"kind": crd.api_types.kind, "apiVersion": crd.api_types.api_version}
    out["spec"] = spec
    serve = crd.serve
    if serve is not None:
        for key, fields in (("labels", serve.labels), ("annotations", serve.annotations)):
            if fields:
                out[key] = {f.name: _field_config(f) for f in fields}
    return out
