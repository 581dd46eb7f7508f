"""The server side of ONCOP: read-only JSON routes over what a runtime already knows.

A runtime answers other operators' questions about its boxes from memory: the
informer caches, each box's health and metrics, the Events of a CR. This
module does not know the runtime. It reads through two small Protocols,
:class:`KatalogView` and :class:`BoxView`, that the runtime satisfies with
thin adapters, and it returns plain Starlette routes
(:func:`oncop_routes`) that can be added to whatever HTTP app the runtime
serves on ``--listen`` (or run alone with :func:`oncop_app`).

Rules (docs/oncop.md):

* every answer is JSON; the shapes come from :mod:`.shapes`;
* a CRD with ``crossAccess: false`` or ``endpoints.enabled: false`` does not
  exist here: all its paths answer 404, and ``/katalog`` leaves it out;
* ``/health`` answers 200 while the box is pending or healthy, 503 otherwise
  (with the same body);
* with a token configured, every path (the websocket included) needs
  ``Authorization: Bearer <token>``, or gets 401;
* ``/events`` upgraded to a websocket sends a snapshot and then every new or
  re-counted event.
"""

from __future__ import annotations

import datetime
import hmac
import ipaddress
import json
import logging
from collections.abc import Awaitable, Callable, Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any, Protocol

import trio
from starlette.applications import Starlette
from starlette.requests import HTTPConnection, Request
from starlette.responses import JSONResponse, Response
from starlette.routing import BaseRoute, Route, WebSocketRoute
from starlette.websockets import WebSocket, WebSocketDisconnect

from orkestra_trio.katalog.edges import katalog_edges
from orkestra_trio.katalog.model import CrdEntry

from . import shapes

logger = logging.getLogger(__name__)

JSON = dict[str, Any]


class BoxView(Protocol):
    """What the server reads of one box. Every method is a cheap in-memory read."""

    @property
    def crd(self) -> CrdEntry:
        """The Katalog entry of the box's CRD (key, types, crossAccess, endpoints)."""
        ...

    def health_json(self) -> Mapping[str, Any]:
        """The health fields (``HealthSnapshot.to_json()``): state, healthy, started..."""
        ...

    def metrics_json(self) -> Mapping[str, Any]:
        """The ``metrics`` object (``MetricsSnapshot.oncop_metrics()``)."""
        ...

    def list_crs(self) -> Iterable[Mapping[str, Any]]:
        """Every CR of the box, from its informer cache."""
        ...

    def get_cr(self, namespace: str, name: str) -> Mapping[str, Any] | None:
        """One CR from the informer cache (namespace "" for cluster-scoped CRDs)."""
        ...

    def children_of(self, cr: Mapping[str, Any]) -> Iterable[Mapping[str, Any]]:
        """The CR's children (objects it controls), from the child informers."""
        ...

    def events_of(self, namespace: str, name: str) -> Iterable[Mapping[str, Any]]:
        """Kubernetes Events whose involvedObject is this CR (core/v1 or events.k8s.io/v1)."""
        ...

    async def wait_events(self, namespace: str, name: str) -> None:
        """Return once the CR's events may have changed (``trio.sleep(1)`` is acceptable)."""
        ...


class KatalogView(Protocol):
    """What the server reads of the whole runtime."""

    @property
    def katalog_name(self) -> str:
        """The name shown by ``/katalog`` (several Katalogs: their names joined by ',')."""
        ...

    @property
    def katalog_infos(self) -> Sequence[Mapping[str, Any]]:
        """Each Katalog's name and descriptive metadata (version, author...), for ``/katalog``."""
        ...

    def box_views(self) -> Iterable[BoxView]:
        """Every box of the runtime, in Katalog order."""
        ...


def served(crd: CrdEntry) -> bool:
    """Does ONCOP expose this CRD at all?"""
    return crd.cross_access and crd.endpoints.enabled


def _utcnow() -> datetime.datetime:
    return datetime.datetime.now(datetime.UTC)


def _not_found(message: str) -> JSONResponse:
    return JSONResponse(shapes.error_body(message), status_code=404)


def _elsewhere(box: BoxView) -> JSONResponse | None:
    """503 naming the replica that runs the box, when this one does not (per-box election).

    A replica that does not run a box has not synced its CRs: answering "not
    found" or an empty list from it would be a wrong answer, not a stale one.
    """
    holder = getattr(box, "elsewhere", None)
    if holder is None:
        return None
    body = shapes.error_body(
        f"box {box.crd.key} runs on replica {holder or '(none yet)'}, not here; ask it"
    )
    if holder:
        body["holder"] = holder
    return JSONResponse(body, status_code=503, headers={"Retry-After": "1"})


def _unauthorized() -> JSONResponse:
    return JSONResponse(
        shapes.error_body("unauthorized: send Authorization: Bearer <token>"),
        status_code=401,
        headers={"WWW-Authenticate": 'Bearer realm="oncop"'},
    )


