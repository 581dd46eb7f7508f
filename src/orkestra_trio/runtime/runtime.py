"""The Runtime: every operatorBox of a Katalog set, running in one Trio task tree.

::

    async with open_runtime("katalogs/website.yaml") as rt:
        await rt.wait_ready()
        print(rt.box("website").health.snapshot().state)

The task tree (ARCHITECTURE.md): the embedded API server when no cluster is
configured, the registry nursery with every informer, one supervised nursery
per box. Leaving the ``async with`` stops the boxes (no new work, in-flight
reconciles finish within ``grace``), then the informers, the client and the
embedded server, in that order.

Cluster choice: ``kubeconfig`` given → that cluster; else ``$KUBECONFIG``,
``~/.kube/config`` or the in-cluster service account; else the embedded API
server on loopback. ``embedded=True`` forces the embedded server whatever the
environment says. With the embedded server the runtime installs the CRDs
(``crdFile`` or generated) and applies ``crFiles``; against a real cluster it
touches nothing but what its boxes reconcile, unless ``install_crds=True``
(the missing CRDs) or ``install=True`` (CRDs and ``crFiles``).
"""

from __future__ import annotations

import logging
import os
from collections.abc import AsyncIterator, Callable, Iterable, Mapping
from contextlib import AsyncExitStack, asynccontextmanager
from functools import partial
from pathlib import Path
from typing import TYPE_CHECKING, Any

import trio

from orkestra_trio.katalog import Katalog, KatalogSet, load_katalogs
from orkestra_trio.katalog.lifecycle import kubernetes_mismatch
from orkestra_trio.katalog.model import FrozenMap
from orkestra_trio.kube import (
    ApiError,
    ConfigError,
    KubeClient,
    KubeConfig,
    TransportError,
    WatchOptions,
    find_config,
    idle_timeout_for,
    open_asgi_transport,
    open_kube_client,
)

from .admission import install_admission
from .box import Box
from .crdinstall import apply_cr_files, apply_setup_files
from .crdinstall import install_crds as install_missing_crds
from .health import HealthSnapshot, HealthState
from .leader import LeaderElectionConfig, LeaderElector, default_identity, default_lease_name
from .loopshare import LoopShare, install_accounting
from .perbox import PerBoxElection
from .preflight import wait_for_cluster
from .registry import KatalogRegistry, RemoteCrossReader

if TYPE_CHECKING:
    from orkestra_trio.apiserver import ApiServer

logger = logging.getLogger(__name__)

KatalogsArg = KatalogSet | Katalog | str | os.PathLike[str] | Iterable[str | os.PathLike[str]]

#: How long in-flight reconciles may run after a stop before they are cancelled.
DEFAULT_GRACE = 10.0


