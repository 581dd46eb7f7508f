"""Katalog files -> the frozen model, with every mistake reported at file:line:col.

This module knows the Katalog's entities (CRD entries, operatorBoxes, cross
entries, resource groups, status, autoscale) and builds them with the
position-aware helpers of :mod:`.reading` and :mod:`.condition_reader`. A bad
value is reported and replaced by its default so that reading goes on and the
user sees every problem of the file in one run. Nothing is returned unless the
whole set is clean.

``load_katalog`` reads one file, ``load_katalogs`` several at once; both then
run the checks that need the whole picture (:mod:`orkestra_trio.katalog.validate`).
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

from orkestra_trio.katalog.condition_reader import ConditionReader
from orkestra_trio.katalog.durations import DurationError, parse_duration
from orkestra_trio.katalog.errors import KatalogError, KatalogIssue
from orkestra_trio.katalog.model import (
    COMMON_ENTRY_KEYS,
    DEPENDENCY_CONDITIONS,
    EMPTY_MAP,
    RESOURCE_GROUPS,
    STATUS_FIELD_TYPES,
    ApiTypes,
    Autoscale,
    AutoscaleCondition,
    AutoscaleOverride,
    CrdEntry,
    CrossEntry,
    Dependency,
    Endpoints,
    ForEach,
    FrozenMap,
    FrozenValue,
    Katalog,
    KatalogSet,
    OperatorBox,
    QueueSettings,
    Reconciler,
    Requeue,
    ResourceEntry,
    Resources,
    Selector,
    StatusField,
    StatusSpec,
)
from orkestra_trio.katalog.reading import DOT_PATH, Shape, describe
from orkestra_trio.katalog.statusfields import shadows
from orkestra_trio.katalog.validate import validate_katalogs
from orkestra_trio.katalog.yamlsource import KeyPath, YamlSourceError, load_yaml_file

KATALOG_API_VERSION = "orkestra.orkspace.io/v1"
MIN_WORKERS, MAX_WORKERS = 1, 50

# A CRD key appears in URLs and metric labels: a DNS label.
_DNS_LABEL = re.compile(r"[a-z0-9]([-a-z0-9]*[a-z0-9])?")
_GROUP = Shape(re.compile(r"[a-z0-9]([-a-z0-9.]*[a-z0-9])?"), "a DNS name such as demo.example.com")
_VERSION = Shape(_DNS_LABEL, "a version such as v1 or v1beta1")
_KIND = Shape(re.compile(r"[A-Z][A-Za-z0-9]*"), "a CamelCase name such as Website")
_PLURAL = Shape(_DNS_LABEL, "a lowercase plural such as websites")
# `as` names become template paths (.cross.<as>, .<as>): Go identifiers.
_AS_NAME = Shape(
    re.compile(r"[A-Za-z_][A-Za-z0-9_]*"),
    "letters, digits and '_' (it is used as .cross.<as> or .<as> in templates)",
)

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
_STATUS_FIELD_KEYS = ("path", "value", "type", "when", "or", "clearOnFalse")
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
    reader = _KatalogReader(source_map, Path(path))
    katalog = reader.katalog(document)
    return katalog, reader.issues


def _ordered(issues: Sequence[KatalogIssue], files: Sequence[str]) -> list[KatalogIssue]:
    """Issues each once, file by file in the order given, then by position."""
    rank = {file: index for index, file in enumerate(files)}
    unique = list(dict.fromkeys(issues))
    return sorted(unique, key=lambda i: (rank.get(i.file, len(rank)), i.line, i.column))


class _KatalogReader(ConditionReader):
    """Builds the model of one Katalog document, collecting issues on the way."""

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
        if "\0" in name:
            self.report(path, "a file name cannot contain a NUL character")
            return None
        try:
            resolved = (self.base_dir / name).resolve()
            found = resolved.is_file()
        except OSError as exc:  # a name too long, a symlink loop
            self.report(path, f"cannot use {name[:60]!r} as a file: {exc.strerror or exc}")
            return None
        if not found:
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
                "expected {crd: healthy}, {crd: {condition: started|ready|healthy}} or [crd], "
                f"got {describe(value)}",
            )
            return ()
        for target, spec in value.items():
            item_path = (*here, target)
            if isinstance(spec, dict):
                inner = self.mapping(spec, item_path, allowed=("condition",))
                condition = (
                    self.string(inner, item_path, "condition", choices=DEPENDENCY_CONDITIONS)
                    if inner is not None
                    else None
                )
            elif spec is None:
                condition = "started"
            elif isinstance(spec, str) and spec in DEPENDENCY_CONDITIONS:
                condition = spec
            else:
                self.report(item_path, f"expected started, ready or healthy, got {describe(spec)}")
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
        if "wait" in m and phase != "onDelete":
            self.report(
                (*path, "wait"),
                f"wait applies to onDelete entries only (it holds the CR's deletion until "
                f"the child finished; {phase} children are never waited for)",
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
            if field and "{{" not in field and not DOT_PATH.fullmatch(field):
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
            wait=self.boolean(m, path, "wait", False),
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
        seen: dict[str, list[tuple[int, StatusField]]] = {}
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
            if field_path and not DOT_PATH.fullmatch(field_path):
                self.report((*here, "path"), f"invalid path {field_path!r}: a dot path like phase")
            elif field_path and field_path.split(".")[0] in _RESERVED_STATUS_PATHS:
                self.report(
                    (*here, "path"), f"status.{field_path.split('.')[0]} is written by the runtime"
                )
            value = self.text_at(f, here, "value")
            if field_path is None or value is None:
                continue
            field = StatusField(
                path=field_path,
                value=value,
                type=self.string(f, here, "type", choices=STATUS_FIELD_TYPES) or "string",
                when=self.conditions(f, here, "when"),
                or_=self.conditions(f, here, "or"),
                clear_on_false=self.boolean(f, here, "clearOnFalse", False),
                location=self.location(here),
            )
            # Several fields may set one path (phase: Running when..., Degraded
            # when...): the last that holds wins. An earlier one that a later
            # one always overrides can never apply, which is a mistake.
            for earlier, other in seen.get(field_path, ()):
                if shadows(field, other):
                    self.report(
                        (*path, "fields", earlier, "path"),
                        f"status path {field_path!r} never comes from fields[{earlier}]: "
                        f"fields[{index}] sets it whenever fields[{earlier}] would "
                        "(the last field whose conditions hold wins)",
                    )
            seen.setdefault(field_path, []).append((index, field))
            fields.append(field)
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
