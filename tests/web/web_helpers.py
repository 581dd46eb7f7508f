"""Helpers for the web layer's tests: a real runtime with its HTTP surface on a free port."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import trio

from orkestra_trio.runtime.runtime import Runtime, open_runtime
from orkestra_trio.web.app import open_web_app
from orkestra_trio.web.server import serve_http

KATALOGS = Path(__file__).parents[2] / "katalogs"
CROSS_SAME_BINARY = KATALOGS / "cross-same-binary.yaml"
APP = ("demo.example.com/v1", "App")
DATABASE = ("demo.example.com/v1", "ManagedDatabase")


@asynccontextmanager
async def serve_runtime(
    katalog: Path = CROSS_SAME_BINARY, *, token: str | None = None, **runtime_options: Any
) -> AsyncIterator[tuple[Runtime, str]]:
    """The runtime of ``katalog`` on the embedded API server, its HTTP surface on 127.0.0.1:0."""
    async with open_runtime(katalog, embedded=True, **runtime_options) as rt:
        app = await open_web_app(rt, token=token)
        stop = trio.Event()
        async with trio.open_nursery() as nursery:
            binds = await nursery.start(serve_http, app, "127.0.0.1", 0, stop)
            try:
                yield rt, binds[0]
            finally:
                stop.set()


async def break_the_app(rt: Runtime) -> None:
    """Make every reconcile of the app box fail from now on, and give it one to run.

    The API server refuses the App's status writes (403, which the client does
    not retry); a spec change makes the next reconcile write its status.
    """
    assert rt.apiserver is not None
    rt.apiserver.faults.fail_next(10_000, verb="patch", resource="apps", status=403)
    app = dict(await rt.kube.get(APP, "shop", namespace="default"))
    app["spec"] = {**app["spec"], "image": "shop:broken"}
    await rt.kube.replace(app)


async def eventually(probe: Any, *, timeout: float = 10.0, what: str = "condition") -> Any:
    """Poll ``probe`` (async) until truthy; a bounded wait on an observable condition."""
    last: Any = None
    with trio.move_on_after(timeout):
        while True:
            last = await probe()
            if last:
                return last
            await trio.sleep(0.02)
    raise AssertionError(f"timed out after {timeout}s waiting for {what} (last: {last!r})")
