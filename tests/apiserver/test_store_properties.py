"""Stateful property test of the store: any interleaving keeps the store's promises.

Creates, updates with fresh or stale resourceVersions, patches, finalizers,
deletes and watch starts in any order must keep: revisions strictly
increasing (one per committed change); a watch from revision n sees exactly
the committed changes after n, in order; 409 exactly when the precondition is
stale; no object lost (the store always equals a simple model).

The store is synchronous (every write is atomic under Trio), so a plain
RuleBasedStateMachine drives it; watchers are drained with receive_nowait.
"""

import trio
from hypothesis import settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, invariant, precondition, rule

from orkestra_trio.apiserver.status import ApiError
from orkestra_trio.apiserver.store import Store

NAMES = st.sampled_from(["a", "b", "c", "d"])
VALUES = st.sampled_from(["1", "2", "3"])


class StoreMachine(RuleBasedStateMachine):
    def __init__(self):
        super().__init__()
        self.store = Store(history_size=10_000)
        self.store.bootstrap()
        self.kind = self.store.kinds.resolve("", "v1", "configmaps")
        self.initial_revision = self.store.revision
        self.log = []  # every committed change of configmaps, in commit order
        self.all_rvs = []
        self.store.listeners.append(self._record)
        self.model = {}  # name -> {"rv", "value", "finalizers", "deleting", "history"}
        self.watches = []  # (start rv, received list, watcher)

    def _record(self, change):
        self.all_rvs.append(change.rv)
        if change.resource == ("", "configmaps"):
            self.log.append((change.rv, change.type, change.name))

    def teardown(self):
        for _n, _events, watcher in self.watches:
            watcher.end("test over")

    def _obj(self, name, value, rv=None, finalizers=None):
        meta = {"name": name}
        if rv is not None:
            meta["resourceVersion"] = str(rv)
        if finalizers:
            meta["finalizers"] = list(finalizers)
        return {"metadata": meta, "data": {"v": value}}

    @rule(name=NAMES, value=VALUES)
    def create(self, name, value):
        try:
            stored = self.store.create(self.kind, "default", self._obj(name, value))
        except ApiError as error:
            assert name in self.model and error.code == 409 and error.reason == "AlreadyExists"
            return
        assert name not in self.model
        self.model[name] = {
            "rv": stored.rv,
            "value": value,
            "finalizers": [],
            "deleting": False,
            "history": [stored.rv],
        }

    @rule(name=NAMES, value=VALUES, stale=st.booleans())
    def update(self, name, value, stale):
        entry = self.model.get(name)
        if entry is None:
            try:
                self.store.update(self.kind, "default", name, self._obj(name, value, rv=1))
            except ApiError as error:
                assert error.code == 404
                return
            raise AssertionError("update of a missing object succeeded")
        old_rvs = [rv for rv in entry["history"] if rv != entry["rv"]]
        if stale and not old_rvs:
            stale = False
        send_rv = old_rvs[-1] if stale else entry["rv"]
        try:
            stored = self.store.update(
                self.kind,
                "default",
                name,
                self._obj(name, value, rv=send_rv, finalizers=entry["finalizers"]),
            )
        except ApiError as error:
            assert stale, f"unexpected {error.code} for a fresh update"
            assert error.code == 409 and error.reason == "Conflict"
            return
        assert not stale, "a stale update succeeded"
        self._apply_write(name, value, entry["finalizers"], stored)

    def _apply_write(self, name, value, finalizers, stored):
        entry = self.model[name]
        changed = value != entry["value"] or finalizers != entry["finalizers"]
        if not changed:
            assert stored.rv == entry["rv"], "a no-op write bumped the revision"
            return
        assert stored.rv > entry["rv"]
        if entry["deleting"] and not finalizers:
            del self.model[name]
            return
        entry.update(rv=stored.rv, value=value, finalizers=list(finalizers))
        entry["history"].append(stored.rv)

    @rule(name=NAMES, value=VALUES)
    def patch_unconditionally(self, name, value):
        entry = self.model.get(name)
        if entry is None:
            return
        stored = self.store.update(
            self.kind, "default", name, self._obj(name, value, finalizers=entry["finalizers"])
        )
        self._apply_write(name, value, entry["finalizers"], stored)

    @precondition(lambda self: any(not e["deleting"] for e in self.model.values()))
    @rule(data=st.data())
    def add_finalizer(self, data):
        name = data.draw(
            st.sampled_from(sorted(n for n, e in self.model.items() if not e["deleting"]))
        )
        entry = self.model[name]
        fins = sorted(set(entry["finalizers"]) | {"example.com/hold"})
        stored = self.store.update(
            self.kind, "default", name, self._obj(name, entry["value"], finalizers=fins)
        )
        self._apply_write(name, entry["value"], fins, stored)

    @precondition(lambda self: bool(self.model))
    @rule(data=st.data())
    def remove_finalizers(self, data):
        name = data.draw(st.sampled_from(sorted(self.model)))
        entry = self.model[name]
        stored = self.store.update(
            self.kind, "default", name, self._obj(name, entry["value"], finalizers=[])
        )
        self._apply_write(name, entry["value"], [], stored)

    @rule(name=NAMES)
    def delete(self, name):
        entry = self.model.get(name)
        try:
            stored, gone = self.store.delete(self.kind, "default", name)
        except ApiError as error:
            assert entry is None and error.code == 404
            return
        assert entry is not None
        if entry["finalizers"]:
            assert not gone
            assert stored.obj["metadata"]["deletionTimestamp"]
            if not entry["deleting"]:
                assert stored.rv > entry["rv"]
                entry["deleting"] = True
                entry["rv"] = stored.rv
                entry["history"].append(stored.rv)
            else:
                assert stored.rv == entry["rv"]
        else:
            assert gone
            del self.model[name]

    @rule(data=st.data())
    def start_watch(self, data):
        start = data.draw(st.sampled_from([self.initial_revision, *self.all_rvs]))
        started = self.store.watch(self.kind, "default", resource_version=str(start))
        received = [(c.rv, t, c.name) for t, c in started.initial]
        self.watches.append((start, received, started.watcher))

    @invariant()
    def revisions_strictly_increase(self):
        assert all(b == a + 1 for a, b in zip(self.all_rvs, self.all_rvs[1:], strict=False))
        if self.all_rvs:
            assert self.store.revision == self.all_rvs[-1]

    @invariant()
    def watches_see_exactly_the_changes_after_their_start(self):
        for start, received, watcher in self.watches:
            while True:
                try:
                    event_type, change = watcher.receive.receive_nowait()
                except trio.WouldBlock:
                    break
                received.append((change.rv, event_type, change.name))
            expected = [entry for entry in self.log if entry[0] > start]
            assert received == expected

    @invariant()
    def nothing_lost(self):
        live = {
            stored.name: stored
            for _key, stored in self.store.iter_objects(("", "configmaps"), "default")
        }
        assert set(live) == set(self.model)
        for name, entry in self.model.items():
            stored = live[name]
            assert stored.rv == entry["rv"]
            assert stored.obj["data"] == {"v": entry["value"]}
            assert bool(stored.obj["metadata"].get("deletionTimestamp")) == entry["deleting"]


StoreMachine.TestCase.settings = settings(max_examples=60, stateful_step_count=40, deadline=None)
test_store_state_machine = StoreMachine.TestCase
