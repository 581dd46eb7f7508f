"""What users import to test their own Katalogs: an in-process cluster, a driver, faults, strategies.

::

    from orkestra_trio.testing import BoxFault, open_test_cluster, run_katalog

    async def test_my_operator(autojump_clock):
        async with open_test_cluster() as cluster, run_katalog("my.yaml", cluster) as kat:
            await kat.apply(kat.manifest("website", "blog", {"image": "nginx"}))
            await kat.wait_steady()
            assert kat.ready("website", "blog")

Everything runs in the test's Trio loop, so pytest-trio's ``autojump_clock``
(virtual time) applies to the API server, the runtime and the test alike.
Hypothesis strategies live in :mod:`orkestra_trio.testing.strategies`
(imported on its own: hypothesis is a test dependency). The pytest plugin
(:mod:`orkestra_trio.testing.plugin`, registered as an entry point) offers
the same as fixtures. docs/testing.md walks through a complete property test.
"""

from .cluster import TestCluster, open_test_cluster
from .faults import (
    ApiFault,
    BoxFault,
    FaultKind,
    InjectedFault,
    ReconcileLog,
    ReconcileRecord,
    ScheduledFault,
    heaviest_legal_list,
)
from .handle import KatalogHandle, NotSteady, run_katalog
from .remote import FakeRemoteSource, RemoteSourceDown

__all__ = [
    "ApiFault",
    "BoxFault",
    "FakeRemoteSource",
    "FaultKind",
    "InjectedFault",
    "KatalogHandle",
    "NotSteady",
    "ReconcileLog",
    "ReconcileRecord",
    "RemoteSourceDown",
    "ScheduledFault",
    "TestCluster",
    "heaviest_legal_list",
    "open_test_cluster",
    "run_katalog",
]
