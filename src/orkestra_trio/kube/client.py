"""The verbs: get, list, create, replace, patch, apply, status, delete.

One ``KubeClient`` wraps one ``httpx.AsyncClient`` (created once: it costs
~40 ms and owns the connection pool that every request and every watch
share). Each verb resolves the object's type through the REST mapper, sends
one request through the retry loop of ``_request`` and returns decoded JSON
or raises a typed error naming the verb and the object.

Namespaces follow client-go: ``namespace=None`` means the configured default
namespace, ``namespace=""`` (``ALL_NAMESPACES``) means every namespace (for
list and watch); cluster-scoped types ignore it.
"""

from __future__ import annotations

import json
import os
import ssl
import tempfile
from collections.abc import AsyncIterator, Callable, Mapping, Sequence
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from typing import Any, Literal
from urllib.parse import quote, urlencode

import attrs
import httpx
import trio

from orkestra_trio._httpbody import body_without_generator

from .auth import StaticTokenAuth, auth_for
from .config import KubeConfig, find_config
from .errors import (
    ApiError,
    ConfigError,
    Gone,
    NotFound,
    TransportError,
    error_from_response,
    is_tls_failure,
)
from .h1 import H1Pool, H1Transport
from .mapper import ResourceInfo, ResourceRef, RestMapper
from .retry import DEFAULT_RETRY, NO_RETRY, RetryPolicy
from .watch import DEFAULT_WATCH_OPTIONS, ListWatch, WatchOptions, open_list_watch

ALL_NAMESPACES = ""
# Characters a path keeps as they are (RFC 3986 pchar and "/").
_PATH_SAFE = "/:@!$&'()*+,;=-._~"
FIELD_MANAGER = "orkestra"

JSON = dict[str, Any]
PatchType = Literal["merge", "json", "strategic"]

PATCH_CONTENT_TYPES: dict[str, str] = {
    "merge": "application/merge-patch+json",
    "json": "application/json-patch+json",
    "strategic": "application/strategic-merge-patch+json",
}
APPLY_CONTENT_TYPE = "application/apply-patch+yaml"

# Connect and write fail fast; reads of ordinary requests get a generous
# bound; watches override read with None (a quiet stream is not a dead one:
# the watchdog decides that from bookmarks).
DEFAULT_TIMEOUT = httpx.Timeout(connect=10.0, read=60.0, write=30.0, pool=30.0)

# Errors that prove the request never reached the server.
_NOT_SENT = (httpx.ConnectError, httpx.ConnectTimeout, httpx.PoolTimeout, httpx.UnsupportedProtocol)


@attrs.frozen
class ObjectList:
    """A whole (paginated) list: the items and the list's resourceVersion."""

    items: list[JSON]
    resource_version: str
    kind: str = ""


def _bool(value: bool) -> str:
    return "true" if value else "false"