class Runtime:
    """A running Katalog set. Made by :func:`open_runtime`; read it, don't construct it."""

    def __init__(
        self,
        katalogs: KatalogSet,
        kube: KubeClient,
        registry: KatalogRegistry,
        boxes: Mapping[str, Box],
        *,
        apiserver: ApiServer | None,
        kubeconfig_path: Path | None,
        server_url: str,
        cluster_source: str = "",
    ) -> None:
        self.katalogs = katalogs
        self.kube = kube
        self.registry = registry
        self.boxes: Mapping[str, Box] = FrozenMap(boxes)
        self.apiserver = apiserver
        self.kubeconfig_path = kubeconfig_path
        self.server_url = server_url
        #: Why this cluster: the kubeconfig file and context, in-cluster, or why embedded.
        self.cluster_source = cluster_source
        self._box_done: dict[str, trio.Event] = {name: trio.Event() for name in boxes}
        self._boxes_scope = trio.CancelScope()
        self._registry_scope: trio.CancelScope | None = None
        self.stopping = False
        #: With ``leader_elect``: the elector; boxes run only while it leads.
        self.election: LeaderElector | None = None
        #: With ``leader_elect="per-box"``: the replicas share the boxes, one Lease each.
        self.shards: PerBoxElection | None = None

    @property
    def standby(self) -> bool:
        """True while leader election is on and another replica holds the lease."""
        return self.election is not None and not self.election.leading

    def runs_here(self, name: str) -> bool:
        """False for a box that per-box election gives to another replica."""
        return self.shards is None or self.shards.assigned_here(name)

    @property
    def embedded(self) -> bool:
        return self.apiserver is not None

    def box(self, name: str) -> Box:
        """The box of CRD key ``name`` (KeyError naming the known boxes when absent)."""
        try:
            return self.boxes[name]
        except KeyError:
            raise KeyError(f"no box {name!r}; boxes: {', '.join(self.boxes)}") from None

    async def wait_ready(self) -> None:
        """Return once every box has synced its informers (pending or better).

        A box still waiting for its ``dependsOn`` counts as ready: it cannot
        start before its dependency holds, which may need CRs not created yet.
        """
        for box in self.boxes.values():
            await box.health.wait_until(partial(_ready_or_waiting, box))

    async def wait_idle(self, *, settle: float = 0.1) -> None:
        """Return once no box has work queued or running, and none arrived for ``settle`` seconds.

        Delayed retries and requeue-afters do not count as work, nor do keys
        waiting in a box paused by ``dependsOn``. ``settle`` gives watch events
        of the last writes time to come back.
        """
        while True:
            for box in self.boxes.values():
                while not self._box_idle(box):  # noqa: ASYNC110 (pause has no event)
                    await trio.sleep(0.01)
            before = self._activity()
            await trio.sleep(settle)
            if self._activity() == before and all(
                self._box_idle(box) for box in self.boxes.values()
            ):
                return

    @staticmethod
    def _box_idle(box: Box) -> bool:
        if box.paused:
            return box.queue.processing == 0
        return box.queue.is_idle()

    def _activity(self) -> tuple[int, ...]:
        adds = tuple(box.metrics.queue_adds_total for box in self.boxes.values())
        events = tuple(informer.events_seen for informer in self.registry.informers)
        return adds + events

    def stop(self) -> None:
        """Stop taking work: every box's queue shuts down; in-flight reconciles finish."""
        self.stopping = True
        for box in self.boxes.values():
            box.stop()

    async def shutdown(self, grace: float = DEFAULT_GRACE) -> None:
        """:meth:`stop`, wait up to ``grace`` seconds for in-flight reconciles, then cancel."""
        self.stop()
        # A standby has no boxes running: nothing to wait for.
        with trio.move_on_after(0 if self.standby else grace):
            for done in self._box_done.values():
                await done.wait()
        self._boxes_scope.cancel()

    async def aclose(self, grace: float = DEFAULT_GRACE) -> None:
        """Stop the boxes (see :meth:`shutdown`), then the informers. Shielded: runs even when cancelled."""
        with trio.CancelScope(shield=True):
            await self.shutdown(grace)
        if self._registry_scope is not None:
            self._registry_scope.cancel()

    async def _run_boxes(self, *, task_status: trio.TaskStatus[None]) -> None:
        with self._boxes_scope:
            async with trio.open_nursery() as nursery:
                for name, box in self.boxes.items():
                    nursery.start_soon(self._run_box, box, self._box_done[name], name=f"box {name}")
                task_status.started()

    async def _run_elected(
        self, elector: LeaderElector, *, task_status: trio.TaskStatus[None]
    ) -> None:
        """Standby until the lease is ours, then run the boxes until it is lost or we stop."""
        with self._boxes_scope:
            task_status.started()
            try:
                while not self._stop_requested():
                    await elector.acquire()
                    if self._stop_requested():
                        break
                    async with trio.open_nursery() as term:
                        # Losing the lease cancels the boxes at once: never reconcile
                        # without it. The next loop turn is standby again.
                        term.start_soon(elector.keep, term.cancel_scope.cancel)
                        await self._run_term()
                        term.cancel_scope.cancel()
            finally:
                if elector.leading:
                    with trio.CancelScope(shield=True):
                        await elector.release()

    async def _run_sharded(
        self, shards: PerBoxElection, *, task_status: trio.TaskStatus[None]
    ) -> None:
        """Per-box election: the membership task and one slot per box (see :mod:`.perbox`)."""
        for done in self._box_done.values():
            done.set()  # nothing runs here until a slot starts its box
        with self._boxes_scope:
            async with trio.open_nursery() as nursery:
                nursery.start_soon(shards.run_membership, name="per-box membership")
                for name, box in self.boxes.items():
                    nursery.start_soon(
                        shards.run_slot,
                        name,
                        partial(self._run_slot_box, name, box),
                        self._stop_requested,
                        name=f"box slot {name}",
                    )
                task_status.started()

    async def _run_slot_box(self, name: str, box: Box) -> None:
        self._box_done[name] = done = trio.Event()
        await self._run_box(box, done)

    def _stop_requested(self) -> bool:
        # A method, not the attribute: it changes while we await.
        return self.stopping

    async def _run_term(self) -> None:
        """Every box, for one term of leadership (fresh done-events each term)."""
        self._box_done = {name: trio.Event() for name in self.boxes}
        async with trio.open_nursery() as nursery:
            for name, box in self.boxes.items():
                nursery.start_soon(self._run_box, box, self._box_done[name], name=f"box {name}")

    @staticmethod
    async def _run_box(box: Box, done: trio.Event) -> None:
        try:
            await box.run()
        finally:
            done.set()

    def describe(self) -> list[str]:
        """A few lines saying what runs where (printed at start by the ``run`` command)."""
        where = f"embedded API server {self.server_url}" if self.embedded else self.server_url
        if self.cluster_source:
            where += (
                f" ({self.cluster_source})" if self.embedded else f" from {self.cluster_source}"
            )
        lines = [f"cluster: {where}"]
        if self.kubeconfig_path is not None:
            lines.append(f"kubeconfig: {self.kubeconfig_path}")
        if self.election is not None:
            config = self.election.config
            lines.append(
                f"leader election: lease {config.namespace}/{config.lease_name} "
                f"as {config.identity}"
            )
        if self.shards is not None:
            lines.append(self.shards.describe())
        for box in self.boxes.values():
            types = box.crd.api_types
            lines.append(
                f"box {box.name}: {types.kind}.{types.group}/{types.version}, "
                f"{box.workers} worker{'s' if box.workers != 1 else ''}"
            )
        return lines


