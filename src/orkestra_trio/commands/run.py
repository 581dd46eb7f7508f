"""``python -m orkestra_trio run KATALOG.yaml...`` (or just ``python -m orkestra_trio KATALOG.yaml``).

Runs every operatorBox of the Katalogs. Without a cluster configured (no
``--kubeconfig``, no ``$KUBECONFIG``, no ``~/.kube/config``, not in a pod) it
starts the embedded API server, installs the CRDs and ``crFiles`` and writes
a kubeconfig so that ``kubectl`` works against it. Start-up prints what runs
where in a few lines. SIGINT or SIGTERM stops taking work, lets in-flight
reconciles finish within ``--grace`` seconds and exits 0.
"""

from __future__ import annotations

import argparse
import signal
import sys
from pathlib import Path

HELP = "run the operatorBoxes of Katalog files (on the embedded API server by default)"

DEFAULT_LISTEN = "127.0.0.1:8080"
POD_LISTEN = "0.0.0.0:8080"
DEFAULT_KUBECONFIG_OUT = "orkestra.kubeconfig"


def configure(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("katalogs", nargs="+", metavar="KATALOG.yaml", help="the Katalog file(s)")
    parser.add_argument(
        "--kubeconfig",
        metavar="PATH",
        help="run against this cluster (default: $KUBECONFIG, ~/.kube/config, in-cluster, "
        "else the embedded API server)",
    )
    parser.add_argument(
        "--kubeconfig-out",
        metavar="PATH",
        help=f"embedded mode: where to write a kubeconfig for kubectl "
        f"(default ./{DEFAULT_KUBECONFIG_OUT})",
    )
    parser.add_argument(
        "--listen",
        metavar="HOST:PORT",
        help=f"the runtime's HTTP surface: probes, metrics, ONCOP (default {DEFAULT_LISTEN}, "
        f"in a pod {POD_LISTEN} so that the kubelet's probes reach it; port 0 picks a free port)",
    )
    parser.add_argument(
        "--oncop-token",
        metavar="TOKEN",
        help="require 'Authorization: Bearer TOKEN' on ONCOP and the Control Center's live feed",
    )
    parser.add_argument(
        "--oncop-token-file", metavar="PATH", help="like --oncop-token, the token read from PATH"
    )
    parser.add_argument(
        "--apiserver-listen",
        default="127.0.0.1:0",
        metavar="HOST:PORT",
        help="embedded mode: where the API server listens (default 127.0.0.1:0, a free port)",
    )
    parser.add_argument(
        "--state", metavar="FILE", help="embedded mode: SQLite file that keeps every object"
    )
    parser.add_argument(
        "--namespace",
        default="",
        metavar="NS",
        help="watch and reconcile CRs of one namespace only (default: all namespaces)",
    )
    parser.add_argument(
        "--leader-elect",
        nargs="?",
        const="single",
        choices=("single", "per-box"),
        metavar="single|per-box",
        help="run several replicas: 'single' (the default mode): only the holder of one "
        "coordination.k8s.io Lease runs the boxes, the others stand by (/ready 503 "
        "'standby'); 'per-box': each box has its own Lease and the replicas share the boxes",
    )
    parser.add_argument(
        "--leader-elect-lease",
        metavar="NAME",
        help="with --leader-elect: the Lease name (default: derived from the Katalog names)",
    )
    parser.add_argument(
        "--leader-elect-namespace",
        metavar="NS",
        help="with --leader-elect: the Lease's namespace (default: --namespace, else the "
        "cluster configuration's namespace: in a pod its own)",
    )
    parser.add_argument(
        "--leader-elect-identity",
        metavar="ID",
        help="with --leader-elect: this replica's name in the Lease (default: hostname_pid)",
    )
    parser.add_argument(
        "--log-format", choices=("text", "json"), default="text", help="log lines as text or JSON"
    )
    parser.add_argument(
        "--grace",
        type=float,
        default=10.0,
        metavar="SECONDS",
        help="on SIGINT/SIGTERM, how long in-flight reconciles may finish (default 10)",
    )


def run(args: argparse.Namespace) -> int:
    import trio

    from orkestra_trio.cli import UserError
    from orkestra_trio.commands.apiserver import _parse_listen
    from orkestra_trio.katalog import KatalogError, load_katalogs
    from orkestra_trio.kube import ConfigError
    from orkestra_trio.oncop.reader import open_remote_reader
    from orkestra_trio.oncop.server import exposure_warning, read_token_file
    from orkestra_trio.runtime.crdinstall import InstallError
    from orkestra_trio.runtime.runtime import open_runtime
    from orkestra_trio.web.app import build_web_app
    from orkestra_trio.web.logs import log_health_changes, setup_logging
    from orkestra_trio.web.server import serve_http
    from orkestra_trio.web.view import RuntimeView

    try:
        katalogs = load_katalogs([Path(path) for path in args.katalogs])
    except KatalogError as exc:
        raise UserError(f"the Katalog does not load:\n{exc}") from None
    if args.listen is None:
        from orkestra_trio.kube.config import running_in_pod

        args.listen = POD_LISTEN if running_in_pod() else DEFAULT_LISTEN
    web_host, web_port = _parse_listen(args.listen)
    _check_can_listen(args.listen, web_host, web_port)
    api_host, api_port = _parse_listen(args.apiserver_listen)
    if args.state is not None and not Path(args.state).resolve().parent.is_dir():
        raise UserError(f"--state {args.state}: folder {Path(args.state).parent} does not exist")
    if args.kubeconfig is not None and not Path(args.kubeconfig).exists():
        raise UserError(f"--kubeconfig {args.kubeconfig}: no such file")
    token = args.oncop_token
    if token is None and args.oncop_token_file is not None:
        try:
            token = read_token_file(args.oncop_token_file)
        except OSError as exc:
            raise UserError(f"--oncop-token-file {args.oncop_token_file}: {exc.strerror}") from None
        except ValueError as exc:
            raise UserError(str(exc)) from None
    setup_logging(args.log_format)

    async def main() -> None:
        with trio.open_signal_receiver(signal.SIGINT, signal.SIGTERM) as signals:
            async with (
                open_remote_reader() as remote,
                open_runtime(
                    katalogs,
                    kubeconfig=args.kubeconfig,
                    kubeconfig_out=args.kubeconfig_out or DEFAULT_KUBECONFIG_OUT,
                    state_file=args.state,
                    namespace=args.namespace,
                    apiserver_host=api_host,
                    apiserver_port=api_port,
                    grace=args.grace,
                    remote=remote,
                    leader_elect=args.leader_elect or False,
                    leader_elect_lease=args.leader_elect_lease,
                    leader_elect_namespace=args.leader_elect_namespace,
                    leader_elect_identity=args.leader_elect_identity,
                ) as rt,
            ):
                # A changed remote answer re-enqueues the CRs that read it.
                remote.on_change = rt.registry.remote_changed
                stop_web = trio.Event()
                view = RuntimeView(rt)
                await view.start()
                app = build_web_app(view, token=token)
                async with trio.open_nursery() as nursery:
                    nursery.start_soon(log_health_changes, view)
                    try:
                        binds = await nursery.start(serve_http, app, web_host, web_port, stop_web)
                    except* OSError as group:  # hypercorn raises it inside its own nursery
                        exc = _first(group)
                        reason = exc.strerror if isinstance(exc, OSError) else None
                        raise UserError(
                            f"--listen {args.listen}: cannot serve: {reason or exc}"
                        ) from None
                    for line in rt.describe():
                        print(line, flush=True)
                    print(
                        f"http: {binds[0]} (/healthz, /readyz, /metrics, /katalog, /ui)", flush=True
                    )
                    warning = exposure_warning(web_host, token)
                    if warning is not None:
                        print(warning, file=sys.stderr, flush=True)
                    if rt.kubeconfig_path is not None:
                        print(
                            f"try: kubectl --kubeconfig {rt.kubeconfig_path} get "
                            f"{','.join(_plurals(rt))}",
                            flush=True,
                        )
                    async for signum in signals:
                        print(
                            f"{signal.Signals(signum).name}: stopping (in-flight reconciles "
                            f"have {args.grace:g}s)",
                            flush=True,
                        )
                        break
                    await rt.shutdown(args.grace)
                    stop_web.set()
                    nursery.cancel_scope.cancel()  # the health log follower

    try:
        trio.run(main)
    except (ConfigError, InstallError) as exc:
        raise UserError(str(exc)) from None
    except BaseExceptionGroup as group:
        # A UserError raised inside the nurseries arrives wrapped: unwrap it.
        user, _ = group.split(UserError)
        if user is not None:
            raise _first(user) from None
        raise
    print("stopped", flush=True)
    return 0


def _check_can_listen(flag: str, host: str, port: int) -> None:
    """Fail early and cleanly when the HTTP address is taken (before anything starts).

    hypercorn would report it from inside its nursery, after the runtime
    started, and leaks the socket it failed to bind.
    """
    import socket

    from orkestra_trio.cli import UserError

    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    with socket.socket(family, socket.SOCK_STREAM) as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind((host, port))
        except OSError as exc:
            raise UserError(f"--listen {flag}: cannot serve: {exc.strerror or exc}") from None


def _plurals(rt: object) -> list[str]:
    from orkestra_trio.runtime.runtime import Runtime

    assert isinstance(rt, Runtime)
    return [box.crd.api_types.plural for box in rt.boxes.values()]


def _first(group: BaseExceptionGroup[BaseException]) -> BaseException:
    exc: BaseException = group
    while isinstance(exc, BaseExceptionGroup):
        exc = exc.exceptions[0]
    return exc
