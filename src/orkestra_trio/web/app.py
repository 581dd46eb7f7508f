"""The runtime's whole HTTP surface, assembled: probes, ``/metrics``, ONCOP, the Control Center.

Each part is a list of routes built over one :class:`~.view.RuntimeView`, so
they all read the same in-memory state. The bearer token (``--oncop-token``)
guards every path but the probes (see :mod:`.auth`).
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import TYPE_CHECKING, Any

from starlette.applications import Starlette

from orkestra_trio.auth import TokenAuthenticator
from orkestra_trio.oncop.server import oncop_routes

from .auth import protect
from .metrics import metrics_routes
from .probes import probe_routes
from .ui_routes import ui_routes
from .view import RuntimeView

if TYPE_CHECKING:
    from orkestra_trio.runtime.runtime import Runtime


def build_web_app(
    view: RuntimeView,
    *,
    token: str | None = None,
    authenticators: Iterable[TokenAuthenticator] = (),
) -> Any:
    """The ASGI app over an already started view, behind authentication when configured."""
    app = Starlette(
        routes=[
            *probe_routes(view),
            *metrics_routes(view),
            *oncop_routes(view),
            *ui_routes(view),
        ]
    )
    return protect(app, token, extra=authenticators)


async def open_web_app(
    runtime: Runtime, *, token: str | None = None, authenticators: Iterable[TokenAuthenticator] = ()
) -> Any:
    """Start what the surface needs from the runtime (each box's Event informer), then build the app."""
    view = RuntimeView(runtime)
    await view.start()
    return build_web_app(view, token=token, authenticators=authenticators)
