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

import datetime
import re
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any

import attrs

from orkestra_trio.katalog import orkestra_keys, profiles, secrets
from orkestra_trio.katalog import template as templates
from orkestra_trio.katalog.admission_reader import ADMISSION_KEYS
from orkestra_trio.katalog.conditions import Condition
from orkestra_trio.katalog.copies import COPY_KINDS, CopyKind
from orkestra_trio.katalog.durations import DurationError, parse_duration
from orkestra_trio.katalog.errors import KatalogError, KatalogIssue, did_you_mean
from orkestra_trio.katalog.external_reader import ExternalCallReader
from orkestra_trio.katalog.import_reader import ImportReader, MotifContent
from orkestra_trio.katalog.komposer import (
    Komposer,
    Override,
    imported_files,
    is_komposer_document,
    read_komposer,
)
from orkestra_trio.katalog.labelselector import SelectorError, parse_label_selector
from orkestra_trio.katalog.lifecycle import Pattern, import_findings, own_warnings, read_lifecycle
from orkestra_trio.katalog.manifests import deep_merge
from orkestra_trio.katalog.model import (
    BUILTIN_KINDS,
    COMMON_ENTRY_KEYS,
    DEFAULT_ROLLBACK_FAILURES,
    DEPENDENCY_CONDITIONS,
    EMPTY_MAP,
    ENRICH_ALIASES,
    ENRICHMENTS,
    EXTERNAL_PHASES,
    GROUP_ALIASES,
    NO_GATEWAY,
    RESOURCE_GROUPS,
    STATUS_FIELD_TYPES,
    TOP_LEVEL_ENRICHMENTS,
    ApiTypes,
    Autoscale,
    AutoscaleCondition,
    AutoscaleOverride,
    CrdEntry,
    CrossEntry,
    Dependency,
    Endpoints,
    EnqueueGate,
    EnrichItem,
    EventWatch,
    ExternalCall,
    ForEach,
    FrozenMap,
    FrozenValue,
    Gateway,
    Katalog,
    KatalogSet,
    OperatorBox,
    OrderedDelete,
    OrderedGroup,
    QueueSettings,
    Reconciler,
    Requeue,
    ResourceEntry,
    Resources,
    Rollback,
    ScaleStep,
    Selector,
    ShedRule,
    StatusField,
    StatusSpec,
    Text,
    Watch,
    WorkloadAutoscale,
)
from orkestra_trio.katalog.motifs import (
    MotifLibrary,
    MotifSource,
    is_motif_document,
    motif_identity,
)
from orkestra_trio.katalog.notification import notify_conditions
from orkestra_trio.katalog.reading import DOT_PATH, Shape, describe
from orkestra_trio.katalog.secrets import TLS_FIELDS
from orkestra_trio.katalog.security import NO_SECURITY
from orkestra_trio.katalog.security_reader import read_security
from orkestra_trio.katalog.sentinels import SENTINELS
from orkestra_trio.katalog.serve_reader import read_gateway, read_serve
from orkestra_trio.katalog.statusfields import shadows
from orkestra_trio.katalog.validate import cross_access_warnings, validate_katalogs
from orkestra_trio.katalog.yamlsource import (
    KeyPath,
    SourceMap,
    YamlSourceError,
    format_path,
    load_yaml_stream,
)

KATALOG_API_VERSION = "orkestra.orkspace.io/v1"
MIN_WORKERS, MAX_WORKERS = 1, 50
#: reconciler.weight: a box's share of the loop relative to the others' (runtime/loopshare.py).
MAX_WEIGHT = 100
# A workload autoscale without a cooldown would step again on the watch event of
# its own change, to min or max at once: one minute between steps unless told.
DEFAULT_SCALE_COOLDOWN = 60.0

# A CRD key appears in URLs and metric labels: a DNS label.
_DNS_LABEL = re.compile(r"[a-z0-9]([-a-z0-9]*[a-z0-9])?")
_GROUP = Shape(re.compile(r"[a-z0-9]([-a-z0-9.]*[a-z0-9])?"), "a DNS name such as demo.example.com")
_VERSION = Shape(_DNS_LABEL, "a version such as v1 or v1beta1")
_KIND = Shape(re.compile(r"[A-Z][A-Za-z0-9]*"), "a CamelCase name such as Website")
_PLURAL = Shape(_DNS_LABEL, "a lowercase plural such as websites")
_SELECTOR = Shape(
    re.compile(r"[-A-Za-z0-9_./=!, ()]+"), "a selector such as team=payments,tier!=db"
)
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
    # Orkestra's: honoured (enabled, mode: dynamic) or descriptive.
    "enabled",
    "description",
    "mode",
    "forceConflict",
    "labels",
    "normalize",
    "ignoreStatusPatch",
    "admission",
    *ADMISSION_KEYS,
    "allowedNamespaces",
    "restrictedNamespaces",
    "ignoreObservedGeneration",
    "removeFinalizers",
    "imports",
    "namespace",
    "setup",
    "serve",
    "labelSelector",
    "fieldSelector",
    "enrich",
    "enrichAll",
    *orkestra_keys.CRD_ENTRY,
)
_METADATA_KEYS = (
    "name",
    "labels",
    "annotations",
    # Descriptive (Orkestra's /katalog JSON and UI).
    "namespace",
    "clusterName",
    "author",
    "version",
    "description",
    "license",
    "tags",
    "createdBy",
    "projects",
)
_TOP_KEYS = (
    "apiVersion",
    "kind",
    "metadata",
    "spec",
    "profiles",
    "notes",
    "crossAccess",
    "lifecycle",
    "publish",
    "notification",
    "security",
    "gateway",
    *orkestra_keys.TOP_LEVEL,
)
_API_TYPES_KEYS = ("group", "version", "kind", "plural")
_MOTIF_KEYS = (
    "apiVersion",
    "kind",
    "metadata",
    "inputs",
    "resources",
    "status",
    "admission",
    "profiles",
    "notes",
)
_MOTIF_NAME = Shape(
    re.compile(r"[a-z0-9]([-a-z0-9.]*[a-z0-9])?"),
    "lowercase letters, digits, '-' and '.' (it is named in imports: [{motif: ...}])",
)
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
    # Orkestra's Gen B siblings and Gen C groups (ORKESTRA-LANGUAGE.md 1.0, 1.4).
    "finalizers",
    "preReconcile",
    "observe",
    "watch",
    "runtime",
    "reconcile",
    "emit",
    "rollback",
    "rollBackOnError",
    *orkestra_keys.BOX,
)
_RECONCILER_KEYS = (
    "workers",
    "resync",
    "timeout",
    "queue",
    "profile",
    "default",
    "requeue",
    "weight",
    "hooks",  # HTTP hooks (hooks.external): read with the box's external calls
    "remote",  # a remote reconciler: read with them too
)
# Gen C: `reconcile` holds the reconciler settings and the three phases.
_RECONCILE_KEYS = (
    *_RECONCILER_KEYS,
    "onCreate",
    "onReconcile",
    "onDelete",
    "imports",  # read with the CRD entry's (crd_imports)
    *orkestra_keys.RECONCILER,
)
_OBSERVE_KEYS = ("cross", "watch", "events", "strategy", *orkestra_keys.OBSERVE)
_EVENT_WATCH_KEYS = ("reason", "type", "regarding", "reportingController", "keyFrom")
_RUNTIME_KEYS = ("autoscale", "finalizers")
_EMIT_KEYS = ("status",)
_PRE_RECONCILE_KEYS = ("sentinels", "enqueueGate", "reconcileGate", "external")
_WATCH_KEYS = ("apiVersion", "kind", "namespace", "name", "on", "keyFrom", "index", "enqueueGate")
#: A namespace, or an object's name (RFC 1123 subdomain): one watched object.
_OBJECT_NAME = Shape(
    re.compile(r"[a-z0-9]([-a-z0-9.]*[a-z0-9])?"), "a Kubernetes name such as shared-config"
)
_WATCH_EVENTS = ("add", "update", "delete")
_STATUS_FIELD_KEYS = ("path", "value", "type", "when", "or", "clearOnFalse")
# Status fields the runtime writes itself.
_RESERVED_STATUS_PATHS = frozenset({"conditions", "observedGeneration"})
# Top-level names of the template context (KATALOG.md); a forEach item may not hide them.
CONTEXT_ROOTS = frozenset(
    {
        "metadata",
        "spec",
        "status",
        "cross",
        "children",
        "metrics",
        "health",
        "external",
        *TOP_LEVEL_ENRICHMENTS,
    }
)


def load_katalog(path: str | Path) -> Katalog:
    """Load and validate one Katalog file; raise :class:`KatalogError` listing every issue."""
    return load_katalogs([path]).katalogs[0]