def as_katalog_set(katalogs: KatalogsArg) -> KatalogSet:
    """A KatalogSet from a set, one Katalog, one path or several paths."""
    if isinstance(katalogs, KatalogSet):
        return katalogs
    if isinstance(katalogs, Katalog):
        return KatalogSet((katalogs,), katalogs.crds)
    if isinstance(katalogs, str | os.PathLike):
        return load_katalogs([Path(katalogs)])
    return load_katalogs([Path(path) for path in katalogs])


#: The banner's reason for the embedded server when nothing else was configured.
NOTHING_CONFIGURED = "no --kubeconfig, $KUBECONFIG, ~/.kube/config or in-cluster account"
#: ... and when it was asked for.
EMBEDDED_FORCED = "--embedded"


def _choose_config(
    kubeconfig: str | os.PathLike[str] | None, embedded: bool | None, context: str | None = None
) -> KubeConfig | None:
    if embedded:
        return None
    if kubeconfig is not None:
        return find_config(os.fspath(kubeconfig), context=context)
    found = find_config(context=context)
    if found is None and context:
        raise ConfigError(
            f'context "{context}" was asked for, but no kubeconfig was found '
            "($KUBECONFIG, ~/.kube/config)"
        )
    if found is None and embedded is False:
        raise ConfigError(
            "no cluster configured (no kubeconfig, $KUBECONFIG, ~/.kube/config or in-cluster "
            "account) and the embedded API server was turned off"
        )
    return found


