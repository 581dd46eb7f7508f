"""Admission rules as pure decisions: what a CRD's validation and mutation say about one CR.

:func:`run_rules` takes the CR as stored (and, for ``unique``, the box's
CRs as its informer holds them) and returns the merge patch the mutation
rules ask for (``default`` only where the field is missing, ``override``
always; None when nothing would change, so applying it never loops), the CR
with that patch applied, and the messages of the validation rules that do
not hold, denials and warnings apart. The runtime runs it on every
reconcile (through :func:`orkestra_trio.katalog.plan.plan_reconcile`) and,
with ``webhooks``, the embedded API server and the webhook server at admission.

:func:`admission_decision` is what ``webhooks`` says about one request, the
one decision both admission paths take: the embedded server's in-process
hook and the HTTPS webhook server a real cluster calls.

:func:`convert` is ``conversion.paths``: a CR of one version as another.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

import attrs

from orkestra_trio.katalog.conditions import (
    Condition,
    condition_holds,
    conditions_hold,
    field_value,
    with_peers,
)
from orkestra_trio.katalog.manifests import plain_copy
from orkestra_trio.katalog.model import (
    Admission,
    Conversion,
    CrdEntry,
    KatalogSet,
    MutationRule,
    Text,
    ValidationRule,
)
from orkestra_trio.katalog.render import (
    build_context,
    convert_status_value,
    render_value,
    set_keys,
)
from orkestra_trio.katalog.template import format_value

#: The Event reason of a ``warn`` rule that does not hold (Orkestra's).
WARNING_REASON = "ValidationWarning"


class AdmissionDenied(Exception):
    """A ``deny`` validation rule does not hold: the CR is refused (admission) or not
    reconciled (its Ready condition says why)."""

    def __init__(self, messages: Iterable[str]) -> None:
        self.messages = tuple(messages)
        super().__init__("validation failed: " + "; ".join(self.messages))

    def __reduce__(self) -> tuple[type[AdmissionDenied], tuple[tuple[str, ...]]]:
        # A plan may be made in a planner process and pickled back (runtime/planner.py).
        return (AdmissionDenied, (self.messages,))


class ConversionError(ValueError):
    """No ``conversion.paths`` entry leads from a CR's version to the one asked for."""


@attrs.frozen
class RulesOutcome:
    """What the admission rules decide for one CR."""

    #: The CR with the mutation applied (the CR itself when nothing changes).
    cr: Mapping[str, Any]
    #: JSON merge patch of the CR (metadata and spec); None when nothing changes.
    patch: Mapping[str, Any] | None = None
    #: Messages of the ``deny`` rules that do not hold.
    denials: tuple[str, ...] = ()
    #: Messages of the ``warn`` rules that do not hold.
    warnings: tuple[str, ...] = ()


def run_rules(
    admission: Admission,
    cr: Mapping[str, Any],
    *,
    peers: Iterable[Mapping[str, Any]] = (),
    mutate: bool = True,
    validate: bool = True,
    mutate_first: bool | None = None,
) -> RulesOutcome:
    """Mutation and validation of ``cr`` (the CR as stored, ``normalize`` not applied).

    ``mutate_first`` (default: the CRD's ``mutateFirst``): validate the mutated
    CR; otherwise validate the CR as it came, and mutate only when nothing
    denies (a denied CR is not written to). ``peers``: the box's CRs, for
    ``unique`` (this CR among them or not: it is told apart by name).
    """
    first = admission.mutate_first if mutate_first is None else mutate_first
    mutation = admission.mutation if mutate else ()
    rules = admission.validation if validate else ()
    peers = tuple(peers) if any(r.condition.operator == "unique" for r in rules) else ()
    if first:
        patch, mutated = mutate_cr(mutation, cr)
        denials, warnings = validate_cr(rules, mutated, peers)
        return RulesOutcome(mutated, patch, denials, warnings)
    denials, warnings = validate_cr(rules, cr, peers)
    if denials:
        return RulesOutcome(cr, None, denials, warnings)
    patch, mutated = mutate_cr(mutation, cr)
    return RulesOutcome(mutated, patch, denials, warnings)


