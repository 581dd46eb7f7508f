"""ONCOP: one runtime observing another's operators over HTTP (the second seed, docs/oncop.md).

Client side (``cross:`` entries with a ``source:``): :class:`RemoteReader`,
built by :func:`open_remote_reader`, plugs into the registry's
``RemoteCrossReader`` seam. Server side: :func:`oncop_routes` serves a
runtime's boxes through the :class:`KatalogView` Protocol.
"""

from .cache import Failed, Fetched, RemoteCache
from .client import DEFAULT_TIMEOUT, MAX_BODY, bearer_token, fetch, to_answer
from .reader import RemoteReader, http_client, open_remote_reader
from .server import (
    BoxView,
    KatalogView,
    exposure_warning,
    oncop_app,
    oncop_routes,
    read_token_file,
    served,
)
from .urls import RemoteTarget, TargetError, oncop_path, resolve

__all__ = [
    "DEFAULT_TIMEOUT",
    "MAX_BODY",
    "BoxView",
    "Failed",
    "Fetched",
    "KatalogView",
    "RemoteCache",
    "RemoteReader",
    "RemoteTarget",
    "TargetError",
    "bearer_token",
    "exposure_warning",
    "fetch",
    "http_client",
    "oncop_app",
    "oncop_path",
    "oncop_routes",
    "open_remote_reader",
    "read_token_file",
    "resolve",
    "served",
    "to_answer",
]