class KubeClient:
    """Verbs against one API server. Create with ``open_kube_client``."""

    def __init__(
        self,
        http: httpx.AsyncClient,
        *,
        namespace: str = "default",
        retry: RetryPolicy = DEFAULT_RETRY,
        field_manager: str = FIELD_MANAGER,
        server: str = "",
        fast: H1Pool | None = None,
        fast_headers: Sequence[tuple[bytes, bytes]] = (),
    ):
        self.http = http
        #: Requests go straight to this pool (no httpx round) when set: only when
        #: no auth flow has to see them (see ``open_kube_client``).
        self._fast = fast
        self._fast_headers = [
            (b"Accept", b"application/json"),
            (b"User-Agent", b"orkestra-trio"),
            *fast_headers,
        ]
        self.namespace = namespace
        self.retry = retry
        self.field_manager = field_manager
        self.server = server
        self.mapper = RestMapper(self._fetch_discovery)
        self.request_count = 0  # HTTP requests sent, retries included
        #: Called before each HTTP request is sent (the runtime counts requests per box).
        self.on_request: Callable[[], None] | None = None
        self._base = str(http.base_url).rstrip("/")
        self._urls: dict[tuple[str, tuple[tuple[str, str], ...]], httpx.URL] = {}
        # The server URL's own path (a proxy may serve the API under a prefix).
        self._base_path = httpx.URL(self._base).raw_path.rstrip(b"/")

    def _url(self, path: str, params: Mapping[str, str] | None) -> httpx.URL:
        """The absolute URL, parsed once: httpx spends most of a request's
        client-side time parsing and merging URLs, and operators address the
        same objects and collections over and over."""
        key = (path, tuple(params.items()) if params else ())
        url = self._urls.get(key)
        if url is None:
            if len(self._urls) >= 4096:
                self._urls.clear()
            url = httpx.URL(self._base + path, params=params or None)
            self._urls[key] = url
        return url

    def _target(self, path: str, params: Mapping[str, str] | None) -> bytes:
        """The request target for the lean pool: no URL object (each CR has its own path)."""
        target = self._base_path + quote(path, safe=_PATH_SAFE).encode("ascii")
        if params:
            target += b"?" + urlencode(params).encode("ascii")
        return target

    # --- plumbing -------------------------------------------------------

    async def resource(
        self, ref: ResourceRef, *, verb: str = "resolve", name: str = ""
    ) -> ResourceInfo:
        """The ResourceInfo for (apiVersion, kind) or a ResourceInfo itself.

        NotFound when the server serves no such kind; ``verb`` and ``name``
        only make that message say what was being attempted.
        """
        if isinstance(ref, ResourceInfo):
            return ref
        api_version, kind = ref
        known = self.mapper.known(api_version, kind)
        if known is not None:
            return known
        try:
            return await self.mapper.resolve(api_version, kind)
        except NotFound as exc:
            raise NotFound(
                verb,
                f"{api_version} {kind} {name}".rstrip(),
                code=exc.code,
                reason=exc.reason,
                message=exc.message,
            ) from None

    def namespace_for(self, info: ResourceInfo, namespace: str | None) -> str | None:
        """The namespace a request about ``info`` goes to.

        None for cluster-scoped kinds; else ``namespace``, or this client's
        default namespace when it is None.
        """
        if not info.namespaced:
            return None
        return self.namespace if namespace is None else namespace

    async def version(self) -> JSON:
        """``GET /version``, tried once: the cheapest proof that the server answers.

        Callers that wait for a cluster to come up run their own retry loop
        around it (one line per attempt), so the client's retries are off.
        """
        result: JSON = await self._request(
            "get", "/version", "GET", "/version", idempotent=True, retry=NO_RETRY
        )
        return result

    async def _fetch_discovery(self, path: str) -> Mapping[str, Any] | None:
        try:
            result = await self._request("discover", path, "GET", path, idempotent=True)
        except ApiError as exc:
            if exc.code in (404, 503):
                return None
            raise
        return result if isinstance(result, Mapping) else None

    async def _request(
        self,
        verb: str,
        target: str,
        method: str,
        path: str,
        *,
        params: Mapping[str, str] | None = None,
        body: Any = None,
        content_type: str = "application/json",
        idempotent: bool,
        retry: RetryPolicy | None = None,
    ) -> Any:
        """Send one request with retries; decoded JSON on success, typed error otherwise."""
        policy = retry or self.retry
        content = None
        headers = {"Accept": "application/json"}
        if body is not None:
            content = body if isinstance(body, bytes) else json.dumps(body).encode()
            headers["Content-Type"] = content_type
        started = trio.current_time()
        retry_number = 0
        while True:
            error: Exception
            retry_after: float | None = None
            self.request_count += 1
            if self.on_request is not None:
                self.on_request()
            try:
                if self._fast is not None:
                    code, body_bytes, response_headers = await self._fast_request(
                        method, path, params, content, content_type
                    )
                else:
                    response = await self.http.request(
                        method, self._url(path, params), content=content, headers=headers
                    )
                    code = response.status_code
                    body_bytes = response.content
                    response_headers = response.headers
            except _NOT_SENT as exc:
                error = TransportError(verb, target, exc, reached_server=False)
                # A certificate the client rejects (or that rejects us) stays wrong.
                retryable = not is_tls_failure(exc)
            except httpx.TransportError as exc:
                error = TransportError(verb, target, exc, reached_server=True)
                retryable = idempotent and not is_tls_failure(exc)
            else:
                if code < 400:
                    return json.loads(body_bytes) if body_bytes else {}
                api_error = error_from_response(verb, target, code, body_bytes, response_headers)
                error = api_error
                if code == 429:
                    # Refused before any processing: safe for every verb.
                    retryable, retry_after = True, api_error.retry_after
                else:
                    retryable = code >= 500 and idempotent
                    if retryable and api_error.retry_after is not None:
                        retry_after = api_error.retry_after
            if not retryable:
                raise error
            retry_number += 1
            delay = policy.next_delay(retry_number, trio.current_time() - started, retry_after)
            if delay is None:
                raise error
            await trio.sleep(delay)

    async def _fast_request(
        self,
        method: str,
        path: str,
        params: Mapping[str, str] | None,
        content: bytes | None,
        content_type: str,
    ) -> tuple[int, bytes, Mapping[str, str]]:
        """One request through the lean pool: (status, body, headers)."""
        assert self._fast is not None
        headers = self._fast_headers
        if content is not None:
            headers = [*headers, (b"Content-Type", content_type.encode("ascii"))]
        response = await self._fast.request(
            method.encode("ascii"),
            self._target(path, params),
            headers,
            content or b"",
            read_timeout=DEFAULT_TIMEOUT.read,
        )
        body = await response.read()
        if response.status < 400:
            return response.status, body, {}
        return response.status, body, httpx.Headers(response.headers)

    async def _object_request(
        self,
        verb: str,
        info: ResourceInfo,
        name: str,
        namespace: str | None,
        method: str,
        *,
        subresource: str = "",
        params: Mapping[str, str] | None = None,
        body: Any = None,
        content_type: str = "application/json",
        idempotent: bool,
    ) -> JSON:
        """``_request`` about one named object (or one of its subresources)."""
        result: JSON = await self._request(
            f"{verb} {subresource}" if subresource else verb,  # errors say "patch status"
            info.describe(name, namespace),
            method,
            info.object_path(name, namespace, subresource),
            params=params,
            body=body,
            content_type=content_type,
            idempotent=idempotent,
        )
        return result

    # --- reads ------------------------------------------------------------

    async def get(
        self, ref: ResourceRef, name: str, *, namespace: str | None = None, subresource: str = ""
    ) -> JSON:
        info = await self.resource(ref, verb="get", name=name)
        ns = self.namespace_for(info, namespace)
        return await self._object_request(
            "get", info, name, ns, "GET", subresource=subresource, idempotent=True
        )

    async def get_status(
        self, ref: ResourceRef, name: str, *, namespace: str | None = None
    ) -> JSON:
        return await self.get(ref, name, namespace=namespace, subresource="status")

    async def list_page(
        self,
        ref: ResourceRef,
        *,
        namespace: str | None = None,
        label_selector: str | None = None,
        field_selector: str | None = None,
        limit: int | None = None,
        continue_token: str | None = None,
        resource_version: str | None = None,
    ) -> JSON:
        """One raw page of a list (the List object with metadata.continue)."""
        info = await self.resource(ref, verb="list")
        ns = self.namespace_for(info, namespace)
        params: dict[str, str] = {}
        if label_selector:
            params["labelSelector"] = label_selector
        if field_selector:
            params["fieldSelector"] = field_selector
        if limit:
            params["limit"] = str(limit)
        if continue_token:
            params["continue"] = continue_token
        if resource_version is not None:
            params["resourceVersion"] = resource_version
        page: JSON = await self._request(
            "list",
            info.describe("", ns),
            "GET",
            info.collection_path(ns),
            params=params,
            idempotent=True,
        )
        return page

    async def list(
        self,
        ref: ResourceRef,
        *,
        namespace: str | None = None,
        label_selector: str | None = None,
        field_selector: str | None = None,
        page_size: int | None = 500,
    ) -> ObjectList:
        """Every matching object, following ``continue`` across pages.

        If a continue token expires mid-way (410), the list restarts once
        without pagination, as client-go's pager does, so the result is a
        consistent snapshot at one resourceVersion.
        """
        items: list[JSON] = []
        token: str | None = None
        limit = page_size
        restarted = False
        while True:
            try:
                page = await self.list_page(
                    ref,
                    namespace=namespace,
                    label_selector=label_selector,
                    field_selector=field_selector,
                    limit=limit,
                    continue_token=token,
                )
            except Gone:
                if token is None or restarted:
                    raise
                items, token, limit, restarted = [], None, None, True
                continue
            items.extend(page.get("items") or ())
            meta = page.get("metadata") or {}
            token = meta.get("continue") or None
            if token is None:
                return ObjectList(
                    items=items,
                    resource_version=str(meta.get("resourceVersion") or ""),
                    kind=str(page.get("kind") or ""),
                )

    # --- writes ---------------------------------------------------------

    async def _object_info(self, obj: Mapping[str, Any], verb: str) -> ResourceInfo:
        try:
            api_version, kind = obj["apiVersion"], obj["kind"]
        except KeyError as exc:
            raise ValueError(f"object has no {exc.args[0]}: {_short(obj)}") from None
        return await self.resource((str(api_version), str(kind)), verb=verb, name=_shown_name(obj))

    def _obj_ns(
        self, info: ResourceInfo, obj: Mapping[str, Any], namespace: str | None
    ) -> str | None:
        meta = obj.get("metadata") or {}
        return self.namespace_for(
            info, namespace if namespace is not None else meta.get("namespace")
        )

    async def _locate(
        self, obj: Mapping[str, Any], namespace: str | None, verb: str
    ) -> tuple[ResourceInfo, str | None, str]:
        """Type, namespace and name of a whole object passed to replace/apply."""
        info = await self._object_info(obj, verb)
        return info, self._obj_ns(info, obj, namespace), _name_of(obj)

    @staticmethod
    def _write_params(dry_run: bool, field_manager: str | None = None) -> dict[str, str]:
        params: dict[str, str] = {}
        if dry_run:
            params["dryRun"] = "All"
        if field_manager:
            params["fieldManager"] = field_manager
        return params

    async def create(
        self, obj: Mapping[str, Any], *, namespace: str | None = None, dry_run: bool = False
    ) -> JSON:
        """POST a new object (``metadata.generateName`` works). Never retried once sent."""
        info = await self._object_info(obj, "create")
        ns = self._obj_ns(info, obj, namespace)
        result: JSON = await self._request(
            "create",
            info.describe(_shown_name(obj), ns),
            "POST",
            info.collection_path(ns),
            params=self._write_params(dry_run, self.field_manager),
            body=obj,
            idempotent=False,
        )
        return result

    async def replace(
        self,
        obj: Mapping[str, Any],
        *,
        namespace: str | None = None,
        subresource: str = "",
        dry_run: bool = False,
    ) -> JSON:
        """PUT the whole object; its metadata.resourceVersion makes it conditional (409)."""
        info, ns, name = await self._locate(obj, namespace, "replace")
        return await self._object_request(
            "replace",
            info,
            name,
            ns,
            "PUT",
            subresource=subresource,
            params=self._write_params(dry_run, self.field_manager),
            body=obj,
            idempotent=True,
        )

    async def replace_status(
        self, obj: Mapping[str, Any], *, namespace: str | None = None, dry_run: bool = False
    ) -> JSON:
        return await self.replace(obj, namespace=namespace, subresource="status", dry_run=dry_run)

    async def patch(
        self,
        ref: ResourceRef,
        name: str,
        patch: Any,
        *,
        type: PatchType = "merge",
        namespace: str | None = None,
        subresource: str = "",
        dry_run: bool = False,
    ) -> JSON:
        """PATCH with a merge (RFC 7386), JSON (RFC 6902) or strategic merge patch."""
        info = await self.resource(ref, verb="patch", name=name)
        ns = self.namespace_for(info, namespace)
        return await self._object_request(
            "patch",
            info,
            name,
            ns,
            "PATCH",
            subresource=subresource,
            params=self._write_params(dry_run, self.field_manager),
            body=patch,
            content_type=PATCH_CONTENT_TYPES[type],
            # A JSON patch may append to a list: repeating it is not harmless.
            idempotent=type != "json",
        )

    async def merge_patch(
        self, ref: ResourceRef, name: str, patch: Mapping[str, Any], **kw: Any
    ) -> JSON:
        return await self.patch(ref, name, patch, type="merge", **kw)

    async def json_patch(
        self, ref: ResourceRef, name: str, operations: Sequence[Mapping[str, Any]], **kw: Any
    ) -> JSON:
        return await self.patch(ref, name, list(operations), type="json", **kw)

    async def patch_status(
        self,
        ref: ResourceRef,
        name: str,
        patch: Any,
        *,
        type: PatchType = "merge",
        namespace: str | None = None,
        dry_run: bool = False,
    ) -> JSON:
        return await self.patch(
            ref, name, patch, type=type, namespace=namespace, subresource="status", dry_run=dry_run
        )

    async def apply(
        self,
        obj: Mapping[str, Any],
        *,
        namespace: str | None = None,
        force: bool = False,
        field_manager: str | None = None,
        subresource: str = "",
        dry_run: bool = False,
    ) -> JSON:
        """Server-side apply: create or merge the fields ``obj`` states, owned by our manager."""
        info, ns, name = await self._locate(obj, namespace, "apply")
        params = self._write_params(dry_run, field_manager or self.field_manager)
        params["force"] = _bool(force)
        return await self._object_request(
            "apply",
            info,
            name,
            ns,
            "PATCH",
            subresource=subresource,
            params=params,
            body=obj,  # JSON is YAML: the apply content type accepts it
            content_type=APPLY_CONTENT_TYPE,
            idempotent=True,
        )

    async def apply_status(self, obj: Mapping[str, Any], **kw: Any) -> JSON:
        return await self.apply(obj, subresource="status", **kw)

    async def delete(
        self,
        ref: ResourceRef,
        name: str,
        *,
        namespace: str | None = None,
        propagation_policy: Literal["Background", "Foreground", "Orphan"] | None = None,
        uid: str | None = None,
        resource_version: str | None = None,
        grace_period_seconds: int | None = None,
        dry_run: bool = False,
    ) -> JSON:
        """DELETE; ``uid``/``resource_version`` are preconditions (409 when they no longer hold).

        Returns the server's answer: the object (when finalizers delay the
        removal) or a Status.
        """
        info = await self.resource(ref, verb="delete", name=name)
        ns = self.namespace_for(info, namespace)
        options: JSON = {"apiVersion": "v1", "kind": "DeleteOptions"}
        if propagation_policy:
            options["propagationPolicy"] = propagation_policy
        preconditions = {}
        if uid:
            preconditions["uid"] = uid
        if resource_version:
            preconditions["resourceVersion"] = resource_version
        if preconditions:
            options["preconditions"] = preconditions
        if grace_period_seconds is not None:
            options["gracePeriodSeconds"] = grace_period_seconds
        if dry_run:
            options["dryRun"] = ["All"]
        return await self._object_request(
            "delete",
            info,
            name,
            ns,
            "DELETE",
            body=options,
            # A repeated delete that had succeeded answers 404: misleading, not retried.
            idempotent=False,
        )

    # --- watches ----------------------------------------------------------

    def list_watch(
        self,
        ref: ResourceRef,
        *,
        namespace: str | None = None,
        label_selector: str | None = None,
        field_selector: str | None = None,
        resource_version: str | None = None,
        options: WatchOptions = DEFAULT_WATCH_OPTIONS,
    ) -> AbstractAsyncContextManager[ListWatch]:
        """``async with kube.list_watch(ref) as events: async for ev in events:`` (see watch.py)."""
        return open_list_watch(
            self,
            ref,
            namespace=namespace,
            label_selector=label_selector,
            field_selector=field_selector,
            resource_version=resource_version,
            options=options,
        )


