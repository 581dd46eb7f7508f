"""Time-based compaction of the watch history (storage/compaction.py), in virtual time."""

import pytest
import trio

from orkestra_trio.apiserver.status import ApiError
from orkestra_trio.apiserver.storage.compaction import run_compactor
from orkestra_trio.apiserver.store import Store


def make_store():
    store = Store()
    store.bootstrap()
    return store, store.kinds.resolve("", "v1", "configmaps")


def write(store, cm, name):
    return store.create(cm, "default", {"metadata": {"name": name}}).rv


async def test_a_revision_stays_resumable_for_one_to_two_intervals(autojump_clock):
    store, cm = make_store()
    before = write(store, cm, "a")
    async with trio.open_nursery() as nursery:
        nursery.start_soon(lambda: run_compactor(store, interval=300))
        await trio.sleep(299)
        store.watch(cm, "default", resource_version=str(before)).watcher.end("test")
        # The first tick compacts up to the revision seen at start: `before` itself.
        await trio.sleep(2)
        store.watch(cm, "default", resource_version=str(before)).watcher.end("test")
        with pytest.raises(ApiError) as old:
            store.watch(cm, "default", resource_version=str(before - 1))
        assert old.value.code == 410
        after = write(store, cm, "b")
        await trio.sleep(298)
        # The second tick forgets everything up to the first tick's revision only.
        store.watch(cm, "default", resource_version=str(before)).watcher.end("test")
        await trio.sleep(302)
        with pytest.raises(ApiError):
            store.watch(cm, "default", resource_version=str(before))
        store.watch(cm, "default", resource_version=str(after)).watcher.end("test")
        nursery.cancel_scope.cancel()


def test_an_exact_list_below_the_history_says_so():
    store, cm = make_store()
    old = write(store, cm, "a")
    write(store, cm, "b")
    store.compact_to(store.revision)
    with pytest.raises(ApiError) as error:
        store.list(cm, "default", resource_version=str(old), resource_version_match="Exact")
    assert error.value.code == 410
    assert error.value.message == "The resourceVersion for the provided list is too old."
