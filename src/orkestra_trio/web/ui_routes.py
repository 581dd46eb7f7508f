"""The Control Center: ``/ui`` (a static page) and ``/ui/live`` (a websocket of snapshots).

The page is plain HTML, CSS and JavaScript shipped inside the package
(``web/ui/``): no build step, nothing to install. It reads two things only:

* ``/ui/live``: a websocket that sends a snapshot of every box (its health
  and metrics, as ONCOP and ``/metrics`` expose them), the cross graph and
  each box's CR list, first at once and then whenever something changed.
  Health changes wake it immediately; metrics and CR lists are looked at
  once a second. It sends at most :data:`MAX_RATE` snapshots per second and
  never one identical to the last.
* the ONCOP routes (``/katalog/...``) for a CR's detail and Events.

The assets are read once, at import, and served from memory: a few
kilobytes, and no file I/O (starlette's file responses use worker threads)
on the request path.
"""

from __future__ import annotations

import datetime
import importlib.resources
import json
from collections.abc import Iterable, Mapping
from typing import Any, Protocol

import trio
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import BaseRoute, Route, WebSocketRoute
from starlette.websockets import WebSocket, WebSocketDisconnect

from orkestra_trio.oncop import shapes
from orkestra_trio.oncop.server import BoxView, served, until_disconnect

from .view import BoxSample, CrossEdge, cross_edges

#: Snapshots per second, at most, per connected page.
MAX_RATE = 4.0
#: How often metrics and CR lists are looked at when no health change wakes the loop.
METRICS_PERIOD = 1.0
#: CRs listed per box in a snapshot (the page says when there are more).
MAX_CRS_PER_BOX = 200

ASSETS: dict[str, tuple[str, str]] = {
    "index.html": ("text/html; charset=utf-8", ""),
    "app.js": ("text/javascript; charset=utf-8", ""),
    "style.css": ("text/css; charset=utf-8", ""),
}


def _load_assets() -> dict[str, tuple[str, bytes]]:
    folder = importlib.resources.files("orkestra_trio.web") / "ui"
    return {
        name: (media_type, (folder / name).read_bytes()) for name, (media_type, _) in ASSETS.items()
    }


class LiveSource(Protocol):
    """What the Control Center reads (satisfied by :class:`~.view.RuntimeView`)."""

    @property
    def katalog_name(self) -> str: ...

    def box_views(self) -> Iterable[BoxView]: ...

    def samples(self) -> Iterable[BoxSample]: ...

    def health_versions(self) -> tuple[int, ...]: ...

    async def wait_health_changed(self, seen: tuple[int, ...]) -> None: ...


def _box_json(sample: BoxSample, view: BoxView | None) -> dict[str, Any]:
    health = sample.health
    metrics = sample.metrics
    types = view.crd.api_types if view is not None else None
    total = sum(metrics.reconcile_total.values())
    return {
        "name": sample.name,
        "kind": sample.kind,
        "apiVersion": types.api_version if types is not None else "",
        "served": view is not None and served(view.crd),
        "state": health.state.value,
        "started": health.started,
        "paused": sample.paused,
        "workers": metrics.workers,
        "maxWorkers": sample.max_workers,
        "busyWorkers": metrics.active_workers,
        "queueDepth": metrics.queue_depth,
        "resourceCount": sample.resource_count,
        "totalReconciles": total,
        "errors": metrics.reconcile_errors_total,
        "errorRatePercent": round(metrics.error_rate_percent, 1),
        "reconcileDurationP95Ms": round(metrics.reconcile_duration_p95 * 1000.0, 1),
        "consecutiveFails": health.consecutive_fails,
        "restarts": metrics.restarts_total,
        "cpuSeconds": round(metrics.cpu_seconds_total, 3),
        "apiRequests": metrics.api_requests_total,
        "fairShareWaits": metrics.fair_share_waits_total,
        "lastError": health.last_error or "",
        "holder": health.holder,
    }


def _edge_json(edge: CrossEdge) -> dict[str, Any]:
    last = edge.last
    return {
        "observer": edge.observer,
        "observed": edge.observed,
        "as": edge.as_,
        "where": edge.where,
        "remote": edge.remote,
        "via": edge.via,
        "result": last.result if last is not None else "none",
        "error": last.error if last is not None else "",
    }


def build_snapshot(source: LiveSource, now: datetime.datetime) -> dict[str, Any]:
    """What ``/ui/live`` sends: boxes, the cross graph, CR lists. Plain JSON."""
    samples = {sample.name: sample for sample in source.samples()}
    views = {view.crd.key: view for view in source.box_views()}
    crs: dict[str, Any] = {}
    for name, view in views.items():
        if not served(view.crd):
            continue
        listed = shapes.cr_list(view.list_crs(), now)["items"]
        crs[name] = {"items": listed[:MAX_CRS_PER_BOX], "total": len(listed)}
    crds = [view.crd for view in views.values()]
    return {
        "katalog": source.katalog_name,
        "boxes": [_box_json(sample, views.get(name)) for name, sample in samples.items()],
        "cross": [_edge_json(edge) for edge in cross_edges(crds, samples)],
        "crs": crs,
    }


def ui_routes(source: LiveSource) -> list[BaseRoute]:
    """``/ui`` and its assets, and the ``/ui/live`` websocket (authentication: web/auth.py)."""
    assets = _load_assets()

    async def index(request: Request) -> Response:
        return _asset(assets, "index.html")

    async def redirect(request: Request) -> Response:
        return RedirectResponse("/ui/", status_code=308)

    async def asset(request: Request) -> Response:
        name = request.path_params["name"]
        if name not in assets:
            return Response("not found", status_code=404, media_type="text/plain")
        return _asset(assets, name)

    async def live(websocket: WebSocket) -> None:
        await websocket.accept()
        try:
            async with trio.open_nursery() as nursery:
                nursery.start_soon(until_disconnect, websocket, nursery.cancel_scope)
                await _push(websocket, source)
        except* WebSocketDisconnect:
            pass  # the page went away while we were sending

    return [
        Route("/ui", redirect, methods=["GET"]),
        Route("/ui/", index, methods=["GET"]),
        WebSocketRoute("/ui/live", live),
        Route("/ui/{name}", asset, methods=["GET"]),
    ]


def _asset(assets: Mapping[str, tuple[str, bytes]], name: str) -> Response:
    media_type, body = assets[name]
    return Response(body, media_type=media_type, headers={"Cache-Control": "no-cache"})


async def _push(websocket: WebSocket, source: LiveSource) -> None:
    """Send a snapshot now, then on every change, no faster than MAX_RATE."""
    last_sent = ""
    while True:
        seen = source.health_versions()
        text = json.dumps(
            build_snapshot(source, datetime.datetime.now(datetime.UTC)), sort_keys=True
        )
        if text != last_sent:
            await websocket.send_text(text)
            last_sent = text
        with trio.move_on_after(METRICS_PERIOD):
            await source.wait_health_changed(seen)
        await trio.sleep(1.0 / MAX_RATE)  # the rate limit, not a wait for a condition