def _shown_name(obj: Mapping[str, Any]) -> str:
    """The name errors show for an object that may only have a generateName yet."""
    meta = obj.get("metadata") or {}
    return str(meta.get("name") or meta.get("generateName") or "")


def _name_of(obj: Mapping[str, Any]) -> str:
    name = (obj.get("metadata") or {}).get("name")
    if not name:
        raise ValueError(f"object has no metadata.name: {_short(obj)}")
    return str(name)


def _short(obj: Mapping[str, Any]) -> str:
    text = json.dumps(obj, default=str)
    return text if len(text) <= 120 else text[:117] + "..."


# --- construction -----------------------------------------------------------


def build_ssl_context(config: KubeConfig) -> ssl.SSLContext:
    """The TLS context for ``config``: its CA, client certificate, skip-verify flag."""
    if config.insecure_skip_tls_verify:
        ctx = ssl.create_default_context()
        ctx.check_hostname = False
        ctx.verify_mode = ssl.CERT_NONE
    elif config.ca_data or config.ca_file:
        ctx = ssl.create_default_context(cafile=None)
        try:
            if config.ca_file:
                ctx.load_verify_locations(cafile=config.ca_file)
            if config.ca_data:
                ctx.load_verify_locations(cadata=config.ca_data.decode("ascii"))
        except (OSError, ssl.SSLError, ValueError) as exc:
            raise ConfigError(f"{config.source}: certificate authority unusable: {exc}") from None
    else:
        ctx = ssl.create_default_context()
    cert_given = config.client_cert_data or config.client_cert_file
    key_given = config.client_key_data or config.client_key_file
    if cert_given and key_given:
        _load_client_cert(ctx, config)
    elif cert_given or key_given:
        raise ConfigError(
            f"{config.source}: user of context {config.context!r} has a client certificate"
            " or key but not both"
        )
    return ctx


