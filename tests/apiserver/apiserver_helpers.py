"""Helpers for the embedded API server tests: reading watch streams cleanly."""

import json

import trio

from k8s_objects import crd


async def read_watch(client, url, params=None, *, count, timeout=5.0):
    """The first ``count`` events of a watch stream (fewer if it ends or times out).

    Leaves the stream by cancelling a scope, never by ``break``: httpx's nested
    async generators then finish cleanly (no ResourceWarning).
    """
    events = []
    with trio.move_on_after(timeout) as scope:
        async with client.stream("GET", url, params=params) as response:
            assert response.status_code == 200, await response.aread()
            async for line in response.aiter_lines():
                if line.strip():
                    events.append(json.loads(line))
                if len(events) >= count:
                    scope.cancel()
    return events[:count]


class WatchCollector:
    """Runs a watch in the background, collecting events for the test to inspect."""

    def __init__(self, client, url, params=None):
        self.client = client
        self.url = url
        self.params = params
        self.events = []
        self.ended = False
        self.status = None
        self._changed = trio.Event()
        self._scope = trio.CancelScope()

    async def run(self, task_status):
        with self._scope:
            async with self.client.stream("GET", self.url, params=self.params) as response:
                self.status = response.status_code
                task_status.started()
                async for line in response.aiter_lines():
                    if line.strip():
                        self.events.append(json.loads(line))
                        self._changed.set()
                        self._changed = trio.Event()
        self.ended = True
        self._changed.set()

    async def wait_for(self, predicate, timeout=5.0):
        with trio.fail_after(timeout):
            while not predicate(self.events):
                if self.ended:
                    raise AssertionError(f"stream ended; events: {self.events}")
                await self._changed.wait()

    async def wait_ended(self, timeout=5.0):
        with trio.fail_after(timeout):
            while not self.ended:
                await self._changed.wait()

    def stop(self):
        self._scope.cancel()


def open_crd(plural, kind, *, group="example.com", scope="Namespaced"):
    """A minimal CRD whose one version keeps any field (no schema constraints)."""
    return crd(plural, kind, group=group, scope=scope)
