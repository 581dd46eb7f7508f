"""A CRD's ``crdFile`` checked at load time: valid YAML, one CustomResourceDefinition, the same API.

Without this, ``validate`` accepted a Katalog whose crdFile was a ConfigMap
or broken YAML and ``run`` failed only when installing. Each problem is one
issue placed at the Katalog's ``crdFile`` key (every issue of a Katalog is in
the Katalog), its message naming the place in the crdFile (file:line:col),
so ``validate`` and ``run`` report it like any other Katalog mistake.
"""

from __future__ import annotations

from typing import Any

from orkestra_trio.katalog.errors import KatalogIssue
from orkestra_trio.katalog.model import CrdEntry
from orkestra_trio.katalog.yamlsource import (
    SourceMap,
    YamlSourceError,
    format_path,
    load_yaml_stream,
)

CRD_API_VERSION = "apiextensions.k8s.io/v1"
CRD_KIND = "CustomResourceDefinition"


def crd_file_issues(crd: CrdEntry) -> list[KatalogIssue]:
    """Every problem of ``crd.crd_file`` (none when the CRD has no crdFile)."""
    api = crd.api_types
    if crd.crd_file is None or not all((api.group, api.version, api.kind, api.plural)):
        return []  # a broken apiTypes is reported already; comparing with it says nothing
    file = str(crd.crd_file)
    try:
        documents = load_yaml_stream(crd.crd_file)
    except YamlSourceError as exc:
        return [_issue(crd, f"{exc.file}:{exc.line}:{exc.column}: {exc.message}")]
    crds = [(doc, where) for doc, where in documents if _kind(doc) == CRD_KIND]
    if len(crds) != 1:
        found = ", ".join(sorted({_kind(doc) or "?" for doc, _ in documents})) or "nothing"
        message = f"{file}: expected one {CRD_KIND}, found {len(crds)}" + (
            "" if crds else f" (the file holds {found})"
        )
        return [_issue(crd, message)]
    doc, where = crds[0]
    return _mismatches(crd, doc, where)


def _issue(crd: CrdEntry, message: str) -> KatalogIssue:
    at = crd.location
    path = f"{at.path}.crdFile" if at.path else "crdFile"
    return KatalogIssue(at.file, at.line, at.column, path, message)


def _map(value: Any) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}


def _kind(doc: Any) -> str:
    return str(doc.get("kind") or "") if isinstance(doc, dict) else ""


def _at(crd: CrdEntry, where: SourceMap, path: tuple[str | int, ...], message: str) -> KatalogIssue:
    position = where.value_at(path)
    place = f"{where.file}:{position.line}:{position.column}: {format_path(path)}"
    return _issue(crd, f"{place}: {message}")


def _mismatches(crd: CrdEntry, doc: dict[str, Any], where: SourceMap) -> list[KatalogIssue]:
    api = crd.api_types
    issues: list[KatalogIssue] = []
    if doc.get("apiVersion") != CRD_API_VERSION:
        issues.append(
            _at(
                crd,
                where,
                ("apiVersion",),
                f"expected {CRD_API_VERSION}, got {doc.get('apiVersion')!r}",
            )
        )
    spec = _map(doc.get("spec"))
    names = _map(spec.get("names"))
    wanted: list[tuple[tuple[str | int, ...], Any, str, str]] = [
        (("spec", "group"), spec.get("group"), api.group, "apiTypes.group"),
        (("spec", "names", "kind"), names.get("kind"), api.kind, "apiTypes.kind"),
        (("spec", "names", "plural"), names.get("plural"), api.plural, "apiTypes.plural"),
    ]
    for path, have, want, field in wanted:
        if have != want:
            issues.append(_at(crd, where, path, f"is {have!r}, but {field} is {want!r}"))
    metadata = _map(doc.get("metadata"))
    expected_name = f"{api.plural}.{api.group}"
    if metadata.get("name") != expected_name:
        issues.append(
            _at(
                crd,
                where,
                ("metadata", "name"),
                f"is {metadata.get('name')!r}, must be {expected_name!r} (<plural>.<group>)",
            )
        )
    versions = spec.get("versions")
    versions = versions if isinstance(versions, list) else []
    served = [
        v.get("name")
        for v in versions
        if isinstance(v, dict) and v.get("served", True) is not False
    ]
    if api.version not in served:
        issues.append(
            _at(
                crd,
                where,
                ("spec", "versions"),
                f"serves no version {api.version!r} (apiTypes.version); it serves "
                f"{', '.join(repr(v) for v in served) or 'none'}",
            )
        )
    issues.extend(_conversion_mismatches(crd, versions, served, where))
    return issues


def _conversion_mismatches(
    crd: CrdEntry, versions: list[Any], served: list[Any], where: SourceMap
) -> list[KatalogIssue]:
    """``conversion`` against the versions the crdFile serves and the one it stores."""
    conversion = crd.admission.conversion
    if conversion is None:
        return []
    issues: list[KatalogIssue] = []
    stored = [v.get("name") for v in versions if isinstance(v, dict) and v.get("storage")]
    if conversion.storage_version and stored and conversion.storage_version != stored[0]:
        issues.append(
            _at(
                crd,
                where,
                ("spec", "versions"),
                f"stores version {stored[0]!r}, but conversion.storageVersion is "
                f"{conversion.storage_version!r}",
            )
        )
    named = dict.fromkeys(v for path in conversion.paths for v in (path.from_, path.to))
    for version in named:
        if version not in served:
            issues.append(
                _at(
                    crd,
                    where,
                    ("spec", "versions"),
                    f"serves no version {version!r}, which conversion.paths names",
                )
            )
    return issues
