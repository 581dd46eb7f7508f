"""A tiny stand-in API server (raw ASGI) for unit tests of the client's own logic.

It serves one resource (v1 ConfigMaps in "default") with list and watch, and
lets a test script failures: answer the next requests with an error status,
end every watch stream, stall streams, forget old revisions. The real
embedded server is exercised in test_against_apiserver*.py; this one runs
under the autojump clock through the in-process transport, so timeouts of
minutes take milliseconds.
"""

from __future__ import annotations

import json
import urllib.parse
from typing import Any

import trio


class FakeApi:
    def __init__(self, *, bookmark_interval: float = 30.0):
        self.rv = 100
        self.objects: dict[str, dict[str, Any]] = {}
        self.history: list[tuple[int, str, dict[str, Any]]] = []
        self.oldest_rv = 0  # watches from an RV below this get 410
        self.failures: list[tuple[int, float | None]] = []
        self.stalled = False
        self.end_streams_at_once = False  # a proxy that closes every watch immediately
        self.bookmark_interval = bookmark_interval
        self.requests: list[tuple[str, str, dict[str, str]]] = []
        self.active_watches = 0
        self._changed = trio.Event()
        self._cut = trio.Event()

    # --- scripting ---------------------------------------------------------

    def change(self, type_: str, name: str, data: dict[str, str] | None = None) -> int:
        self.rv += 1
        obj = {
            "apiVersion": "v1",
            "kind": "ConfigMap",
            "metadata": {"name": name, "namespace": "default", "resourceVersion": str(self.rv)},
            "data": data or {},
        }
        if type_ == "DELETED":
            self.objects.pop(name, None)
        else:
            self.objects[name] = obj
        self.history.append((self.rv, type_, obj))
        self._changed.set()
        self._changed = trio.Event()
        return self.rv

    def cut_watches(self) -> None:
        self._cut.set()
        self._cut = trio.Event()

    def compact(self) -> None:
        self.oldest_rv = self.rv + 1

    def fail_next(self, n: int, status: int, retry_after: float | None = None) -> None:
        self.failures.extend([(status, retry_after)] * n)

    # --- ASGI --------------------------------------------------------------

    async def __call__(self, scope, receive, send) -> None:
        query = dict(urllib.parse.parse_qsl(scope["query_string"].decode()))
        self.requests.append((scope["method"], scope["path"], query))
        if self.failures:
            status, retry_after = self.failures.pop(0)
            headers = [(b"content-type", b"application/json")]
            if retry_after is not None:
                headers.append((b"retry-after", str(int(retry_after)).encode()))
            await self._json(
                send,
                status,
                {
                    "kind": "Status",
                    "status": "Failure",
                    "code": status,
                    "reason": "InternalError" if status >= 500 else "TooManyRequests",
                    "message": f"injected {status}",
                },
                headers,
            )
            return
        if scope["method"] == "GET" and query.get("watch") == "true":
            await self._watch(query, send)
        elif scope["method"] == "GET" and scope["path"].endswith("/configmaps"):
            await self._json(
                send,
                200,
                {
                    "kind": "ConfigMapList",
                    "apiVersion": "v1",
                    "metadata": {"resourceVersion": str(self.rv)},
                    "items": list(self.objects.values()),
                },
            )
        elif scope["method"] == "POST":
            await self._json(send, 201, {"kind": "ConfigMap"})
        else:
            await self._json(
                send,
                200,
                {"kind": "ConfigMap", "metadata": {"name": scope["path"].rsplit("/", 1)[1]}},
            )

    async def _json(self, send, status, body, headers=None) -> None:
        await send(
            {
                "type": "http.response.start",
                "status": status,
                "headers": headers or [(b"content-type", b"application/json")],
            }
        )
        await send({"type": "http.response.body", "body": json.dumps(body).encode()})

    async def _watch(self, query, send) -> None:
        start = int(query.get("resourceVersion") or 0)
        await send(
            {
                "type": "http.response.start",
                "status": 200,
                "headers": [(b"content-type", b"application/json")],
            }
        )

        async def line(event) -> None:
            await send(
                {
                    "type": "http.response.body",
                    "body": json.dumps(event).encode() + b"\n",
                    "more_body": True,
                }
            )

        self.active_watches += 1
        try:
            if self.end_streams_at_once:
                await send({"type": "http.response.body", "body": b""})
                return
            if start < self.oldest_rv:
                await line(
                    {
                        "type": "ERROR",
                        "object": {
                            "kind": "Status",
                            "code": 410,
                            "reason": "Expired",
                            "message": "too old resource version",
                        },
                    }
                )
                await send({"type": "http.response.body", "body": b""})
                return
            sent = start
            cut = self._cut
            deadline = trio.current_time() + float(query.get("timeoutSeconds", 600))
            while not cut.is_set() and trio.current_time() < deadline:
                if self.stalled:
                    await cut.wait()
                    break
                for rv, type_, obj in self.history:
                    if rv > sent:
                        await line({"type": type_, "object": obj})
                        sent = rv
                changed = self._changed
                with trio.move_on_after(self.bookmark_interval) as waited:
                    async with trio.open_nursery() as nursery:

                        async def until(ev, nursery=nursery):
                            await ev.wait()
                            nursery.cancel_scope.cancel()

                        nursery.start_soon(until, changed)
                        nursery.start_soon(until, cut)
                if (
                    waited.cancelled_caught
                    and not self.stalled
                    and query.get("allowWatchBookmarks") == "true"
                ):
                    await line(
                        {
                            "type": "BOOKMARK",
                            "object": {
                                "kind": "ConfigMap",
                                "metadata": {"resourceVersion": str(self.rv)},
                            },
                        }
                    )
                    sent = max(sent, self.rv)
            await send({"type": "http.response.body", "body": b""})
        finally:
            self.active_watches -= 1