def _load_client_cert(ctx: ssl.SSLContext, config: KubeConfig) -> None:
    # ssl only loads certificates from files: inline data goes through a
    # private temporary directory that disappears right after loading.
    with tempfile.TemporaryDirectory(prefix="orkestra-kube-") as tmp:
        cert_file = config.client_cert_file
        key_file = config.client_key_file
        if config.client_cert_data:
            cert_file = os.path.join(tmp, "client.crt")
            with open(cert_file, "wb") as f:
                f.write(config.client_cert_data)
        if config.client_key_data:
            key_file = os.path.join(tmp, "client.key")
            fd = os.open(key_file, os.O_WRONLY | os.O_CREAT, 0o600)
            with os.fdopen(fd, "wb") as f:
                f.write(config.client_key_data)
        try:
            ctx.load_cert_chain(certfile=str(cert_file), keyfile=str(key_file))
        except (OSError, ssl.SSLError) as exc:
            raise ConfigError(f"{config.source}: client certificate/key unusable: {exc}") from None


def make_http_client(
    config: KubeConfig,
    *,
    transport: httpx.AsyncBaseTransport | None = None,
    max_connections: int = 256,
) -> httpx.AsyncClient:
    """The one shared AsyncClient: HTTP/1.1, pool sized for many watches plus requests."""
    verify: ssl.SSLContext | bool = build_ssl_context(config) if config.is_tls else True
    limits = httpx.Limits(
        max_connections=max_connections,
        max_keepalive_connections=min(64, max_connections),
        keepalive_expiry=30.0,
    )
    client = httpx.AsyncClient(
        base_url=config.server,
        auth=auth_for(config),
        verify=verify,
        http1=True,
        http2=False,
        limits=limits,
        timeout=DEFAULT_TIMEOUT,
        transport=transport,
        trust_env=False,  # proxies from the environment must not capture loopback
        headers={"User-Agent": "orkestra-trio"},
        event_hooks={"request": [body_without_generator]},
    )
    # httpx has no public switch for this; if the attribute is renamed the
    # assignment is harmless and only the saving is lost.
    client._cookies = _NoCookies()
    return client


