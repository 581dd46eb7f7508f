"""Serve an ASGI app with hypercorn's trio worker, in the caller's nursery, with a clean stop."""

from __future__ import annotations

import logging
from typing import Any, cast

import trio
from hypercorn.config import Config
from hypercorn.trio import serve

#: Seconds hypercorn may take to finish requests in flight once asked to stop.
GRACE_SECONDS = 2.0


async def serve_http(
    app: Any,
    host: str,
    port: int,
    stop: trio.Event,
    *,
    certfile: str | None = None,
    keyfile: str | None = None,
    task_status: trio.TaskStatus[list[str]] = trio.TASK_STATUS_IGNORED,
) -> None:
    """Serve ``app`` on ``host:port`` until ``stop`` is set; ``nursery.start`` returns the bound URLs.

    With ``certfile`` and ``keyfile`` (PEM), over TLS (read once, at the start).
    """
    config = Config()
    config.bind = [f"[{host}]:{port}" if ":" in host else f"{host}:{port}"]
    config.certfile, config.keyfile = certfile, keyfile
    config.graceful_timeout = GRACE_SECONDS
    config.accesslog = None
    config.loglevel = "WARNING"
    logging.getLogger("hypercorn.error").setLevel(logging.WARNING)
    await serve(cast(Any, app), config, shutdown_trigger=stop.wait, task_status=task_status)