def load_katalogs(paths: Iterable[str | Path]) -> KatalogSet:
    """Load several Katalog files as one set: CRD keys unique, references resolved.

    A file may hold several YAML documents: one Katalog and any number of
    ``kind: Motif`` documents; a file of Motifs only lends them to the others.
    """
    katalogs: list[Katalog] = []
    issues: list[KatalogIssue] = []
    all_read = True
    # The same file given twice (a shell glob and a name) is read once.
    unique: dict[Path, str | Path] = {}
    for path in paths:
        unique.setdefault(Path(path).resolve(), path)
    # Files a Komposer or a Katalog's spec.imports names join the set as if given.
    pending = list(unique.values())
    files: list[_ParsedFile] = []
    while pending:
        parsed = _parse_file(pending.pop(0))
        issues.extend(parsed.issues)
        all_read = all_read and parsed.readable
        files.append(parsed)
        for document, _ in parsed.documents:
            for extra in imported_files(document, parsed.path):
                if extra.resolve() not in unique:
                    unique[extra.resolve()] = extra
                    pending.append(extra)
    library = MotifLibrary()
    overrides: dict[str, Override] = {}
    komposers: list[tuple[Komposer, SourceMap]] = []
    for parsed in files:
        issues.extend(_lend_motifs(parsed, library))
        for document, source_map in parsed.documents:
            if is_komposer_document(document):
                komposer, found = read_komposer(document, source_map, parsed.path)
                issues.extend(found)
                komposers.append((komposer, source_map))
                for key, override in komposer.overrides.items():
                    overrides.setdefault(key, override)
    for parsed in files:
        katalog, found = _read_parsed(parsed, library, overrides)
        issues.extend(found)
        if katalog is not None:
            katalogs.append(katalog)
    declared_keys = {key for katalog in katalogs for key in katalog.crds}
    for key, override in overrides.items():
        if key not in declared_keys and all_read:
            position = override.source_map.key_at(override.path)
            issues.append(
                KatalogIssue(
                    override.source_map.file,
                    position.line,
                    position.column,
                    "spec.crds." + key,
                    f"no Katalog of the set declares CRD {key!r} to override",
                )
            )
    if not katalogs and not issues:
        if files:  # Motifs only
            message = "holds no Katalog (give the Katalog that imports its Motifs too)"
            raise KatalogError([KatalogIssue(files[0].name, 1, 1, "", message)])
        raise KatalogError([KatalogIssue("<none>", 0, 0, "", "no Katalog file given")])
    # When a file could not be read at all, references into it cannot be
    # checked; the other checks still run so the user sees them now.
    issues.extend(validate_katalogs(katalogs, complete=all_read))
    refused, warnings = _lifecycle_findings(katalogs, komposers, datetime.date.today())
    issues.extend(refused)
    warnings.extend(cross_access_warnings(katalogs))
    order = [str(path) for path in unique.values()]
    if issues:
        raise KatalogError(_ordered(issues, order))
    crds = {key: crd for katalog in katalogs for key, crd in katalog.crds.items()}
    companions = tuple(
        parsed.path
        for parsed in files
        if parsed.documents and not any(_is_katalog_document(d) for d, _ in parsed.documents)
    )
    return KatalogSet(
        tuple(katalogs),
        FrozenMap(crds),
        companion_files=companions,
        warnings=tuple(_ordered(warnings, order)),
    )


def _lifecycle_findings(
    katalogs: Sequence[Katalog],
    komposers: Sequence[tuple[Komposer, SourceMap]],
    today: datetime.date,
) -> tuple[list[KatalogIssue], list[KatalogIssue]]:
    """(errors, warnings) of the Katalogs' lifecycles: their own deprecations, and what
    each Komposer accepts of the Katalogs it imports (:mod:`.lifecycle`)."""
    errors: list[KatalogIssue] = []
    warnings: list[KatalogIssue] = []
    for katalog in katalogs:
        warnings.extend(katalog.warnings)
        where = katalog.lifecycle.location if katalog.lifecycle else None
        for message in own_warnings(katalog.name, katalog.lifecycle, today):
            assert where is not None
            warnings.append(KatalogIssue(where.file, where.line, where.column, where.path, message))
    by_file = {katalog.source_file.resolve(): katalog for katalog in katalogs}
    for komposer, source_map in komposers:
        for file, path in komposer.imports:
            imported = by_file.get(file)
            if imported is None:
                continue
            pattern = Pattern(
                name=imported.name,
                author=str(imported.info.get("author") or ""),
                version=str(imported.info.get("version") or ""),
                lifecycle=imported.lifecycle,
            )
            found_errors, found_warnings = import_findings(komposer.policy, pattern, today)
            position = source_map.value_at(path)
            at = (source_map.file_of(position), position.line, position.column, format_path(path))
            errors.extend(KatalogIssue(*at, message) for message in found_errors)
            warnings.extend(KatalogIssue(*at, message) for message in found_warnings)
    return errors, warnings


def read_katalog(path: str | Path) -> tuple[Katalog | None, list[KatalogIssue]]:
    """Read one file into the model without cross-file checks.

    Returns the Katalog (built with defaults in place of bad values, so it is
    only trustworthy when the issue list is empty) and the issues found.
    None when the file cannot be read or parsed at all, or holds no Katalog.
    Motifs it imports by name come from the same file or beside it.
    """
    parsed = _parse_file(path)
    library = MotifLibrary()
    issues = [*parsed.issues, *_lend_motifs(parsed, library)]
    katalog, found = _read_parsed(parsed, library, {})
    return katalog, [*issues, *found]


@attrs.define
class _ParsedFile:
    """One file's YAML documents, before they are read into the model."""

    path: Path
    name: str
    documents: list[tuple[Any, SourceMap]]
    issues: list[KatalogIssue]
    readable: bool


def _parse_file(path: str | Path) -> _ParsedFile:
    try:
        documents = load_yaml_stream(path)
    except YamlSourceError as exc:
        issue = KatalogIssue(exc.file, exc.line, exc.column, "", exc.message)
        return _ParsedFile(Path(path), str(path), [], [issue], False)
    if not documents:
        issue = KatalogIssue(str(path), 1, 1, "", "the file holds no YAML document")
        return _ParsedFile(Path(path), str(path), [], [issue], False)
    return _ParsedFile(Path(path), str(path), documents, [], True)


def _lend_motifs(parsed: _ParsedFile, library: MotifLibrary) -> list[KatalogIssue]:
    """Add the file's Motif documents to ``library``; a second of one name and version is an error."""
    issues: list[KatalogIssue] = []
    for document, source_map in parsed.documents:
        if not is_motif_document(document):
            continue
        name, version = motif_identity(document)
        if not name:
            continue  # reported when the Motif is read
        source = MotifSource(name, version, document, source_map, parsed.path)
        other = library.add(source)
        if other is not None:
            position = source_map.value_at(("metadata", "name"))
            issues.append(
                KatalogIssue(
                    source_map.file,
                    position.line,
                    position.column,
                    "metadata.name",
                    f"Motif {name!r}{f' version {version}' if version else ''} is already "
                    f"declared at {other.where}",
                )
            )
    return issues


def _is_katalog_document(document: Any) -> bool:
    """Every document but a Motif or a Komposer is read as a Katalog (and refused if not one)."""
    return not is_motif_document(document) and not is_komposer_document(document)


def _read_parsed(
    parsed: _ParsedFile, library: MotifLibrary, overrides: dict[str, Override]
) -> tuple[Katalog | None, list[KatalogIssue]]:
    """The file's one Katalog document read into the model (None: it has none)."""
    katalogs = [(d, m) for d, m in parsed.documents if _is_katalog_document(d)]
    if not katalogs:
        return None, []
    issues: list[KatalogIssue] = []
    for _, source_map in katalogs[1:]:
        position = source_map.value_at(())
        issues.append(
            KatalogIssue(
                source_map.file,
                position.line,
                position.column,
                "",
                "a file holds one Katalog (and any number of Motifs); give this one its own file",
            )
        )
    document, source_map = katalogs[0]
    reader = _KatalogReader(source_map, parsed.path)
    reader.motifs = library
    reader.overrides = overrides
    katalog = reader.katalog(document)
    if katalog is not None:
        katalog = attrs.evolve(katalog, warnings=tuple(reader.warnings))
    return katalog, [*issues, *reader.issues]


def _ordered(issues: Sequence[KatalogIssue], files: Sequence[str]) -> list[KatalogIssue]:
    """Issues each once, file by file in the order given, then by position."""
    rank = {file: index for index, file in enumerate(files)}
    unique = list(dict.fromkeys(issues))
    return sorted(unique, key=lambda i: (rank.get(i.file, len(rank)), i.line, i.column))


