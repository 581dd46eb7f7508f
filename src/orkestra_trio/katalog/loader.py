"""Katalog files -> the frozen model, with every mistake reported at file:line:col.

Reading is forgiving in one way only: a bad value is reported and replaced by
its default so that reading goes on and the user sees every problem of the
file in one run. Nothing is returned unless the whole set is clean.

``load_katalog`` reads one file, ``load_katalogs`` several at once; both then
run the checks that need the whole picture (:mod:`orkestra_trio.katalog.validate`).
"""

from __future__ import annotations

import base64
import datetime
import math
import re
from collections.abc import Collection, Iterable, Sequence
from pathlib import Path
from typing import Any

import attrs

from orkestra_trio.katalog import template as templates
from orkestra_trio.katalog.conditions import OPERATORS, Condition, check_condition
from orkestra_trio.katalog.durations import DurationError, parse_duration
from orkestra_trio.katalog.errors import KatalogError, KatalogIssue, did_you_mean
from orkestra_trio.katalog.model import (
    COMMON_ENTRY_KEYS,
    CROSS_TYPES,
    EMPTY_MAP,
    RESOURCE_GROUPS,
    STATUS_FIELD_TYPES,
    ApiTypes,
    Autoscale,
    AutoscaleCondition,
    AutoscaleOverride,
    CompiledTemplate,
    CrdEntry,
    CrossEntry,
    CrossSource,
    Dependency,
    Endpoints,
    ForEach,
    FrozenMap,
    FrozenValue,
    Katalog,
    KatalogSet,
    Location,
    OperatorBox,
    QueueSettings,
    Reconciler,
    Requeue,
    ResourceEntry,
    Resources,
    Selector,
    StatusField,
    StatusSpec,
    Text,
)
from orkestra_trio.katalog.validate import validate_katalogs
from orkestra_trio.katalog.yamlsource import (
    KeyPath,
    SourceMap,
    YamlSourceError,
    format_path,
    load_yaml_file,
)

KATALOG_API_VERSION = "orkestra.orkspace.io/v1"
MIN_WORKERS, MAX_WORKERS = 1, 50


@attrs.frozen
class _Shape:
    """A pattern a string must match, and how to tell the user what it should look like."""

    pattern: re.Pattern[str]
    hint: str


# A CRD key appears in URLs and metric labels: a DNS label.
_DNS_LABEL = re.compile(r"[a-z0-9]([-a-z0-9]*[a-z0-9])?")
_GROUP = _Shape(
    re.compile(r"[a-z0-9]([-a-z0-9.]*[a-z0-9])?"), "a DNS name such as demo.example.com"
)
_VERSION = _Shape(_DNS_LABEL, "a version such as v1 or v1beta1")
_KIND = _Shape(re.compile(r"[A-Z][A-Za-z0-9]*"), "a CamelCase name such as Website")
_PLURAL = _Shape(_DNS_LABEL, "a lowercase plural such as websites")
# `as` names become template paths (.cross.<as>, .<as>): Go identifiers.
_AS_NAME = _Shape(
    re.compile(r"[A-Za-z_][A-Za-z0-9_]*"),
    "letters, digits and '_' (it is used as .cross.<as> or .<as> in templates)",
)
_ENV_NAME = _Shape(re.compile(r"[A-Za-z_][A-Za-z0-9_]*"), "an environment variable name")

_CRD_KEYS = (
    "apiTypes",
    "namespaced",
    "crdFile",
    "crFiles",
    "dependsOn",
    "crossAccess",
    "endpoints",
    "operatorBox",
)
_API_TYPES_KEYS = ("group", "version", "kind", "plural")
_BOX_KEYS = (
    "reconciler",
    "requeue",
    "when",
    "or",
    "cross",
    "onCreate",
    "onReconcile",
    "onDelete",
    "status",
    "autoscale",
)
_SOURCE_KEYS = ("host", "endpoint", "type", "cacheFor", "token", "tokenFrom", "staleFor")
_STATUS_FIELD_KEYS = ("path", "value", "type", "when", "or", "clearOnFalse")
_DOT_PATH = re.compile(r"[^.\s]+(\.[^.\s]+)*")
# Scheme and host of an endpoint: everything up to the first /, ? or # after "//".
_URL_AUTHORITY = re.compile(r"(?P<scheme>[A-Za-z][A-Za-z0-9+.-]*)://(?P<authority>[^/?#]*)")

_NUMERIC_OPERATORS = frozenset({"greaterThan", "greaterThanOrEqual", "lessThan", "lessThanOrEqual"})
_PRESENCE_OPERATORS = frozenset({"exists", "notExists"})
# Status fields the runtime writes itself.
_RESERVED_STATUS_PATHS = frozenset({"conditions", "observedGeneration"})
# Top-level names of the template context (KATALOG.md); a forEach item may not hide them.
CONTEXT_ROOTS = frozenset({"metadata", "spec", "status", "cross", "children", "metrics", "health"})


def load_katalog(path: str | Path) -> Katalog:
    """Load and validate one Katalog file; raise :class:`KatalogError` listing every issue."""
    return load_katalogs([path]).katalogs[0]


