"""Helpers for the runtime's tests: bounded waits on observable conditions."""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import trio

from orkestra_trio.kube import KubeClient, NotFound, open_kube_client
from orkestra_trio.runtime.runtime import Runtime, open_runtime

WEBSITE = ("demo.example.com/v1", "Website")
DEPLOY = ("apps/v1", "Deployment")
SERVICE = ("v1", "Service")
JOB = ("batch/v1", "Job")
WRITE_VERBS = frozenset({"create", "update", "patch", "delete", "deletecollection"})


def website(name: str, spec: dict[str, Any] | None = None) -> dict[str, Any]:
    """A Website CR of katalogs/website.yaml in ``default`` (one replica of nginx by default)."""
    return {
        "apiVersion": "demo.example.com/v1",
        "kind": "Website",
        "metadata": {"name": name, "namespace": "default"},
        "spec": spec if spec is not None else {"replicas": 1, "image": "nginx:1.27"},
    }


async def eventually(
    probe: Callable[[], Awaitable[Any]], *, timeout: float = 10.0, what: str = "condition"
) -> Any:
    """Poll ``probe`` until it returns something truthy (its value), failing after ``timeout``.

    A bounded wait on an observable condition: the runtime works in the same
    Trio loop, so each poll also lets it progress.
    """
    last: Any = None
    with trio.move_on_after(timeout):
        while True:
            try:
                last = await probe()
            except NotFound:
                last = None
            if last:
                return last
            await trio.sleep(0.02)
    raise AssertionError(f"timed out after {timeout}s waiting for {what} (last: {last!r})")


async def absent(kube: Any, ref: Any, name: str, namespace: str | None = "default") -> bool:
    """A probe for :func:`eventually`: the object is gone from the server (a 404), not merely
    marked for deletion."""
    try:
        await kube.get(ref, name, namespace=namespace)
    except NotFound:
        return True
    return False


async def holds(value: Any) -> Any:
    """A probe for :func:`eventually` over in-memory state: ``eventually(lambda: holds(x == 1))``."""
    return value


def ready_condition(obj: dict[str, Any]) -> dict[str, Any] | None:
    for condition in (obj.get("status") or {}).get("conditions") or ():
        if condition.get("type") == "Ready":
            return dict(condition)
    return None


def writes(counter: Any) -> dict[tuple[str, str], int]:
    """The write requests of an API server's request counter."""
    return {key: n for key, n in counter.items() if key[0] in WRITE_VERBS}


@asynccontextmanager
async def running(folder: Path, katalog: str) -> AsyncIterator[tuple[Runtime, KubeClient]]:
    """The runtime of ``katalog`` (its text) on the embedded server, ready, and a client of it."""
    path = folder / "katalog.yaml"
    path.write_text(katalog)
    async with open_runtime(path, embedded=True) as rt, open_kube_client(rt.server_url) as kube:
        with trio.fail_after(10):
            await rt.wait_ready()
        yield rt, kube