@asynccontextmanager
async def open_runtime(
    katalogs: KatalogsArg,
    *,
    kubeconfig: str | os.PathLike[str] | None = None,
    context: str | None = None,
    embedded: bool | None = None,
    install: bool | None = None,
    install_crds: bool = False,
    kubeconfig_out: str | os.PathLike[str] | None = None,
    state_file: str | os.PathLike[str] | None = None,
    apiserver_host: str = "127.0.0.1",
    apiserver_port: int = 0,
    apiserver_options: Mapping[str, Any] | None = None,
    in_process: bool = True,
    workload_simulation: bool = True,
    bookmark_interval: float = 5.0,
    namespace: str = "",
    watch_options: WatchOptions | None = None,
    remote: RemoteCrossReader | None = None,
    grace: float = DEFAULT_GRACE,
    leader_elect: bool | str = False,
    leader_elect_lease: str | None = None,
    leader_elect_namespace: str | None = None,
    leader_elect_identity: str | None = None,
    lease_duration: float = 15.0,
    renew_deadline: float = 10.0,
    retry_period: float = 2.0,
) -> AsyncIterator[Runtime]:
    """Run every box of ``katalogs`` for the duration of the ``async with`` (module docstring).

    ``in_process``: with the embedded server, the runtime's own client talks
    to it through an in-process streaming transport (same request handling,
    no socket); kubectl and other clients use the socket at ``server_url``.
    ``namespace``: watch one namespace instead of all.
    ``context``: the kubeconfig context to use instead of its current-context.
    On a configured cluster the runtime first waits until the API server
    answers (one warning line per failed attempt, capped backoff; see
    :mod:`.preflight`).
    ``install_crds``: on a real cluster, create the Katalog's CRDs that are
    missing (``crdFile`` or generated) before the boxes start; the embedded
    server always gets them, with the ``crFiles`` (``install`` says otherwise).
    ``leader_elect``: run the boxes only while this replica holds the Lease
    ``leader_elect_lease`` (default derived from the Katalog names) in
    ``leader_elect_namespace`` (default ``namespace``, else the cluster
    configuration's namespace: in a pod, its own; "default" when embedded); the
    timings are client-go's (see :mod:`.leader`). ``leader_elect="per-box"``:
    each box has its own Lease (``<lease>-box-<crd>``) and the replicas share
    the boxes (see :mod:`.perbox`).
    """
    katalog_set = as_katalog_set(katalogs)
    config = _choose_config(kubeconfig, embedded, context)
    run_embedded = config is None
    if run_embedded and watch_options is None:
        # The embedded server bookmarks every bookmark_interval: a watch silent
        # for twice that is stalled (a real cluster's default is 2 x ~60 s).
        watch_options = WatchOptions(idle_timeout=idle_timeout_for(bookmark_interval))
    if config is not None:
        cluster_source = config.describe_origin()
    else:
        cluster_source = EMBEDDED_FORCED if embedded else NOTHING_CONFIGURED
    election: LeaderElectionConfig | None = None
    if leader_elect:
        election = LeaderElectionConfig(
            lease_name=leader_elect_lease or default_lease_name(katalog_set),
            # In a pod, the configuration's namespace is the pod's own (the
            # service-account namespace file): where its Role lets it hold Leases.
            namespace=leader_elect_namespace
            or namespace
            or (config.namespace if config is not None else "default"),
            identity=leader_elect_identity or default_identity(),
            lease_duration=lease_duration,
            renew_deadline=renew_deadline,
            retry_period=retry_period,
        )
    async with AsyncExitStack() as stack:
        server: ApiServer | None = None
        kubeconfig_path: Path | None = None
        if run_embedded:
            from orkestra_trio.apiserver import open_apiserver

            server = await stack.enter_async_context(
                open_apiserver(
                    host=apiserver_host,
                    port=apiserver_port,
                    state_file=state_file,
                    workload_simulation=workload_simulation,
                    bookmark_interval=bookmark_interval,
                    **(apiserver_options or {}),
                )
            )
            if kubeconfig_out is not None:
                kubeconfig_path = server.write_kubeconfig(kubeconfig_out).resolve()
            transport = None
            if in_process:
                transport = await stack.enter_async_context(open_asgi_transport(server.app))
            own: KubeConfig | str = server.url
            if server.admin_token is not None or server.ca_pem is not None:
                own = KubeConfig(server=server.url, ca_data=server.ca_pem, token=server.admin_token)
            kube = await stack.enter_async_context(open_kube_client(own, transport=transport))
            server_url = server.url
        else:
            assert config is not None
            kube = await stack.enter_async_context(open_kube_client(config))
            server_url = config.server
            await wait_for_cluster(
                kube.version,
                f"{config.server} (from {cluster_source})",
                hint=_stale_hint(config),
            )
        if install if install is not None else run_embedded:
            await apply_setup_files(kube, katalog_set)
            await install_missing_crds(kube, katalog_set)
            await apply_cr_files(kube, katalog_set)
        elif install_crds:
            # Asked for on a real cluster: the CRDs only, never the sample crFiles.
            await install_missing_crds(kube, katalog_set)

        runtime = await start_boxes(
            stack,
            kube,
            katalog_set,
            apiserver=server,
            kubeconfig_path=kubeconfig_path,
            server_url=server_url,
            cluster_source=cluster_source,
            watch_options=watch_options,
            namespace=namespace,
            remote=remote,
            election=election,
            per_box=leader_elect == "per-box",
        )
        try:
            yield runtime
        finally:
            await runtime.aclose(grace)


