"""Reading a Katalog's imports: the Motifs it names and what they bring a CRD.

The layer between the admission rules and the Katalog reader: it finds the
Motif an import names (:mod:`.motifs`), binds its inputs, lays its admission
rules into the CRD entry and merges its children and status fields into the
CRD's box by the override rule. Reading a Motif document itself needs the
box readers, so the Katalog reader provides :meth:`ImportReader.motif`,
:meth:`ImportReader.read_notes` and :meth:`ImportReader.own_profiles`.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import attrs

from orkestra_trio.katalog.admission_reader import AdmissionReader
from orkestra_trio.katalog.errors import KatalogIssue, did_you_mean
from orkestra_trio.katalog.komposer import check_sources
from orkestra_trio.katalog.model import EMPTY_MAP, OperatorBox, Resources, StatusField
from orkestra_trio.katalog.motifs import (
    REGISTRY_REFUSED,
    ImportedMotif,
    MotifInput,
    MotifLibrary,
    MotifSource,
    bind_entries,
    bind_inputs,
    is_motif_document,
    is_path_reference,
    merge_resources,
    merge_status_fields,
    motif_identity,
    nearby_files,
)
from orkestra_trio.katalog.reading import Shape
from orkestra_trio.katalog.yamlsource import (
    KeyPath,
    SourceMap,
    YamlSourceError,
    load_yaml_stream,
)

# `.inputs.<name>` in a Motif's template text.
_INPUT_PATH = re.compile(r"\.inputs\.([A-Za-z_][A-Za-z0-9_]*)")
# An input is used as .inputs.<name>: a Go identifier.
_INPUT_NAME = Shape(
    re.compile(r"[A-Za-z_][A-Za-z0-9_]*"),
    "letters, digits and '_' (it is used as .inputs.<name> in templates)",
)


@attrs.frozen
class MotifContent:
    """What a Motif brings the CRD that imports it, before its inputs are bound."""

    inputs: tuple[MotifInput, ...] = ()
    resources: Resources = EMPTY_MAP
    status_fields: tuple[StatusField, ...] = ()
    #: The ``admission`` mapping as written (laid into the CRD's own).
    admission: dict[str, Any] | None = attrs.field(default=None, eq=False)


class ImportReader(AdmissionReader):
    """An :class:`AdmissionReader` that also reads ``imports`` (Motifs) and merges them."""

    #: Motif documents of the files loaded together (set by whoever makes the reader).
    motifs: MotifLibrary
    #: Set before the CRDs are read: the profiles every entry may name.
    profile_table: dict[str, dict[str, Any]] = {}

    # -- provided by the Katalog reader ---------------------------------------

    def motif(self, document: Any) -> MotifContent:
        """A ``kind: Motif`` document read for a CRD that imports it."""
        raise NotImplementedError

    def read_notes(self, top: dict[str, Any]) -> dict[str, str]:
        """The document's ``notes``, by name."""
        raise NotImplementedError

    def own_profiles(self, top: dict[str, Any]) -> dict[str, dict[str, Any]]:
        """The document's own ``profiles``, by category."""
        raise NotImplementedError

    # -- imports --------------------------------------------------------------

    def katalog_imports(
        self, spec: dict[str, Any]
    ) -> tuple[dict[str, dict[str, Any]], dict[str, str]]:
        """``spec.imports``: the profiles and notes of the Motifs named (the first import wins)."""
        imported_profiles: dict[str, dict[str, Any]] = {}
        imported_notes: dict[str, str] = {}
        if isinstance(spec.get("imports"), dict):
            # Komposer-style sources: their files are loaded with this Katalog.
            check_sources(self, spec["imports"], ("spec", "imports"))
            return imported_profiles, imported_notes
        for index, item in enumerate(self.items(spec, ("spec",), "imports")):
            at: KeyPath = ("spec", "imports", index)
            m = self.mapping(item, at, allowed=("motif", "oci", "with"), required=("motif",))
            if m is None:
                continue
            if m.get("with") is not None:
                self.report(
                    (*at, "with"),
                    "with: gives a CRD's imported Motif its inputs; a Katalog-wide import "
                    "brings only the Motif's profiles and notes",
                    at_key=True,
                )
            source = self.find_motif(m, at)
            if source is None:
                continue
            reader = self.motif_reader(source)
            top = source.document
            for category, named in reader.own_profiles(top).items():
                for name, body in named.items():
                    imported_profiles.setdefault(category, {}).setdefault(name, body)
            for name, expression in reader.read_notes(top).items():
                imported_notes.setdefault(name, expression)
            self.issues.extend(reader.issues)
            self.read_files.extend(reader.read_files)
        return imported_profiles, imported_notes

    def crd_imports(self, crd: dict[str, Any], path: KeyPath) -> list[ImportedMotif]:
        """A CRD's ``imports`` (also ``operatorBox.reconcile.imports``), inputs bound.

        A Motif's ``admission`` is laid into the CRD entry's own (the CRD's
        rules first), so whatever reads the CRD's admission reads it too.
        """
        listed = [
            ((*path, "imports", i), v) for i, v in enumerate(self.items(crd, path, "imports"))
        ]
        box = crd.get("operatorBox")
        reconcile = box.get("reconcile") if isinstance(box, dict) else None
        if isinstance(reconcile, dict):
            here = (*path, "operatorBox", "reconcile")
            listed += [
                ((*here, "imports", i), v)
                for i, v in enumerate(self.items(reconcile, here, "imports"))
            ]
        out: list[ImportedMotif] = []
        for at, item in listed:
            m = self.mapping(item, at, allowed=("motif", "oci", "with"), required=("motif",))
            if m is None:
                continue
            source = self.find_motif(m, at)
            given = self.text_map(m, at, "with")
            if source is None:
                continue
            content = self.read_motif(source)
            declared = {item.name for item in content.inputs}
            for name in given:
                if name not in declared:
                    self.report(
                        (*at, "with", name),
                        f"Motif {source.name!r} has no input {name!r}{_input_hint(name, declared)}",
                        at_key=True,
                    )
            bound, missing = bind_inputs(content.inputs, given)
            for name in missing:
                where = next(item.where for item in content.inputs if item.name == name)
                self.report(
                    (*at, "with") if "with" in m else at,
                    f"missing required input {name!r} of Motif {source.name!r} "
                    f"(declared at {where})",
                )
            if content.admission is not None:
                self.lay_in_admission(crd, path, content.admission, source.source_map)
            out.append(
                ImportedMotif(
                    name=source.name,
                    resources=bind_entries(content.resources, bound),
                    status_fields=tuple(
                        attrs.evolve(field, inputs=bound) for field in content.status_fields
                    ),
                )
            )
        return out

    def lay_in_admission(
        self, crd: dict[str, Any], path: KeyPath, admission: dict[str, Any], source: SourceMap
    ) -> None:
        """A Motif's admission rules after the CRD's own, wherever the CRD writes its own.

        A key the CRD writes on its entry (Gen B ``validation:``) takes the
        Motif's rules there; otherwise they go under the CRD's ``admission:``.
        """
        own = crd.get("admission")
        for key, value in admission.items():
            on_entry = crd.get(key) is not None and not (isinstance(own, dict) and key in own)
            if on_entry:
                self.lay_in(crd, {key: value}, path, source, ("admission",))
            else:
                self.lay_in(crd, {"admission": {key: value}}, path, source, ())

    def find_motif(self, m: dict[str, Any], at: KeyPath) -> MotifSource | None:
        """The Motif an import item names: by path, in the files given, or beside the Katalog."""
        reference = self.string(m, at, "motif", required=True)
        oci = self.boolean(m, at, "oci", False)
        if not reference:
            return None
        if oci or reference.startswith("oci://"):
            self.report((*at, "oci") if oci else (*at, "motif"), REGISTRY_REFUSED, at_key=oci)
            return None
        if is_path_reference(reference):
            loaded = self.included_file(reference, (*at, "motif"))
            if loaded is None:
                return None
            document, source_map = loaded
            if not is_motif_document(document):
                self.report((*at, "motif"), f"{reference} holds no kind: Motif document")
                return None
            name, version = motif_identity(document)
            return MotifSource(name, version, document, source_map, self.base_dir / reference)
        source, why = self.motifs.find(reference, own_file=Path(self.file))
        if source is None and not why:
            source = self.nearby_motif(reference, at)
        if source is not None:
            self.read_files.append(source.file)
        if source is None:
            tried = ", ".join(str(p) for p in nearby_files(Path(), reference))
            self.report(
                (*at, "motif"),
                why
                or f"no Motif named {reference!r} in this file, the files given, or {tried} "
                "beside the Katalog",
            )
        return source

    def nearby_motif(self, reference: str, at: KeyPath) -> MotifSource | None:
        """A Motif in ``motifs/<name>.yaml`` or ``motifs/<name>/motif.yaml`` beside the Katalog."""
        for candidate in nearby_files(self.base_dir, reference):
            if not candidate.is_file():
                continue
            try:
                documents = load_yaml_stream(candidate)
            except YamlSourceError as exc:
                self.issues.append(KatalogIssue(exc.file, exc.line, exc.column, "", exc.message))
                return None
            library = MotifLibrary()
            for document, source_map in documents:
                if is_motif_document(document):
                    name, version = motif_identity(document)
                    library.add(MotifSource(name, version, document, source_map, candidate))
            found, why = library.find(reference)
            if found is None and why:
                self.report((*at, "motif"), f"{candidate}: {why}")
            return found
        return None

    def motif_reader(self, source: MotifSource) -> ImportReader:
        """A reader of ``source`` that sees this Katalog's profiles and notes."""
        reader = type(self)(source.source_map, source.file)
        reader.motifs = self.motifs
        inside = source.file.resolve().is_relative_to(self.root_dir.resolve())
        reader.root_dir = self.root_dir if inside else source.file.parent
        reader.profile_table = self.profile_table
        reader.set_notes(self.notes)
        reader.notify_teams = self.notify_teams  # its conditions may alert the Katalog's teams
        return reader

    def read_motif(self, source: MotifSource) -> MotifContent:
        """What ``source`` brings a CRD (read once per Katalog), its issues added to ours."""
        cache = self.__dict__.setdefault("_motif_cache", {})
        key = (source.source_map.file, source.where)
        if key not in cache:
            reader = self.motif_reader(source)
            cache[key] = reader.motif(source.document)
            self.issues.extend(reader.issues)
            self.read_files.extend(reader.read_files)
        content: MotifContent = cache[key]
        return content

    def undeclared_inputs(self, value: Any, path: KeyPath, declared: set[str]) -> None:
        """Report ``.inputs.<name>`` in a Motif's templates for inputs it does not declare.

        Such a path would render empty at every reconcile; a typo is caught here.
        """
        if isinstance(value, dict):
            for key, item in value.items():
                self.undeclared_inputs(key, (*path, key), declared)
                self.undeclared_inputs(item, (*path, key), declared)
        elif isinstance(value, list):
            for index, item in enumerate(value):
                self.undeclared_inputs(item, (*path, index), declared)
        elif isinstance(value, str) and "{{" in value:
            for name in _INPUT_PATH.findall(value):
                if name not in declared:
                    hint = _input_hint(name, declared)
                    self.report(path, f".inputs.{name}: the Motif has no input {name!r}{hint}")

    def motif_inputs(self, top: dict[str, Any]) -> tuple[MotifInput, ...]:
        out: list[MotifInput] = []
        seen: set[str] = set()
        for index, item in enumerate(self.items(top, (), "inputs")):
            here: KeyPath = ("inputs", index)
            m = self.mapping(
                item,
                here,
                allowed=("name", "default", "required", "description"),
                required=("name",),
            )
            if m is None:
                continue
            name = self.string(m, here, "name", required=True, shape=_INPUT_NAME)
            required = self.boolean(m, here, "required", False)
            default = self.text_at(m, here, "default")
            if not name:
                continue
            if name in seen:
                self.report((*here, "name"), f"input {name!r} is declared twice")
                continue
            if required and default is not None:
                self.report(
                    (*here, "required"), "an input with a default is never missing", at_key=True
                )
            seen.add(name)
            position = self.map.value_at(here)
            out.append(MotifInput(name, default, required, self.where(position)))
        return tuple(out)

    def with_imports(self, box: OperatorBox, imported: Sequence[ImportedMotif]) -> OperatorBox:
        """``box`` with the imported resources and status fields merged (the CRD's own win)."""
        on_reconcile, clashes = merge_resources(
            (box.on_create, box.on_reconcile), box.on_reconcile, imported
        )
        for entry, message in clashes:
            where = entry.location
            self.issues.append(
                KatalogIssue(where.file, where.line, where.column, where.path, message)
            )
        fields = merge_status_fields(box.status.fields, imported)
        return attrs.evolve(
            box, on_reconcile=on_reconcile, status=attrs.evolve(box.status, fields=fields)
        )


def _input_hint(name: str, declared: set[str]) -> str:
    """`` (did you mean 'image'?)``, else the inputs the Motif declares."""
    if not declared:
        return " (it declares none)"
    return did_you_mean(name, declared) or f" (its inputs: {', '.join(sorted(declared))})"