class _KatalogReader(ImportReader, ExternalCallReader):
    """Builds the model of one Katalog document, collecting issues on the way."""

    #: A Komposer's ``spec.crds`` overrides, by CRD key.
    overrides: dict[str, Override] = {}
    #: The external calls of the box being read, by phase, and the names they took.
    box_calls: dict[str, tuple[ExternalCall, ...]]
    call_names: dict[str, KeyPath]

    cross_access_default = True
    katalog_finalizers: tuple[str, ...] = ()
    #: The box being read: ``reconcileGate.eventAware``.
    event_aware: bool = False
    #: The CRD entry being read: its forceConflict, every entry's default.
    force_conflict: bool = True

    # -- Orkestra's Katalog-level keys --------------------------------------

    def read_profiles(
        self, top: dict[str, Any], imported: dict[str, dict[str, Any]]
    ) -> dict[str, dict[str, Any]]:
        """Built-in profiles, then imported (Motifs), then the Katalog's own; the later wins."""
        merged = {category: dict(named) for category, named in profiles.BUILTIN.items()}
        for layer in (imported, self.own_profiles(top)):
            for category, named in layer.items():
                merged.setdefault(category, {}).update(named)
        return merged

    def own_profiles(self, top: dict[str, Any]) -> dict[str, dict[str, Any]]:
        """The document's own ``profiles:`` (with its ``include:`` files), by category."""
        out: dict[str, dict[str, Any]] = {}
        section = self.section(top, (), "profiles", allowed=profiles.CATEGORIES, include=True)
        if section is None:
            return out
        for category, named in section.items():
            here: KeyPath = ("profiles", category)
            body = self.mapping(named, here, allowed=None)
            if body is None or category not in profiles.BUILTIN:
                continue
            for name, value in body.items():
                if self.mapping(value, (*here, name), allowed=None) is not None:
                    out.setdefault(category, {})[name] = value
        return out

    def profile_body(self, category: str, m: dict[str, Any], path: KeyPath) -> dict[str, Any]:
        """The profile ``m['profile']`` names in ``category`` ({} when none is named)."""
        name = m.get("profile")
        if name is None:
            return {}
        here = (*path, "profile")
        if not isinstance(name, str):
            self.report(here, f"expected a profile name, got {describe(name)}")
            return {}
        known = self.profile_table.get(category, {})
        if name not in known:
            hint = did_you_mean(name, known) or (
                f" (known: {', '.join(sorted(known))})" if known else ""
            )
            self.report(here, f"unknown {category} profile {name!r}{hint}")
            return {}
        return dict(known[name])

    def with_profile(self, category: str, value: Any, path: KeyPath) -> Any:
        """``{profile: x, ...overrides}`` resolved to the profile with the overrides laid over."""
        if not isinstance(value, dict) or "profile" not in value:
            return value
        base = self.profile_body(category, value, path)
        return deep_merge(base, {k: v for k, v in value.items() if k != "profile"})

    def read_notes(self, top: dict[str, Any]) -> dict[str, str]:
        """User notes (template functions), in any of Orkestra's three shapes."""
        value = top.get("notes")
        out: dict[str, str] = {}
        if value is None:
            return out
        here: KeyPath = ("notes",)
        items: list[tuple[Any, KeyPath]] = []
        if isinstance(value, dict) and isinstance(value.get("functions"), list):
            self.mapping(value, here, allowed=("functions",))
            items = [(v, (*here, "functions", i)) for i, v in enumerate(value["functions"])]
        elif isinstance(value, list):
            items = [(v, (*here, i)) for i, v in enumerate(value)]
        elif isinstance(value, dict):
            for name, body in value.items():
                body_map = self.mapping(body, (*here, name), allowed=("expression", "description"))
                if body_map is not None:
                    items.append(({**body_map, "name": name}, (*here, name)))
        else:
            self.report(here, f"expected notes: {{functions: [...]}}, got {describe(value)}")
        for item, path in items:
            m = self.mapping(
                item, path, allowed=("name", "expression", "description"), required=("name",)
            )
            if m is None:
                continue
            name = self.string(m, path, "name", required=True, shape=_AS_NAME)
            expression = self.string(m, path, "expression", required=True)
            if name and expression:
                if name in templates.REGISTRY:
                    # As in Orkestra, the function of that name wins; there it is silent.
                    self.warn(
                        (*path, "name"),
                        f"note {name!r} is never called: the function {name} wins, as in "
                        "Orkestra; rename the note",
                    )
                    continue
                out[name] = expression
        self.set_notes(out)
        return out

    def finalizer_names(
        self, parent: dict[str, Any], path: KeyPath, *, key: str = "finalizers"
    ) -> tuple[str, ...]:
        """``finalizers: [name]`` (also ``[{name: ...}]``): qualified names, as Kubernetes wants."""
        out: list[str] = []
        for index, item in enumerate(self.items(parent, path, key)):
            here = (*path, key, index)
            name = item.get("name") if isinstance(item, dict) else item
            if not isinstance(name, str) or not _FINALIZER.fullmatch(name):
                self.report(
                    here, f"expected a finalizer such as example.com/cleanup, got {describe(name)}"
                )
                continue
            out.append(name)
        return tuple(out)

    def pre_reconcile(
        self, m: dict[str, Any], path: KeyPath
    ) -> tuple[tuple[Condition, ...], tuple[Condition, ...], EnqueueGate | None]:
        """preReconcile: the reconcileGate joins the box's gate; the enqueueGate filters updates."""
        declared = self.sentinel_names(m, path, "sentinels", declared=None)
        gate_when: tuple[Condition, ...] = ()
        gate_or: tuple[Condition, ...] = ()
        gate = self.section(m, path, "reconcileGate", allowed=("when", "or", "eventAware"))
        if gate is not None:
            here = (*path, "reconcileGate")
            gate_when = self.conditions(gate, here, "when")
            gate_or = self.conditions(gate, here, "or")
            self.event_aware = self.boolean(gate, here, "eventAware", False)
        return gate_when, gate_or, self.enqueue_gate(m, path, declared=declared)

    def enqueue_gate(
        self, m: dict[str, Any], path: KeyPath, *, declared: tuple[str, ...] | None
    ) -> EnqueueGate | None:
        """``enqueueGate: {sentinels, failPolicy}`` (preReconcile's, or a watch's)."""
        eg = self.section(m, path, "enqueueGate", allowed=("sentinels", "failPolicy"))
        if eg is None:
            return None
        here = (*path, "enqueueGate")
        return EnqueueGate(
            sentinels=self.sentinel_names(eg, here, "sentinels", declared=declared),
            fail_open=(self.string(eg, here, "failPolicy", choices=("open", "closed")) or "open")
            == "open",
        )

    def sentinel_names(
        self, m: dict[str, Any], path: KeyPath, key: str, *, declared: tuple[str, ...] | None
    ) -> tuple[str, ...]:
        out: list[str] = []
        for index, item in enumerate(self.items(m, path, key)):
            here = (*path, key, index)
            if item not in SENTINELS:
                hint = did_you_mean(str(item), SENTINELS)
                self.report(here, f"unknown sentinel {item!r}{hint}")
            elif declared is not None and declared and item not in declared:
                self.report(here, f"sentinel {item!r} is not declared in preReconcile.sentinels")
            else:
                out.append(str(item))
        return tuple(out)

    def event_watches(
        self, observe: dict[str, Any] | None, path: KeyPath
    ) -> tuple[EventWatch, ...]:
        """``observe.events: {<name>: {reason, type, regarding: {kind}, keyFrom}}``."""
        events = self.section(observe, path, "events", allowed=None) if observe else None
        out: list[EventWatch] = []
        for name, value in (events or {}).items():
            at = (*path, "events", name)
            if not isinstance(name, str) or not _AS_NAME.pattern.fullmatch(name):
                self.report(at, f"an event watch's name must be an identifier, got {name!r}")
                continue
            m = self.mapping(value, at, allowed=_EVENT_WATCH_KEYS)
            if m is None:
                continue
            regarding = self.section(m, at, "regarding", allowed=("kind", "apiVersion"))
            key_from = self.section(m, at, "keyFrom", allowed=("label", "name", "namespace"))
            kf = (*at, "keyFrom")
            label = self.string(key_from, kf, "label", required=True) if key_from else None
            key_name = self.text_at(key_from, kf, "name", required=True) if key_from else None
            if label and key_name:
                self.report(kf, "keyFrom takes label or name, not both")
            out.append(
                EventWatch(
                    name=name,
                    reason=self.string(m, at, "reason", required=True),
                    type=self.string(m, at, "type", choices=("Normal", "Warning")),
                    regarding_kind=self.string(regarding, (*at, "regarding"), "kind", shape=_KIND)
                    if regarding
                    else None,
                    reporting_controller=self.string(m, at, "reportingController", required=True),
                    key_label=label,
                    key_name=key_name,
                    key_namespace=self.text_at(key_from, kf, "namespace", required=True)
                    if key_from
                    else None,
                    location=self.location(at),
                )
            )
        return tuple(out)

    def watches(
        self, box: dict[str, Any], path: KeyPath, observe: dict[str, Any] | None
    ) -> tuple[Watch, ...]:
        parent, here = box, path
        if observe is not None and observe.get("watch") is not None:
            parent, here = observe, (*path, "observe")
            if box.get("watch") is not None:
                self.report((*path, "watch"), "watch is also written under observe; keep one")
        out: list[Watch] = []
        for index, item in enumerate(self.items(parent, here, "watch")):
            at = (*here, "watch", index)
            m = self.mapping(item, at, allowed=_WATCH_KEYS, required=("apiVersion", "kind"))
            if m is None:
                continue
            self.watch_indexes(m, at)  # checked, kept nowhere: nothing reads an index
            on: list[str] = []
            for i, event in enumerate(self.items(m, at, "on")):
                if event not in _WATCH_EVENTS:
                    self.report((*at, "on", i), f"expected one of {', '.join(_WATCH_EVENTS)}")
                else:
                    on.append(event)
            key_from = self.section(m, at, "keyFrom", allowed=("label", "name", "namespace"))
            label = name = namespace = None
            if key_from is not None:
                kf = (*at, "keyFrom")
                label = self.string(key_from, kf, "label", required=True)
                name = self.text_at(key_from, kf, "name", required=True)
                namespace = self.text_at(key_from, kf, "namespace", required=True)
                if label and name:
                    self.report(kf, "keyFrom takes label or name, not both")
            out.append(
                Watch(
                    api_version=self.string(m, at, "apiVersion", required=True) or "",
                    kind=self.string(m, at, "kind", required=True, shape=_KIND) or "",
                    namespace=self.string(m, at, "namespace", shape=_OBJECT_NAME) or "",
                    name=self.string(m, at, "name", shape=_OBJECT_NAME) or "",
                    on=tuple(on) or _WATCH_EVENTS,
                    key_label=label,
                    key_name=name,
                    key_namespace=namespace,
                    location=self.location(at),
                    enqueue_gate=self.enqueue_gate(m, at, declared=None),
                )
            )
        return tuple(out)

    def watch_indexes(self, watch: dict[str, Any], path: KeyPath) -> None:
        """``index: [{name, field}]``: Orkestra's named indexes of watched objects. No
        template or selector here reads them, so they are only checked (docs/katalog.md)."""
        for index, item in enumerate(self.items(watch, path, "index")):
            here = (*path, "index", index)
            m = self.mapping(item, here, allowed=("name", "field"), required=("name", "field"))
            if m is not None:
                self.string(m, here, "name", required=True, shape=_AS_NAME)
                field = self.string(m, here, "field", required=True)
                if field is not None and not DOT_PATH.fullmatch(field):
                    self.report((*here, "field"), f"expected a dot path such as a.b, got {field!r}")

    def on_delete(
        self, parent: dict[str, Any], path: KeyPath
    ) -> tuple[Resources, OrderedDelete | None]:
        """onDelete: resource groups, or Orkestra's ordered form {ordered, timeout, groups}."""
        value = parent.get("onDelete")
        if not isinstance(value, dict) or not (
            "ordered" in value or "groups" in value or "timeout" in value
        ):
            return self.resources(parent, path, "onDelete"), None
        here = (*path, "onDelete")
        m = self.mapping(
            value, here, allowed=("ordered", "timeout", "groups"), required=("groups",)
        )
        if m is None:
            return EMPTY_MAP, None
        if m.get("ordered") is False:
            self.report((*here, "ordered"), "groups are deleted in order; write ordered: true")
        timeout = self.duration(m, here, "timeout", 300.0) or 300.0
        groups: list[OrderedGroup] = []
        for index, item in enumerate(self.items(m, here, "groups")):
            at = (*here, "groups", index)
            g = self.mapping(
                item, at, allowed=("name", "when", "or", *RESOURCE_GROUPS, *GROUP_ALIASES)
            )
            if g is None:
                continue
            body = {k: v for k, v in g.items() if k not in ("name", "when", "or")}
            groups.append(
                OrderedGroup(
                    name=self.string(g, at, "name") or f"group-{index}",
                    resources=self.resources({"_": body}, at, "_", label="onDelete", here=at),
                    when=self.conditions(g, at, "when"),
                    or_=self.conditions(g, at, "or"),
                )
            )
        return EMPTY_MAP, OrderedDelete(groups=tuple(groups), timeout=timeout)

    # -- a Motif document ---------------------------------------------------

    def motif(self, document: Any) -> MotifContent:
        """A ``kind: Motif`` document, read for a CRD that imports it."""
        top = self.mapping(
            document,
            (),
            allowed=_MOTIF_KEYS,
            required=("metadata",),
            what="a Motif (a mapping with metadata)",
        )
        if top is None:
            return MotifContent()
        if top.get("apiVersion") not in (None, KATALOG_API_VERSION):
            self.report(
                ("apiVersion",), f"expected {KATALOG_API_VERSION}, got {top['apiVersion']!r}"
            )
        meta = self.section(top, (), "metadata", allowed=_METADATA_KEYS, required=("name",))
        if meta is not None:
            self.string(meta, ("metadata",), "name", required=True, shape=_MOTIF_NAME)
        # The Motif's own notes serve its templates, over the importing Katalog's.
        self.set_notes({**self.notes, **self.read_notes(top)})
        self.own_profiles(top)  # checked here; only a Katalog-wide import takes them
        inputs = self.motif_inputs(top)
        groups = self.section(
            top,
            (),
            "resources",
            allowed=(*RESOURCE_GROUPS, *GROUP_ALIASES),
            refused={**_IGNORED_GROUPS, **orkestra_keys.GROUP_BLOCK},
            include=True,
        )
        resources: Resources = EMPTY_MAP
        if groups is not None:
            resources = self.resources(
                {"resources": groups}, (), "resources", label="onReconcile", here=("resources",)
            )
        status = self.section(top, (), "status", allowed=("fields",), include=True)
        admission = self.section(top, (), "admission", allowed=None)
        declared = {item.name for item in inputs}
        for key in ("resources", "status", "admission"):
            self.undeclared_inputs(top.get(key), (key,), declared)
        return MotifContent(
            inputs=inputs,
            resources=resources,
            status_fields=self.status(status, ("status",)).fields if status is not None else (),
            admission=admission,
        )

    # -- the document ------------------------------------------------------

    def katalog(self, document: Any) -> Katalog:
        name = ""
        crds: dict[str, CrdEntry] = {}
        info: dict[str, Any] = {}
        lifecycle = None
        security = NO_SECURITY
        gateway = NO_GATEWAY
        top = self.mapping(
            document,
            (),
            allowed=_TOP_KEYS,
            required=("metadata", "spec"),
            what="a Katalog (a mapping with metadata and spec)",
            refused=orkestra_keys.TOP_LEVEL,
        )
        if top is not None:
            api_version = top.get("apiVersion")
            if api_version is not None and api_version != KATALOG_API_VERSION:
                self.report(("apiVersion",), f"expected {KATALOG_API_VERSION}, got {api_version!r}")
            kind = top.get("kind")
            if isinstance(kind, str) and kind in orkestra_keys.DOCUMENT_KINDS:
                self.report(("kind",), orkestra_keys.DOCUMENT_KINDS[kind])
            elif kind is not None and kind != "Katalog":
                self.report(("kind",), f"expected Katalog, got {kind!r}")
            lifecycle = read_lifecycle(self, top)
            meta = self.section(top, (), "metadata", allowed=_METADATA_KEYS, required=("name",))
            if meta is not None:
                name = self.string(meta, ("metadata",), "name", required=True) or ""
                self.text_map(meta, ("metadata",), "labels")
                self.text_map(meta, ("metadata",), "annotations")
                info = {k: v for k, v in meta.items() if k not in ("name", "labels", "annotations")}
            spec_value = top.get("spec")
            imported_profiles, imported_notes = self.katalog_imports(
                spec_value if isinstance(spec_value, dict) else {}
            )
            self.profile_table = self.read_profiles(top, imported_profiles)
            # The Katalog's own notes win over imported ones of the same name.
            self.set_notes({**imported_notes, **self.read_notes(top)})
            self.cross_access_default = self.boolean(top, (), "crossAccess", True)
            # Before the CRDs: their conditions' notify: name its teams.
            notification = self.notification(top, name)
            spec = self.section(
                top,
                (),
                "spec",
                allowed=("crds", "finalizers", "imports", *orkestra_keys.SPEC),
                required=("crds",),
                refused=orkestra_keys.SPEC,
            )
            if spec is not None:
                self.katalog_finalizers = self.finalizer_names(spec, ("spec",))
                crds = self.crds(spec)
            if notification is not None:
                crds = {
                    key: attrs.evolve(
                        crd, notification=notification, notify=notify_conditions(crd.operator_box)
                    )
                    for key, crd in crds.items()
                }
            security = read_security(self, top)
            gateway = read_gateway(self, top)
            self.check_serve_tokens(gateway, crds)
            if security.deletion.enabled:
                crds = {
                    key: attrs.evolve(crd, deletion_protected=True) for key, crd in crds.items()
                }
        return Katalog(
            name=name,
            source_file=Path(self.file),
            crds=FrozenMap(crds),
            info=FrozenMap(info),
            read_files=tuple(p for p in dict.fromkeys(self.read_files) if p != Path(self.file)),
            lifecycle=lifecycle,
            security=security,
            gateway=gateway,
        )

    def check_serve_tokens(self, gateway: Gateway, crds: Mapping[str, CrdEntry]) -> None:
        """A served CRD needs the gateway API on, and its ``serve.tokens`` name declared tokens."""
        declared = {token.name for token in gateway.tokens}
        for key, crd in crds.items():
            serve = crd.serve
            if serve is None:
                continue
            path: KeyPath = ("spec", "crds", key, "serve")
            if serve.enabled and not gateway.api_enabled:
                self.report(path, "serve.enabled needs gateway.api.enabled: true on the Katalog")
            grants = [("tokens", serve.tokens)] + [
                (f"target.{t.name}.tokens", t.tokens) for t in serve.targets if t.tokens
            ]
            for where, tokens in grants:
                for name in tokens or {}:
                    if name not in declared:
                        self.report(
                            (*path, *where.split("."), name),
                            f"token {name!r} is not declared in gateway.api.auth.tokens"
                            f"{did_you_mean(name, sorted(declared))}",
                            at_key=True,
                        )

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
            override = self.overrides.get(key)
            if override is not None and isinstance(value, dict):
                # The Komposer's values win (Orkestra's override rule).
                value = section[key] = dict(value)
                self.lay_in(
                    value,
                    override.value,
                    (*path, key),
                    override.source_map,
                    override.path,
                    override=True,
                )
            entry = self.crd(key, value, (*path, key))
            if entry is not None:
                out[key] = entry
        return out

    def crd(self, key: str, value: Any, path: KeyPath) -> CrdEntry | None:
        m = self.mapping(
            value,
            path,
            allowed=_CRD_KEYS,
            required=("apiTypes",),
            refused=orkestra_keys.CRD_ENTRY,
        )
        if m is None:
            return None
        imported = self.crd_imports(m, path)
        api_types = self.api_types(m, path)
        endpoints = self.section(m, path, "endpoints", allowed=("enabled", "health", "info"))
        box = self.section(
            m, path, "operatorBox", allowed=_BOX_KEYS, refused=orkestra_keys.BOX, include=True
        )
        # The CRD's forceConflict is every entry's default (read before the entries).
        self.force_conflict = self.boolean(m, path, "forceConflict", True)
        operator_box = self.operator_box(box, (*path, "operatorBox")) if box is not None else None
        if imported:
            operator_box = self.with_imports(operator_box or OperatorBox(), imported)
        if m.get("mode") not in (None, "dynamic"):
            self.report(
                (*path, "mode"),
                "only mode: dynamic is supported (typed mode needs Go types compiled into Orkestra)",
            )
        label_selector, field_selector = self.crd_selectors(m, path, api_types, operator_box)
        enrich = self.enrich(m, path)
        builtin = (api_types.group, api_types.kind) in BUILTIN_KINDS
        admission = self.admission(m, path)
        hooks = admission.webhooks
        if builtin and (hooks.validation or hooks.mutation or admission.conversion is not None):
            # The admission hooks register per resource (group/plural), without the
            # box's labelSelector: they would admit every object of the kind.
            self.report(
                path,
                f"webhooks and conversion cannot serve the built-in kind {api_types.kind}: "
                "they would admit every object of the kind, not only the selected ones (the "
                "rules still run at each reconcile without them)",
                at_key=True,
            )
        return CrdEntry(
            key=key,
            api_types=api_types,
            label_selector=label_selector,
            field_selector=field_selector,
            enrich=tuple(item.name for item in enrich),
            enrich_items=enrich,
            namespaced=self.boolean(m, path, "namespaced", True),
            crd_file=self.file_path(m, path, "crdFile"),
            cr_files=self.file_paths(m, path, "crFiles"),
            setup=self.file_paths(m, path, "setup"),
            depends_on=self.depends_on(m, path),
            cross_access=self.boolean(m, path, "crossAccess", self.cross_access_default),
            endpoints=Endpoints(
                **{
                    toggle: self.boolean(endpoints, (*path, "endpoints"), toggle, True)
                    for toggle in ("enabled", "health", "info")
                }
            )
            if endpoints is not None
            else Endpoints(),
            operator_box=operator_box,
            location=self.location(path, at_key=True),
            enabled=self.boolean(m, path, "enabled", True),
            description=self.string(m, path, "description") or "",
            labels=self.text_map(m, path, "labels"),
            normalize=self.normalize(m, path),
            # A built-in kind's status belongs to its own controller: never written.
            ignore_status_patch=builtin or self.boolean(m, path, "ignoreStatusPatch", False),
            admission=admission,
            namespace=self.crd_namespace(m, path),
            allowed_namespaces=self.namespace_names(m, path, "allowedNamespaces"),
            restricted_namespaces=self.namespace_names(m, path, "restrictedNamespaces"),
            ignore_observed_generation=self.boolean(m, path, "ignoreObservedGeneration", False),
            remove_finalizers=()
            if isinstance(m.get("removeFinalizers"), bool)
            else self.finalizer_names(m, path, key="removeFinalizers"),
            remove_own_finalizers=m.get("removeFinalizers") is True,
            serve=read_serve(
                self,
                m,
                path,
                kind=api_types.kind,
                namespaced=self.boolean(m, path, "namespaced", True),
            ),
        )

    def enrich(self, crd: dict[str, Any], path: KeyPath) -> tuple[EnrichItem, ...]:
        """``enrich: [pods, {events: {when: [...]}}]`` or ``enrichAll: true``: the targets.

        An item is a target's name (Orkestra's aliases accepted) or a one-key mapping
        of the name to its ``when``/``or`` gate; a target named twice is kept once.
        """
        every = self.boolean(crd, path, "enrichAll", False)
        if every and crd.get("enrich") is not None:
            self.report((*path, "enrichAll"), "set enrichAll or enrich, not both")
        if every:
            return tuple(EnrichItem(name) for name in ENRICHMENTS)
        out: dict[str, EnrichItem] = {}
        expected = ", ".join(ENRICHMENTS)
        for index, item in enumerate(self.items(crd, path, "enrich")):
            here = (*path, "enrich", index)
            name, gate = item, None
            if isinstance(item, dict):
                if len(item) != 1:
                    self.report(here, "write one target per item: {events: {when: [...]}}")
                    continue
                name, gate = next(iter(item.items()))
            if not isinstance(name, str) or ENRICH_ALIASES.get(name, name) not in ENRICHMENTS:
                hint = did_you_mean(name, ENRICHMENTS) if isinstance(name, str) else ""
                self.report(here, f"unknown enrichment {describe(name)}{hint}: expected {expected}")
                continue
            canonical = ENRICH_ALIASES.get(name, name)
            when: tuple[Condition, ...] = ()
            or_: tuple[Condition, ...] = ()
            if gate is not None:
                at = (*here, name)
                body = self.mapping(gate, at, allowed=("when", "or"))
                if body is None:
                    continue
                when, or_ = self.conditions(body, at, "when"), self.conditions(body, at, "or")
            if canonical not in out:
                out[canonical] = EnrichItem(canonical, when, or_)
        return tuple(out.values())

    def crd_selectors(
        self,
        crd: dict[str, Any],
        path: KeyPath,
        api_types: ApiTypes,
        box: OperatorBox | None,
    ) -> tuple[str, str]:
        """``labelSelector``/``fieldSelector``: the box's informer filters.

        Required (the label selector) for a built-in kind, as in Orkestra: the
        box must own a named subset of the cluster's Deployments, not all. Such
        a box writes no status (the kind's controller owns it), so declared
        status fields are refused.
        """
        label = self.string(crd, path, "labelSelector", shape=_SELECTOR) or ""
        field = self.string(crd, path, "fieldSelector", shape=_SELECTOR) or ""
        if (api_types.group, api_types.kind) not in BUILTIN_KINDS:
            return label, field
        if not label:
            self.report(
                path,
                f"labelSelector is required for an operator over the built-in kind "
                f"{api_types.kind}: name the objects this box owns (e.g. labelSelector: "
                "team=payments)",
                at_key=True,
            )
        if crd.get("crdFile") is not None:
            self.report(
                (*path, "crdFile"),
                f"{api_types.kind} is a built-in kind: it has no CRD file",
                at_key=True,
            )
        if box is not None and box.status.fields:
            self.report(
                path,
                f"status fields cannot be written on the built-in kind {api_types.kind}: "
                "its status belongs to its own controller",
                at_key=True,
            )
        return label, field

    def crd_namespace(self, crd: dict[str, Any], path: KeyPath) -> str:
        """``namespace``: the one namespace the box watches (namespaced CRDs only)."""
        name = self.string(crd, path, "namespace")
        if name is None:
            return ""
        if not _DNS_LABEL.fullmatch(name) or len(name) > 63:
            self.report((*path, "namespace"), f"expected a namespace name, got {name!r}")
            return ""
        if crd.get("namespaced") is False:
            self.report(
                (*path, "namespace"), "a cluster-scoped CRD (namespaced: false) has no namespace"
            )
            return ""
        return name

    def namespace_names(self, crd: dict[str, Any], path: KeyPath, key: str) -> tuple[str, ...]:
        """``allowedNamespaces``/``restrictedNamespaces``: a list of namespace names."""
        out: list[str] = []
        for index, item in enumerate(self.items(crd, path, key)):
            if not isinstance(item, str) or not _DNS_LABEL.fullmatch(item) or len(item) > 63:
                self.report((*path, key, index), f"expected a namespace name, got {describe(item)}")
                continue
            out.append(item)
        return tuple(out)

    def normalize(self, crd: dict[str, Any], path: KeyPath) -> FrozenMap[str, Text]:
        """``normalize: {spec: {dot.path: template}}`` (paths under .spec)."""
        m = self.section(crd, path, "normalize", allowed=("spec",))
        if m is None:
            return EMPTY_MAP
        rules = self.text_map(m, (*path, "normalize"), "spec")
        for key in rules:
            if not DOT_PATH.fullmatch(key.removeprefix("spec.")):
                self.report((*path, "normalize", "spec", key), f"invalid path {key!r}", at_key=True)
        return rules

    def api_types(self, crd: dict[str, Any], path: KeyPath) -> ApiTypes:
        here = (*path, "apiTypes")
        m = self.section(crd, path, "apiTypes", allowed=_API_TYPES_KEYS, required=_API_TYPES_KEYS)
        if m is None:
            return ApiTypes("", "", "", "")
        if m.get("group") in ("", "core") and ("", m.get("kind")) in BUILTIN_KINDS:
            # A core built-in kind (Pod, Service...): its group is the empty one.
            version, kind, plural = (
                self.string(m, here, key, required=True, shape=shape) or ""
                for key, shape in (("version", _VERSION), ("kind", _KIND), ("plural", _PLURAL))
            )
            return ApiTypes(group="", version=version, kind=kind, plural=plural)
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
        """Both layouts onto one model: the seeds' (Gen B) and Orkestra's newest (Gen C).

        Gen C groups the same keys under observe / preReconcile / runtime /
        reconcile / emit; each key is read from wherever it is written, with
        its own file position. A key written in both places is an error.
        """
        self.event_aware = False  # preReconcile.reconcileGate.eventAware, when read below
        # Known before any template is compiled: a template may call only these.
        raw_pre = box.get("preReconcile")
        raw_declared = raw_pre.get("sentinels") if isinstance(raw_pre, dict) else None
        self.declared_sentinels = (
            frozenset(name for name in raw_declared or () if isinstance(name, str))
            if isinstance(raw_declared, list)
            else frozenset()
        )
        groups = {
            "observe": self.section(
                box,
                path,
                "observe",
                allowed=_OBSERVE_KEYS,
                refused=orkestra_keys.OBSERVE,
                include=True,
            ),
            "runtime": self.section(box, path, "runtime", allowed=_RUNTIME_KEYS),
            "reconcile": self.section(
                box,
                path,
                "reconcile",
                allowed=_RECONCILE_KEYS,
                refused=orkestra_keys.RECONCILER,
                include=True,
            ),
            "emit": self.section(box, path, "emit", allowed=_EMIT_KEYS, refused=orkestra_keys.EMIT),
        }

        def place(key: str, *homes: str) -> tuple[dict[str, Any], KeyPath]:
            """(parent, path) of ``key``: the box itself or one of its Gen C groups."""
            found: list[tuple[dict[str, Any], KeyPath]] = []
            if box.get(key) is not None:
                found.append((box, path))
            for home in homes:
                group = groups.get(home)
                if group is not None and group.get(key) is not None:
                    found.append((group, (*path, home)))
            if len(found) > 1:
                self.report(
                    (*found[1][1], key),
                    f"{key} is also written at {'.'.join(map(str, found[0][1]))}; keep one",
                    at_key=True,
                )
            return found[0] if found else (box, path)

        requeue_parent, requeue_path = place("requeue", "reconcile")
        reconciler_parent, reconciler_path = place("reconciler")
        if groups["reconcile"] is not None:
            reconciler_parent, reconciler_path = box, path
            if box.get("reconciler") is not None:
                self.report(
                    (*path, "reconciler"),
                    "reconciler (the seeds' layout) and reconcile (the newest) are both "
                    "given; keep one",
                    at_key=True,
                )
        legacy_requeue = self.reconciler_requeue(reconciler_parent, reconciler_path)
        requeue = self.requeue_rules(requeue_parent, requeue_path)
        status_parent, status_path = place("status", "emit")
        status = self.section(
            status_parent, status_path, "status", allowed=("conditions", "fields"), include=True
        )
        autoscale_parent, autoscale_path = place("autoscale", "runtime")
        autoscale = self.section(
            autoscale_parent,
            autoscale_path,
            "autoscale",
            allowed=("interval", "cooldown", "conditions", "do"),
        )
        cross_parent, cross_path = place("cross", "observe")
        phases = {phase: place(phase, "reconcile") for phase in ("onCreate", "onReconcile")}
        delete_parent, delete_path = place("onDelete", "reconcile")
        finalizers_parent, finalizers_path = place("finalizers", "runtime")
        reconciler = (
            self.reconciler_settings(groups["reconcile"], (*path, "reconcile"))
            if groups["reconcile"] is not None
            else self.reconciler(box, path)
        )
        pre = self.section(box, path, "preReconcile", allowed=_PRE_RECONCILE_KEYS)
        gate_when: tuple[Condition, ...] = ()
        gate_or: tuple[Condition, ...] = ()
        enqueue_gate = None
        self.box_calls, self.call_names = {}, {}
        if pre is not None:
            gate_when, gate_or, enqueue_gate = self.pre_reconcile(pre, (*path, "preReconcile"))
            self.box_calls["preReconcile"] = self.external_calls(
                pre, (*path, "preReconcile"), "preReconcile", taken=self.call_names
            )
        hooks_parent, hooks_path = (
            (groups["reconcile"], (*path, "reconcile"))
            if groups["reconcile"] is not None
            else (box.get("reconciler"), (*path, "reconciler"))
        )
        remote = None
        if isinstance(hooks_parent, dict):
            self.box_calls["hooks"] = self.hook_calls(hooks_parent, hooks_path, self.call_names)
            remote = self.remote_reconciler(
                hooks_parent, hooks_path, templates=hooks_parent.get("default") is not False
            )
            if remote is not None and not remote.templates:
                for phase, (parent, at) in phases.items():
                    if parent.get(phase) is not None:
                        self.report(
                            (*at, phase),
                            f"{phase} does not run: default: false leaves the children to the "
                            "remote reconciler",
                            at_key=True,
                        )
        on_delete, ordered = self.on_delete(delete_parent, delete_path)
        return OperatorBox(
            reconciler=reconciler,
            requeue=requeue or legacy_requeue,
            when=(*self.conditions(box, path, "when"), *gate_when),
            or_=(*self.conditions(box, path, "or"), *gate_or),
            cross=self.cross_entries(cross_parent, cross_path),
            on_create=self.resources(*phases["onCreate"], "onCreate"),
            on_reconcile=self.resources(*phases["onReconcile"], "onReconcile"),
            # Read by resources() above (the blocks' external:), in the order they run.
            external=self.external_in_order(),
            remote=remote,
            on_delete=on_delete,
            status=self.status(status, (*status_path, "status"))
            if status is not None
            else StatusSpec(),
            autoscale=(
                self.autoscale(autoscale, (*autoscale_path, "autoscale"))
                if autoscale is not None
                else None
            ),
            finalizers=(
                *self.katalog_finalizers,
                *self.finalizer_names(finalizers_parent, finalizers_path),
            ),
            watches=self.watches(box, path, groups["observe"]),
            event_watches=self.event_watches(groups["observe"], (*path, "observe")),
            enqueue_gate=enqueue_gate,
            ordered_delete=ordered,
            sentinels=tuple(sorted(self.declared_sentinels & frozenset(SENTINELS))),
            event_aware=self.event_aware,
            rollback=self.rollback(box, path, phases),
        )

    def rollback(
        self,
        box: dict[str, Any],
        path: KeyPath,
        phases: Mapping[str, tuple[dict[str, Any], KeyPath]],
    ) -> Rollback | None:
        """``rollBackOnError`` and ``rollback: {trigger, onRollback}`` (None: no rollback)."""
        on_error = self.boolean(box, path, "rollBackOnError", False)
        m = self.section(box, path, "rollback", allowed=("trigger", "onRollback"))
        if m is None:
            return Rollback() if on_error and self._derivable(box, path, phases) else None
        here = (*path, "rollback")
        trigger = self.section(
            m, here, "trigger", allowed=("consecutiveFailures", "withinDuration")
        )
        failures, within = DEFAULT_ROLLBACK_FAILURES, None
        if trigger is not None:
            at = (*here, "trigger")
            failures = self.integer(
                trigger, at, "consecutiveFailures", DEFAULT_ROLLBACK_FAILURES, minimum=1
            )
            within = self.duration(trigger, at, "withinDuration", None)
        on_rollback = None
        if m.get("onRollback") is not None:
            on_rollback = self.resources(m, here, "onRollback")
        elif not on_error:
            self.report(
                here,
                "rollback has nothing to apply: give onRollback (the children to apply "
                "while rolled back), or rollBackOnError: true to re-apply the box's own "
                "entries from the last known-good spec",
                at_key=True,
            )
            return None
        elif not self._derivable(box, path, phases):
            return None
        return Rollback(failures=failures, within=within, on_rollback=on_rollback)

    def _derivable(
        self,
        box: dict[str, Any],
        path: KeyPath,
        phases: Mapping[str, tuple[dict[str, Any], KeyPath]],
    ) -> bool:
        """Does ``rollBackOnError`` find entries to re-apply (onReconcile, or onCreate
        ``reconcile: true``)? Reported at the key when not."""
        create_parent, _ = phases["onCreate"]
        reconcile_parent, _ = phases["onReconcile"]
        create = create_parent.get("onCreate")
        reconciled = isinstance(create, dict) and any(
            isinstance(item, dict) and item.get("reconcile") is True
            for items in create.values()
            if isinstance(items, list)
            for item in items
        )
        if reconciled or reconcile_parent.get("onReconcile"):
            return True
        self.report(
            (*path, "rollBackOnError"),
            "rollBackOnError has nothing to re-apply: it restores the onReconcile entries "
            "and the onCreate entries with reconcile: true, and the box has none",
            at_key=True,
        )
        return False

    def external_in_order(self) -> tuple[ExternalCall, ...]:
        """The box's external calls as a reconcile makes them: preReconcile, onCreate, onReconcile."""
        return tuple(call for phase in EXTERNAL_PHASES for call in self.box_calls.get(phase, ()))

    def reconciler(self, box: dict[str, Any], path: KeyPath) -> Reconciler:
        m = self.section(
            box,
            path,
            "reconciler",
            allowed=_RECONCILER_KEYS,
            refused=orkestra_keys.RECONCILER,
            include=True,
        )
        if m is None:
            return Reconciler()
        return self.reconciler_settings(m, (*path, "reconciler"))

    def reconciler_requeue(self, box: dict[str, Any], path: KeyPath) -> tuple[Requeue, ...]:
        """Gen B also allows ``reconciler.requeue``."""
        m = box.get("reconciler")
        if not isinstance(m, dict) or m.get("requeue") is None:
            return ()
        if box.get("requeue") is not None:
            self.report(
                (*path, "reconciler", "requeue"), "requeue is also written on the box; keep one"
            )
        return self.requeue_rules(m, (*path, "reconciler"))

    def requeue_rules(self, parent: dict[str, Any], path: KeyPath) -> tuple[Requeue, ...]:
        """``requeue:`` as one ``{after, when, or}`` mapping or Orkestra's list of them."""
        value = parent.get("requeue")
        here = (*path, "requeue")
        if value is None:
            return ()
        if isinstance(value, list):
            listed = [(item, (*here, index), "a mapping") for index, item in enumerate(value)]
        else:
            listed = [(value, here, "a mapping or a list of them")]
        rules = []
        for item, at, what in listed:
            m = self.mapping(item, at, allowed=("after", "when", "or"), what=what)
            if m is not None:
                rules.append(self.requeue(m, at))
        return tuple(rules)

    def reconciler_settings(self, m: dict[str, Any], here: KeyPath) -> Reconciler:
        if m.get("default") not in (None, True) and m.get("remote") is None:
            self.report(
                (*here, "default"),
                "default: false asks for Go hooks or a remote reconciler instead of the "
                "templates, which orkestra_trio does not support; the template reconciler is "
                "the only one (HTTP hooks, hooks.external, run beside it)",
            )
        profile = self.profile_body("reconciler", m, here)
        if profile:
            m = {**profile, **{k: v for k, v in m.items() if k != "profile"}}
        queue = self.section(
            m,
            here,
            "queue",
            allowed=("maxDepth", "failureThreshold", "behaviour"),
            refused=orkestra_keys.QUEUE,
        )
        on_limit, on_threshold = (
            self.queue_behaviour(queue, (*here, "queue")) if queue is not None else (None, None)
        )
        timeout = self.duration(m, here, "timeout", 30.0)
        if timeout is not None and timeout <= 0:
            self.report((*here, "timeout"), "must be longer than 0s")
            timeout = 30.0
        resync = self.duration(m, here, "resync", None)
        return Reconciler(
            workers=self.integer(m, here, "workers", 1, minimum=MIN_WORKERS, maximum=MAX_WORKERS),
            weight=self.integer(m, here, "weight", 1, minimum=1, maximum=MAX_WEIGHT),
            resync=resync if resync else None,  # 0 means no periodic resync
            timeout=timeout if timeout is not None else 30.0,
            queue=QueueSettings(
                max_depth=self.integer(queue, (*here, "queue"), "maxDepth", 0, minimum=0),
                failure_threshold=self.integer(
                    queue, (*here, "queue"), "failureThreshold", 5, minimum=1
                ),
                on_limit=on_limit,
                on_threshold=on_threshold,
            )
            if queue is not None
            else QueueSettings(),
        )

    def queue_behaviour(
        self, queue: dict[str, Any], path: KeyPath
    ) -> tuple[ShedRule | None, ShedRule | None]:
        """``behaviour: {onLimit: {drop, when, or}, onThreshold: {value, drop, when, or}}``."""
        m = self.section(queue, path, "behaviour", allowed=("onLimit", "onThreshold"))
        if m is None:
            return None, None
        here = (*path, "behaviour")
        if not queue.get("maxDepth"):
            self.report(here, "behaviour sheds load relative to maxDepth: give maxDepth too")
        rules: list[ShedRule | None] = []
        for tier, keys in (("onLimit", ()), ("onThreshold", ("value",))):
            r = self.section(m, here, tier, allowed=("drop", "when", "or", *keys))
            if r is None:
                rules.append(None)
                continue
            at = (*here, tier)
            percent = 100.0
            if tier == "onThreshold":
                value = self.integer(r, at, "value", 0, minimum=1, maximum=100)
                if not value:
                    self.report(at, "onThreshold needs value: a percentage of maxDepth (1-100)")
                percent = float(value or 100)
            rules.append(
                ShedRule(
                    drop=self.boolean(r, at, "drop", False),
                    when=self.conditions(r, at, "when"),
                    or_=self.conditions(r, at, "or"),
                    percent=percent,
                )
            )
        return rules[0], rules[1]

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
            value,
            path,
            # strategy: Orkestra parses it and never acted on it; so do we.
            allowed=(
                "crd",
                "labelSelector",
                "selector",
                "as",
                "source",
                "strategy",
                *orkestra_keys.CROSS_ENTRY,
            ),
            refused=orkestra_keys.CROSS_ENTRY,
        )
        if m is None:
            return None
        self.string(m, path, "strategy", required=True)  # checked, not acted on
        if (m.get("crd") is None) == (m.get("labelSelector") is None):
            self.report(
                path,
                "a cross entry needs exactly one of crd (a peer CRD) or labelSelector "
                "(the first CR of this runtime's Katalogs whose labels match)",
            )
            return None
        if m.get("labelSelector") is not None:
            return self.cross_by_labels(m, path)
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
        selector = self.cross_selector(m, path, allowed=("name", "namespace", "labels"))
        source = None
        if m.get("source") is not None:
            source = self.cross_source(m["source"], (*path, "source"))
        return CrossEntry(
            crd=crd, as_=as_, selector=selector, source=source, location=self.location(path)
        )

    def cross_selector(
        self, m: dict[str, Any], path: KeyPath, *, allowed: tuple[str, ...]
    ) -> Selector:
        """A cross entry's ``selector``: name, namespace, and ``labels`` (or Orkestra's
        ``matchLabels``), each a template over the reading CR."""
        sel = self.section(m, path, "selector", allowed=(*allowed, "matchLabels"))
        if sel is None:
            return Selector()
        here = (*path, "selector")
        key = "matchLabels" if sel.get("matchLabels") is not None else "labels"
        if sel.get("matchLabels") is not None and sel.get("labels") is not None:
            self.report((*here, "matchLabels"), "labels and matchLabels are the same key; keep one")
        return Selector(
            name=self.text_at(sel, here, "name", required=True),
            namespace=self.text_at(sel, here, "namespace", required=True),
            labels=self.text_map(sel, here, key) if sel.get(key) is not None else None,
        )

    def cross_by_labels(self, m: dict[str, Any], path: KeyPath) -> CrossEntry | None:
        """``labelSelector: "app=cache"`` (with ``as``, an optional ``selector`` of
        ``matchLabels`` and ``namespace``): read in this runtime only."""
        text = self.string(m, path, "labelSelector", required=True)
        if text is not None:
            try:
                parse_label_selector(text)
            except SelectorError as exc:
                self.report((*path, "labelSelector"), f"invalid label selector {text!r}: {exc}")
        as_ = self.string(m, path, "as", required=True, shape=_AS_NAME)
        if m.get("as") is None:
            self.report(path, "a labelSelector entry needs as: (the name templates read it by)")
        if m.get("source") is not None:
            self.report(
                (*path, "source"),
                "a labelSelector entry reads this runtime's own CRs; to observe another "
                "runtime, name the CRD with crd: and give the source",
            )
        selector = self.cross_selector(m, path, allowed=("namespace",))
        if text is None or not as_:
            return None
        return CrossEntry(
            crd="", as_=as_, selector=selector, label_selector=text, location=self.location(path)
        )

    def resources(
        self,
        box: dict[str, Any],
        path: KeyPath,
        phase: str,
        *,
        label: str | None = None,
        here: KeyPath | None = None,
    ) -> Resources:
        """The resource groups of ``box[phase]`` (``label``/``here``: an ordered onDelete group)."""
        if here is None:
            here = (*path, phase)
            calls_here = phase in ("onCreate", "onReconcile")
            refused = {**_IGNORED_GROUPS, **orkestra_keys.GROUP_BLOCK}
            if calls_here:
                del refused["external"]  # external calls: read below, run before planning
            m = self.section(
                box,
                path,
                phase,
                allowed=(*RESOURCE_GROUPS, *GROUP_ALIASES, "when", "or", "external"),
                refused=refused,
            )
        else:
            m = box.get(phase)
        if m is None:
            return EMPTY_MAP
        # A block-level gate (Orkestra: "each group may itself carry when/or"): every
        # entry of the block carries it beside its own.
        block_when = self.conditions(m, here, "when") if label is None else ()
        block_or = self.conditions(m, here, "or") if label is None else ()
        if label is None and phase in ("onCreate", "onReconcile"):
            self.box_calls[phase] = self.external_calls(
                m, here, phase, block_when=block_when, block_or=block_or, taken=self.call_names
            )
        out: dict[str, tuple[ResourceEntry, ...]] = {}
        for group in RESOURCE_GROUPS:  # apply order, whatever the file's order
            entries = []
            keys = [group, *(alias for alias, name in GROUP_ALIASES.items() if name == group)]
            for key in keys:
                for index, item in enumerate(self.items(m, here, key)):
                    entry = self.resource_entry(group, item, (*here, key, index), label or phase)
                    if entry is not None and (block_when or block_or):
                        entry = attrs.evolve(entry, block_when=block_when, block_or=block_or)
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
        refused = orkestra_keys.SECRET_ENTRY if group == "secrets" else EMPTY_MAP
        m = self.mapping(
            value,
            path,
            allowed=COMMON_ENTRY_KEYS | info.shorthand | refused.keys(),
            required=required,
            refused=refused,
        )
        if m is None:
            return None
        if group in profiles.GROUP_CATEGORIES and "profile" in m:
            body = self.profile_body(group, m, path)
            m = {**body, **{k: v for k, v in m.items() if k != "profile"}}
        if "once" in m and phase == "onDelete":
            self.report(
                (*path, "once"), "once applies to onCreate/onReconcile secrets", at_key=True
            )
        if "reconcile" in m and phase not in ("onCreate", "onRollback"):
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
        for key in sorted(
            info.shorthand & m.keys() - {"once", "profile", "autoscale"}, key=list(m).index
        ):
            raw = m[key]
            if raw is None:
                continue
            raw = self.resolve_profiles(key, raw, (*path, key))
            if self.shorthand_shape_ok(key, raw, (*path, key)):
                fields[key] = self.freeze(raw, (*path, key))
        if group == "secrets":
            self.generated_secret(m, path, fields)
        if group in COPY_KINDS:
            self.copy_source(m, path, COPY_KINDS[group])
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
            # Orkestra's entry sleep takes its extended units too (d, w, mo, y).
            sleep=self.duration(m, path, "sleep", 0.0, long_units=True) or 0.0,
            force_conflict=self.boolean(m, path, "forceConflict", self.force_conflict),
            once=self.boolean(m, path, "once", False),
            autoscale=self.workload_autoscale(m, path) if "autoscale" in m else None,
        )

    def generated_secret(
        self, m: dict[str, Any], path: KeyPath, fields: dict[str, FrozenValue]
    ) -> None:
        """A Secret's ``tls`` block and ``rotateAfter`` (checked where they are literal), and
        that ``fromSecret`` does not come with them."""
        tls = m.get("tls")
        if tls is not None:
            block = self.mapping(tls, (*path, "tls"), allowed=TLS_FIELDS, required=("commonName",))
            if block is None:
                fields.pop("tls", None)
            else:
                names = block.get("dnsNames")
                if names is not None and not isinstance(names, str | list):
                    self.report(
                        (*path, "tls", "dnsNames"), f"expected a list, got {describe(names)}"
                    )
                self.lifetime(block, (*path, "tls"), "validFor")
        self.lifetime(m, path, "rotateAfter")
        if "fromSecret" in m and ("tls" in m or "rotateAfter" in m):
            self.report(
                (*path, "fromSecret"),
                "fromSecret copies a Secret; tls and rotateAfter generate one: keep one",
                at_key=True,
            )

    def copy_source(self, m: dict[str, Any], path: KeyPath, copy: CopyKind) -> None:
        """``fromSecret``/``fromConfigMap`` and ``fromNamespace``: names, the namespace only
        with a source; a ConfigMap is copied or declared (``data``), not both."""
        for key in (copy.key, "fromNamespace"):
            if isinstance(m.get(key), dict | list):
                self.report((*path, key), f"expected a {copy.kind} name, got {describe(m[key])}")
        if "fromNamespace" in m and copy.key not in m:
            self.report(
                (*path, "fromNamespace"), f"fromNamespace names where {copy.key} is", at_key=True
            )
        if copy.kind == "ConfigMap" and copy.key in m and "data" in m:
            self.report(
                (*path, copy.key),
                f"{copy.key} copies a ConfigMap's data; data declares it: keep one",
                at_key=True,
            )

    def lifetime(self, m: dict[str, Any], path: KeyPath, key: str) -> None:
        """``validFor``/``rotateAfter``: a positive duration (``d``, ``w``... allowed) if literal."""
        value = m.get(key)
        if value is None or "{{" in str(value):
            return
        try:
            secrets.lifetime(value, key)
        except secrets.SecretSpecError as exc:
            self.report((*path, key), str(exc))

    def workload_autoscale(self, entry: dict[str, Any], path: KeyPath) -> WorkloadAutoscale | None:
        here = (*path, "autoscale")
        m = self.section(
            entry,
            path,
            "autoscale",
            allowed=("min", "max", "cooldown", "scaleUp", "scaleDown"),
            required=("max",),
        )
        if m is None:
            return None
        minimum = self.integer(m, here, "min", 1, minimum=0)
        maximum = self.integer(m, here, "max", 10, minimum=1)
        if minimum > maximum:
            self.report((*here, "min"), f"min ({minimum}) is above max ({maximum})")
        steps: dict[str, ScaleStep | None] = {}
        for key, size in (("scaleUp", "increment"), ("scaleDown", "decrement")):
            step = self.section(m, here, key, allowed=("conditions", size, "target"))
            if step is None:
                steps[key] = None
                continue
            at = (*here, key)
            conditions = self.section(step, at, "conditions", allowed=("when", "or"))
            when: tuple[Condition, ...] = ()
            or_: tuple[Condition, ...] = ()
            if conditions is not None:
                when = self.conditions(conditions, (*at, "conditions"), "when")
                or_ = self.conditions(conditions, (*at, "conditions"), "or")
            if not when and not or_:
                self.report(at, f"{key} needs conditions: {{when: [...]}} or {{or: [...]}}")
            target = self.integer(step, at, "target", -1, minimum=0)
            steps[key] = ScaleStep(
                when=when,
                or_=or_,
                step=self.integer(step, at, size, 1, minimum=1),
                target=None if target < 0 else target,
            )
        return WorkloadAutoscale(
            minimum=minimum,
            maximum=maximum,
            cooldown=self.duration(m, here, "cooldown", DEFAULT_SCALE_COOLDOWN) or 0.0,
            up=steps["scaleUp"],
            down=steps["scaleDown"],
        )

    def resolve_profiles(self, key: str, value: Any, path: KeyPath) -> Any:
        """Shorthand values that may name a profile, resolved (probes: each probe)."""
        if key in profiles.FIELD_CATEGORIES:
            return self.with_profile(profiles.FIELD_CATEGORIES[key], value, path)
        if key == "probes" and isinstance(value, dict):
            return {
                kind: self.with_profile("probes", probe, (*path, kind))
                for kind, probe in value.items()
            }
        return value

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
        if key == "envFrom" and isinstance(value, list):
            self.report(path, orkestra_keys.ENVFROM_LIST)
            return False
        if key == "envFrom":
            return self.mapping(value, path, allowed=("secretRef", "configMapRef")) is not None
        if key == "probes":
            return (
                self.mapping(value, path, allowed=("liveness", "readiness", "startup")) is not None
            )
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
        # Orkestra's documented shape: conditions: {when, or} with do: {workers}. It is
        # the list form's single entry, with `do` for `override`.
        listed: list[tuple[Any, KeyPath, str]]
        if isinstance(m.get("conditions"), dict):
            if m.get("do") is None:
                self.report(path, "autoscale conditions: {when, or} needs do: {workers: N}")
            shaped = {**m["conditions"], "do": m.get("do")}
            listed = [(shaped, path, "do")]
        else:
            if m.get("do") is not None:
                self.report(
                    (*path, "do"),
                    "do goes with conditions: {when, or}; in the list form "
                    "each condition has its own override",
                )
            listed = [
                (item, (*path, "conditions", index), "override")
                for index, item in enumerate(self.items(m, path, "conditions"))
            ]
        for item, here, action in listed:
            c = self.mapping(item, here, allowed=("when", "or", action), required=(action,))
            if c is None:
                continue
            override = self.section(c, here, action, allowed=("workers", "queueDepth", "resync"))
            when = self.conditions(c, here, "when", allow_source=True)
            or_ = self.conditions(c, here, "or", allow_source=True)
            if not when and not or_ and c.get("when") is None and c.get("or") is None:
                self.report(here, "an autoscale condition needs when or or")
            if override is None:
                continue
            at = (*here, action)
            if not override:
                self.report(at, f"{action} needs workers, queueDepth or resync")
                continue
            workers = self.integer(
                override, at, "workers", 0, minimum=MIN_WORKERS, maximum=MAX_WORKERS
            )
            depth = self.integer(override, at, "queueDepth", -1, minimum=0)
            resync = self.duration(override, at, "resync", None)
            if resync is not None and resync <= 0:
                self.report((*at, "resync"), "resync must be a positive duration")
                resync = None
            conditions.append(
                AutoscaleCondition(
                    override=AutoscaleOverride(
                        workers=workers if "workers" in override else None,
                        queue_depth=depth if "queueDepth" in override and depth >= 0 else None,
                        resync=resync,
                    ),
                    when=when,
                    or_=or_,
                )
            )
        interval = self.duration(m, path, "interval", 15.0) or 15.0
        cooldown = self.duration(m, path, "cooldown", 120.0)
        return Autoscale(
            interval=interval,
            cooldown=120.0 if cooldown is None else cooldown,
            conditions=tuple(conditions),
        )


