"""The start-up banner of ``python -m orkestra_trio run`` in a subprocess, read by tests.

The runtime prints ``key: value`` lines (``kubeconfig: ...``, ``http: <url> ...``)
and serves from the ``http:`` line on; tests that start it as a process wait for it here.
"""

from __future__ import annotations

import signal
from typing import Any

import trio


async def read_banner(stream: Any, lines: list[str], *, timeout: float = 30.0) -> dict[str, str]:
    """The lines up to and with the ``http:`` one, as key -> value (``lines`` gets each line)."""
    buffer = b""
    banner: dict[str, str] = {}
    with trio.fail_after(timeout):
        while "http" not in banner:
            chunk = await stream.receive_some(4096)
            if not chunk:
                raise AssertionError(f"the runtime exited during start-up: {lines}")
            buffer += chunk
            *complete, buffer = buffer.split(b"\n")
            for raw in complete:
                line = raw.decode()
                lines.append(line)
                key, _, value = line.partition(": ")
                banner[key] = value
    return banner


async def read_http_url(stream: Any, lines: list[str] | None = None) -> str:
    """The URL the runtime serves on, from its ``http:`` line."""
    banner = await read_banner(stream, [] if lines is None else lines)
    return "http://" + banner["http"].split()[0].removeprefix("http://")


async def stop(process: trio.Process, *, within: float = 20.0) -> int:
    """SIGTERM the runtime and wait (bounded) for it to exit; its exit code."""
    process.send_signal(signal.SIGTERM)
    with trio.fail_after(within):
        return await process.wait()


async def reap(process: trio.Process) -> None:
    """Every process test's ``finally``: kill the runtime if it still runs, close its pipes."""
    if process.returncode is None:
        process.kill()
        await process.wait()
    for pipe in (process.stdout, process.stderr):
        if pipe is not None:
            await pipe.aclose()
