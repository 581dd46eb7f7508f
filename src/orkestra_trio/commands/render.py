"""``render``: what one reconcile would do for a CR, printed as YAML, with no cluster.

Users write a Katalog and want to see the Deployments and status it yields
before anything runs (kro and Crossplane users ask for exactly this). The
command loads the Katalog(s), reads the CR and optional observed objects from
files, and prints the plan of :func:`orkestra_trio.katalog.plan.plan_reconcile`,
the function the runtime's reconcile applies, so the output is what the
runtime would apply (and what ``simulate --plans`` prints), plus the onDelete
children.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

import yaml

from orkestra_trio.commands.errors import UserError
from orkestra_trio.commands.validate import print_issues

if TYPE_CHECKING:
    from orkestra_trio.katalog.yamlsource import KeyPath, SourceMap

HELP = "Print the plan one reconcile would apply for a CR: children, status, Events (offline)."

# The C dumper is much faster when pyyaml was built with libyaml.
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
        "--external",
        action="append",
        default=[],
        metavar="NAME=FILE.yaml",
        help="the body the external call NAME answers, with status 200 (repeatable; render makes "
        "no calls: calls without a file answer called: false)",
    )
    parser.add_argument(
        "--remote",
        metavar="FILE.yaml",
        help="the answer of the box's remote reconciler ({result, status, resources...})",
    )
    parser.add_argument(
        "--children",
        metavar="FILE.yaml",
        help="the CR's children as read back from the cluster (objects, a List, or a YAML "
        "stream), for status fields that look at .children",
    )
    parser.add_argument(
        "--secrets",
        metavar="FILE.yaml",
        help="the Secrets and ConfigMaps the box's fromSecret/fromConfigMap entries copy "
        "(objects, a List, or a YAML stream; one without a namespace is in the CR's)",
    )


def run(args: argparse.Namespace) -> int:
    from orkestra_trio.katalog import KatalogError
    from orkestra_trio.katalog.admission import AdmissionDenied
    from orkestra_trio.katalog.render import RenderError

    try:
        return _render(args)
    except KatalogError as exc:
        # Katalog, CR, cross and children files alike: file:line:col: lines.
        print_issues(exc.issues)
        return 1
    except AdmissionDenied as exc:  # a deny rule: the runtime would not reconcile this CR
        print(f"{args.cr}: {exc}", file=sys.stderr)
        return 1
    except RenderError as exc:
        # Names the Katalog's file:line:col of the template and the CR.
        print(exc, file=sys.stderr)
        return 1


def _render(args: argparse.Namespace) -> int:
    from orkestra_trio.katalog import KatalogError, KatalogIssue, load_katalogs
    from orkestra_trio.katalog.external import not_called
    from orkestra_trio.katalog.plan import Observed, plan_document, plan_reconcile
    from orkestra_trio.katalog.render import (
        build_context,
        cross_answer,
        normalized,
        render_children,
    )

    katalogs = load_katalogs([Path(path) for path in args.katalogs])
    cr, generation, cr_source = _read_cr(args.cr)
    crd = _pick_crd(katalogs.crds, cr, args.crd, cr_source)
    box = crd.operator_box
    if box is None:
        where = crd.location
        message = f"CRD {crd.key!r} has no operatorBox: no box renders {args.cr}"
        issue = KatalogIssue(where.file, where.line, where.column, where.path, message)
        raise KatalogError([issue])
    if crd.namespaced:
        cr.setdefault("metadata", {}).setdefault("namespace", "default")

    cross_files = _parse_named_files("cross", args.cross, [entry.as_ for entry in box.cross])
    cross = {}
    for entry in box.cross:
        path = cross_files.get(entry.as_)
        cross[entry.as_] = cross_answer(_read_single_object(path)[0] if path else None)
    external_files = _parse_named_files("external", args.external, [c.name for c in box.external])
    external = {
        call.name: _answer(external_files[call.name])
        if call.name in external_files
        else not_called()
        for call in box.external
    }
    remote = _answer(args.remote) if args.remote else None
    children = _read_objects(args.children) if args.children else None
    cr_namespace = str((cr.get("metadata") or {}).get("namespace") or "")
    sources = {
        (
            str(obj.get("kind") or "Secret"),
            str(meta.get("namespace") or cr_namespace),
            str(meta.get("name") or ""),
        ): obj
        for obj in (_read_objects(args.secrets) if args.secrets else ())
        if isinstance(meta := obj.get("metadata") or {}, dict)
    }

    # The very plan a reconcile of the runtime computes; the Katalog's own
    # clock-free parts only (the runtime passes the time of the status).
    cr["metadata"].setdefault("generation", generation)  # as the API server sets it
    observed = Observed(
        cr,
        cross=cross,
        external=external,
        remote=remote,
        children=children or (),
        sources=sources,
    )
    plan = plan_reconcile(crd, observed)
    if plan.error is not None:
        raise plan.error
    context = build_context(normalized(crd, cr), cross=cross, external=external, children=children)
    deleting = render_children(box, context, phase="onDelete")
    document: dict[str, Any] = {"crd": crd.key, **plan_document(plan)}
    document["onDelete"] = [child.manifest for child in deleting if child.present]
    print(to_yaml(document), end="")
    return 0


def to_yaml(document: Any) -> str:
    """A plan document as ``render`` and ``simulate --plans`` print it: block YAML, keys in order."""
    return str(yaml.dump(document, Dumper=_Dumper, sort_keys=False, default_flow_style=False))


def _did_you_mean(word: str, choices: Iterable[str]) -> str:
    # Imported here: importing the katalog package at module level would make
    # `--help` pay for jinja2 (see cli.py).
    from orkestra_trio.katalog.errors import did_you_mean

    return did_you_mean(word, choices)


def _pick_crd(
    crds: Mapping[str, Any], cr: Mapping[str, Any], key: str | None, cr_source: SourceMap
) -> Any:
    if key is not None:
        if key not in crds:
            raise UserError(f"--crd {key!r}: no such CRD key{_did_you_mean(key, crds)}")
        return crds[key]
    api_version, kind = cr.get("apiVersion"), cr.get("kind")
    for crd in crds.values():
        if crd.api_types.api_version == api_version and crd.api_types.kind == kind:
            return crd
    known = ", ".join(f"{crd.api_types.api_version} {crd.api_types.kind}" for crd in crds.values())
    raise _problem(
        cr_source,
        ("kind",),
        f"no CRD of the Katalog serves apiVersion {api_version!r} kind {kind!r} "
        f"(it has: {known}); use --crd KEY to choose one",
    )


def _parse_named_files(option: str, flags: Iterable[str], names: list[str]) -> dict[str, str]:
    """``--cross AS=FILE`` / ``--external NAME=FILE`` flags, the names checked against the box's."""
    what, whats = (
        ("cross: entry", "cross: entries")
        if option == "cross"
        else ("external call", "external calls")
    )
    result: dict[str, str] = {}
    for flag in flags:
        name, sep, path = flag.partition("=")
        if not sep or not name or not path:
            placeholder = "AS" if option == "cross" else "NAME"
            raise UserError(f"--{option} {flag!r}: expected {placeholder}=FILE.yaml")
        if name not in names:
            choices = ", ".join(names) if names else f"none: the box declares no {whats}"
            raise UserError(
                f"--{option} {name}: the box has no {what} named {name!r} "
                f"(its names: {choices}){_did_you_mean(name, names)}"
            )
        result[name] = path
    return result


