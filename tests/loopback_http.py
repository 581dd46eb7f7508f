"""An ASGI app served on 127.0.0.1 (a free port) inside the test's own Trio run."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import trio
from hypercorn.config import Config
from hypercorn.trio import serve


@asynccontextmanager
async def serving(app: Any) -> AsyncIterator[str]:
    """Serve ``app`` with hypercorn on 127.0.0.1 (any free port); yields its base URL."""
    config = Config()
    config.bind = ["127.0.0.1:0"]
    config.graceful_timeout = 0.5
    config.accesslog = None
    config.loglevel = "WARNING"
    shutdown = trio.Event()
    async with trio.open_nursery() as nursery:

        async def run(*, task_status: trio.TaskStatus[list[str]]) -> None:
            await serve(app, config, shutdown_trigger=shutdown.wait, task_status=task_status)

        binds = await nursery.start(run)
        try:
            yield binds[0]
        finally:
            shutdown.set()
            nursery.cancel_scope.deadline = trio.current_time() + 5
