"""``python -m orkestra_trio run KATALOG.yaml...`` (or just ``python -m orkestra_trio KATALOG.yaml``).

Runs every operatorBox of the Katalogs. Which cluster: ``--embedded`` → the
embedded API server; else ``--kubeconfig FILE``; else ``$KUBECONFIG``; else
``~/.kube/config``; else the in-cluster service account (in a pod); else,
with nothing configured, the embedded API server, which gets the CRDs and
``crFiles`` installed and a kubeconfig written (to the state directory, see
:func:`~orkestra_trio.apiserver.kubeconfig.state_dir`) so that ``kubectl``
works against it. Start-up prints what runs where in a few lines, the
cluster's line saying where that choice came from. A configured cluster
that does not answer is retried (one line per attempt, capped backoff).

Without ``--listen``, a busy 127.0.0.1:8080 is no reason to stop: the
runtime takes a free port and says so (an explicit ``--listen`` that cannot
be bound is an error). While keys are pending a progress line is logged
every ``--progress-interval`` seconds. SIGINT or SIGTERM stops taking work,
lets in-flight reconciles finish within ``--grace`` seconds and exits 0.
"""

from __future__ import annotations

import argparse
import errno
import math
import os
import signal
import sys
from collections.abc import Mapping
from functools import partial
from pathlib import Path
from typing import TYPE_CHECKING, Any

import attrs

if TYPE_CHECKING:
    import trio

    from orkestra_trio.katalog import KatalogSet
    from orkestra_trio.runtime.runtime import Runtime
    from orkestra_trio.webhook.server import CertificateFiles

HELP = "run the operatorBoxes of Katalog files (on the embedded API server by default)"

DEFAULT_LISTEN = "127.0.0.1:8080"
#: Where ``--webhook-listen`` alone serves: loopback, like every surface by default.
DEFAULT_WEBHOOK_LISTEN = "127.0.0.1:9443"
POD_LISTEN = "0.0.0.0:8080"
#: Where the gateway API serves when a Katalog turns it on (gateway.api.enabled): loopback.
DEFAULT_GATEWAY_LISTEN = "127.0.0.1:8090"
#: The kubeconfig's file name in the state directory (without --kubeconfig-out).
DEFAULT_KUBECONFIG_OUT = "kubeconfig"
#: --log-level's default comes from this variable when it is set.
LOG_LEVEL_ENV = "ORKESTRA_LOG_LEVEL"
LOG_LEVELS = ("debug", "info", "warning", "error")