def _answer(path: str) -> dict[str, Any]:
    """An external call's (or remote reconciler's) answer whose body is the file: status 200."""
    body, _ = _read_single_object(path)
    return {"called": True, "status": 200, "body": body, "headers": {}, "error": ""}


def _problem(source: SourceMap, path: KeyPath, message: str) -> Exception:
    """A KatalogError with one issue at the position of ``path`` in ``source``."""
    from orkestra_trio.katalog import KatalogError, KatalogIssue
    from orkestra_trio.katalog.yamlsource import format_path

    where = source.value_at(path)
    issue = KatalogIssue(source.file, where.line, where.column, format_path(path), message)
    return KatalogError([issue])


def _load_documents(path: str) -> list[tuple[Any, SourceMap]]:
    from orkestra_trio.katalog import KatalogError, KatalogIssue
    from orkestra_trio.katalog.yamlsource import YamlSourceError, load_yaml_stream

    try:
        return load_yaml_stream(path)
    except YamlSourceError as exc:
        raise KatalogError(
            [KatalogIssue(exc.file, exc.line, exc.column, "", exc.message)]
        ) from None


def _read_single_object(path: str) -> tuple[dict[str, Any], SourceMap]:
    from orkestra_trio.katalog import KatalogError, KatalogIssue
    from orkestra_trio.katalog.reading import describe

    documents = _load_documents(path)
    if not documents:
        issue = KatalogIssue(path, 1, 1, "", "expected one YAML mapping (one object), got nothing")
        raise KatalogError([issue])
    if len(documents) > 1:
        _, second = documents[1]
        raise _problem(second, (), "expected one YAML document (one object), got several")
    value, source = documents[0]
    if not isinstance(value, dict):
        raise _problem(source, (), f"expected a mapping (one object), got {describe(value)}")
    return value, source


