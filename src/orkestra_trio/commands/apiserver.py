"""``python -m orkestra_trio apiserver``: run the embedded Kubernetes API server alone.

Useful to try kubectl against it, to run a Katalog's operator against a
long-lived server, or to keep state between runs with ``--state``. Prints the
URL and the kubeconfig path, then serves until SIGINT/SIGTERM (exit 0).
"""

from __future__ import annotations

import argparse
import signal
import sys
from pathlib import Path
from typing import Any

HELP = (
    "run the embedded Kubernetes API server (loopback by default; beyond loopback only with "
    "--token-auth-file, over TLS)"
)


def configure(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--listen",
        default="127.0.0.1:0",
        metavar="HOST:PORT",
        help="address to listen on (default 127.0.0.1:0, any free port); an address beyond "
        "loopback needs --token-auth-file",
    )
    parser.add_argument(
        "--token-auth-file",
        metavar="PATH",
        help="authenticate requests by bearer token, kube-apiserver's CSV format "
        '(token,user,uid,"group1,group2"); every path but /healthz /readyz /livez /version then '
        "needs a token, TLS is on, and the kubeconfig carries a generated admin token",
    )
    parser.add_argument(
        "--tls-cert-file",
        metavar="PATH",
        help="serve HTTPS with this certificate (PEM); with --token-auth-file and no "
        "certificate, a self-signed one is generated and written into the kubeconfig",
    )
    parser.add_argument(
        "--tls-private-key-file", metavar="PATH", help="the key of --tls-cert-file (PEM)"
    )
    parser.add_argument(
        "--authorization",
        choices=("rbac",),
        help="enforce RBAC (rbac.authorization.k8s.io/v1 Roles, ClusterRoles and bindings) on "
        "every authenticated request; turns authentication on (the kubeconfig's admin token "
        "stays all-powerful; ServiceAccount tokens from 'kubectl create token' work)",
    )
    parser.add_argument(
        "--kubeconfig-out",
        metavar="PATH",
        help="where to write a kubeconfig (default: apiserver.kubeconfig in the state directory, "
        "$XDG_STATE_HOME/orkestra_trio, else ~/.local/state/orkestra_trio)",
    )
    parser.add_argument(
        "--state",
        metavar="FILE",
        help="SQLite file that keeps every object across restarts",
    )
    parser.add_argument(
        "--no-workload-simulation",
        action="store_true",
        help="do not mark Deployments/StatefulSets ready or Jobs complete",
    )
    parser.add_argument(
        "--bookmark-interval",
        type=float,
        default=5.0,
        metavar="SECONDS",
        help="seconds between watch bookmarks (default 5)",
    )
    parser.add_argument(
        "--compaction-interval",
        type=float,
        default=300.0,
        metavar="SECONDS",
        help="compact the watch history every SECONDS, as kube does etcd: older "
        "resourceVersions get 410 Expired (default 300; 0 keeps it by count only)",
    )


def _parse_listen(text: str, flag: str = "--listen") -> tuple[str, int]:
    from orkestra_trio.commands.errors import UserError

    host, sep, port_text = text.rpartition(":")
    if not sep or not host:
        raise UserError(f"{flag} {text!r}: expected HOST:PORT, e.g. 127.0.0.1:6443")
    try:
        port = int(port_text)
    except ValueError:
        raise UserError(f"{flag} {text!r}: port {port_text!r} is not a number") from None
    if not 0 <= port <= 65535:
        raise UserError(f"{flag} {text!r}: port {port} is out of range 0-65535")
    return host.strip("[]"), port


def serving_security(
    host: str,
    *,
    token_auth_file: str | None,
    tls_cert_file: str | None,
    tls_private_key_file: str | None,
    flag: str = "--listen",
    authorization: str | None = None,
    prefix: str = "--",
) -> dict[str, Any]:
    """The security arguments of ``open_apiserver``, every mistake a one-line UserError.

    ``flag`` names the listen flag and ``prefix`` the security flags in messages
    (``run`` spells them ``--apiserver-token-auth-file`` and so on).
    """
    from orkestra_trio.apiserver.security import (
        Authentication,
        SecurityError,
        check_exposure,
        given_tls,
    )
    from orkestra_trio.auth import TokenFileError
    from orkestra_trio.commands.errors import UserError

    try:
        authentication = None
        if token_auth_file is not None or authorization is not None:
            authentication = Authentication.create(token_auth_file)
        check_exposure(host, authentication, flag, prefix)
        given_tls(tls_cert_file, tls_private_key_file, prefix)
    except TokenFileError as exc:
        raise UserError(f"{prefix}token-auth-file {exc}") from None
    except SecurityError as exc:
        raise UserError(str(exc)) from None
    return {
        "authentication": authentication,
        "tls_cert_file": tls_cert_file,
        "tls_private_key_file": tls_private_key_file,
        "authorization": authorization,
    }


def run(args: argparse.Namespace) -> int:
    import trio

    from orkestra_trio.apiserver import open_apiserver
    from orkestra_trio.apiserver.kubeconfig import claim_default_kubeconfig
    from orkestra_trio.commands.errors import UserError

    host, port = _parse_listen(args.listen)
    state = args.state
    if args.compaction_interval < 0:
        raise UserError(f"--compaction-interval {args.compaction_interval}: must be >= 0")
    if state is not None and not Path(state).resolve().parent.is_dir():
        raise UserError(f"--state {state}: folder {Path(state).parent} does not exist")

    security = serving_security(
        host,
        token_auth_file=args.token_auth_file,
        tls_cert_file=args.tls_cert_file,
        tls_private_key_file=args.tls_private_key_file,
        authorization=args.authorization,
    )

    async def main() -> None:
        with trio.open_signal_receiver(signal.SIGINT, signal.SIGTERM) as signals:
            async with open_apiserver(
                host=host,
                port=port,
                state_file=state,
                workload_simulation=not args.no_workload_simulation,
                bookmark_interval=args.bookmark_interval,
                compaction_interval=args.compaction_interval,
                **security,
            ) as server:
                server.write_kubeconfig(kubeconfig)
                print(f"serving the Kubernetes API on {server.url}", flush=True)
                print(f"kubeconfig: {kubeconfig}", flush=True)
                print(f"try: kubectl --kubeconfig {kubeconfig} get namespaces", flush=True)
                async for _signum in signals:
                    break

    # Claimed last, once every check that can refuse has passed: nothing leaks the lock.
    claim = None  # held until the server stops: another server at once writes its own file
    if args.kubeconfig_out:
        kubeconfig = Path(args.kubeconfig_out).resolve()
    else:
        kubeconfig, claim = claim_default_kubeconfig("apiserver.kubeconfig")
    try:
        trio.run(main)
    except (OSError, BaseExceptionGroup) as error:
        # A socket that cannot be bound arrives wrapped in the server's nursery group.
        leaf: BaseException = error
        while isinstance(leaf, BaseExceptionGroup) and len(leaf.exceptions) == 1:
            leaf = leaf.exceptions[0]
        if not isinstance(leaf, OSError):
            raise
        raise UserError(f"cannot serve on {host}:{port}: {leaf.strerror or leaf}") from None
    finally:
        if claim is not None:
            claim.close()
    print("stopped", file=sys.stderr, flush=True)
    return 0