def load_katalogs(paths: Iterable[str | Path]) -> KatalogSet:
    """Load several Katalog files as one set: CRD keys unique, references resolved."""
    katalogs: list[Katalog] = []
    issues: list[KatalogIssue] = []
    all_read = True
    # The same file given twice (a shell glob and a name) is read once.
    unique: dict[Path, str | Path] = {}
    for path in paths:
        unique.setdefault(Path(path).resolve(), path)
    for path in unique.values():
        katalog, found = read_katalog(path)
        issues.extend(found)
        if katalog is None:
            all_read = False
        else:
            katalogs.append(katalog)
    if not katalogs and not issues:
        raise KatalogError([KatalogIssue("<none>", 0, 0, "", "no Katalog file given")])
    # When a file could not be read at all, references into it cannot be
    # checked; the other checks still run so the user sees them now.
    issues.extend(validate_katalogs(katalogs, complete=all_read))
    if issues:
        raise KatalogError(_ordered(issues, [str(path) for path in unique.values()]))
    crds = {key: crd for katalog in katalogs for key, crd in katalog.crds.items()}
    return KatalogSet(tuple(katalogs), FrozenMap(crds))


def read_katalog(path: str | Path) -> tuple[Katalog | None, list[KatalogIssue]]:
    """Read one file into the model without cross-file checks.

    Returns the Katalog (built with defaults in place of bad values, so it is
    only trustworthy when the issue list is empty) and the issues found.
    None when the file cannot be read or parsed at all.
    """
    try:
        document, source_map = load_yaml_file(path)
    except YamlSourceError as exc:
        return None, [KatalogIssue(exc.file, exc.line, exc.column, "", exc.message)]
    reader = _Reader(source_map, Path(path))
    katalog = reader.katalog(document)
    return katalog, reader.issues


def _ordered(issues: Sequence[KatalogIssue], files: Sequence[str]) -> list[KatalogIssue]:
    """Issues each once, file by file in the order given, then by position."""
    rank = {file: index for index, file in enumerate(files)}
    unique = list(dict.fromkeys(issues))
    return sorted(unique, key=lambda i: (rank.get(i.file, len(rank)), i.line, i.column))


def describe(value: Any) -> str:
    """How a value is named in "expected X, got Y" messages."""
    if value is None:
        return "nothing (null)"
    if isinstance(value, bool):
        return f"a boolean ({'true' if value else 'false'})"
    if isinstance(value, int | float):
        return f"a number ({value})"
    if isinstance(value, str):
        shown = value if len(value) <= 40 else value[:37] + "..."
        return f"a string ({shown!r})"
    if isinstance(value, dict):
        return "a mapping"
    if isinstance(value, list):
        return "a list"
    return f"a {type(value).__name__}"


