"""``/healthz``, ``/readyz`` and ``/startup``: the three probes Kubernetes (and people) ask.

``/health`` and ``/ready`` answer the same as ``/healthz`` and ``/readyz``.

* ``/health`` is liveness: answering at all proves the Trio loop runs (a
  stalled loop answers nothing and the probe times out). A degraded box is
  not a reason to kill the process: its supervisor and backoff handle it,
  and restarting would hurt the healthy siblings. So it is 200 while the
  process runs, and the body still shows each box's state.
* ``/ready`` is readiness: every box started (informers synced) and none
  degraded, and the runtime not stopping. 200 or 503, with the boxes
  listed by state so a glance tells which one holds readiness back.
* ``/startup`` turns 200 once every box has started at least once and stays
  so (a box restarting later is readiness' business, not startup's).
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any, Protocol

from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from orkestra_trio.runtime.health import HealthState

from .view import BoxSample


class ProbeSource(Protocol):
    """What the probes read (satisfied by :class:`~.view.RuntimeView`)."""

    @property
    def stopping(self) -> bool: ...

    def samples(self) -> Iterable[BoxSample]: ...


def boxes_by_state(samples: Iterable[BoxSample]) -> dict[str, list[str]]:
    """Box names grouped by health state; every state present, in the state machine's order."""
    grouped: dict[str, list[str]] = {state.value: [] for state in HealthState}
    for sample in samples:
        grouped[sample.health.state.value].append(sample.name)
    return grouped


def readiness(
    samples: Iterable[BoxSample], *, stopping: bool, standby: bool = False
) -> tuple[bool, dict[str, Any]]:
    """(ready?, the ``/ready`` body). A leader-election standby is never ready.

    Boxes that per-box election gives to other replicas do not count here
    (they are listed under ``elsewhere``).
    """
    listed = list(samples)
    local = [sample for sample in listed if not sample.elsewhere]
    grouped = boxes_by_state(local)
    ready = not stopping and not standby and not grouped[HealthState.NOT_STARTED.value]
    ready = ready and not grouped[HealthState.DEGRADED.value]
    body: dict[str, Any] = {"ready": ready, "stopping": stopping, "boxes": grouped}
    if standby:
        body["standby"] = True
    elsewhere = [sample.name for sample in listed if sample.elsewhere]
    if elsewhere:
        body["elsewhere"] = elsewhere
    return ready, body


def probe_routes(source: ProbeSource) -> list[Route]:
    """``GET /healthz`` (``/health``), ``/readyz`` (``/ready``) and ``/startup``."""
    started_once = False

    async def health(request: Request) -> JSONResponse:
        samples = list(source.samples())
        grouped = boxes_by_state(samples)
        # What each box costs the process: loop time and API requests (issue 16).
        load = {
            sample.name: {
                "cpuSeconds": round(sample.metrics.cpu_seconds_total, 3),
                "apiRequests": sample.metrics.api_requests_total,
                "fairShareWaits": sample.metrics.fair_share_waits_total,
                "eventsDropped": sample.metrics.events_dropped_total,
                "planningProcess": sample.metrics.planning_process,
            }
            for sample in samples
        }
        return JSONResponse(
            {"status": "alive", "stopping": source.stopping, "boxes": grouped, "load": load}
        )

    async def ready(request: Request) -> JSONResponse:
        # getattr: probe sources without leader election have no ``standby``.
        standby = bool(getattr(source, "standby", False))
        ok, body = readiness(source.samples(), stopping=source.stopping, standby=standby)
        return JSONResponse(body, status_code=200 if ok else 503)

    async def startup(request: Request) -> JSONResponse:
        nonlocal started_once
        grouped = boxes_by_state(source.samples())
        waiting = grouped[HealthState.NOT_STARTED.value]
        started_once = started_once or not waiting
        body = {"started": started_once, "waiting": [] if started_once else waiting}
        return JSONResponse(body, status_code=200 if started_once else 503)

    # /healthz and /readyz are the names the ecosystem (kubelet manifests,
    # kube-apiserver, controller-runtime) expects; /health and /ready stay as aliases.
    return [
        Route("/healthz", health, methods=["GET"]),
        Route("/readyz", ready, methods=["GET"]),
        Route("/health", health, methods=["GET"]),
        Route("/ready", ready, methods=["GET"]),
        Route("/startup", startup, methods=["GET"]),
    ]
