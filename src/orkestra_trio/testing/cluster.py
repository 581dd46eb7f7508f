"""A Kubernetes API server inside the test's own Trio loop: ``open_test_cluster()``.

Why in-process: a test that runs its operator under virtual time
(``trio.testing.MockClock``, pytest-trio's ``autojump_clock``) must keep every
party in one Trio loop. Virtual time jumps ahead whenever all tasks wait; a
server in another process would be waited on as if it were idle and the
clock would fire false timeouts. So the embedded API server runs in the
caller's nursery and every client of the test (the test's own and the
runtime's) reaches it through the in-process streaming transport: the same
request handling as over a socket, watches included, and no socket wait.

The server still listens on a loopback port (``cluster.url``) so that kubectl
can look at it while a test is paused in a debugger; nothing in the kit uses
that socket.

``cluster.faults`` is the API server's fault-injection API (500/409/429
answers, latency, cut or stalled watches); box-level faults (a reconcile that
raises, hangs, is slow) live on the handle of :func:`.handle.run_katalog`.
Injected API faults are aimed at the operator under test, never at the test
itself: the test's client (``cluster.kube``) has its own in-process
transport, whose requests the server counts but never fails or delays (a
test that applies a CR while the CR's resource answers 500 must still be
able to apply it).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import AsyncIterator
from contextlib import AsyncExitStack, asynccontextmanager
from contextvars import ContextVar
from typing import Any

from orkestra_trio.apiserver import ApiServer, FaultInjector, open_apiserver
from orkestra_trio.kube import (
    ASGIStreamingTransport,
    KubeClient,
    RetryPolicy,
    open_asgi_transport,
    open_kube_client,
)

#: The field manager of the test's own writes, so that they are told apart from the runtime's.
TEST_FIELD_MANAGER = "orkestra-test"

WRITE_VERBS = frozenset({"create", "update", "patch", "delete", "deletecollection"})

# Set inside the app task of every request of the test's own client; the
# server's fault injector is told to spare the requests that carry it
# (``FaultInjector.exempt``).
_FROM_TEST: ContextVar[bool] = ContextVar("orkestra_testing_from_test", default=False)


def _test_client_app(app: Any) -> Any:
    """The server's ASGI app, marking each request as the test's (see ``FaultInjector.exempt``)."""

    async def marked(scope: Any, receive: Any, send: Any) -> None:
        _FROM_TEST.set(True)  # this request's own task context: nothing else sees it
        await app(scope, receive, send)

    return marked


class TestCluster:
    """A running in-process API server and a client for the test. Made by :func:`open_test_cluster`."""

    __test__ = False  # not a pytest test class, whatever its name says

    def __init__(
        self,
        server: ApiServer,
        transport: ASGIStreamingTransport,
        kube: KubeClient,
    ) -> None:
        self.server = server
        #: The in-process transport for the operator's clients (subject to injected faults).
        self.transport = transport
        #: The test's client (field manager ``orkestra-test``), in-process, never faulted.
        self.kube = kube

    @property
    def url(self) -> str:
        """The loopback URL the server also listens on (for kubectl while debugging)."""
        return self.server.url

    @property
    def faults(self) -> FaultInjector:
        """API-level fault injection: ``fail_next``, ``add_latency``, ``cut_watches``, ``clear``..."""
        return self.server.faults

    def request_count(self, verb: str | None = None, resource: str | None = None) -> int:
        """Requests the server has seen (all clients), optionally of one verb and resource plural."""
        return self.server.faults.request_count(verb, resource)

    def requests(self, *, include_test: bool = False) -> Counter[tuple[str, str]]:
        """Requests by (verb, resource plural): the operator's, plus the test's own if asked."""
        counts = Counter(self.server.request_count)
        if not include_test:
            counts.subtract(self.server.faults.exempt_requests)
        return +counts

    def write_count(self, resource: str | None = None) -> int:
        """Write requests (create, update, patch, delete) the operator (not the test) has made."""
        return sum(
            n
            for (verb, plural), n in self.requests().items()
            if verb in WRITE_VERBS and (resource is None or plural == resource)
        )

    def objects(self, plural: str, namespace: str | None = None) -> list[dict[str, Any]]:
        """Every stored object of a resource plural (any group), read straight from the store.

        No request is made, so this neither changes request counts nor lets
        the runtime run: use it for cheap assertions between steps.
        """
        store = self.server.store
        found: list[dict[str, Any]] = []
        for resource in store.resources():
            if resource[1] != plural:  # a store resource key is (group, plural)
                continue
            for _, stored in store.iter_objects(resource, namespace):
                found.append(stored.obj)
        return found


#: The test client retries quickly: its requests are the test's actions, not the operator's.
TEST_RETRY = RetryPolicy(max_attempts=3, max_elapsed=5.0, base=0.01, cap=0.1)


@asynccontextmanager
async def open_test_cluster(
    *, workload_simulation: bool = True, bookmark_interval: float = 5.0
) -> AsyncIterator[TestCluster]:
    """``async with open_test_cluster() as cluster:`` an API server in this Trio loop.

    ``workload_simulation``: Deployments and Jobs report progress (ready
    replicas, completion) as a cluster's controllers would.
    """
    async with AsyncExitStack() as stack:
        server = await stack.enter_async_context(
            open_apiserver(
                workload_simulation=workload_simulation, bookmark_interval=bookmark_interval
            )
        )
        server.faults.exempt(_FROM_TEST.get)  # the test's own requests are never faulted
        transport = await stack.enter_async_context(open_asgi_transport(server.app))
        test_transport = await stack.enter_async_context(
            open_asgi_transport(_test_client_app(server.app))
        )
        kube = await stack.enter_async_context(
            open_kube_client(
                server.url,
                transport=test_transport,
                retry=TEST_RETRY,
                field_manager=TEST_FIELD_MANAGER,
            )
        )
        yield TestCluster(server, transport, kube)
