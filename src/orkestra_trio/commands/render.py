"""``render``: what one reconcile would do for a CR, printed as YAML, with no cluster.

Users write a Katalog and want to see the Deployments and status it yields
before anything runs (kro and Crossplane users ask for exactly this). The
command loads the Katalog(s), reads the CR and optional observed objects from
files, and calls the same functions the runtime's reconcile calls
(:mod:`orkestra_trio.katalog.render`), so the output is what the runtime would
apply.
"""

from __future__ import annotations

import argparse
import difflib
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

import yaml

from orkestra_trio.cli import UserError

HELP = "Print the children and status one reconcile would produce for a CR (offline)."

# The C loader is much faster when pyyaml was built with libyaml.
_Loader: Any = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
_Dumper: Any = getattr(yaml, "CSafeDumper", yaml.SafeDumper)


def configure(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "katalogs",
        nargs="+",
        metavar="KATALOG.yaml",
        help="the Katalog file(s); give several when a cross: entry observes a CRD of another file",
    )
    parser.add_argument("--cr", required=True, metavar="CR.yaml", help="the custom resource")
    parser.add_argument(
        "--crd",
        metavar="KEY",
        help="the CRD key whose box renders the CR (default: found from apiVersion and kind)",
    )
    parser.add_argument(
        "--cross",
        action="append",
        default=[],
        metavar="AS=FILE.yaml",
        help="what the cross: entry named AS observes: a cross answer or a Kubernetes object "
        "(repeatable; entries without a file observe 'not found')",
    )
    parser.add_argument(
        "--children",
        metavar="FILE.yaml",
        help="the CR's children as read back from the cluster (objects, a List, or a YAML "
        "stream), for status fields that look at .children",
    )


def run(args: argparse.Namespace) -> int:
    from orkestra_trio.katalog import KatalogError, load_katalogs
    from orkestra_trio.katalog.render import (
        RenderError,
        build_context,
        cross_answer,
        describe_cr,
        render_children,
        render_reconcile_children,
        render_status,
    )

    try:
        katalogs = load_katalogs([Path(path) for path in args.katalogs])
    except KatalogError as exc:
        raise UserError(f"the Katalog does not load:\n{exc}") from None

    cr = _read_cr(args.cr)
    crd = _pick_crd(katalogs.crds, cr, args.crd, args.cr)
    box = crd.operator_box
    if box is None:
        raise UserError(f"CRD {crd.key!r} has no operatorBox: nothing to render")
    if crd.namespaced:
        cr.setdefault("metadata", {}).setdefault("namespace", "default")

    cross_files = _parse_cross_flags(args.cross, [entry.as_ for entry in box.cross])
    cross = {}
    for entry in box.cross:
        path = cross_files.get(entry.as_)
        cross[entry.as_] = cross_answer(_read_single_object(path) if path else None)
    children = _read_objects(args.children) if args.children else None

    context = build_context(cr, cross=cross, children=children)
    generation = int((cr.get("metadata") or {}).get("generation") or 1)
    try:
        reconcile = render_reconcile_children(box, context)
        deleting = render_children(box, context, phase="onDelete")
        status = render_status(box, context, generation=generation)
    except RenderError as exc:
        raise UserError(str(exc)) from None

    document: dict[str, Any] = {
        "cr": describe_cr(context),
        "crd": crd.key,
        "children": [
            {
                "phase": child.phase,
                "apply": "every reconcile" if child.reconcile else "create when absent",
                "manifest": child.manifest,
            }
            for child in reconcile
            if child.present
        ],
        "absent": [
            {
                "phase": child.phase,
                "kind": child.kind,
                "name": child.name,
                "namespace": child.namespace,
                "why": _absent_reason(child.phase),
            }
            for child in reconcile
            if not child.present
        ],
        "onDelete": [child.manifest for child in deleting if child.present],
        "status": status,
    }
    print(yaml.dump(document, Dumper=_Dumper, sort_keys=False, default_flow_style=False), end="")
    return 0