def validate_cr(
    rules: Iterable[ValidationRule], cr: Mapping[str, Any], peers: Iterable[Mapping[str, Any]] = ()
) -> tuple[tuple[str, ...], tuple[str, ...]]:
    """(denials, warnings): the messages of the rules that do not hold for ``cr``."""
    denials: list[str] = []
    warnings: list[str] = []
    for rule, message in failed_rules(rules, cr, peers):
        (denials if rule.action == "deny" else warnings).append(message)
    return tuple(denials), tuple(warnings)


def failed_rules(
    rules: Iterable[ValidationRule], cr: Mapping[str, Any], peers: Iterable[Mapping[str, Any]] = ()
) -> list[tuple[ValidationRule, str]]:
    """Each rule that does not hold for ``cr``, with its message (the gateway names the field)."""
    out: list[tuple[ValidationRule, str]] = []
    context: Mapping[str, Any] | None = None
    for rule in rules:
        if context is None:
            context = with_peers(build_context(cr), peers)
        if not condition_holds(rule.condition, context):
            out.append((rule, _message(rule, context)))
    return out


def _message(rule: ValidationRule, context: Mapping[str, Any]) -> str:
    if rule.message is not None:
        text = rule.message.render(context)
    else:
        text = _default_message(rule.condition, context)
    return f"{text} (see {rule.link})" if rule.link else text


def _default_message(condition: Condition, context: Mapping[str, Any]) -> str:
    value = format_value(field_value(condition, context))
    if condition.operator == "unique":
        return (
            f"{condition.field} {value!r} is already used by another {context.get('kind') or 'CR'}"
        )
    negated = "not " if condition.negate else ""
    operand = f" {condition.value}" if condition.value else ""
    return f"{condition.field} must {negated}satisfy {condition.operator}{operand}, got {value!r}"


# --- at admission -----------------------------------------------------------


def admission_decision(
    admission: Admission,
    operation: str,
    cr: Mapping[str, Any],
    *,
    peers: Iterable[Mapping[str, Any]] = (),
    mutate: bool = True,
    validate: bool = True,
) -> RulesOutcome | None:
    """What ``webhooks`` says about one admission request; None: the rules do not run.

    They do not run for an operation ``webhooks.operations`` does not list,
    nor for a CR on its way out (``deletionTimestamp`` set: its finalizers must
    come off whatever it holds). ``mutate``/``validate`` narrow what runs to
    one side (a real cluster calls a mutating and a validating webhook apart,
    mutating first); the CR is always mutated before it is validated, as kube
    orders its webhooks.
    """
    webhooks = admission.webhooks
    if operation not in webhooks.operations:
        return None
    if (cr.get("metadata") or {}).get("deletionTimestamp"):
        return None
    return run_rules(
        admission,
        cr,
        peers=peers,
        mutate=mutate and webhooks.mutation,
        validate=validate and webhooks.validation,
        mutate_first=True,
    )


def webhook_name(crd: CrdEntry) -> str:
    """The webhook's name (``orkestra-<key>.<group>``), which kube quotes in a denial.

    A DNS subdomain of at least three labels, as admissionregistration wants.
    """
    key = "".join(c if c.isascii() and (c.isalnum() or c == "-") else "-" for c in crd.key)
    return f"orkestra-{key.lower().strip('-')}.{crd.api_types.group}"


def admitting_crds(katalogs: KatalogSet) -> tuple[CrdEntry, ...]:
    """The CRDs whose rules run at admission: enabled, with a box and ``webhooks`` (unless
    their Katalog's ``security.webhooks`` leaves admission off)."""
    return tuple(
        crd
        for crd in katalogs.crds.values()
        if crd.enabled
        and crd.operator_box is not None
        and (crd.admission.webhooks.validation or crd.admission.webhooks.mutation)
        and katalogs.security_of(crd.key).webhooks.admission_enabled
    )


def converting_crds(katalogs: KatalogSet) -> tuple[CrdEntry, ...]:
    """The CRDs whose versions convert through ``conversion.paths`` (enabled ones, unless
    their Katalog's ``security.conversion`` is off)."""
    return tuple(
        crd
        for crd in katalogs.crds.values()
        if crd.enabled
        and crd.admission.conversion is not None
        and crd.admission.conversion.paths
        and katalogs.security_of(crd.key).conversion.enabled
    )


# --- mutation ---------------------------------------------------------------