class OncopHandlers:
    """The route handlers, bound to one view and one auth setting."""

    def __init__(
        self,
        view: KatalogView,
        *,
        token: str | None = None,
        now: Callable[[], datetime.datetime] = _utcnow,
    ) -> None:
        self.view = view
        self.token = token
        self.now = now

    # ------------------------------------------------------------- helpers

    def authorized(self, connection: HTTPConnection) -> bool:
        if not self.token:
            return True
        header = connection.headers.get("authorization", "")
        scheme, _, given = header.partition(" ")
        if scheme.lower() != "bearer":
            return False
        return hmac.compare_digest(given.strip().encode(), self.token.encode())

    def box(self, key: str) -> BoxView | None:
        for box in self.view.box_views():
            if box.crd.key == key:
                return box if served(box.crd) else None
        return None

    def guarded(
        self, handler: Callable[[Request], Awaitable[Response]]
    ) -> Callable[[Request], Awaitable[Response]]:
        async def endpoint(request: Request) -> Response:
            if not self.authorized(request):
                return _unauthorized()
            return await handler(request)

        return endpoint

    def _box_or_404(self, request: Request) -> BoxView | JSONResponse:
        key = request.path_params["crd"]
        box = self.box(key)
        if box is None:
            return _not_found(f"no CRD {key!r} is served here")
        return box

    def _cr_or_404(self, request: Request) -> tuple[BoxView, Mapping[str, Any]] | JSONResponse:
        box = self._box_or_404(request)
        if isinstance(box, JSONResponse):
            return box
        refused = _elsewhere(box)
        if refused is not None:
            return refused
        namespace, name = self._cr_key(box, request.path_params)
        cr = box.get_cr(namespace, name)
        if cr is None:
            return _not_found(f"{box.crd.key} {namespace}/{name} not found")
        return box, cr

    @staticmethod
    def _cr_key(box: BoxView, params: Mapping[str, Any]) -> tuple[str, str]:
        # Cluster-scoped CRs: the namespace segment is a placeholder ("_" by convention).
        namespace = str(params["namespace"]) if box.crd.namespaced else ""
        return namespace, str(params["name"])

    # ------------------------------------------------------------ handlers

    async def katalog(self, request: Request) -> Response:
        entries = []
        for box in self.view.box_views():
            if served(box.crd):
                entries.append(
                    shapes.summary_entry(
                        box.crd,
                        box.health_json(),
                        box.metrics_json(),
                        sum(1 for _ in box.list_crs()),
                    )
                )
        # What each served box observes (its cross: entries, its autoscale sources).
        observers = [box.crd for box in self.view.box_views() if served(box.crd)]
        edges = [shapes.edge_entry(edge) for edge in katalog_edges(observers)]
        return JSONResponse(
            shapes.katalog_summary(
                self.view.katalog_name, entries, edges, katalogs=self.view.katalog_infos
            )
        )

    async def crd_info(self, request: Request) -> Response:
        box = self._box_or_404(request)
        if isinstance(box, JSONResponse):
            return box
        if not box.crd.endpoints.info:
            return _not_found(f"the info path of {box.crd.key} is turned off (endpoints.info)")
        refused = _elsewhere(box)
        if refused is not None:
            return refused
        crs = list(box.list_crs())
        children = shapes.count_by_kind(child for cr in crs for child in box.children_of(cr))
        body = shapes.crd_info(
            box.crd,
            box.health_json(),
            box.metrics_json(),
            resource_count=len(crs),
            children=children,
        )
        return JSONResponse(body)

    async def health(self, request: Request) -> Response:
        box = self._box_or_404(request)
        if isinstance(box, JSONResponse):
            return box
        if not box.crd.endpoints.health:
            return _not_found(f"the health path of {box.crd.key} is turned off (endpoints.health)")
        health = box.health_json()
        return JSONResponse(
            shapes.health_body(box.crd.key, health), status_code=shapes.health_status(health)
        )

    async def cr_list(self, request: Request) -> Response:
        box = self._box_or_404(request)
        if isinstance(box, JSONResponse):
            return box
        namespace = request.query_params.get("namespace")
        crs: Iterable[Mapping[str, Any]] = box.list_crs()
        if namespace:
            crs = [cr for cr in crs if (cr.get("metadata") or {}).get("namespace") == namespace]
        return JSONResponse(shapes.cr_list(crs, self.now()))

    async def cr(self, request: Request) -> Response:
        found = self._cr_or_404(request)
        if isinstance(found, JSONResponse):
            return found
        box, cr = found
        return JSONResponse(shapes.cr_detail(cr, box.children_of(cr), box.metrics_json()))

    async def events(self, request: Request) -> Response:
        found = self._cr_or_404(request)
        if isinstance(found, JSONResponse):
            return found
        box, _ = found
        namespace, name = self._cr_key(box, request.path_params)
        return JSONResponse(shapes.events_body(box.events_of(namespace, name)))

    async def not_found(self, request: Request) -> Response:
        if not self.authorized(request):
            return _unauthorized()
        return _not_found(f"no ONCOP path {request.url.path}")

    # ----------------------------------------------------------- websocket

    async def event_stream(self, websocket: WebSocket) -> None:
        """Snapshot, then each new or re-counted event, until the client leaves."""
        if not self.authorized(websocket):
            await _deny(websocket, _unauthorized())
            return
        key = websocket.path_params["crd"]
        box = self.box(key)
        if box is None:
            await _deny(websocket, _not_found(f"no CRD {key!r} is served here"))
            return
        namespace, name = self._cr_key(box, websocket.path_params)
        if box.get_cr(namespace, name) is None:
            await _deny(websocket, _not_found(f"{key} {namespace}/{name} not found"))
            return
        await websocket.accept()
        try:
            async with trio.open_nursery() as nursery:
                nursery.start_soon(until_disconnect, websocket, nursery.cancel_scope)
                await self._stream(websocket, box, namespace, name)
        except* WebSocketDisconnect:
            pass  # the client left while we were sending: nothing to clean up

    async def _stream(self, websocket: WebSocket, box: BoxView, namespace: str, name: str) -> None:
        entries = shapes.event_list(box.events_of(namespace, name))
        await websocket.send_text(json.dumps(shapes.stream_snapshot(entries)))
        known = {shapes.event_identity(e): e for e in entries}
        while True:
            await box.wait_events(namespace, name)
            entries = shapes.event_list(box.events_of(namespace, name))
            # Oldest first, so the client's newest-first list ends in the right order.
            for entry in reversed(entries):
                identity = shapes.event_identity(entry)
                if known.get(identity) != entry:
                    await websocket.send_text(json.dumps(shapes.stream_event(entry)))
            known = {shapes.event_identity(e): e for e in entries}


