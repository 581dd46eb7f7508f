"""Reading a CRD entry's admission rules: ``validation``, ``mutation``, ``conversion``, ``webhooks``.

Orkestra writes them on the CRD entry (Gen B) or under ``admission:`` (Gen C,
ORKESTRA-LANGUAGE.md 1.16); both are read onto one
:class:`~orkestra_trio.katalog.model.Admission`, a key written in both places
being an error. A validation rule is a condition (the operators of ``when:``,
``unique`` included) plus ``message``/``action``/``link``; a mutation rule sets
one field with ``default`` or ``override``, under optional ``when``/``or``.
"""

from __future__ import annotations

import re
from typing import Any

from orkestra_trio.katalog.condition_reader import ConditionReader
from orkestra_trio.katalog.model import (
    ADMISSION_OPERATIONS,
    NO_ADMISSION,
    VALIDATION_ACTIONS,
    Admission,
    Conversion,
    ConversionPath,
    FrozenMap,
    FrozenValue,
    MutationRule,
    ValidationRule,
    Webhooks,
)
from orkestra_trio.katalog.reading import DOT_PATH, Shape, describe
from orkestra_trio.katalog.yamlsource import KeyPath

#: The admission keys, on the CRD entry (Gen B) or under ``admission:`` (Gen C).
ADMISSION_KEYS = ("validation", "mutation", "conversion", "webhooks")

_RULE_KEYS = frozenset({"message", "action", "link"})
_REFUSED_RULE_KEYS = {
    "fires": "fires is not supported by orkestra_trio: every change of a CR is reconciled "
    "already (see docs/katalog.md)",
}
_MUTATION_RULE_KEYS = ("field", "default", "override", "when", "or")
_CONVERSION_KEYS = ("storageVersion", "updateCRD", "paths")
_REFUSED_CONVERSION_KEYS = {
    "participant": "participant is not supported by orkestra_trio: conversion runs inside the "
    "embedded API server (see docs/katalog.md)",
}
_VERSION = Shape(re.compile(r"[a-z0-9]([-a-z0-9]*[a-z0-9])?"), "a version such as v1 or v2beta1")
# Where a mutation may write: the spec and the CR's labels and annotations (a merge patch
# of the CR itself; status belongs to the runtime's own status write).
_MUTABLE_ROOTS = ("spec.", "metadata.labels.", "metadata.annotations.")


