"""``python -m orkestra_trio manifests KATALOG.yaml... | kubectl apply -f -``.

Prints, as one YAML stream, everything a cluster needs to run the Katalogs:
the Namespace, the CRDs, a ServiceAccount with least-privilege RBAC derived
from the Katalogs (no wildcard), a ConfigMap holding the Katalog files, the
Deployment, a Service (ONCOP, metrics) and a PodDisruptionBudget; with
``webhooks`` or ``conversion`` in a Katalog, the webhook configurations, the
CRD's conversion webhook and what supplies the serving certificate
(cert-manager, or a Secret and ``--webhook-ca-file``). What cannot be
derived is reported like ``validate`` does: ``file:line:col: message``.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

HELP = "print the Kubernetes objects that run Katalogs in a cluster (for kubectl apply -f -)"


def configure(parser: argparse.ArgumentParser) -> None:
    from orkestra_trio.deploy import DEFAULT_IMAGE, DEFAULT_NAMESPACE

    parser.add_argument("katalogs", nargs="+", metavar="KATALOG.yaml", help="the Katalog file(s)")
    parser.add_argument(
        "--namespace",
        default=DEFAULT_NAMESPACE,
        metavar="NS",
        help=f"where the runtime runs (default {DEFAULT_NAMESPACE}); CRs are watched in all",
    )
    parser.add_argument(
        "--image", default=DEFAULT_IMAGE, metavar="IMAGE", help=f"default {DEFAULT_IMAGE}"
    )
    parser.add_argument(
        "--replicas", type=int, default=2, metavar="N", help="runtime replicas (default 2)"
    )
    parser.add_argument(
        "--name", metavar="NAME", help="name of every object (default orkestra-<katalog names>)"
    )
    parser.add_argument(
        "--leader-elect",
        choices=("per-box", "single", "none"),
        default="per-box",
        help="how replicas share the boxes: each box its own Lease, the boxes spread over the "
        "replicas (per-box, the default), one leader runs all (single), or no election (none; "
        "only with --replicas 1)",
    )
    parser.add_argument(
        "--webhook-ca-file",
        metavar="PATH",
        help="Katalogs with webhooks or conversion: the CA (PEM) that signed the certificate "
        "you put in the Secret <name>-webhook-tls (kubectl create secret tls); written into "
        "each caBundle. Default: cert-manager issues the certificate and injects its CA",
    )


def _dns_label(flag: str, value: str) -> str:
    import re

    from orkestra_trio.commands.errors import UserError

    if not re.fullmatch(r"[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?", value):
        raise UserError(f"{flag} {value!r}: must be a DNS label (a-z, 0-9, '-', at most 63)")
    return value


def run(args: argparse.Namespace) -> int:
    import yaml

    from orkestra_trio.commands.errors import UserError
    from orkestra_trio.commands.validate import print_issues
    from orkestra_trio.deploy.manifests import (
        ManifestError,
        Settings,
        build_manifests,
        default_name,
        katalog_files,
    )
    from orkestra_trio.deploy.rbac import DeriveError, derive_rights
    from orkestra_trio.katalog import KatalogError, load_katalogs
    from orkestra_trio.runtime.crdinstall import InstallError, crd_manifest

    if args.replicas < 1:
        raise UserError(f"--replicas {args.replicas}: must be at least 1")
    if args.leader_elect == "none" and args.replicas > 1:
        raise UserError("--leader-elect none: several replicas would reconcile the same objects")
    try:
        katalogs = load_katalogs([Path(path) for path in args.katalogs])
    except KatalogError as exc:
        print_issues(exc.issues)
        return 1
    try:
        rights = derive_rights(katalogs, per_box=args.leader_elect == "per-box")
    except DeriveError as exc:
        for problem in exc.problems:
            print(problem, file=sys.stderr)
        count = len(exc.problems)
        print(f"{count} error{'s' if count != 1 else ''} found", file=sys.stderr)
        return 1
    settings = Settings(
        name=_dns_label("--name", args.name or default_name(katalogs)),
        namespace=_dns_label("--namespace", args.namespace),
        image=args.image,
        replicas=args.replicas,
        leader_elect="" if args.leader_elect == "none" else args.leader_elect,
        webhook_ca_bundle=_ca_bundle(args.webhook_ca_file),
    )
    try:
        crds = [crd_manifest(crd) for crd in katalogs.crds.values() if not crd.builtin]
        contents = {path: _read(path) for path in katalog_files(katalogs)}
        objects = build_manifests(katalogs, settings, rights, crds, contents)
    except (InstallError, ManifestError) as exc:
        raise UserError(str(exc)) from None
    dumper = getattr(yaml, "CSafeDumper", yaml.SafeDumper)
    sys.stdout.write(
        yaml.dump_all(objects, Dumper=dumper, sort_keys=False, explicit_start=True, width=1000)
    )
    return 0


def _read(path: Path) -> str:
    from orkestra_trio.commands.errors import UserError

    try:
        return path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise UserError(f"{path}: cannot read: {exc}") from None


def _ca_bundle(path: str | None) -> bytes | None:
    """The PEM of ``--webhook-ca-file`` (None without it): certificates only."""
    from orkestra_trio.commands.errors import UserError

    if path is None:
        return None
    try:
        text = Path(path).read_bytes()
    except OSError as exc:
        raise UserError(f"--webhook-ca-file {path}: {exc.strerror or exc}") from None
    if b"-----BEGIN CERTIFICATE-----" not in text or b"PRIVATE KEY" in text:
        raise UserError(f"--webhook-ca-file {path}: expected PEM certificates only (the CA)")
    return text
