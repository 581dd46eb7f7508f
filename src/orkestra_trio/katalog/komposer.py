"""Komposers and Katalog-wide ``spec.imports`` sources (ORKESTRA-LANGUAGE.md 1.17).

A ``kind: Komposer`` document says where Katalogs come from and may override
their CRD entries::

    kind: Komposer
    imports:
      files: [./katalogs/app.yaml]        # read as if given on the command line
      registry: [{url: ..., oci: true}]   # refused: no registry access
      helm: [{repo: ..., chart: ...}]     # refused
    spec:
      crds:
        app: {operatorBox: {reconcile: {workers: 8}}}   # laid over the imported entry

A Katalog may name files the same way in ``spec.imports: {files: [...]}``.
Files are relative to the file naming them and must stay inside its
directory. This module finds those files (before anything is read, so that
their Katalogs and Motifs join the set) and reads a Komposer document.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import attrs

from orkestra_trio.katalog.lifecycle import ImportPolicy, read_import_policy, read_lifecycle
from orkestra_trio.katalog.reading import DocumentReader, describe
from orkestra_trio.katalog.yamlsource import KeyPath, SourceMap

KOMPOSER_KIND = "Komposer"
KATALOG_API_VERSION = "orkestra.orkspace.io/v1"
_KOMPOSER_KEYS = ("apiVersion", "kind", "metadata", "imports", "spec", "lifecycle", "policy")
_SOURCE_KEYS = ("files", "registry", "helm")
REFUSED_SOURCES = {
    "registry": "registry imports are not supported by orkestra_trio: it has no registry "
    "access; copy the Katalogs beside this file and list them in files: (see docs/katalog.md)",
    "helm": "helm imports are not supported by orkestra_trio: it does not fetch charts; "
    "copy the Katalogs beside this file and list them in files: (see docs/katalog.md)",
}


def is_komposer_document(document: Any) -> bool:
    return isinstance(document, dict) and document.get("kind") == KOMPOSER_KIND


def _sources_of(document: Any) -> Any:
    """The ``{files, registry, helm}`` mapping a document names, or None."""
    if not isinstance(document, dict):
        return None
    if is_komposer_document(document):
        return document.get("imports")
    spec = document.get("spec")
    if document.get("kind") in (None, "Katalog") and isinstance(spec, dict):
        return spec.get("imports")
    return None


def imported_files(document: Any, file: Path) -> list[Path]:
    """The files a Komposer's ``imports.files`` or a Katalog's ``spec.imports.files`` name.

    Only names that can be read are returned; the reader of the document
    reports the others at their place (:func:`check_sources`).
    """
    sources = _sources_of(document)
    if not isinstance(sources, dict):
        return []
    names = sources.get("files")
    if isinstance(names, str):
        names = [names]
    if not isinstance(names, list):
        return []
    found: list[Path] = []
    for name in names:
        if not isinstance(name, str) or not name.strip() or "\0" in name:
            continue
        if Path(name).is_absolute():
            continue
        target = file.parent / name
        try:
            if target.resolve().is_relative_to(file.parent.resolve()) and target.is_file():
                found.append(target)
        except OSError:
            continue
    return found


def check_sources(reader: DocumentReader, value: Any, here: KeyPath) -> None:
    """Report the mistakes of a ``{files, registry, helm}`` mapping at ``here``."""
    sources = reader.mapping(value, here, allowed=_SOURCE_KEYS, refused=REFUSED_SOURCES)
    if sources is None:
        return
    names = sources.get("files")
    listed: list[tuple[Any, KeyPath]]
    if isinstance(names, str):
        listed = [(names, (*here, "files"))]
    else:
        listed = [
            (n, (*here, "files", i)) for i, n in enumerate(reader.items(sources, here, "files"))
        ]
    for name, at in listed:
        if not isinstance(name, str) or not name.strip() or "\0" in name:
            reader.report(at, f"expected a file name, got {describe(name)}")
            continue
        if Path(name).is_absolute():
            reader.report(at, f"{name}: a file is named relative to the file naming it")
            continue
        target = reader.base_dir / name
        try:
            inside = target.resolve().is_relative_to(reader.base_dir.resolve())
            found = target.is_file()
        except OSError as exc:
            reader.report(at, f"cannot use {name[:60]!r} as a file: {exc.strerror or exc}")
            continue
        if not inside:
            reader.report(at, f"{name}: an imported file must lie inside {reader.base_dir} (no ..)")
        elif not found:
            reader.report(at, f"file not found: {name} (looked for {target})")


@attrs.frozen
class Override:
    """A Komposer's ``spec.crds.<key>``: laid over the CRD entry of that key."""

    value: dict[str, Any] = attrs.field(eq=False, repr=False)
    source_map: SourceMap = attrs.field(eq=False, repr=False)
    path: KeyPath


@attrs.frozen
class Komposer:
    """What a Komposer document declares beyond the files it imports."""

    #: ``spec.crds.<key>`` overrides, by CRD key.
    overrides: dict[str, Override] = attrs.field(eq=False)
    #: What it accepts of the lifecycle of the Katalogs it imports.
    policy: ImportPolicy
    #: The files of ``imports.files`` (resolved), each with the path naming it.
    imports: tuple[tuple[Path, KeyPath], ...] = ()


def read_komposer(
    document: dict[str, Any], source_map: SourceMap, file: Path
) -> tuple[Komposer, list[Any]]:
    """The Komposer a document declares, and the issues of the document."""
    reader = DocumentReader(source_map, file)
    overrides: dict[str, Override] = {}
    top = reader.mapping(document, (), allowed=_KOMPOSER_KEYS, what="a Komposer")
    if top is None:
        return Komposer(overrides, ImportPolicy()), reader.issues
    if top.get("apiVersion") not in (None, KATALOG_API_VERSION):
        reader.report(("apiVersion",), f"expected {KATALOG_API_VERSION}, got {top['apiVersion']!r}")
    reader.section(top, (), "metadata", allowed=None)
    imports: list[tuple[Path, KeyPath]] = []
    if top.get("imports") is not None:
        check_sources(reader, top["imports"], ("imports",))
        names = top["imports"].get("files") if isinstance(top["imports"], dict) else None
        listed = [names] if isinstance(names, str) else names if isinstance(names, list) else []
        for index, name in enumerate(listed):
            if isinstance(name, str) and name.strip() and "\0" not in name:
                at: KeyPath = (
                    ("imports", "files")
                    if isinstance(names, str)
                    else (
                        "imports",
                        "files",
                        index,
                    )
                )
                imports.append(((file.parent / name).resolve(), at))
    read_lifecycle(
        reader, top, komposer=True
    )  # its shape; a Komposer's own maturity is not acted on
    policy = read_import_policy(reader, top)
    spec = reader.section(top, (), "spec", allowed=("crds",))
    crds = reader.section(spec, ("spec",), "crds", allowed=None) if spec is not None else None
    for key, value in (crds or {}).items():
        here: KeyPath = ("spec", "crds", key)
        if reader.mapping(value, here, allowed=None) is not None:
            overrides[key] = Override(value, source_map, here)
    return Komposer(overrides, policy, tuple(imports)), reader.issues