def mutate_cr(
    rules: Iterable[MutationRule], cr: Mapping[str, Any]
) -> tuple[Mapping[str, Any] | None, Mapping[str, Any]]:
    """(merge patch or None, the mutated CR): each rule in order, on the CR as the rules
    before it left it."""
    patch: dict[str, Any] = {}
    mutated: dict[str, Any] | None = None
    for rule in rules:
        current = cr if mutated is None else mutated
        context = build_context(current)
        if not conditions_hold(rule.when, rule.or_, context):
            continue
        keys = _field_keys(rule.field)
        present = _get(current, keys)
        if not rule.override and present is not None:
            continue
        value = _mutation_value(rule, context)
        if value is None or value == present:
            continue
        if mutated is None:
            mutated = plain_copy(cr)
        set_keys(mutated, keys, value)
        set_keys(patch, keys, plain_copy(value))
    if mutated is None:
        return None, cr
    return patch, mutated


def _mutation_value(rule: MutationRule, context: Mapping[str, Any]) -> Any:
    """The rule's value for one CR; a template's text reads as a number or boolean when it
    is one (as ``normalize`` does), and an empty result sets nothing."""
    value = rule.value
    if isinstance(value, Text) and value.is_template:
        rendered = convert_status_value(value.render(context), "auto")
    else:
        rendered = render_value(value, context)
    if (
        rule.field.startswith(("metadata.labels.", "metadata.annotations."))
        and rendered is not None
    ):
        rendered = format_value(rendered)  # label and annotation values are strings
    return rendered


def _field_keys(field: str) -> tuple[str, ...]:
    """``field`` as keys: a label or annotation key is one key, dots and all."""
    for root in ("metadata.labels.", "metadata.annotations."):
        if field.startswith(root):
            return (*root.rstrip(".").split("."), field[len(root) :])
    return tuple(field.split("."))


def _get(obj: Mapping[str, Any], keys: tuple[str, ...]) -> Any:
    node: Any = obj
    for key in keys:
        if not isinstance(node, Mapping):
            return None
        node = node.get(key)
    return node


# --- conversion -------------------------------------------------------------


def convert(conversion: Conversion, obj: Mapping[str, Any], version: str) -> Mapping[str, Any]:
    """``obj`` as ``version`` of its group, through ``conversion.paths`` (one path or a chain).

    Each path's ``spec`` sets fields (dot paths under the spec, templates over
    the CR of the ``from`` version); fields it does not name carry over.
    Raises ConversionError when no chain of paths leads there.
    """
    group, _, current = str(obj.get("apiVersion") or "").rpartition("/")
    if current == version:
        return obj
    steps = _route(conversion, current, version)
    if steps is None:
        raise ConversionError(
            f"conversion: no path from {current or '?'} to {version} in conversion.paths"
        )
    converted: Mapping[str, Any] = obj
    for step in steps:
        context = build_context(converted)
        spec = plain_copy(converted.get("spec") or {})
        for path, value in step.spec.items():
            if isinstance(value, Text) and value.is_template:
                rendered = convert_status_value(value.render(context), "auto")
            else:
                rendered = render_value(value, context)
            if rendered is not None:
                set_keys(spec, tuple(str(path).removeprefix("spec.").split(".")), rendered)
        converted = {**converted, "apiVersion": f"{group}/{step.to}", "spec": spec}
    return converted


def _route(conversion: Conversion, source: str, target: str) -> list[Any] | None:
    """The shortest chain of paths from ``source`` to ``target`` (breadth first)."""
    frontier: list[tuple[str, list[Any]]] = [(source, [])]
    seen = {source}
    while frontier:
        version, steps = frontier.pop(0)
        for path in conversion.paths:
            if path.from_ != version or path.to in seen:
                continue
            if path.to == target:
                return [*steps, path]
            seen.add(path.to)
            frontier.append((path.to, [*steps, path]))
    return None


# --- what a box must read ---------------------------------------------------


def uses_unique(crd: CrdEntry) -> bool:
    """Does any condition of ``crd`` use ``unique``? (Then its reconciles read the box's CRs.)"""
    return any(condition.operator == "unique" for condition in _conditions(crd))


def _conditions(value: Any) -> Iterable[Condition]:
    """Every Condition held anywhere in a loaded model value."""
    if isinstance(value, Condition):
        yield value
    elif attrs.has(type(value)):
        for field in attrs.fields(type(value)):
            yield from _conditions(getattr(value, field.name))
    elif isinstance(value, Mapping):
        for item in value.values():
            yield from _conditions(item)
    elif isinstance(value, tuple | list):
        for item in value:
            yield from _conditions(item)
