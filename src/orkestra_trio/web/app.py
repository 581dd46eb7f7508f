"""The runtime's whole HTTP surface, assembled: probes, ``/metrics``, ONCOP, the Control Center.

Each part is a list of routes built over one :class:`~.view.RuntimeView`, so
they all read the same in-memory state. The bearer token (``--oncop-token``)
guards ONCOP and the Control Center's live feed; the probes and ``/metrics``
stay open, as kubelets and Prometheus expect.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from starlette.applications import Starlette

from orkestra_trio.oncop.server import oncop_routes

from .metrics import metrics_routes
from .probes import probe_routes
from .ui_routes import ui_routes
from .view import RuntimeView

if TYPE_CHECKING:
    from orkestra_trio.runtime.runtime import Runtime


def build_web_app(view: RuntimeView, *, token: str | None = None) -> Starlette:
    """The Starlette app over an already started view."""
    return Starlette(
        routes=[
            *probe_routes(view),
            *metrics_routes(view),
            *oncop_routes(view, token=token),
            *ui_routes(view, token=token),
        ]
    )


async def open_web_app(runtime: Runtime, *, token: str | None = None) -> Starlette:
    """Start what the surface needs from the runtime (each box's Event informer), then build the app."""
    view = RuntimeView(runtime)
    await view.start()
    return build_web_app(view, token=token)
