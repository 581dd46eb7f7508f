"""Time-based compaction of the watch history, as kube-apiserver asks of etcd.

kube-apiserver compacts etcd every ``--etcd-compaction-interval`` (5 minutes
by default) up to the revision it saw at the previous tick, so a revision
stays resumable for one to two intervals and no longer. Clients that resume a
watch or list from an older resourceVersion get 410 Expired and must relist.
Without this, the embedded server's count-bounded history would keep hours of
revisions on a quiet cluster, and a user's 410 handling would never run before
it meets a real cluster.
"""

from __future__ import annotations

import trio

from orkestra_trio.apiserver.store import Store

DEFAULT_COMPACTION_INTERVAL = 300.0


async def run_compactor(store: Store, *, interval: float = DEFAULT_COMPACTION_INTERVAL) -> None:
    """Every ``interval`` seconds, forget the history up to the previous tick's revision."""
    previous = store.revision
    while True:
        await trio.sleep(interval)
        store.compact_to(previous)
        previous = store.revision
