"""Serve the API on a loopback socket: our lean HTTP/1.1 server, clean shutdown.

``open_apiserver`` runs everything in the caller's nursery: the store (loaded
from SQLite when a state file is given), the controllers that stand in for
kube-controller-manager (garbage collector, namespace cleanup, default
ServiceAccounts, optional workload simulation) and the HTTP server
(:mod:`orkestra_trio._h1serve`, which says why not hypercorn). Shutdown ends
every watch stream from the app first, so the server never has to wait out
its grace on an endless response.
"""

from __future__ import annotations

import os
import ssl
from collections import Counter
from collections.abc import AsyncIterator
from contextlib import ExitStack, asynccontextmanager
from functools import partial
from pathlib import Path
from typing import Any

import trio

from orkestra_trio._h1serve import serve_h1
from orkestra_trio.apiserver import gc, limits, serviceaccounts, workloads
from orkestra_trio.apiserver.admission import AdmissionHooks
from orkestra_trio.apiserver.app import ApiApp
from orkestra_trio.apiserver.faults import FaultInjector
from orkestra_trio.apiserver.kubeconfig import write_kubeconfig
from orkestra_trio.apiserver.persistence import SqlitePersistence
from orkestra_trio.apiserver.registry.replication import run_replication
from orkestra_trio.apiserver.security import (
    PUBLIC_PATHS,
    Authentication,
    SecurityError,
    TlsFiles,
    check_exposure,
    generate_self_signed,
    given_tls,
    private_folder,
)
from orkestra_trio.apiserver.status import ApiError
from orkestra_trio.apiserver.storage.compaction import DEFAULT_COMPACTION_INTERVAL, run_compactor
from orkestra_trio.apiserver.store import DEFAULT_HISTORY, DEFAULT_WATCH_BUFFER, Store
from orkestra_trio.auth import AuthMiddleware

# Time the server may spend finishing ordinary requests after shutdown starts.
_GRACE_SECONDS = 2.0


class ApiServer:
    """A running embedded API server (what ``open_apiserver`` yields)."""

    def __init__(
        self,
        store: Store,
        app: ApiApp,
        faults: FaultInjector,
        url: str,
        *,
        authentication: Authentication | None = None,
        tls: TlsFiles | None = None,
    ) -> None:
        self.store = store
        # The API itself; an in-process client talks to it without authentication
        # (like kube's loopback client), sockets go through ``authentication``.
        self.app = app
        self.faults = faults
        self.url = url
        self.authentication = authentication
        self.tls = tls
        self.host, _, port = url.rpartition("//")[2].rpartition(":")
        self.port = int(port)

    @property
    def admission(self) -> AdmissionHooks:
        """Where in-process admission and conversion hooks are registered (see admission.py)."""
        return self.app.admission

    @property
    def request_count(self) -> Counter[tuple[str, str]]:
        """Requests seen so far, by (verb, resource plural)."""
        return self.faults.requests

    @property
    def admin_token(self) -> str | None:
        """The token of the generated admin user (None without authentication)."""
        return None if self.authentication is None else self.authentication.admin_token

    @property
    def ca_pem(self) -> bytes | None:
        """The certificate a client should trust (None over plain HTTP)."""
        return None if self.tls is None else self.tls.ca_pem

    def write_kubeconfig(self, path: str | os.PathLike[str]) -> Path:
        return write_kubeconfig(path, self.url, ca_pem=self.ca_pem, token=self.admin_token)


def _reachable(url: str) -> str:
    """A wildcard bind's URL as a local client reaches it (its loopback address)."""
    return url.replace("//0.0.0.0:", "//127.0.0.1:").replace("//[::]:", "//[::1]:")


def _unauthorized_body() -> bytes:
    return ApiError(401, "Unauthorized").body()


def _ssl_context(tls: TlsFiles | None) -> ssl.SSLContext | None:
    if tls is None:
        return None
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(tls.cert_file, tls.key_file)
    return context