def go_text(value: Any) -> str:
    """A YAML scalar as Go would print it: true/false, 3 (not 3.0), "" for null."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float):
        if math.isfinite(value) and value.is_integer():
            return str(int(value))
        return repr(value)
    if isinstance(value, datetime.date):
        return value.isoformat()
    if isinstance(value, bytes):
        return base64.b64encode(value).decode("ascii")
    return str(value)


class _Reader:
    """Walks one parsed document, building model objects and collecting issues."""

    def __init__(self, source_map: SourceMap, path: Path) -> None:
        self.map = source_map
        self.file = source_map.file
        self.base_dir = path.parent
        self.issues: list[KatalogIssue] = []

    # -- reporting ---------------------------------------------------------

    def report(self, path: KeyPath, message: str, *, at_key: bool = False) -> None:
        pos = self.map.key_at(path) if at_key else self.map.value_at(path)
        self.issues.append(
            KatalogIssue(self.file, pos.line, pos.column, format_path(path), message)
        )

    def location(self, path: KeyPath, *, at_key: bool = False) -> Location:
        pos = self.map.key_at(path) if at_key else self.map.value_at(path)
        return Location(self.file, pos.line, pos.column, format_path(path))

    # -- shapes ------------------------------------------------------------

    def mapping(
        self,
        value: Any,
        path: KeyPath,
        *,
        allowed: Collection[str] | None,
        required: Sequence[str] = (),
        what: str = "a mapping",
    ) -> dict[str, Any] | None:
        """``value`` as a mapping whose keys are checked, or None after reporting."""
        if not isinstance(value, dict):
            self.report(path, f"expected {what}, got {describe(value)}")
            return None
        if allowed is not None:
            for key in value:
                if key not in allowed:
                    hint = did_you_mean(key, allowed) or (
                        f" (valid keys: {', '.join(sorted(allowed))})" if allowed else ""
                    )
                    self.report((*path, key), f"unknown key {key!r}{hint}", at_key=True)
        for key in required:
            if value.get(key) is None:
                self.report(path, f"missing required key {key!r}")
        return value

    def section(
        self,
        parent: dict[str, Any],
        path: KeyPath,
        key: str,
        *,
        allowed: Collection[str] | None,
        required: Sequence[str] = (),
    ) -> dict[str, Any] | None:
        """The mapping under ``parent[key]``; None (silently) when absent or null."""
        value = parent.get(key)
        if value is None:
            return None
        return self.mapping(value, (*path, key), allowed=allowed, required=required)

    def items(self, parent: dict[str, Any], path: KeyPath, key: str) -> list[Any]:
        """The list under ``parent[key]``; [] when absent, reported when not a list."""
        value = parent.get(key)
        if value is None:
            return []
        if not isinstance(value, list):
            self.report((*path, key), f"expected a list, got {describe(value)}")
            return []
        return value

    # -- scalars -----------------------------------------------------------

    def string(
        self,
        parent: dict[str, Any],
        path: KeyPath,
        key: str,
        *,
        required: bool = False,
        choices: Sequence[str] | None = None,
        shape: _Shape | None = None,
    ) -> str | None:
        value = parent.get(key)
        here = (*path, key)
        if value is None:
            return None  # a required key's absence is reported by mapping()
        if not isinstance(value, str):
            self.report(here, f"expected a string, got {describe(value)}")
            return None
        if required and not value.strip():
            self.report(here, "must not be empty")
            return None
        if choices is not None and value not in choices:
            self.report(
                here,
                f"must be one of {', '.join(choices)}, got {value!r}{did_you_mean(value, choices)}",
            )
            return None
        if shape is not None and not shape.pattern.fullmatch(value):
            self.report(here, f"invalid value {value!r}: {shape.hint}")
            return None
        return value

    def boolean(self, parent: dict[str, Any], path: KeyPath, key: str, default: bool) -> bool:
        value = parent.get(key)
        if value is None:
            return default
        if not isinstance(value, bool):
            self.report((*path, key), f"expected true or false, got {describe(value)}")
            return default
        return value

    def integer(
        self,
        parent: dict[str, Any],
        path: KeyPath,
        key: str,
        default: int,
        *,
        minimum: int | None = None,
        maximum: int | None = None,
    ) -> int:
        value = parent.get(key)
        here = (*path, key)
        if value is None:
            return default
        if isinstance(value, bool) or not isinstance(value, int):
            self.report(here, f"expected a whole number, got {describe(value)}")
            return default
        if (minimum is not None and value < minimum) or (maximum is not None and value > maximum):
            if maximum is None:
                self.report(here, f"must be at least {minimum}, got {value}")
            else:
                self.report(here, f"must be between {minimum} and {maximum}, got {value}")
            return default
        return value

    def duration(
        self, parent: dict[str, Any], path: KeyPath, key: str, default: float | None
    ) -> float | None:
        value = parent.get(key)
        if value is None:
            return default
        try:
            return parse_duration(value)
        except DurationError as exc:
            self.report((*path, key), str(exc))
            return default

    # -- templates ---------------------------------------------------------

    def compile(
        self, source: str, path: KeyPath, *, at_key: bool = False
    ) -> CompiledTemplate | None:
        """Compile ``source`` if it holds a template; report syntax errors at their file line."""
        if not templates.is_template(source):
            return None
        pos = self.map.key_at(path) if at_key else self.map.value_at(path)
        try:
            template: CompiledTemplate = templates.compile_template(
                source, name=f"{self.file}:{pos.line}"
            )
        except templates.TemplateSyntaxError as exc:
            line, column, message = exc.line or 1, exc.column or 1, exc.message
            if pos.style in ("|", ">"):
                # A block scalar's text starts on the line after its indicator.
                file_line = pos.line + line
                file_column = self.map.block_indent(pos) + column
            elif line == 1:
                quote = 1 if pos.style in ('"', "'") else 0
                file_line, file_column = pos.line, pos.column + quote + column - 1
            else:
                file_line, file_column = pos.line + line - 1, column
            self.issues.append(
                KatalogIssue(
                    self.file,
                    file_line,
                    file_column,
                    format_path(path),
                    f"template syntax error (template line {line}, column {column}): {message}",
                )
            )
            return None
        return template

    def text(self, value: Any, path: KeyPath) -> Text | None:
        """A scalar as :class:`Text` (compiled when it is a template); None after reporting."""
        if isinstance(value, dict | list):
            self.report(path, f"expected a string, got {describe(value)}")
            return None
        source = go_text(value)
        pos = self.map.value_at(path)
        return Text(source, self.compile(source, path), f"{self.file}:{pos.line}")

    def text_at(
        self, parent: dict[str, Any], path: KeyPath, key: str, *, required: bool = False
    ) -> Text | None:
        value = parent.get(key)
        if value is None:
            return None
        text = self.text(value, (*path, key))
        if text is not None and required and not text.source.strip():
            self.report((*path, key), "must not be empty")
        return text

    def text_map(self, parent: dict[str, Any], path: KeyPath, key: str) -> FrozenMap[str, Text]:
        """A string -> template mapping such as labels or annotations."""
        section = self.section(parent, path, key, allowed=None)
        if section is None:
            return EMPTY_MAP
        out: dict[str, Text] = {}
        for name, value in section.items():
            if templates.is_template(name):
                self.report((*path, key, name), f"a {key} key cannot be a template", at_key=True)
                continue
            text = self.text(value, (*path, key, name))
            if text is not None:
                out[name] = text
        return FrozenMap(out)

    def key(self, key: str, path: KeyPath) -> str | Text:
        """A free-form mapping key: a :class:`Text` when it is a template (``{{ .x }}.conf``)."""
        if not templates.is_template(key):
            return key
        pos = self.map.key_at(path)
        return Text(key, self.compile(key, path, at_key=True), f"{self.file}:{pos.line}")

    def freeze(self, value: Any, path: KeyPath) -> FrozenValue:
        """A free-form value made deeply immutable, every string a compiled :class:`Text`."""
        if isinstance(value, dict):
            return FrozenMap(
                {self.key(k, (*path, k)): self.freeze(v, (*path, k)) for k, v in value.items()}
            )
        if isinstance(value, list):
            return tuple(self.freeze(v, (*path, i)) for i, v in enumerate(value))
        if isinstance(value, str | datetime.date | bytes):
            return self.text(value, path)
        return value

    # -- conditions --------------------------------------------------------

    def conditions(
        self, parent: dict[str, Any], path: KeyPath, key: str, *, allow_source: bool = False
    ) -> tuple[Condition, ...]:
        out: list[Condition] = []
        for index, item in enumerate(self.items(parent, path, key)):
            condition = self.condition(item, (*path, key, index), allow_source=allow_source)
            if condition is not None:
                out.append(condition)
        return tuple(out)

    def condition(self, value: Any, path: KeyPath, *, allow_source: bool) -> Condition | None:
        if not isinstance(value, dict):
            self.report(
                path,
                f"expected a condition mapping (field: ..., equals: ...), got {describe(value)}",
            )
            return None
        plain_keys = {"field", "negate", "source"} if allow_source else {"field", "negate"}
        operators: list[str] = []
        for key in value:
            if key in plain_keys:
                continue
            if key in OPERATORS:
                operators.append(key)
                continue
            if key == "source":
                self.report(
                    (*path, key), "source is allowed on autoscale conditions only", at_key=True
                )
                continue
            hint = did_you_mean(key, OPERATORS | plain_keys)
            if not hint:
                hint = f" (operators: {', '.join(sorted(OPERATORS))})"
            self.report((*path, key), f"unknown condition operator {key!r}{hint}", at_key=True)
        if value.get("field") is None:
            self.report(path, "missing required key 'field'")
        if len(operators) > 1:
            self.report(
                path, f"a condition takes exactly one operator, found {', '.join(operators)}"
            )
        if not operators:
            if all(k in plain_keys for k in value):
                self.report(
                    path, f"a condition needs an operator, one of {', '.join(sorted(OPERATORS))}"
                )
            return None
        operator = operators[0]
        field = self.string(value, path, "field") or ""
        if field:
            if "{{" in field:
                self.compile(field, (*path, "field"))
            elif not _DOT_PATH.fullmatch(field):
                self.report(
                    (*path, "field"),
                    f"invalid field {field!r}: a dot path like spec.replicas or a template",
                )
        operand = self.operand(operator, value.get(operator), (*path, operator))
        negate = self.boolean(value, path, "negate", False)
        source = None
        if allow_source and value.get("source") is not None:
            source = self.cross_source(value["source"], (*path, "source"))
        if operand is None:
            return None
        condition = Condition(
            field=field, operator=operator, value=operand, negate=negate, source=source
        )
        # The evaluator's own load-time check: regex safety, between bounds.
        problem = check_condition(condition)
        if problem is not None:
            self.report((*path, operator), problem)
            return None
        return condition

    def operand(self, operator: str, value: Any, path: KeyPath) -> str | None:
        """The operator's value as the string the evaluator compares; None after reporting."""
        if operator in _PRESENCE_OPERATORS:
            if value is False:
                opposite = "notExists" if operator == "exists" else "exists"
                self.report(path, f"{operator}: false is ambiguous; write {opposite}: true")
                return None
            return ""
        if operator in ("in", "notIn") and isinstance(value, list):
            if any(isinstance(v, dict | list) for v in value):
                self.report(path, "expected a list of plain values")
                return None
            return ",".join(go_text(v) for v in value)
        if operator == "between" and isinstance(value, list):
            value = ",".join(go_text(v) for v in value)
        if isinstance(value, dict | list):
            self.report(path, f"expected a plain value, got {describe(value)}")
            return None
        operand = go_text(value)
        if "{{" in operand:
            # A templated operand is rendered per CR; only its syntax is known now.
            self.compile(operand, path)
        elif operator in _NUMERIC_OPERATORS and _number(operand) is None:
            self.report(path, f"{operator} compares numbers; {operand!r} is not a number")
            return None
        return operand

    # -- the document ------------------------------------------------------

    def katalog(self, document: Any) -> Katalog:
        name = ""
        crds: dict[str, CrdEntry] = {}
        top = self.mapping(
            document,
            (),
            allowed=("apiVersion", "kind", "metadata", "spec"),
            required=("metadata", "spec"),
            what="a Katalog (a mapping with metadata and spec)",
        )
        if top is not None:
            api_version = top.get("apiVersion")
            if api_version is not None and api_version != KATALOG_API_VERSION:
                self.report(("apiVersion",), f"expected {KATALOG_API_VERSION}, got {api_version!r}")
            kind = top.get("kind")
            if kind is not None and kind != "Katalog":
                self.report(("kind",), f"expected Katalog, got {kind!r}")
            meta = self.section(
                top, (), "metadata", allowed=("name", "labels", "annotations"), required=("name",)
            )
            if meta is not None:
                name = self.string(meta, ("metadata",), "name", required=True) or ""
                self.text_map(meta, ("metadata",), "labels")
                self.text_map(meta, ("metadata",), "annotations")
            spec = self.section(top, (), "spec", allowed=("crds",), required=("crds",))
            if spec is not None:
                crds = self.crds(spec)
        return Katalog(name=name, source_file=Path(self.file), crds=FrozenMap(crds))

    def crds(self, spec: dict[str, Any]) -> dict[str, CrdEntry]:
        path: KeyPath = ("spec", "crds")
        section = self.section(spec, ("spec",), "crds", allowed=None)
        out: dict[str, CrdEntry] = {}
        if section is None:
            return out
        if not section:
            self.report(path, "a Katalog needs at least one CRD")
        for key, value in section.items():
            if not _DNS_LABEL.fullmatch(key) or len(key) > 63:
                self.report(
                    (*path, key),
                    f"invalid CRD key {key!r}: use lowercase letters, digits and '-' "
                    "(it appears in URLs and metric labels)",
                    at_key=True,
                )
            entry = self.crd(key, value, (*path, key))
            if entry is not None:
                out[key] = entry
        return out

    def crd(self, key: str, value: Any, path: KeyPath) -> CrdEntry | None:
        m = self.mapping(value, path, allowed=_CRD_KEYS, required=("apiTypes",))
        if m is None:
            return None
        api_types = self.api_types(m, path)
        endpoints = self.section(m, path, "endpoints", allowed=("enabled",))
        box = self.section(m, path, "operatorBox", allowed=_BOX_KEYS)
        return CrdEntry(
            key=key,
            api_types=api_types,
            namespaced=self.boolean(m, path, "namespaced", True),
            crd_file=self.file_path(m, path, "crdFile"),
            cr_files=self.file_paths(m, path, "crFiles"),
            depends_on=self.depends_on(m, path),
            cross_access=self.boolean(m, path, "crossAccess", True),
            endpoints=Endpoints(
                enabled=self.boolean(endpoints, (*path, "endpoints"), "enabled", True)
                if endpoints is not None
                else True
            ),
            operator_box=self.operator_box(box, (*path, "operatorBox"))
            if box is not None
            else None,
            location=self.location(path, at_key=True),
        )

    def api_types(self, crd: dict[str, Any], path: KeyPath) -> ApiTypes:
        here = (*path, "apiTypes")
        m = self.section(crd, path, "apiTypes", allowed=_API_TYPES_KEYS, required=_API_TYPES_KEYS)
        if m is None:
            return ApiTypes("", "", "", "")
        group, version, kind, plural = (
            self.string(m, here, key, required=True, shape=shape) or ""
            for key, shape in zip(_API_TYPES_KEYS, (_GROUP, _VERSION, _KIND, _PLURAL), strict=True)
        )
        return ApiTypes(group=group, version=version, kind=kind, plural=plural)

    def file_path(self, parent: dict[str, Any], path: KeyPath, key: str) -> Path | None:
        name = self.string(parent, path, key, required=True)
        return self.existing_file(name, (*path, key)) if name else None

    def file_paths(self, parent: dict[str, Any], path: KeyPath, key: str) -> tuple[Path, ...]:
        value = parent.get(key)
        if value is None:
            return ()
        if isinstance(value, str):
            found = self.existing_file(value, (*path, key))
            return (found,) if found else ()
        out: list[Path] = []
        for index, item in enumerate(self.items(parent, path, key)):
            here = (*path, key, index)
            if not isinstance(item, str) or not item.strip():
                self.report(here, f"expected a file name, got {describe(item)}")
                continue
            found = self.existing_file(item, here)
            if found is not None:
                out.append(found)
        return tuple(out)

    def existing_file(self, name: str, path: KeyPath) -> Path | None:
        """``name`` resolved against the Katalog's directory; reported when missing."""
        resolved = (self.base_dir / name).resolve()
        if not resolved.is_file():
            self.report(path, f"file not found: {name} (looked for {resolved})")
            return None
        return resolved

    def depends_on(self, crd: dict[str, Any], path: KeyPath) -> tuple[Dependency, ...]:
        value = crd.get("dependsOn")
        here = (*path, "dependsOn")
        out: list[Dependency] = []
        if value is None:
            return ()
        if isinstance(value, list):
            for index, item in enumerate(value):
                if not isinstance(item, str) or not item:
                    self.report((*here, index), f"expected a CRD key, got {describe(item)}")
                    continue
                out.append(Dependency(item, "started", self.location((*here, index))))
            return tuple(out)
        if not isinstance(value, dict):
            self.report(
                here,
                "expected {crd: healthy}, {crd: {condition: started|healthy}} or [crd], "
                f"got {describe(value)}",
            )
            return ()
        for target, spec in value.items():
            item_path = (*here, target)
            if isinstance(spec, dict):
                inner = self.mapping(spec, item_path, allowed=("condition",))
                condition = (
                    self.string(inner, item_path, "condition", choices=("started", "healthy"))
                    if inner is not None
                    else None
                )
            elif spec is None:
                condition = "started"
            elif isinstance(spec, str) and spec in ("started", "healthy"):
                condition = spec
            else:
                self.report(item_path, f"expected started or healthy, got {describe(spec)}")
                condition = None
            out.append(
                Dependency(target, condition or "started", self.location(item_path, at_key=True))
            )
        return tuple(out)

    # -- operatorBox -------------------------------------------------------

    def operator_box(self, box: dict[str, Any], path: KeyPath) -> OperatorBox:
        requeue = self.section(box, path, "requeue", allowed=("after", "when", "or"))
        status = self.section(box, path, "status", allowed=("conditions", "fields"))
        autoscale = self.section(
            box, path, "autoscale", allowed=("interval", "cooldown", "conditions")
        )
        return OperatorBox(
            reconciler=self.reconciler(box, path),
            requeue=self.requeue(requeue, (*path, "requeue")) if requeue is not None else None,
            when=self.conditions(box, path, "when"),
            or_=self.conditions(box, path, "or"),
            cross=self.cross_entries(box, path),
            on_create=self.resources(box, path, "onCreate"),
            on_reconcile=self.resources(box, path, "onReconcile"),
            on_delete=self.resources(box, path, "onDelete"),
            status=self.status(status, (*path, "status")) if status is not None else StatusSpec(),
            autoscale=(
                self.autoscale(autoscale, (*path, "autoscale")) if autoscale is not None else None
            ),
        )

    def reconciler(self, box: dict[str, Any], path: KeyPath) -> Reconciler:
        here = (*path, "reconciler")
        m = self.section(box, path, "reconciler", allowed=("workers", "resync", "timeout", "queue"))
        if m is None:
            return Reconciler()
        queue = self.section(m, here, "queue", allowed=("maxDepth", "failureThreshold"))
        timeout = self.duration(m, here, "timeout", 30.0)
        if timeout is not None and timeout <= 0:
            self.report((*here, "timeout"), "must be longer than 0s")
            timeout = 30.0
        resync = self.duration(m, here, "resync", None)
        return Reconciler(
            workers=self.integer(m, here, "workers", 1, minimum=MIN_WORKERS, maximum=MAX_WORKERS),
            resync=resync if resync else None,  # 0 means no periodic resync
            timeout=timeout if timeout is not None else 30.0,
            queue=QueueSettings(
                max_depth=self.integer(queue, (*here, "queue"), "maxDepth", 0, minimum=0),
                failure_threshold=self.integer(
                    queue, (*here, "queue"), "failureThreshold", 5, minimum=1
                ),
            )
            if queue is not None
            else QueueSettings(),
        )

    def requeue(self, m: dict[str, Any], path: KeyPath) -> Requeue:
        after = self.text_at(m, path, "after")
        if after is not None and not after.is_template and "{{" not in after.source:
            try:
                parse_duration(after.source)
            except DurationError as exc:
                self.report((*path, "after"), str(exc))
        return Requeue(
            after=after, when=self.conditions(m, path, "when"), or_=self.conditions(m, path, "or")
        )

    def cross_entries(self, box: dict[str, Any], path: KeyPath) -> tuple[CrossEntry, ...]:
        out: list[CrossEntry] = []
        first_use: dict[str, int] = {}
        for index, item in enumerate(self.items(box, path, "cross")):
            here = (*path, "cross", index)
            entry = self.cross_entry(item, here)
            if entry is None:
                continue
            if entry.as_ in first_use:
                where = (*here, "as") if "as" in item else (*here, "crd")
                self.report(
                    where,
                    f"cross name {entry.as_!r} is already used by cross[{first_use[entry.as_]}]; "
                    "give one of them a different 'as'",
                )
            else:
                first_use[entry.as_] = index
            out.append(entry)
        return tuple(out)

    def cross_entry(self, value: Any, path: KeyPath) -> CrossEntry | None:
        m = self.mapping(
            value, path, allowed=("crd", "selector", "as", "source"), required=("crd",)
        )
        if m is None:
            return None
        crd = self.string(m, path, "crd", required=True)
        if not crd:
            return None
        as_ = (
            self.string(
                m,
                path,
                "as",
                required=True,
                shape=_AS_NAME,
            )
            or crd
        )
        selector = Selector()
        sel = self.section(m, path, "selector", allowed=("name", "namespace", "labels"))
        if sel is not None:
            here = (*path, "selector")
            labels = self.text_map(sel, here, "labels") if sel.get("labels") is not None else None
            selector = Selector(
                name=self.text_at(sel, here, "name", required=True),
                namespace=self.text_at(sel, here, "namespace", required=True),
                labels=labels,
            )
        source = None
        if m.get("source") is not None:
            source = self.cross_source(m["source"], (*path, "source"))
        return CrossEntry(
            crd=crd, as_=as_, selector=selector, source=source, location=self.location(path)
        )

    def cross_source(self, value: Any, path: KeyPath) -> CrossSource | None:
        m = self.mapping(
            value,
            path,
            allowed=_SOURCE_KEYS,
        )
        if m is None:
            return None
        has_host, has_endpoint = m.get("host") is not None, m.get("endpoint") is not None
        if has_host == has_endpoint:
            self.report(path, "a source needs exactly one of host (ONCOP) or endpoint (raw JSON)")
        host = self.host(m, path) if has_host else None
        endpoint = self.endpoint(m, path) if has_endpoint else None
        cache_for = self.duration(m, path, "cacheFor", 30.0)
        cache_for = 30.0 if cache_for is None else cache_for
        stale_for = self.duration(m, path, "staleFor", None)
        token = self.string(m, path, "token", required=True)
        token_env = None
        token_from = self.section(m, path, "tokenFrom", allowed=("env",), required=("env",))
        if token_from is not None:
            token_env = self.string(
                token_from,
                (*path, "tokenFrom"),
                "env",
                required=True,
                shape=_ENV_NAME,
            )
            if token is not None:
                self.report((*path, "tokenFrom"), "give token or tokenFrom, not both")
        return CrossSource(
            host=host,
            endpoint=endpoint,
            type=self.string(m, path, "type", choices=CROSS_TYPES) or "cr",
            cache_for=cache_for,
            token=token,
            token_from_env=token_env,
            stale_for=2 * cache_for if stale_for is None else stale_for,
        )

    def host(self, m: dict[str, Any], path: KeyPath) -> str | None:
        host = self.string(m, path, "host", required=True)
        if host is None:
            return None
        here = (*path, "host")
        if "{{" in host:
            self.report(here, "host cannot be a template (it is fixed at load time)")
            return None
        match = _URL_AUTHORITY.match(host)
        if match is None or match["scheme"] not in ("http", "https") or not match["authority"]:
            self.report(here, f"expected http://host:port or https://host:port, got {host!r}")
            return None
        if host[match.end() :] not in ("", "/"):
            self.report(
                here,
                f"host is scheme://host:port only (ONCOP builds the path), got {host!r}",
            )
            return None
        return host.rstrip("/")

    def endpoint(self, m: dict[str, Any], path: KeyPath) -> Text | None:
        here = (*path, "endpoint")
        raw = self.string(m, path, "endpoint", required=True)
        if raw is None:
            return None
        match = _URL_AUTHORITY.match(raw)
        if match is None or "{{" in match.group(0):
            self.report(
                here,
                "the scheme and host of an endpoint cannot be templated: "
                "write them literally (https://host/...); only the path and query may be templates",
            )
            return None
        if match["scheme"] not in ("http", "https") or not match["authority"]:
            self.report(here, f"expected an http:// or https:// URL, got {raw!r}")
            return None
        rest = raw[match.end() :]
        if rest and rest[0] not in "/?#":  # pragma: no cover - the pattern stops only there
            self.report(here, "the host must be followed by '/' or '?' before any template")
            return None
        return self.text(raw, here)

    def resources(self, box: dict[str, Any], path: KeyPath, phase: str) -> Resources:
        here = (*path, phase)
        m = self.section(box, path, phase, allowed=tuple(RESOURCE_GROUPS))
        if m is None:
            return EMPTY_MAP
        out: dict[str, tuple[ResourceEntry, ...]] = {}
        for group in RESOURCE_GROUPS:  # apply order, whatever the file's order
            entries = []
            for index, item in enumerate(self.items(m, here, group)):
                entry = self.resource_entry(group, item, (*here, group, index), phase)
                if entry is not None:
                    entries.append(entry)
            if entries:
                out[group] = tuple(entries)
        return FrozenMap(out)

    def resource_entry(
        self, group: str, value: Any, path: KeyPath, phase: str
    ) -> ResourceEntry | None:
        info = RESOURCE_GROUPS[group]
        required = ("apiVersion", "kind") if group == "custom" else ()
        m = self.mapping(value, path, allowed=COMMON_ENTRY_KEYS | info.shorthand, required=required)
        if m is None:
            return None
        if "reconcile" in m and phase != "onCreate":
            self.report(
                (*path, "reconcile"),
                f"reconcile applies to onCreate entries only ({phase} entries always reconcile "
                "or run once)",
                at_key=True,
            )
        fields: dict[str, FrozenValue] = {}
        for key in sorted(info.shorthand & m.keys(), key=list(m).index):
            if m[key] is None:
                continue
            if self.shorthand_shape_ok(key, m[key], (*path, key)):
                fields[key] = self.freeze(m[key], (*path, key))
        for_each = None
        fe = self.section(m, path, "forEach", allowed=("field", "as"), required=("field",))
        if fe is not None:
            here = (*path, "forEach")
            field = self.string(fe, here, "field", required=True) or ""
            if field and "{{" not in field and not _DOT_PATH.fullmatch(field):
                self.report(
                    (*here, "field"), f"invalid field {field!r}: a dot path like spec.sites"
                )
            as_ = self.string(fe, here, "as", required=True, shape=_AS_NAME)
            if as_ in CONTEXT_ROOTS:
                self.report(
                    (*here, "as"),
                    f"{as_!r} would hide .{as_} of the template context; choose another name",
                )
                as_ = None
            for_each = ForEach(field=field, as_=as_ or "item")
        return ResourceEntry(
            group=group,
            name=self.text_at(m, path, "name", required=True),
            namespace=self.text_at(m, path, "namespace", required=True),
            labels=self.text_map(m, path, "labels"),
            annotations=self.text_map(m, path, "annotations"),
            when=self.conditions(m, path, "when"),
            or_=self.conditions(m, path, "or"),
            reconcile=self.boolean(m, path, "reconcile", False),
            for_each=for_each,
            fields=FrozenMap(fields),
            location=self.location(path),
        )

    def shorthand_shape_ok(self, key: str, value: Any, path: KeyPath) -> bool:
        """Catch the shape mistakes of shorthand keys now rather than at apply time."""
        if key in _MAPPING_SHORTHAND and not isinstance(value, dict):
            self.report(path, f"expected a mapping, got {describe(value)}")
            return False
        if key in _LIST_SHORTHAND and not isinstance(value, list):
            self.report(path, f"expected a list, got {describe(value)}")
            return False
        if key in _SCALAR_SHORTHAND and isinstance(value, dict | list):
            self.report(path, f"expected a single value, got {describe(value)}")
            return False
        if key == "env":
            if isinstance(value, list):
                ok = True
                for index, item in enumerate(value):
                    if not isinstance(item, dict) or not isinstance(item.get("name"), str):
                        self.report(
                            (*path, index),
                            "expected {name: ..., value: ...}, got " + describe(item),
                        )
                        ok = False
                return ok
            if not isinstance(value, dict):
                self.report(
                    path, f"expected a mapping or a list of {{name, value}}, got {describe(value)}"
                )
                return False
        return True

    def status(self, m: dict[str, Any], path: KeyPath) -> StatusSpec:
        fields: list[StatusField] = []
        seen: dict[str, int] = {}
        for index, item in enumerate(self.items(m, path, "fields")):
            here = (*path, "fields", index)
            f = self.mapping(
                item,
                here,
                allowed=_STATUS_FIELD_KEYS,
                required=("path", "value"),
            )
            if f is None:
                continue
            field_path = self.string(f, here, "path", required=True)
            if field_path and not _DOT_PATH.fullmatch(field_path):
                self.report((*here, "path"), f"invalid path {field_path!r}: a dot path like phase")
            elif field_path and field_path.split(".")[0] in _RESERVED_STATUS_PATHS:
                self.report(
                    (*here, "path"), f"status.{field_path.split('.')[0]} is written by the runtime"
                )
            elif field_path in seen:
                self.report(
                    (*here, "path"),
                    f"status path {field_path!r} is already set by fields[{seen[field_path]}]",
                )
            elif field_path:
                seen[field_path] = index
            value = self.text_at(f, here, "value")
            if field_path is None or value is None:
                continue
            fields.append(
                StatusField(
                    path=field_path,
                    value=value,
                    type=self.string(f, here, "type", choices=STATUS_FIELD_TYPES) or "string",
                    when=self.conditions(f, here, "when"),
                    or_=self.conditions(f, here, "or"),
                    clear_on_false=self.boolean(f, here, "clearOnFalse", False),
                    location=self.location(here),
                )
            )
        return StatusSpec(
            conditions=self.boolean(m, path, "conditions", True), fields=tuple(fields)
        )

    def autoscale(self, m: dict[str, Any], path: KeyPath) -> Autoscale:
        conditions: list[AutoscaleCondition] = []
        for index, item in enumerate(self.items(m, path, "conditions")):
            here = (*path, "conditions", index)
            c = self.mapping(item, here, allowed=("when", "or", "override"), required=("override",))
            if c is None:
                continue
            override = self.section(
                c, here, "override", allowed=("workers",), required=("workers",)
            )
            when = self.conditions(c, here, "when", allow_source=True)
            or_ = self.conditions(c, here, "or", allow_source=True)
            if not when and not or_ and c.get("when") is None and c.get("or") is None:
                self.report(here, "an autoscale condition needs when or or")
            if override is None:
                continue
            workers = self.integer(
                override,
                (*here, "override"),
                "workers",
                0,
                minimum=MIN_WORKERS,
                maximum=MAX_WORKERS,
            )
            if workers:
                conditions.append(
                    AutoscaleCondition(override=AutoscaleOverride(workers), when=when, or_=or_)
                )
        interval = self.duration(m, path, "interval", 15.0) or 15.0
        cooldown = self.duration(m, path, "cooldown", 120.0)
        return Autoscale(
            interval=interval,
            cooldown=120.0 if cooldown is None else cooldown,
            conditions=tuple(conditions),
        )


# Shorthand keys whose value must be a mapping, a list, or a single value.
_MAPPING_SHORTHAND = frozenset({"spec", "metadata", "data", "stringData", "resources", "selector"})
_LIST_SHORTHAND = frozenset({"ports", "command", "args"})
_SCALAR_SHORTHAND = frozenset(
    {
        "image",
        "replicas",
        "port",
        "targetPort",
        "type",
        "containerName",
        "serviceName",
        "servicePort",
        "backoffLimit",
        "restartPolicy",
        "schedule",
        "host",
        "path",
        "pathType",
        "className",
        "apiVersion",
        "kind",
    }
)


def _number(text: str) -> float | None:
    try:
        value = float(text.strip())
    except ValueError:
        return None
    return value if math.isfinite(value) else None
