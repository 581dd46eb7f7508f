"""Motifs: reusable bundles of resources a CRD imports (ORKESTRA-LANGUAGE.md 1.17).

A ``kind: Motif`` document declares ``inputs`` and contributes ``resources``
(joined to the importing CRD's onReconcile), ``status`` fields, ``admission``
rules, and, imported Katalog-wide, ``profiles`` and ``notes``. This module
holds what needs no reading: where Motif documents are found, how a reference
(``motif: web-stack``, ``web-stack:0.1.0``, ``./motifs/web.yaml``) picks one,
and the merge rule, pure functions over the model.

The merge rule is Orkestra's override rule (Komposer's ``spec.crds`` and a
Katalog's own profiles win over what they import): **the CRD's own entries
win**. An imported resource entry whose group and name (as written, e.g.
``"{{ .metadata.name }}"``) equal one of the CRD's own onCreate/onReconcile
entries is dropped; an imported status field whose path the CRD's own fields
set is dropped. Two imported Motifs declaring the same entry are a load error:
neither is the CRD's, so neither can win.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any

import attrs

from orkestra_trio.katalog.model import (
    RESOURCE_GROUPS,
    FrozenMap,
    ResourceEntry,
    Resources,
    StatusField,
    Text,
)
from orkestra_trio.katalog.yamlsource import SourceMap

MOTIF_KIND = "Motif"
#: Where a Motif named ``name`` is looked for beside the Katalog (Orkestra's
#: pattern directory: ``motifs/<name>/motif.yaml``).
NEARBY = ("motifs/{name}/motif.yaml", "motifs/{name}.yaml")
REGISTRY_REFUSED = (
    "Motifs from an OCI registry are not supported by orkestra_trio: it has no registry "
    "access; put the Motif in the Katalog's file or directory (motifs/<name>.yaml) and "
    "import it by name or path (see docs/katalog.md)"
)


@attrs.frozen
class MotifSource:
    """One parsed ``kind: Motif`` document and where it came from."""

    name: str
    version: str
    document: dict[str, Any] = attrs.field(eq=False, repr=False)
    source_map: SourceMap = attrs.field(eq=False, repr=False)
    file: Path

    @property
    def where(self) -> str:
        position = self.source_map.value_at(())
        return f"{self.source_map.file}:{position.line}:{position.column}"


def motif_identity(document: Any) -> tuple[str, str]:
    """``(metadata.name, metadata.version)`` as written ("" where absent or not text)."""
    meta = document.get("metadata") if isinstance(document, dict) else None
    if not isinstance(meta, dict):
        return "", ""
    name, version = meta.get("name"), meta.get("version")
    return (
        name if isinstance(name, str) else "",
        str(version) if isinstance(version, str | int | float) else "",
    )


def is_motif_document(document: Any) -> bool:
    return isinstance(document, dict) and document.get("kind") == MOTIF_KIND


def is_path_reference(reference: str) -> bool:
    """``./motifs/web.yaml`` or ``motifs/web.yaml`` names a file; ``web`` names a Motif."""
    return "/" in reference or reference.endswith((".yaml", ".yml"))


def split_reference(reference: str) -> tuple[str, str]:
    """``web-stack:0.1.0`` or ``web-stack@0.1.0`` -> ``("web-stack", "0.1.0")``; no version: ""."""
    for separator in ("@", ":"):
        name, found, version = reference.partition(separator)
        if found:
            return name, version
    return reference, ""


@attrs.define
class MotifLibrary:
    """The Motif documents of the files given, by name."""

    by_name: dict[str, list[MotifSource]] = attrs.field(factory=dict)

    def add(self, source: MotifSource) -> MotifSource | None:
        """Add ``source``; the Motif of the same name and version in the same file, if any.

        Two files may each hold a copy of one Motif (two Katalogs that embed
        it): an import picks its own file's (:meth:`find`). One file holding
        it twice is a mistake, and that one is not added.
        """
        same = self.by_name.setdefault(source.name, [])
        for other in same:
            if other.version == source.version and other.file == source.file:
                return other
        same.append(source)
        return None

    def find(self, reference: str, own_file: Path | None = None) -> tuple[MotifSource | None, str]:
        """The Motif ``reference`` names, or None and why ("" when none has that name).

        A Motif of ``own_file`` (the importing Katalog's) is taken over those
        of other files; among other files' a name must pick one Motif.
        """
        name, version = split_reference(reference)
        candidates = self.by_name.get(name, [])
        if version:
            candidates = [c for c in candidates if c.version.lstrip("v") == version.lstrip("v")]
            if not candidates and name in self.by_name:
                known = ", ".join(sorted({c.version or "(none)" for c in self.by_name[name]}))
                return None, f"Motif {name!r} has no version {version!r} (versions: {known})"
        own = [c for c in candidates if own_file is not None and c.file == own_file]
        candidates = own or candidates
        if len(candidates) > 1:
            listed = ", ".join(f"{c.version or '(no version)'} at {c.where}" for c in candidates)
            if len({c.version for c in candidates}) < len(candidates):
                return None, (
                    f"several files hold Motif {name!r} ({listed}); import it by path "
                    "(motif: ./file.yaml)"
                )
            return None, f"several Motifs are named {name!r} ({listed}); add :<version>"
        return (candidates[0], "") if candidates else (None, "")


@attrs.frozen
class MotifInput:
    """A declared input: its default (a template over the CR) and whether it is required."""

    name: str
    default: Text | None
    required: bool
    where: str


@attrs.frozen
class ImportedMotif:
    """What one ``imports:`` item brings to a CRD, its inputs bound."""

    name: str
    resources: Resources
    status_fields: tuple[StatusField, ...]


def bind_inputs(
    declared: Sequence[MotifInput], given: Mapping[str, Text]
) -> tuple[FrozenMap[str, Text], list[str]]:
    """The input bindings of one import (``with`` over defaults) and the required ones missing.

    An input neither given nor defaulted renders as "" (as a missing key does).
    """
    bound: dict[str, Text] = {}
    missing: list[str] = []
    for item in declared:
        value = given.get(item.name, item.default)
        if value is None:
            if item.required:
                missing.append(item.name)
            value = Text("")
        bound[item.name] = value
    return FrozenMap(bound), missing


def bind_entries(resources: Resources, inputs: FrozenMap[str, Text]) -> Resources:
    """Each entry of ``resources`` with ``inputs`` bound (``.inputs.<name>`` in its templates)."""
    return FrozenMap(
        {
            group: tuple(attrs.evolve(entry, inputs=inputs) for entry in entries)
            for group, entries in resources.items()
        }
    )


def _entry_key(entry: ResourceEntry) -> tuple[str, str]:
    """How two entries are told to be the same child: group and name as written."""
    return entry.group, entry.name.source if entry.name is not None else ""


def merge_resources(
    own: Iterable[Resources], target: Resources, imported: Sequence[ImportedMotif]
) -> tuple[Resources, list[tuple[ResourceEntry, str]]]:
    """``target`` (the CRD's onReconcile) with the imported entries added, and the clashes.

    ``own`` are all the CRD's own phases that hold children together
    (onCreate and onReconcile): an imported entry one of them declares is
    dropped. A clash is (the later imported entry, a message).
    """
    own_keys = {_entry_key(e) for phase in own for entries in phase.values() for e in entries}
    merged: dict[str, list[ResourceEntry]] = {g: list(es) for g, es in target.items()}
    first_import: dict[tuple[str, str], tuple[str, ResourceEntry]] = {}
    clashes: list[tuple[ResourceEntry, str]] = []
    for motif in imported:
        for group, entries in motif.resources.items():
            for entry in entries:
                key = _entry_key(entry)
                if ".inputs" in key[1]:
                    # Named after its inputs (one Motif imported twice, say): only the
                    # rendered names tell; render keeps the CRD's own child and
                    # refuses two imported children of one name.
                    merged.setdefault(group, []).append(entry)
                    continue
                if key in own_keys:
                    continue  # the CRD's own entry wins
                if key in first_import:
                    other_motif, other = first_import[key]
                    clashes.append(
                        (
                            entry,
                            f"Motif {motif.name!r} and Motif {other_motif!r} ({other.location}) "
                            f"both declare {group} {key[1] or '(the CR name)'!r}; declare it in "
                            "the CRD to choose",
                        )
                    )
                    continue
                first_import[key] = (motif.name, entry)
                merged.setdefault(group, []).append(entry)
    ordered = {g: tuple(merged[g]) for g in RESOURCE_GROUPS if merged.get(g)}
    return FrozenMap(ordered), clashes


def merge_status_fields(
    own: Sequence[StatusField], imported: Sequence[ImportedMotif]
) -> tuple[StatusField, ...]:
    """The CRD's own fields, then the imported ones for paths the CRD does not set."""
    own_paths = {field.path for field in own}
    added = [
        field for motif in imported for field in motif.status_fields if field.path not in own_paths
    ]
    return (*own, *added)


def nearby_files(directory: Path, reference: str) -> list[Path]:
    """The files beside a Katalog where the Motif ``reference`` may be written."""
    name, _ = split_reference(reference)
    return [directory / pattern.format(name=name) for pattern in NEARBY]