def _absent_reason(phase: str) -> str:
    if phase == "onReconcile":
        return "its when/or conditions do not hold: a reconcile deletes it if the CR owns it"
    return "its when/or conditions do not hold: it is not created"


def _pick_crd(crds: Mapping[str, Any], cr: Mapping[str, Any], key: str | None, cr_file: str) -> Any:
    if key is not None:
        if key not in crds:
            raise UserError(f"--crd {key!r}: no such CRD key{_did_you_mean(key, crds)}")
        return crds[key]
    api_version, kind = cr.get("apiVersion"), cr.get("kind")
    for crd in crds.values():
        if crd.api_types.api_version == api_version and crd.api_types.kind == kind:
            return crd
    known = ", ".join(f"{crd.api_types.api_version} {crd.api_types.kind}" for crd in crds.values())
    raise UserError(
        f"{cr_file}: no CRD of the Katalog serves apiVersion {api_version!r} kind {kind!r} "
        f"(it has: {known}); use --crd KEY to choose one"
    )


def _parse_cross_flags(flags: Iterable[str], names: list[str]) -> dict[str, str]:
    result: dict[str, str] = {}
    for flag in flags:
        name, sep, path = flag.partition("=")
        if not sep or not name or not path:
            raise UserError(f"--cross {flag!r}: expected AS=FILE.yaml")
        if name not in names:
            choices = ", ".join(names) if names else "none: the box declares no cross: entries"
            raise UserError(
                f"--cross {name}: the box has no cross: entry named {name!r} "
                f"(its names: {choices}){_did_you_mean(name, names)}"
            )
        result[name] = path
    return result


def _did_you_mean(word: str, choices: Iterable[str]) -> str:
    close = difflib.get_close_matches(word, list(choices), n=1)
    return f"; did you mean {close[0]!r}?" if close else ""


def _load_documents(path: str) -> list[Any]:
    try:
        text = Path(path).read_text(encoding="utf-8")
    except OSError as exc:
        raise UserError(f"{path}: cannot read: {exc.strerror or exc}") from None
    try:
        return [doc for doc in yaml.load_all(text, Loader=_Loader) if doc is not None]
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        where = f"{path}:{mark.line + 1}:{mark.column + 1}" if mark else path
        raise UserError(f"{where}: invalid YAML: {exc.problem or exc}") from None
    except yaml.YAMLError as exc:
        raise UserError(f"{path}: invalid YAML: {exc}") from None


def _read_single_object(path: str) -> dict[str, Any]:
    documents = _load_documents(path)
    if len(documents) != 1 or not isinstance(documents[0], dict):
        raise UserError(f"{path}: expected exactly one YAML mapping (one object)")
    return documents[0]


def _read_cr(path: str) -> dict[str, Any]:
    cr = _read_single_object(path)
    for key in ("apiVersion", "kind"):
        if not isinstance(cr.get(key), str) or not cr[key]:
            raise UserError(f"{path}: the CR has no {key}")
    metadata = cr.get("metadata")
    if not isinstance(metadata, dict) or not metadata.get("name"):
        raise UserError(f"{path}: the CR has no metadata.name")
    for key in ("spec", "status"):
        if key in cr and cr[key] is not None and not isinstance(cr[key], dict):
            raise UserError(f"{path}: the CR's {key} must be a mapping")
    return cr


def _read_objects(path: str) -> list[dict[str, Any]]:
    objects: list[dict[str, Any]] = []
    for document in _load_documents(path):
        if isinstance(document, list):
            items: list[Any] = document
        elif isinstance(document, dict) and isinstance(document.get("items"), list):
            items = document["items"]
        else:
            items = [document]
        for item in items:
            if not isinstance(item, dict) or not isinstance(item.get("kind"), str):
                raise UserError(f"{path}: every child must be a Kubernetes object with a kind")
            objects.append(item)
    return objects