@asynccontextmanager
async def open_apiserver(
    *,
    host: str = "127.0.0.1",
    port: int = 0,
    state_file: str | os.PathLike[str] | None = None,
    workload_simulation: bool = True,
    bookmark_interval: float = 5.0,
    history_size: int = DEFAULT_HISTORY,
    watch_buffer: int = DEFAULT_WATCH_BUFFER,
    workload_delay: float = 0.2,
    compaction_interval: float | None = DEFAULT_COMPACTION_INTERVAL,
    token_auth_file: str | os.PathLike[str] | None = None,
    authentication: Authentication | None = None,
    tls_cert_file: str | None = None,
    tls_private_key_file: str | None = None,
    authorization: str | None = None,
) -> AsyncIterator[ApiServer]:
    """Start an embedded Kubernetes API server on ``host:port`` (0: any free port).

    ``token_auth_file`` (or a ready ``authentication``) turns authentication
    on: every request but the probes and /version needs a known bearer token,
    and TLS is on, from the given files or a generated self-signed pair.
    Without authentication only a loopback ``host`` is accepted
    (:class:`~.security.SecurityError` otherwise). ``compaction_interval``:
    seconds between compactions of the watch history (None or 0: only the
    ``history_size`` bound applies).
    """
    if authorization not in (None, "rbac"):
        raise SecurityError(f"--authorization {authorization}: only 'rbac' is supported")
    if authentication is None and (token_auth_file is not None or authorization is not None):
        # Authorization needs to know who asks: with RBAC, authentication is on
        # (the kubeconfig's admin token stays all-powerful; ServiceAccount tokens work).
        authentication = Authentication.create(token_auth_file)
    check_exposure(host, authentication)
    tls = given_tls(tls_cert_file, tls_private_key_file)
    with ExitStack() as files:
        if tls is None and authentication is not None:
            folder = files.enter_context(private_folder())
            tls = generate_self_signed([host], folder)
        async with _serve(
            host=host,
            port=port,
            state_file=state_file,
            workload_simulation=workload_simulation,
            bookmark_interval=bookmark_interval,
            history_size=history_size,
            watch_buffer=watch_buffer,
            workload_delay=workload_delay,
            authentication=authentication,
            tls=tls,
            compaction_interval=compaction_interval,
            authorization=authorization,
        ) as server:
            yield server


@asynccontextmanager
async def _serve(
    *,
    host: str,
    port: int,
    state_file: str | os.PathLike[str] | None,
    workload_simulation: bool,
    bookmark_interval: float,
    history_size: int,
    watch_buffer: int,
    workload_delay: float,
    authentication: Authentication | None,
    tls: TlsFiles | None,
    compaction_interval: float | None,
    authorization: str | None = None,
) -> AsyncIterator[ApiServer]:
    persistence = None
    store = Store(history_size=history_size, watch_buffer=watch_buffer)
    if state_file is not None:
        persistence = SqlitePersistence(state_file, history_size=history_size)
        persistence.load_into(store)
        store.persistence = persistence
    try:
        store.bootstrap()
        faults = FaultInjector(store.hub, store.compact)
        app = ApiApp(
            store, faults, bookmark_interval=bookmark_interval, authorization=authorization
        )
        shutdown = trio.Event()
        served = trio.Event()
        asgi: Any = app
        if authentication is not None:
            # ServiceAccount tokens (TokenRequest) authenticate beside the static ones.
            authentication.chain.add(app.tokens)
            asgi = AuthMiddleware(
                app,
                authentication.chain,
                public_paths=PUBLIC_PATHS,
                unauthorized=_unauthorized_body,
            )

        async def run_http(*, task_status: trio.TaskStatus[list[str]]) -> None:
            try:
                await serve_h1(
                    asgi,
                    host,
                    port,
                    shutdown,
                    ssl_context=_ssl_context(tls),
                    grace=_GRACE_SECONDS,
                    # kube answers 413 before reading a body it will refuse anyway.
                    max_body=limits.MAX_REQUEST_BODY_BYTES,
                    task_status=task_status,
                )
            finally:
                served.set()

        async with trio.open_nursery() as nursery:
            nursery.start_soon(gc.run_collector, store)
            nursery.start_soon(serviceaccounts.run_default_serviceaccounts, store)
            if compaction_interval:
                nursery.start_soon(partial(run_compactor, store, interval=compaction_interval))
            if workload_simulation:
                nursery.start_soon(partial(workloads.run_simulation, store, delay=workload_delay))
                nursery.start_soon(partial(run_replication, store, delay=workload_delay))
            binds = await nursery.start(run_http)
            server = ApiServer(
                store, app, faults, _reachable(binds[0]), authentication=authentication, tls=tls
            )
            try:
                yield server
            finally:
                with trio.CancelScope(shield=True) as scope:
                    scope.deadline = trio.current_time() + _GRACE_SECONDS + 1
                    store.hub.end_all("shutdown")
                    shutdown.set()
                    await served.wait()
                nursery.cancel_scope.cancel()
    finally:
        if persistence is not None:
            persistence.close()