class _NoCookies(httpx.Cookies):
    """A cookie jar that keeps nothing.

    The Kubernetes API uses no cookies, yet httpx inspects every response for
    them through urllib's cookie machinery: about a third of the client-side
    cost of a GET. Ignoring them also keeps any stray Set-Cookie (from a
    proxy) from turning into state shared by every request.
    """

    def extract_cookies(self, response: httpx.Response) -> None:
        return None


@asynccontextmanager
async def open_kube_client(
    config: KubeConfig | str | None = None,
    *,
    transport: httpx.AsyncBaseTransport | None = None,
    retry: RetryPolicy = DEFAULT_RETRY,
    field_manager: str = FIELD_MANAGER,
    max_connections: int = 256,
) -> AsyncIterator[KubeClient]:
    """``async with open_kube_client(config) as kube:`` — one client, one pool.

    ``config`` is a KubeConfig, a plain server URL (unauthenticated, e.g. the
    embedded server on loopback), or None to use ``find_config()``.
    """
    if config is None:
        found = find_config()
        if found is None:
            raise ConfigError(
                "no cluster configured: no kubeconfig, no $KUBECONFIG, no ~/.kube/config,"
                " not in a cluster"
            )
        config = found
    elif isinstance(config, str):
        config = KubeConfig(server=config.rstrip("/"), source=config)
    fast: H1Pool | None = None
    fast_headers: list[tuple[bytes, bytes]] = []
    if transport is None and config.server.startswith(("http://", "https://")):
        # Our own HTTP/1.1 client under httpx, and straight from the verbs when
        # no auth flow needs to see the request (issue 13: the HTTP stack was
        # most of an operator's CPU).
        fast = H1Pool.for_url(
            config.server,
            ssl_context=build_ssl_context(config) if config.is_tls else None,
            server_hostname=config.tls_server_name,
            max_idle=min(64, max_connections),
            max_connections=max_connections,
        )
        transport = H1Transport(fast)
        auth = auth_for(config)
        if isinstance(auth, StaticTokenAuth):
            fast_headers.append((b"Authorization", auth.header.encode("latin-1")))
        elif auth is not None:
            fast = None
    http = make_http_client(config, transport=transport, max_connections=max_connections)
    async with http:
        yield KubeClient(
            http,
            namespace=config.namespace,
            retry=retry,
            field_manager=field_manager,
            server=config.server,
            fast=fast,
            fast_headers=fast_headers,
        )