async def _warn_incompatible(kube: KubeClient, katalog_set: KatalogSet) -> None:
    """A warning per Katalog whose ``lifecycle.compatibility.kubernetes`` range leaves
    out the server's version (asked only when some Katalog names a range)."""
    ranged = [k for k in katalog_set.katalogs if k.lifecycle is not None and k.lifecycle.kubernetes]
    if not ranged:
        return
    try:
        answer = await kube.version()
    except (ApiError, TransportError):
        return  # the boxes report an unreachable or refusing server in their own words
    version = str(answer.get("gitVersion") or "") if isinstance(answer, Mapping) else ""
    for katalog in ranged:
        mismatch = kubernetes_mismatch(katalog.lifecycle, version)
        if mismatch is not None:
            where = katalog.lifecycle.location if katalog.lifecycle else katalog.source_file
            logger.warning(f"{where}: {mismatch}", extra={"event": "katalog-warning"})


async def start_boxes(
    stack: AsyncExitStack,
    kube: KubeClient,
    katalog_set: KatalogSet,
    *,
    apiserver: ApiServer | None,
    kubeconfig_path: Path | None,
    server_url: str,
    cluster_source: str = "",
    watch_options: WatchOptions | None = None,
    namespace: str = "",
    remote: RemoteCrossReader | None = None,
    box_factory: Callable[..., Box] = Box,
    election: LeaderElectionConfig | None = None,
    per_box: bool = False,
) -> Runtime:
    """The registry and every box of ``katalog_set``, running in nurseries entered on ``stack``.

    The assembly step of :func:`open_runtime`, for callers that bring their
    own client (the ``testing`` layer). ``box_factory(crd, kube=, registry=)``
    makes each box (a subclass may instrument it). Call
    :meth:`Runtime.aclose` before ``stack`` unwinds. With ``election`` the
    boxes start only once this replica holds the lease; with ``per_box`` too,
    each box once this replica holds that box's lease.
    """
    for warning in katalog_set.warnings:
        logger.warning(str(warning), extra={"event": "katalog-warning"})
    await _warn_incompatible(kube, katalog_set)
    install_accounting()
    if kube.on_request is None:
        kube.on_request = LoopShare.count_request
    registry_nursery = await stack.enter_async_context(trio.open_nursery())
    registry = KatalogRegistry(
        kube,
        katalog_set,
        registry_nursery,
        watch_options=watch_options,
        namespace=namespace,
        remote=remote,
    )
    boxes: dict[str, Box] = {}
    for crd in katalog_set.crds.values():
        if crd.operator_box is not None and crd.enabled:
            box = box_factory(crd, kube=kube, registry=registry)
            registry.register(box)
            boxes[crd.key] = box
    if apiserver is not None:
        install_admission(stack, apiserver, katalog_set, boxes)
    for box in boxes.values():
        for dependency in box.crd.depends_on:
            if dependency.crd in boxes:
                box.dependencies.append((boxes[dependency.crd], dependency.condition))
    runtime = Runtime(
        katalog_set,
        kube,
        registry,
        boxes,
        apiserver=apiserver,
        kubeconfig_path=kubeconfig_path,
        server_url=server_url,
        cluster_source=cluster_source,
    )
    runtime._registry_scope = registry_nursery.cancel_scope
    boxes_nursery = await stack.enter_async_context(trio.open_nursery())
    if election is None:
        await boxes_nursery.start(runtime._run_boxes)
    elif per_box:
        runtime.shards = PerBoxElection(kube, election, katalog_set, boxes)
        await boxes_nursery.start(runtime._run_sharded, runtime.shards)
    else:
        runtime.election = LeaderElector(kube, election)
        await boxes_nursery.start(runtime._run_elected, runtime.election)
    return runtime


def _stale_hint(config: KubeConfig) -> str:
    """A kubeconfig the runtime wrote for an embedded server outlives that server: say so."""
    from orkestra_trio.apiserver.kubeconfig import CONTEXT

    if config.context != CONTEXT:
        return ""
    return (
        "this kubeconfig was written for an embedded API server that is gone; "
        "unset KUBECONFIG or pass --embedded"
    )


def describe_boxes(runtime: Runtime) -> dict[str, Any]:
    """Health of every box as JSON (for /health)."""
    return {name: box.health.snapshot().to_json() for name, box in runtime.boxes.items()}


def _ready_or_waiting(box: Box, snap: HealthSnapshot) -> bool:
    """Has ``box`` synced, or is it waiting for its ``dependsOn`` (see :meth:`Runtime.wait_ready`)?"""
    return snap.state is not HealthState.NOT_STARTED or box.paused