class AdmissionReader(ConditionReader):
    """A :class:`ConditionReader` that also reads a CRD entry's admission rules."""

    def admission(self, crd: dict[str, Any], path: KeyPath) -> Admission:
        group = self.section(crd, path, "admission", allowed=ADMISSION_KEYS)
        parents: dict[str, tuple[dict[str, Any], KeyPath]] = {}
        for key in ADMISSION_KEYS:
            parents[key] = (crd, path)
            if group is not None and group.get(key) is not None:
                if crd.get(key) is not None:
                    self.report(
                        (*path, "admission", key),
                        f"{key} is also written at {'.'.join(map(str, path))}; keep one",
                        at_key=True,
                    )
                parents[key] = (group, (*path, "admission"))
        if all(parent.get(key) is None for key, (parent, _) in parents.items()):
            return NO_ADMISSION
        validation = self.validation_rules(*parents["validation"])
        mutation, mutate_first = self.mutation_rules(*parents["mutation"])
        return Admission(
            validation=validation,
            mutation=mutation,
            mutate_first=mutate_first,
            conversion=self.conversion(*parents["conversion"]),
            webhooks=self.webhooks(*parents["webhooks"]),
        )

    # -- validation --------------------------------------------------------

    def rule_list(
        self, parent: dict[str, Any], path: KeyPath, key: str
    ) -> tuple[list[Any], KeyPath]:
        """``key: {rules: [...]}`` (or a bare list of rules): the rules and their path."""
        value = parent.get(key)
        if value is None:
            return [], (*path, key)
        if isinstance(value, list):
            return value, (*path, key)
        allowed = ("rules", "include", "mutateFirst") if key == "mutation" else ("rules", "include")
        m = self.section(parent, path, key, allowed=allowed, include=True)
        if m is None:
            return [], (*path, key)
        return self.items(m, (*path, key), "rules"), (*path, key, "rules")

    def validation_rules(self, parent: dict[str, Any], path: KeyPath) -> tuple[ValidationRule, ...]:
        items, here = self.rule_list(parent, path, "validation")
        out: list[ValidationRule] = []
        for index, item in enumerate(items):
            rule = self.validation_rule(item, (*here, index))
            if rule is not None:
                out.append(rule)
        return tuple(out)

    def validation_rule(self, value: Any, path: KeyPath) -> ValidationRule | None:
        if not isinstance(value, dict):
            self.report(
                path, f"expected a rule (field: ..., between: ..., ...), got {describe(value)}"
            )
            return None
        for key, refusal in _REFUSED_RULE_KEYS.items():
            if key in value:
                self.report((*path, key), refusal, at_key=True)
        condition = self.condition(
            {k: v for k, v in value.items() if k not in _RULE_KEYS and k not in _REFUSED_RULE_KEYS},
            path,
            allow_source=False,
        )
        action = self.string(value, path, "action", choices=VALIDATION_ACTIONS) or "deny"
        message = self.text_at(value, path, "message")
        link = self.string(value, path, "link") or ""
        if condition is None:
            return None
        if condition.operator in ("dayOfWeek", "time"):
            self.report(
                path,
                f"a validation rule tests a field of the CR, not the clock ({condition.operator})",
            )
            return None
        return ValidationRule(
            condition=condition,
            action=action,
            message=message,
            link=link,
            location=self.location(path),
        )

    # -- mutation ----------------------------------------------------------

    def mutation_rules(
        self, parent: dict[str, Any], path: KeyPath
    ) -> tuple[tuple[MutationRule, ...], bool]:
        items, here = self.rule_list(parent, path, "mutation")
        section = parent.get("mutation")
        mutate_first = (
            self.boolean(section, (*path, "mutation"), "mutateFirst", False)
            if isinstance(section, dict)
            else False
        )
        out: list[MutationRule] = []
        for index, item in enumerate(items):
            rule = self.mutation_rule(item, (*here, index))
            if rule is not None:
                out.append(rule)
        return tuple(out), mutate_first

    def mutation_rule(self, value: Any, path: KeyPath) -> MutationRule | None:
        m = self.mapping(
            value,
            path,
            allowed=_MUTATION_RULE_KEYS,
            required=("field",),
            what="a rule (field: ..., default: ... or override: ...)",
        )
        if m is None:
            return None
        field = self.string(m, path, "field", required=True) or ""
        if field and not (
            field.startswith(_MUTABLE_ROOTS) and DOT_PATH.fullmatch(field) and "{{" not in field
        ):
            self.report(
                (*path, "field"),
                f"a mutation sets a field under spec., metadata.labels. or "
                f"metadata.annotations., got {field!r}",
            )
            field = ""
        given = [key for key in ("default", "override") if m.get(key) is not None]
        if len(given) != 1:
            self.report(path, "a mutation rule takes exactly one of default or override")
        when = self.conditions(m, path, "when")
        or_ = self.conditions(m, path, "or")
        if len(given) != 1 or not field:
            return None
        key = given[0]
        raw = m[key]
        value_frozen: FrozenValue = self.freeze(raw, (*path, key))
        return MutationRule(
            field=field,
            value=value_frozen,
            override=key == "override",
            when=when,
            or_=or_,
            location=self.location(path),
        )

    # -- conversion and webhooks -------------------------------------------

    def conversion(self, parent: dict[str, Any], path: KeyPath) -> Conversion | None:
        m = self.section(
            parent, path, "conversion", allowed=_CONVERSION_KEYS, refused=_REFUSED_CONVERSION_KEYS
        )
        if m is None:
            return None
        here = (*path, "conversion")
        self.boolean(m, here, "updateCRD", True)
        storage = self.string(m, here, "storageVersion", shape=_VERSION) or ""
        paths: list[ConversionPath] = []
        for index, item in enumerate(self.items(m, here, "paths")):
            at = (*here, "paths", index)
            entry = self.mapping(item, at, allowed=("from", "to", "spec"), required=("from", "to"))
            if entry is None:
                continue
            source = self.string(entry, at, "from", required=True, shape=_VERSION)
            target = self.string(entry, at, "to", required=True, shape=_VERSION)
            spec = self.section(entry, at, "spec", allowed=None)
            frozen = self.freeze(spec, (*at, "spec")) if spec is not None else FrozenMap()
            if source and target:
                if source == target:
                    self.report(
                        (*at, "to"), f"a path converts between two versions, got {source} twice"
                    )
                    continue
                paths.append(ConversionPath(from_=source, to=target, spec=frozen))
        return Conversion(storage_version=storage, paths=tuple(paths))

    def webhooks(self, parent: dict[str, Any], path: KeyPath) -> Webhooks:
        m = self.section(parent, path, "webhooks", allowed=("validation", "mutation", "operations"))
        if m is None:
            return Webhooks()
        here = (*path, "webhooks")
        operations: list[str] = []
        for index, item in enumerate(self.items(m, here, "operations")):
            if item not in ADMISSION_OPERATIONS:
                self.report(
                    (*here, "operations", index),
                    f"must be one of {', '.join(ADMISSION_OPERATIONS)}, got {describe(item)}",
                )
                continue
            operations.append(str(item))
        return Webhooks(
            validation=self.boolean(m, here, "validation", False),
            mutation=self.boolean(m, here, "mutation", False),
            operations=tuple(dict.fromkeys(operations))
            if "operations" in m
            else ADMISSION_OPERATIONS,
        )