# Shorthand keys whose value must be a mapping, a list, or a single value.
_MAPPING_SHORTHAND = frozenset(
    {
        "spec",
        "metadata",
        "data",
        "stringData",
        "resources",
        "selector",
        "nodeSelector",
        "securityContext",
        "podSecurity",
        "rollingUpdate",
        "autoscale",
        "podSelector",
        "hard",
        "scaleTargetRef",
        "roleRef",
        "aggregationRule",
        "hostPath",
        "nfs",
        "csi",
    }
)
_LIST_SHORTHAND = frozenset(
    {
        "ports",
        "command",
        "args",
        "volumes",
        "volumeMounts",
        "imagePullSecrets",
        "policyTypes",
        "ingress",
        "egress",
        "limits",
        "rules",
        "subjects",
        "serviceAccounts",
        "accessModes",
        "metrics",
        "toNamespaces",
    }
)
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
        "protocol",
        "headless",
        "serviceAccountName",
        "workingDirectory",
        "imagePullPolicy",
        "storage",
        "storageClassName",
        "volumeMode",
        "minReplicas",
        "maxReplicas",
        "cpu",
        "memory",
        "minAvailable",
        "maxUnavailable",
        "role",
        "target",
        "reclaimPolicy",
    }
)

# Groups Orkestra parses and ignores: refused here, so nothing is dropped silently.
_IGNORED_GROUPS = {
    name: f"{name} is not supported (Orkestra parses and ignores it too); use custom: "
    "with apiVersion and kind"
    for name in (
        "podTemplates",
        "storageClasses",
        "priorityClasses",
        "serviceMonitors",
    )
}
_FINALIZER = re.compile(r"[a-z0-9]([-a-z0-9.]*[a-z0-9])?/[A-Za-z0-9]([-A-Za-z0-9_.]*[A-Za-z0-9])?")
