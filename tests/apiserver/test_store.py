"""Store-level behaviour that HTTP tests cannot reach directly: overflow, history bounds."""

import pytest
import trio
from apiserver_helpers import open_crd

from orkestra_trio.apiserver.status import ApiError
from orkestra_trio.apiserver.store import Store


def make_store(**kwargs):
    store = Store(**kwargs)
    store.bootstrap()
    return store, store.kinds.resolve("", "v1", "configmaps")


def drain(watcher):
    items = []
    while True:
        try:
            items.append(watcher.receive.receive_nowait())
        except trio.WouldBlock:
            return items, False
        except trio.EndOfChannel:
            return items, True


def test_slow_watcher_is_ended_without_slowing_others():
    store, cm = make_store(watch_buffer=3)
    slow = store.watch(cm, "default", resource_version=str(store.revision)).watcher
    fast = store.watch(cm, "default", resource_version=str(store.revision)).watcher
    seen_fast = []
    for i in range(10):
        store.create(cm, "default", {"metadata": {"name": f"o{i}"}})
        items, ended = drain(fast)
        assert not ended
        seen_fast += items
    assert [c.name for _t, c in seen_fast] == [f"o{i}" for i in range(10)]
    items, ended = drain(slow)
    assert ended and slow.end_reason == "overflow"
    # What the slow watcher got is a gap-free prefix: it resumes from its last RV.
    assert [c.name for _t, c in items] == ["o0", "o1", "o2"]
    resumed = store.watch(cm, "default", resource_version=str(items[-1][1].rv))
    assert [c.name for _t, c in resumed.initial] == [f"o{i}" for i in range(3, 10)]
    assert store.hub.count() == 2  # the ended watcher is forgotten


def test_history_is_bounded_and_older_resumes_expire():
    store, cm = make_store(history_size=5)
    for i in range(10):
        store.create(cm, "default", {"metadata": {"name": f"h{i}"}})
    assert store.floor == store.revision - 5
    with pytest.raises(ApiError) as info:
        store.watch(cm, "default", resource_version=str(store.floor - 1))
    assert info.value.code == 410 and info.value.reason == "Expired"
    start = store.watch(cm, "default", resource_version=str(store.floor))
    assert len(start.initial) == 5


def test_list_snapshot_at_older_revision():
    store, cm = make_store()
    store.create(cm, "default", {"metadata": {"name": "x"}, "data": {"v": "1"}})
    at = store.revision
    store.update(cm, "default", "x", {"metadata": {"name": "x"}, "data": {"v": "2"}})
    store.create(cm, "default", {"metadata": {"name": "y"}})
    old = store.list(cm, "default", resource_version=str(at), resource_version_match="Exact")
    assert [(s.name, s.obj["data"]) for s in old.items] == [("x", {"v": "1"})]
    assert old.revision == at


def test_crd_registration_is_immediate_and_deletion_takes_objects():
    store, _cm = make_store()
    crd_kind = store.kinds.resolve("apiextensions.k8s.io", "v1", "customresourcedefinitions")
    crd = open_crd("gadgets", "Gadget", scope="Cluster")
    store.create(crd_kind, "", crd)
    gadget = store.kinds.resolve("example.com", "v1", "gadgets")
    assert gadget is not None and not gadget.namespaced
    store.create(gadget, "", {"metadata": {"name": "g1"}, "spec": {"anything": 1}})
    watcher = store.watch(gadget, None, resource_version=str(store.revision)).watcher
    store.delete(crd_kind, "", "gadgets.example.com")
    assert store.kinds.resolve("example.com", "v1", "gadgets") is None
    items, ended = drain(watcher)
    assert [(t, c.name) for t, c in items] == [("DELETED", "g1")]
    assert ended
