"""The Kubernetes client: configuration, REST mapper, verbs, typed errors, list+watch.

The runtime reaches any API server (the embedded one or a real cluster) only
through this package. It knows nothing of the runtime or of the embedded
server: it speaks the Kubernetes REST API over httpx.

    config = find_config(args.kubeconfig)          # None: no cluster configured
    async with open_kube_client(config) as kube:   # one httpx client, one pool
        deploy = await kube.get(("apps/v1", "Deployment"), "web", namespace="prod")
        await kube.merge_patch(("apps/v1", "Deployment"), "web", {"spec": {"replicas": 3}})
        await kube.apply(manifest, force=True)     # server-side apply as "orkestra"
        async with kube.list_watch(("v1", "ConfigMap"), namespace=ALL_NAMESPACES) as events:
            async for event in events:             # Synced (replace cache) | WatchEvent
                ...

Failures are typed (``NotFound``, ``Conflict``, ``Invalid``, ``TooManyRequests``,
``ServerError``, ``TransportError``...; all ``KubeError``) and every message
names the verb and the object.
"""

from .auth import ExecCredentialAuth, StaticTokenAuth, TokenFileAuth, auth_for
from .client import (
    ALL_NAMESPACES,
    FIELD_MANAGER,
    KubeClient,
    ObjectList,
    build_ssl_context,
    open_kube_client,
)
from .config import ExecConfig, KubeConfig, find_config, load_incluster, load_kubeconfig
from .errors import (
    AlreadyExists,
    ApiError,
    BadRequest,
    Cause,
    ConfigError,
    Conflict,
    Forbidden,
    Gone,
    Invalid,
    KubeError,
    NotFound,
    ServerError,
    TooManyRequests,
    TransportError,
    Unauthorized,
)
from .events import EventRecorder, object_reference
from .leases import LeaseState, create_lease, get_lease, renew_lease, try_acquire_lease
from .mapper import BUILTINS, ResourceInfo, ResourceRef, RestMapper
from .retry import Backoff, RetryPolicy
from .transport import ASGIStreamingTransport, open_asgi_transport
from .watch import (
    ListWatch,
    Synced,
    WatchEvent,
    WatchOptions,
    WatchStats,
    idle_timeout_for,
    open_list_watch,
)

__all__ = [
    "ALL_NAMESPACES",
    "BUILTINS",
    "FIELD_MANAGER",
    "ASGIStreamingTransport",
    "AlreadyExists",
    "ApiError",
    "Backoff",
    "BadRequest",
    "Cause",
    "ConfigError",
    "Conflict",
    "EventRecorder",
    "ExecConfig",
    "ExecCredentialAuth",
    "Forbidden",
    "Gone",
    "Invalid",
    "KubeClient",
    "KubeConfig",
    "KubeError",
    "LeaseState",
    "ListWatch",
    "NotFound",
    "ObjectList",
    "ResourceInfo",
    "ResourceRef",
    "RestMapper",
    "RetryPolicy",
    "ServerError",
    "StaticTokenAuth",
    "Synced",
    "TokenFileAuth",
    "TooManyRequests",
    "TransportError",
    "Unauthorized",
    "WatchEvent",
    "WatchOptions",
    "WatchStats",
    "auth_for",
    "build_ssl_context",
    "create_lease",
    "find_config",
    "get_lease",
    "idle_timeout_for",
    "load_incluster",
    "load_kubeconfig",
    "object_reference",
    "open_asgi_transport",
    "open_kube_client",
    "open_list_watch",
    "renew_lease",
    "try_acquire_lease",
]