def configure(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("katalogs", nargs="+", metavar="KATALOG.yaml", help="the Katalog file(s)")
    parser.add_argument(
        "--kubeconfig",
        metavar="PATH",
        help="run against this cluster (default: $KUBECONFIG, ~/.kube/config, in-cluster, "
        "else the embedded API server)",
    )
    parser.add_argument(
        "--context",
        metavar="NAME",
        help="the kubeconfig context to use (default: its current-context)",
    )
    parser.add_argument(
        "--embedded",
        action="store_true",
        help="run on the embedded API server whatever $KUBECONFIG, ~/.kube/config or the pod "
        "environment say",
    )
    parser.add_argument(
        "--kubeconfig-out",
        metavar="PATH",
        help="embedded mode: where to write a kubeconfig for kubectl (default "
        f"$XDG_STATE_HOME/orkestra_trio/{DEFAULT_KUBECONFIG_OUT}, "
        f"else ~/.local/state/orkestra_trio/{DEFAULT_KUBECONFIG_OUT})",
    )
    parser.add_argument(
        "--listen",
        metavar="HOST:PORT",
        help=f"the runtime's HTTP surface: probes, metrics, ONCOP (default {DEFAULT_LISTEN}, or "
        f"a free port when that one is busy; in a pod {POD_LISTEN} so that the kubelet's probes "
        "reach it; port 0 picks a free port)",
    )
    parser.add_argument(
        "--oncop-token",
        metavar="TOKEN",
        help="require 'Authorization: Bearer TOKEN' on the whole HTTP surface (ONCOP, /metrics, "
        "/ui and its websocket) except the probes /healthz /readyz /health /ready /startup; "
        "a browser opens /ui/?token=TOKEN once",
    )
    parser.add_argument(
        "--oncop-token-file", metavar="PATH", help="like --oncop-token, the token read from PATH"
    )
    parser.add_argument(
        "--oncop-tokenreview",
        action="store_true",
        help="also accept the cluster's ServiceAccount tokens on the HTTP surface (each checked "
        "with a TokenReview, cached 10 s): runtimes read each other without a shared secret; "
        "turns authentication on like --oncop-token (probes stay open)",
    )
    parser.add_argument(
        "--gateway-listen",
        metavar="HOST:PORT",
        help="where the gateway API (/api/v1/apply, /api/v1/resources, /api/v1/schema, "
        "/api/v1/raw-schema) serves "
        f"when a Katalog has gateway.api.enabled (default {DEFAULT_GATEWAY_LISTEN}; every call "
        "needs one of gateway.api.auth.tokens as a bearer token)",
    )
    parser.add_argument(
        "--gateway-cert",
        metavar="PATH",
        help="serve the gateway API over TLS with this certificate (PEM; with --gateway-key): "
        "bearer tokens should not cross a network in clear",
    )
    parser.add_argument(
        "--gateway-key", metavar="PATH", help="with --gateway-cert: the key of the certificate"
    )
    parser.add_argument(
        "--webhook-listen",
        nargs="?",
        const=DEFAULT_WEBHOOK_LISTEN,
        metavar="HOST:PORT",
        help="serve the Katalogs' admission webhooks (webhooks:) and conversion webhooks "
        "(conversion.paths) over TLS for a real cluster's API server (alone: "
        f"{DEFAULT_WEBHOOK_LISTEN}; default: not served; needs --webhook-cert and --webhook-key)",
    )
    parser.add_argument(
        "--webhook-cert",
        metavar="PATH",
        help="with --webhook-listen: the serving certificate (PEM; e.g. tls.crt of the Secret "
        "cert-manager fills), read again when it changes",
    )
    parser.add_argument(
        "--webhook-key", metavar="PATH", help="with --webhook-listen: the key of --webhook-cert"
    )
    parser.add_argument(
        "--webhook-client-ca",
        metavar="PATH",
        help="with --webhook-listen: accept only clients presenting a certificate this CA "
        "signed (the API server, when its AdmissionConfiguration gives it one)",
    )
    parser.add_argument(
        "--apiserver-listen",
        default="127.0.0.1:0",
        metavar="HOST:PORT",
        help="embedded mode: where the API server listens (default 127.0.0.1:0, a free port); "
        "an address beyond loopback needs --apiserver-token-auth-file",
    )
    parser.add_argument(
        "--apiserver-token-auth-file",
        metavar="PATH",
        help="embedded mode: the API server authenticates bearer tokens from this file "
        '(kube-apiserver\'s token,user,uid,"groups" CSV) on every path but /healthz /readyz '
        "/livez /version, serves TLS, and the kubeconfig carries a generated admin token",
    )
    parser.add_argument(
        "--apiserver-tls-cert-file",
        metavar="PATH",
        help="embedded mode: the API server's TLS certificate (default with a token file: "
        "a generated self-signed one, written into the kubeconfig)",
    )
    parser.add_argument(
        "--apiserver-tls-private-key-file",
        metavar="PATH",
        help="embedded mode: the key of --apiserver-tls-cert-file",
    )
    parser.add_argument(
        "--state", metavar="FILE", help="embedded mode: SQLite file that keeps every object"
    )
    parser.add_argument(
        "--watch-stall-timeout",
        type=float,
        metavar="SECONDS",
        help="a watch stream silent this long (no event, no bookmark) is stalled: it is "
        "relisted, counted in orkestra_watch_stalls_total, and its box is degraded until the "
        "watch delivers again (default: twice the server's bookmark interval: 120 on a "
        "cluster, 10 on the embedded server)",
    )
    parser.add_argument(
        "--install-crds",
        action="store_true",
        help="on a real cluster: create the Katalog's missing CRDs (crdFile, else generated) "
        "at start; the embedded API server always gets them",
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
        "--leader-elect-lease-duration",
        type=float,
        default=15.0,
        metavar="SECONDS",
        help="with --leader-elect: how long a Lease lasts unrenewed (default 15, as client-go; "
        "the renew deadline and retry period scale with it: 10 and 2 at 15). A dead replica's "
        "boxes move within twice this",
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
        "--log-level",
        choices=LOG_LEVELS,
        metavar="LEVEL",
        help=f"the least severe log lines shown: {', '.join(LOG_LEVELS)} "
        f"(default ${LOG_LEVEL_ENV}, else info)",
    )
    parser.add_argument(
        "--progress-interval",
        type=float,
        default=10.0,
        metavar="SECONDS",
        help="while keys are pending, log a progress line this often (default 10; 0: never)",
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

    from orkestra_trio.apiserver.kubeconfig import claim_default_kubeconfig
    from orkestra_trio.commands.apiserver import _parse_listen, serving_security
    from orkestra_trio.commands.errors import UserError
    from orkestra_trio.katalog import KatalogError, load_katalogs
    from orkestra_trio.oncop.reader import open_remote_reader
    from orkestra_trio.oncop.server import exposure_warning, read_token_file
    from orkestra_trio.runtime.progress import log_progress
    from orkestra_trio.runtime.runtime import open_runtime
    from orkestra_trio.web.app import build_web_app
    from orkestra_trio.web.logs import log_health_changes, setup_logging
    from orkestra_trio.web.server import serve_http
    from orkestra_trio.web.tokenreview import TokenReviewAuthenticator
    from orkestra_trio.web.view import RuntimeView

    log_level = _log_level(args.log_level, os.environ)
    if not (math.isfinite(args.grace) and args.grace >= 0):
        raise UserError(f"--grace {args.grace:g}: must be 0 or more seconds")
    if not (math.isfinite(args.progress_interval) and args.progress_interval >= 0):
        raise UserError(
            f"--progress-interval {args.progress_interval:g}: must be 0 (off) or more seconds"
        )
    if args.embedded and (args.kubeconfig is not None or args.context is not None):
        flag = "--kubeconfig" if args.kubeconfig is not None else "--context"
        raise UserError(f"--embedded and {flag} contradict each other: choose one")
    try:
        katalogs = load_katalogs([Path(path) for path in args.katalogs])
    except KatalogError as exc:
        raise UserError(f"the Katalog does not load:\n{exc}") from None
    listen_note = ""
    if args.listen is None:
        from orkestra_trio.kube.config import running_in_pod

        if running_in_pod():
            args.listen = POD_LISTEN
        else:
            args.listen, listen_note = _default_listen()
    web_host, web_port = _parse_listen(args.listen)
    _check_can_listen(args.listen, web_host, web_port)
    api_host, api_port = _parse_listen(args.apiserver_listen, "--apiserver-listen")
    apiserver_security = serving_security(
        api_host,
        token_auth_file=args.apiserver_token_auth_file,
        tls_cert_file=args.apiserver_tls_cert_file,
        tls_private_key_file=args.apiserver_tls_private_key_file,
        flag="--apiserver-listen",
        prefix="--apiserver-",
    )
    watch_options = _watch_options(args.watch_stall_timeout)
    webhooks = _webhook_setup(args, katalogs)
    gateway = _gateway_setup(args, katalogs)
    if api_port:
        _check_can_listen(args.apiserver_listen, api_host, api_port, flag="--apiserver-listen")
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
    setup_logging(args.log_format, level=log_level)
    stopped_by: list[int] = []

    lease_timings = _lease_timings(args.leader_elect_lease_duration)

    async def main() -> None:
        started = False
        stop = trio.Event()
        with trio.open_signal_receiver(signal.SIGINT, signal.SIGTERM) as signals:
            async with trio.open_nursery() as outer:

                async def follow_signals() -> None:
                    async for signum in signals:
                        stopped_by.append(signum)
                        if started:
                            stop.set()
                        else:  # still starting (waiting for the cluster): nothing in flight
                            print(
                                f"{signal.Signals(signum).name}: stopping during start-up",
                                flush=True,
                            )
                            outer.cancel_scope.cancel()
                        return

                outer.start_soon(follow_signals)
                async with (
                    open_remote_reader() as remote,
                    open_runtime(
                        katalogs,
                        kubeconfig=args.kubeconfig,
                        context=args.context,
                        embedded=True if args.embedded else None,
                        kubeconfig_out=kubeconfig_out,
                        state_file=args.state,
                        install_crds=args.install_crds,
                        namespace=args.namespace,
                        apiserver_host=api_host,
                        apiserver_port=api_port,
                        apiserver_options=apiserver_security,
                        watch_options=watch_options,
                        grace=args.grace,
                        remote=remote,
                        leader_elect=args.leader_elect or False,
                        leader_elect_lease=args.leader_elect_lease,
                        leader_elect_namespace=args.leader_elect_namespace,
                        leader_elect_identity=args.leader_elect_identity,
                        lease_duration=lease_timings[0],
                        renew_deadline=lease_timings[1],
                        retry_period=lease_timings[2],
                    ) as rt,
                ):
                    started = True
                    # A changed remote answer re-enqueues the CRs that read it.
                    remote.on_change = rt.registry.remote_changed
                    stop_web = trio.Event()
                    view = RuntimeView(rt)
                    await view.start()
                    reviewers = (
                        [TokenReviewAuthenticator(rt.kube)] if args.oncop_tokenreview else []
                    )
                    app = build_web_app(view, token=token, authenticators=reviewers)
                    async with trio.open_nursery() as nursery:
                        nursery.start_soon(log_health_changes, view)
                        webhook_line = None
                        if webhooks is not None:
                            # Up before the probes answer: a ready pod takes webhook calls.
                            webhook_line = await _start_webhooks(
                                nursery, webhooks, katalogs, rt, stop_web
                            )
                        gateway_line = None
                        if gateway is not None:
                            gateway_line = await _start_gateway(
                                nursery, gateway, katalogs, rt, args.namespace, stop_web
                            )
                        if args.progress_interval > 0:
                            nursery.start_soon(log_progress, rt.boxes, args.progress_interval)
                        try:
                            binds = await nursery.start(
                                serve_http, app, web_host, web_port, stop_web
                            )
                        except* OSError as group:  # hypercorn raises it inside its own nursery
                            exc = _first(group)
                            reason = exc.strerror if isinstance(exc, OSError) else None
                            raise UserError(
                                f"--listen {args.listen}: cannot serve: {reason or exc}"
                            ) from None
                        for line in rt.describe():
                            print(line, flush=True)
                        if listen_note:
                            print(listen_note, flush=True)
                        if webhook_line is not None:
                            print(webhook_line, flush=True)
                        if gateway_line is not None:
                            print(gateway_line, flush=True)
                        print(
                            f"http: {binds[0]} (/healthz, /readyz, /metrics, /katalog, /ui)",
                            flush=True,
                        )
                        # A TokenReview-only surface is authenticated too.
                        guarded = token or ("tokenreview" if args.oncop_tokenreview else None)
                        warning = exposure_warning(web_host, guarded)
                        if warning is not None:
                            print(warning, file=sys.stderr, flush=True)
                        if rt.kubeconfig_path is None and args.kubeconfig_out:
                            # Said, not silently dropped: the flag only serves the embedded server.
                            print(
                                f"--kubeconfig-out {args.kubeconfig_out}: not written, the "
                                "cluster is not the embedded API server",
                                file=sys.stderr,
                                flush=True,
                            )
                        if rt.kubeconfig_path is not None:
                            print(
                                f"try: kubectl --kubeconfig {rt.kubeconfig_path} get "
                                f"{','.join(_plurals(rt))}",
                                flush=True,
                            )
                        await stop.wait()
                        print(
                            f"{signal.Signals(stopped_by[0]).name}: stopping (in-flight "
                            f"reconciles have {args.grace:g}s)",
                            flush=True,
                        )
                        await rt.shutdown(args.grace)
                        stop_web.set()
                        nursery.cancel_scope.cancel()  # the health log and progress followers
                outer.cancel_scope.cancel()  # the signal follower

    # Claimed last, once every check that can refuse has passed: nothing leaks the lock.
    claim = None  # held until the run ends: another run at once writes its own file
    if args.kubeconfig_out:
        kubeconfig_out = Path(args.kubeconfig_out)
    else:
        kubeconfig_out, claim = claim_default_kubeconfig(DEFAULT_KUBECONFIG_OUT)
    try:
        trio.run(main)
    except BaseException as error:
        user = _user_error(error)
        if user is None:
            raise
        raise user from None
    finally:
        if claim is not None:
            claim.close()
    print("stopped", flush=True)
    return 0


@attrs.frozen
class _Webhooks:
    """What ``--webhook-*`` asked for, checked before anything starts."""

    address: str
    host: str
    port: int
    certificates: CertificateFiles


#: Which flag names each file a TLS error is about.
_WEBHOOK_FILE_FLAGS = {
    "cert": "--webhook-cert",
    "key": "--webhook-key",
    "client-ca": "--webhook-client-ca",
}


def _webhook_setup(args: argparse.Namespace, katalogs: KatalogSet) -> _Webhooks | None:
    """The webhook server's address and certificates; None when not asked for (or
    nothing to serve). Every mistake is a one-line UserError naming its flag."""
    from orkestra_trio.commands.apiserver import _parse_listen
    from orkestra_trio.commands.errors import UserError
    from orkestra_trio.webhook.server import CertificateFiles, TlsFileError, has_webhooks

    files = {
        flag: getattr(args, flag[2:].replace("-", "_")) for flag in _WEBHOOK_FILE_FLAGS.values()
    }
    if args.webhook_listen is None:
        given = [flag for flag, value in files.items() if value is not None]
        if given:
            raise UserError(f"{given[0]}: only with --webhook-listen")
        return None
    host, port = _parse_listen(args.webhook_listen, "--webhook-listen")
    for flag in ("--webhook-cert", "--webhook-key"):
        if files[flag] is None:
            raise UserError(
                f"--webhook-listen needs {flag}: the API server calls webhooks over TLS only"
            )
    if not has_webhooks(katalogs):
        print(
            "--webhook-listen: no CRD of the Katalogs has webhooks or conversion.paths, "
            "and no security: webhook is on; nothing is served",
            file=sys.stderr,
            flush=True,
        )
        return None
    try:
        certificates = CertificateFiles.load(
            args.webhook_cert, args.webhook_key, args.webhook_client_ca
        )
    except TlsFileError as exc:
        raise UserError(f"{_WEBHOOK_FILE_FLAGS[exc.role]} {exc.path}: {exc.reason}") from None
    if port:
        _check_can_listen(args.webhook_listen, host, port, flag="--webhook-listen")
    return _Webhooks(args.webhook_listen, host, port, certificates)


@attrs.frozen
class _Gateway:
    """Where the gateway API serves, and its TLS files (None: plain HTTP)."""

    host: str
    port: int
    certfile: str | None = None
    keyfile: str | None = None


def _gateway_setup(args: argparse.Namespace, katalogs: KatalogSet) -> _Gateway | None:
    """The gateway API's address and TLS files; None when no Katalog turns it on."""
    import ssl

    from orkestra_trio.commands.apiserver import _parse_listen
    from orkestra_trio.commands.errors import UserError
    from orkestra_trio.katalog.serve import gateways

    flags = [
        flag
        for flag, value in (
            ("--gateway-listen", args.gateway_listen),
            ("--gateway-cert", args.gateway_cert),
            ("--gateway-key", args.gateway_key),
        )
        if value is not None
    ]
    if not gateways(katalogs):
        if flags:
            raise UserError(f"{flags[0]}: no Katalog has gateway.api.enabled; nothing is served")
        return None
    if (args.gateway_cert is None) != (args.gateway_key is None):
        given = "--gateway-cert" if args.gateway_cert is not None else "--gateway-key"
        other = "--gateway-key" if given == "--gateway-cert" else "--gateway-cert"
        raise UserError(f"{given} needs {other} too")
    if args.gateway_cert is not None:
        try:
            ssl.create_default_context(ssl.Purpose.CLIENT_AUTH).load_cert_chain(
                args.gateway_cert, args.gateway_key
            )
        except OSError as exc:
            raise UserError(
                f"--gateway-cert/--gateway-key: cannot read {exc.filename or 'the files'}: "
                f"{exc.strerror or exc}"
            ) from None
        except ssl.SSLError as exc:
            raise UserError(
                f"--gateway-cert {args.gateway_cert} / --gateway-key {args.gateway_key}: "
                f"not a PEM certificate and its key ({exc.reason or exc})"
            ) from None
    address = args.gateway_listen or DEFAULT_GATEWAY_LISTEN
    host, port = _parse_listen(address, "--gateway-listen")
    if port:
        _check_can_listen(address, host, port, flag="--gateway-listen")
    return _Gateway(host, port, args.gateway_cert, args.gateway_key)


async def _start_gateway(
    nursery: trio.Nursery,
    gateway: _Gateway,
    katalogs: KatalogSet,
    rt: Runtime,
    namespace: str | None,
    stop: trio.Event,
) -> str:
    """Read the gateway's tokens, serve its API in ``nursery`` until ``stop``; the banner line."""
    import httpx

    from orkestra_trio.commands.errors import UserError
    from orkestra_trio.katalog.serve import gateways
    from orkestra_trio.runtime.admission import webhook_peers
    from orkestra_trio.web.gateway import (
        GatewayApi,
        GatewayTokenError,
        load_tokens,
        rotate_tokens,
    )
    from orkestra_trio.web.oidc import OidcVerifier
    from orkestra_trio.web.server import serve_http

    try:
        # secretRef without a namespace: the runtime's own (the pod's), as Orkestra's.
        own = namespace or os.environ.get("ORKESTRA_POD_NAMESPACE") or "default"
        tokens = await load_tokens(rt.kube, katalogs, namespace=own)
    except GatewayTokenError as missing:
        raise UserError(str(missing)) from None
    oidc = None
    if any(token.oidc_issuer for gateway in gateways(katalogs) for token in gateway.tokens):
        client = httpx.AsyncClient()
        oidc = OidcVerifier((t for g in gateways(katalogs) for t in g.tokens), client)

        async def close_client() -> None:
            await stop.wait()
            await client.aclose()

        nursery.start_soon(close_client)
    api = GatewayApi(katalogs, rt.kube, tokens, peers=webhook_peers(rt.registry), oidc=oidc)
    if any(token.rotate_after for gateway in gateways(katalogs) for token in gateway.tokens):
        # Ends with ``nursery``, which run cancels as it stops (as the health log).
        nursery.start_soon(partial(rotate_tokens, rt.kube, katalogs, api, namespace=own))
    host, port = gateway.host, gateway.port
    serve = partial(serve_http, certfile=gateway.certfile, keyfile=gateway.keyfile)
    try:
        binds = await nursery.start(serve, api.app(), host, port, stop)
    except* OSError as group:
        exc = _first(group)
        reason = exc.strerror if isinstance(exc, OSError) else None
        raise UserError(f"--gateway-listen {host}:{port}: cannot serve: {reason or exc}") from None
    return (
        f"gateway: {binds[0]} (/api/v1/apply, /api/v1/resources, /api/v1/schema, "
        "/api/v1/raw-schema)"
    )


async def _start_webhooks(
    nursery: trio.Nursery, webhooks: _Webhooks, katalogs: KatalogSet, rt: Runtime, stop: trio.Event
) -> str:
    """Serve the webhooks in ``nursery`` until ``stop``; returns the banner line."""
    import ipaddress
    import ssl

    from orkestra_trio.commands.errors import UserError
    from orkestra_trio.runtime.admission import webhook_peers
    from orkestra_trio.webhook.server import WebhookApp, serve_webhooks

    app = WebhookApp(katalogs, peers=webhook_peers(rt.registry))
    try:
        binds = await nursery.start(
            serve_webhooks, app, webhooks.host, webhooks.port, webhooks.certificates, stop
        )
    except* OSError as group:
        exc = _first(group)
        reason = exc.strerror if isinstance(exc, OSError) else None
        raise UserError(
            f"--webhook-listen {webhooks.address}: cannot serve: {reason or exc}"
        ) from None
    try:
        loopback = ipaddress.ip_address(webhooks.host).is_loopback
    except ValueError:
        loopback = webhooks.host == "localhost"
    if not loopback and webhooks.certificates.context.verify_mode != ssl.CERT_REQUIRED:
        print(
            f"--webhook-listen {webhooks.address}: any client that reaches it may post reviews "
            "(TLS, no client certificate asked): they change nothing, but a unique rule's "
            "answer tells whether a value is taken; --webhook-client-ca admits the API server only",
            file=sys.stderr,
            flush=True,
        )
    return f"webhooks: {binds[0]} ({', '.join(sorted(app.routes))})"


def _user_error(error: BaseException) -> Exception | None:
    """The UserError a failure of the run stands for, None when it is a bug.

    A bad kubeconfig, an unknown context or an uninstallable crdFile are
    the user's to fix: one line, no traceback, even when they arrive wrapped
    in the nurseries' exception groups.
    """
    from orkestra_trio.commands.errors import UserError
    from orkestra_trio.kube import ConfigError
    from orkestra_trio.runtime.crdinstall import InstallError

    leaf = error
    while isinstance(leaf, BaseExceptionGroup):
        user, _ = leaf.split((UserError, ConfigError, InstallError))
        if user is None:
            return None
        leaf = _first(user)
    if isinstance(leaf, UserError):
        return leaf
    if isinstance(leaf, ConfigError | InstallError):
        return UserError(str(leaf))
    return None


def _log_level(flag: str | None, env: Mapping[str, str]) -> int:
    """--log-level, else $ORKESTRA_LOG_LEVEL, else info, as a logging level."""
    import logging

    from orkestra_trio.commands.errors import UserError

    if flag is not None:
        name = flag
    else:
        name = env.get(LOG_LEVEL_ENV, "").strip().lower() or "info"
        if name not in LOG_LEVELS:
            raise UserError(
                f"${LOG_LEVEL_ENV}={env[LOG_LEVEL_ENV]!r}: expected one of {', '.join(LOG_LEVELS)}"
            )
    level: int = getattr(logging, name.upper())
    return level


def _default_listen() -> tuple[str, str]:
    """The default address, or a free port beside it when something else holds 8080.

    Returns the address and a line for the banner ("" when the default was free).
    """
    import socket

    host, _, port = DEFAULT_LISTEN.rpartition(":")
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind((host, int(port)))
        except OSError as exc:
            if exc.errno != errno.EADDRINUSE:
                return DEFAULT_LISTEN, ""  # _check_can_listen says what is wrong, in one line
            return f"{host}:0", (
                f"listen: {DEFAULT_LISTEN} is busy, serving on a free port instead "
                "(choose one with --listen)"
            )
    return DEFAULT_LISTEN, ""


def _lease_timings(duration: float) -> tuple[float, float, float]:
    """client-go's proportions (15 s lease, 10 s renew deadline, 2 s retry), scaled."""
    from orkestra_trio.commands.errors import UserError

    if not duration >= 1.5:
        raise UserError(f"--leader-elect-lease-duration {duration:g}: must be at least 1.5 seconds")
    return duration, duration * 2 / 3, duration * 2 / 15


def _check_can_listen(address: str, host: str, port: int, *, flag: str = "--listen") -> None:
    """Fail early and cleanly when the HTTP address is taken (before anything starts).

    hypercorn would report it from inside its nursery, after the runtime
    started, and leaks the socket it failed to bind.
    """
    import socket

    from orkestra_trio.commands.errors import UserError

    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    with socket.socket(family, socket.SOCK_STREAM) as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind((host, port))
        except OSError as exc:
            raise UserError(f"{flag} {address}: cannot serve: {exc.strerror or exc}") from None


def _plurals(rt: object) -> list[str]:
    from orkestra_trio.runtime.runtime import Runtime

    assert isinstance(rt, Runtime)
    return [box.crd.api_types.plural for box in rt.boxes.values()]


def _watch_options(stall_timeout: float | None) -> Any:
    """WatchOptions for ``--watch-stall-timeout`` (None: the runtime's default)."""
    from orkestra_trio.commands.errors import UserError
    from orkestra_trio.kube import WatchOptions

    if stall_timeout is None:
        return None
    if not stall_timeout > 0:
        raise UserError(f"--watch-stall-timeout {stall_timeout:g}: must be more than 0 seconds")
    return WatchOptions(idle_timeout=stall_timeout)


def _first(group: BaseExceptionGroup[BaseException]) -> BaseException:
    exc: BaseException = group
    while isinstance(exc, BaseExceptionGroup):
        exc = exc.exceptions[0]
    return exc