async def until_disconnect(websocket: WebSocket, scope: trio.CancelScope) -> None:
    """Read (and ignore) client messages; cancel ``scope`` (the stream) when the client goes away.

    Shared by every websocket stream of the HTTP surface (ONCOP events, the
    Control Center's live feed).
    """
    while True:
        message = await websocket.receive()
        if message["type"] == "websocket.disconnect":
            scope.cancel()
            return


async def _deny(websocket: WebSocket, response: Response) -> None:
    """Refuse a websocket upgrade with an HTTP answer (or a policy close if unsupported)."""
    if "websocket.http.response" in websocket.scope.get("extensions", {}):
        await websocket.send_denial_response(response)
    else:  # pragma: no cover - hypercorn supports the denial extension
        await websocket.close(code=1008)


def oncop_routes(
    view: KatalogView,
    *,
    token: str | None = None,
    now: Callable[[], datetime.datetime] = _utcnow,
) -> list[BaseRoute]:
    """The ONCOP routes, to add to the runtime's Starlette app (all under ``/katalog``).

    ``token``: when set, every route requires ``Authorization: Bearer <token>``.
    """
    h = OncopHandlers(view, token=token, now=now)
    cr_path = "/katalog/{crd}/cr/{namespace}/{name}"
    return [
        Route("/katalog", h.guarded(h.katalog), methods=["GET"]),
        Route("/katalog/{crd}", h.guarded(h.crd_info), methods=["GET"]),
        Route("/katalog/{crd}/health", h.guarded(h.health), methods=["GET"]),
        Route("/katalog/{crd}/cr", h.guarded(h.cr_list), methods=["GET"]),
        Route(cr_path, h.guarded(h.cr), methods=["GET"]),
        Route(f"{cr_path}/events", h.guarded(h.events), methods=["GET"]),
        WebSocketRoute(f"{cr_path}/events", h.event_stream),
        Route("/katalog/{rest:path}", h.not_found),
    ]


def oncop_app(
    view: KatalogView,
    *,
    token: str | None = None,
    now: Callable[[], datetime.datetime] = _utcnow,
) -> Starlette:
    """A Starlette app serving only ONCOP (tests, or a runtime without another HTTP surface)."""
    return Starlette(routes=oncop_routes(view, token=token, now=now))


def read_token_file(path: str | Path) -> str:
    """The token in ``path`` (surrounding whitespace dropped); ValueError when empty."""
    token = Path(path).read_text(encoding="utf-8").strip()
    if not token:
        raise ValueError(f"{path}: the ONCOP token file is empty")
    return token


def exposure_warning(host: str, token: str | None) -> str | None:
    """The warning to print at start when ONCOP listens beyond loopback without a token."""
    if token:
        return None
    try:
        loopback = ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        loopback = host == "localhost"
    if loopback:
        return None
    return (
        f"WARNING: the ONCOP surface listens on {host} without a token: anyone who can "
        "reach it can read every CR, its spec and status. Set --oncop-token (or a token "
        "file), or listen on 127.0.0.1."
    )