def _read_cr(path: str) -> tuple[dict[str, Any], int, SourceMap]:
    """The CR of ``path`` and its generation, checked as the API server would have."""
    from orkestra_trio.katalog.reading import describe

    cr, source = _read_single_object(path)
    for key in ("apiVersion", "kind"):
        if cr.get(key) is None:
            raise _problem(source, (), f"the CR has no {key}")
        if not isinstance(cr[key], str) or not cr[key]:
            raise _problem(source, (key,), f"expected a non-empty string, got {describe(cr[key])}")
    metadata = cr.get("metadata")
    if not isinstance(metadata, dict):
        raise _problem(source, ("metadata",), "the CR has no metadata mapping (with a name)")
    for key in ("name", "namespace", "uid"):
        value = metadata.get(key)
        if key == "name" and value is None:
            raise _problem(source, ("metadata",), "the CR has no metadata.name")
        if value is not None and (not isinstance(value, str) or not value):
            where = ("metadata", key)
            raise _problem(source, where, f"expected a non-empty string, got {describe(value)}")
    for key in ("labels", "annotations"):
        value = metadata.get(key)
        if value is not None and not isinstance(value, dict):
            raise _problem(source, ("metadata", key), f"expected a mapping, got {describe(value)}")
    generation = metadata.get("generation", 1)
    if isinstance(generation, bool) or not isinstance(generation, int) or generation < 1:
        where = ("metadata", "generation")
        raise _problem(source, where, f"expected a whole number >= 1, got {describe(generation)}")
    for key in ("spec", "status"):
        if cr.get(key) is not None and not isinstance(cr[key], dict):
            raise _problem(source, (key,), f"the CR's {key} must be a mapping")
    return cr, generation, source


def _read_objects(path: str) -> list[dict[str, Any]]:
    objects: list[dict[str, Any]] = []
    for document, source in _load_documents(path):
        if isinstance(document, list):
            items: list[tuple[Any, KeyPath]] = [(item, (i,)) for i, item in enumerate(document)]
        elif isinstance(document, dict) and isinstance(document.get("items"), list):
            items = [(item, ("items", i)) for i, item in enumerate(document["items"])]
        else:
            items = [(document, ())]
        for item, where in items:
            if not isinstance(item, dict) or not isinstance(item.get("kind"), str):
                raise _problem(source, where, "every child must be a Kubernetes object with a kind")
            objects.append(item)
    return objects
