"""The Kubernetes REST API over HTTP: routing, verbs, content types, watch streams.

This is the edge that clients see: paths and query parameters as
kube-apiserver spells them, Status bodies for every error, the status and
scale subresources, patches of every content type, Table output for kubectl,
and chunked watch streams flushed per event. The store does the bookkeeping;
this module parses requests into store calls and serializes the answers
(a watch's stream itself is watchstream.py).

Speed matters on the read path: a GET answers the stored version's cached
JSON bytes; a list joins cached bytes; a watch event's line is built once per
change and shared by every watcher.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable, Mapping
from contextlib import aclosing
from typing import Any

import attrs
import yaml
from starlette.applications import Starlette
from starlette.requests import ClientDisconnect, Request
from starlette.responses import Response
from starlette.routing import Route
from starlette.types import Receive, Scope, Send

from orkestra_trio.apiserver import (
    discovery,
    eventshapes,
    fieldmanager,
    limits,
    openapi,
    openapi_v3,
    protobuf,
    reviews,
    strategicmerge,
    tables,
)
from orkestra_trio.apiserver import patch as patching
from orkestra_trio.apiserver.admission import AdmissionHooks, AdmissionRequest
from orkestra_trio.apiserver.authz.authorizer import RbacAuthorizer
from orkestra_trio.apiserver.authz.ownerrefs import finalizer_checks
from orkestra_trio.apiserver.authz.rbac import denial
from orkestra_trio.apiserver.authz.requestinfo import request_attributes
from orkestra_trio.apiserver.faults import FaultInjector
from orkestra_trio.apiserver.kinds import ResourceKind
from orkestra_trio.apiserver.objects import Stored, dumps
from orkestra_trio.apiserver.registry import podlogs
from orkestra_trio.apiserver.registry.scale import scale_of, set_spec_replicas
from orkestra_trio.apiserver.satokens import ServiceAccountTokens
from orkestra_trio.apiserver.selectors import parse_field_selector
from orkestra_trio.apiserver.status import (
    ApiError,
    bad_request,
    resource_label,
    success_status,
)
from orkestra_trio.apiserver.store import Store
from orkestra_trio.apiserver.strategy import now_rfc3339
from orkestra_trio.apiserver.watch import ERROR, Change, Predicate
from orkestra_trio.apiserver.watchstream import WatchResponse
from orkestra_trio.auth import user_of
from orkestra_trio.katalog.labelselector import SelectorError, parse_label_selector

log = logging.getLogger(__name__)

JSON = "application/json"
_ALL_METHODS = ["GET", "POST", "PUT", "PATCH", "DELETE", "HEAD", "OPTIONS"]
_GO_TRUE = frozenset({"1", "t", "T", "TRUE", "true", "True"})
_GO_FALSE = frozenset({"0", "f", "F", "FALSE", "false", "False"})
_PATCH_TYPES = {
    "application/merge-patch+json": "merge",
    "application/json-patch+json": "json",
    "application/strategic-merge-patch+json": "strategic",
    "application/apply-patch+yaml": "apply",
    "application/apply-patch+json": "apply",
    "application/apply-patch+cbor": "unsupported",
}
# How long a watch stays open when the client sets no timeoutSeconds (kube picks
# a random duration between 30 and 60 minutes).
_DEFAULT_WATCH_SECONDS = 1800.0

VERSION_INFO = {
    "major": "1",
    "minor": "33",
    "gitVersion": "v1.33.0-orkestra",
    "gitCommit": "0000000000000000000000000000000000000000",
    "gitTreeState": "clean",
    "buildDate": "2025-04-23T00:00:00Z",
    "goVersion": "go1.24.2",
    "compiler": "gc",
    "platform": "linux/amd64",
}


def parse_bool(name: str, value: str | None) -> bool | None:
    """A boolean query parameter the way Go's strconv.ParseBool reads it."""
    if value is None:
        return None
    if value in _GO_TRUE:
        return True
    if value in _GO_FALSE or value == "":
        return False
    raise bad_request(f'invalid boolean value "{value}" for parameter {name}')


def _json_response(
    body: bytes, status: int = 200, headers: Mapping[str, str] | None = None
) -> Response:
    return Response(body, status_code=status, media_type=JSON, headers=dict(headers or {}))


def error_response(error: ApiError) -> Response:
    headers = dict(error.headers)
    if error.retry_after is not None:
        headers.setdefault("Retry-After", str(error.retry_after))
    return _json_response(error.body(), error.code, headers)


def _patch_error(exc: patching.PatchError, kind: ResourceKind, name: str) -> ApiError:
    causes = [
        {
            "reason": c.get("type") or c.get("reason", ""),
            "message": c.get("message", ""),
            "field": c.get("field", ""),
        }
        for c in exc.causes
    ]
    return ApiError(
        exc.code,
        exc.message,
        reason=exc.reason,
        name=name,
        group=kind.group,
        kind=kind.plural,
        causes=causes,
    )


def _wants_table(request: Request) -> bool:
    accept = request.headers.get("accept", "")
    return "as=Table" in accept


def _warning_headers(warnings: list[str]) -> dict[str, str]:
    if not warnings:
        return {}
    # One header may carry several comma-separated warnings (RFC 7234 format).
    values = ", ".join('299 - "' + w.replace('"', '\\"') + '"' for w in warnings)
    return {"Warning": values}


@attrs.frozen
class _WriteOptions:
    """The query parameters every write shares, checked once per request."""

    dry_run: bool
    validation: str
    manager: str | None
    # Filled by the store while it writes; sent back as Warning headers.
    warnings: list[str] = attrs.field(factory=list)


@attrs.frozen
class _Target:
    """A parsed resource URL: kind, namespace, name and subresource."""

    kind: ResourceKind
    namespace: str | None
    name: str | None
    subresource: str | None


class ApiApp:
    """The HTTP face of a Store: builds the Starlette application."""

    def __init__(
        self,
        store: Store,
        faults: FaultInjector,
        *,
        bookmark_interval: float = 5.0,
        authorization: str | None = None,
    ) -> None:
        self.store = store
        self.faults = faults
        self.bookmark_interval = bookmark_interval
        #: Issues and verifies ServiceAccount tokens (TokenRequest, TokenReview).
        self.tokens = ServiceAccountTokens(store)
        #: ``authorization="rbac"``: requests of authenticated users are checked
        #: (the user comes from the authentication middleware in front of this app;
        #: a request that passed none, the in-process client, is not checked).
        self.authorizer = RbacAuthorizer(store) if authorization == "rbac" else None
        #: In-process admission and conversion hooks (the embedded server's webhooks).
        self.admission = AdmissionHooks()
        self._discovery_cache: dict[tuple[Any, ...], bytes] = {}
        self._discovery_generation = -1
        self.starlette = Starlette(
            routes=[
                Route("/version", self._version, methods=["GET"]),
                Route("/version/", self._version, methods=["GET"]),
                Route("/healthz", self._ok, methods=["GET"]),
                Route("/readyz", self._ok, methods=["GET"]),
                Route("/livez", self._ok, methods=["GET"]),
                Route("/openapi/v2", self._openapi_v2, methods=["GET"]),
                Route("/openapi/v3", self._openapi_v3_root, methods=["GET"]),
                Route("/openapi/v3/apis/{group}/{version}", self._openapi_v3_gv, methods=["GET"]),
                Route("/openapi/v3/api/{version}", self._openapi_v3_gv, methods=["GET"]),
                Route("/api", self._api_root, methods=["GET"]),
                Route("/api/", self._api_root, methods=["GET"]),
                Route("/apis", self._apis_root, methods=["GET"]),
                Route("/apis/", self._apis_root, methods=["GET"]),
                Route("/api/{path:path}", self._core, methods=_ALL_METHODS),
                Route("/apis/{path:path}", self._grouped, methods=_ALL_METHODS),
            ],
        )
        self.starlette.add_exception_handler(404, self._not_found_handler)
        self.starlette.add_exception_handler(405, self._not_allowed_handler)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if self.authorizer is not None and scope["type"] == "http":
            refused = self._authorize(scope)
            if refused is not None:
                await refused(scope, receive, send)
                return
        # Fast path: resource requests skip Starlette's router and middleware
        # layers (a measurable share of a GET); everything else goes through it.
        if scope["type"] == "http":
            path: str = scope["path"]
            if path.startswith("/api/") or path.startswith("/apis/"):
                prefix_len = 5 if path.startswith("/api/") else 6
                request = Request(scope, receive)
                try:
                    parts = [p for p in path[prefix_len:].split("/") if p]
                    if prefix_len == 5:
                        response = await self._core_parts(request, parts)
                    else:
                        response = await self._grouped_parts(request, parts)
                except ClientDisconnect:
                    return  # the client left while sending its body: nobody to answer
                except Exception as exc:  # a bug: answer a Status 500, keep serving
                    log.exception("error handling %s %s", scope.get("method"), path)
                    response = error_response(ApiError(500, f"internal error: {exc}"))
                await response(scope, receive, send)
                return
        await self.starlette(scope, receive, send)

    def _authorize(self, scope: Scope) -> Response | None:
        """kube's 403 when the request's user may not do what its URL says, else None."""
        assert self.authorizer is not None
        user = user_of(scope)
        if user is None:
            return None
        query = scope.get("query_string", b"").decode("latin-1")
        watch = next(
            (v for k, _, v in (p.partition("=") for p in query.split("&")) if k == "watch"), ""
        )
        attributes = request_attributes(scope["method"], scope["path"], {"watch": watch})
        try:
            self.authorizer.check(user, attributes)
        except ApiError as error:
            return error_response(error)
        return None

    # ------------------------------------------------------------- plain routes

    async def _not_found_handler(self, request: Request, exc: Exception) -> Response:
        return error_response(ApiError(404, "the server could not find the requested resource"))

    async def _not_allowed_handler(self, request: Request, exc: Exception) -> Response:
        return error_response(
            ApiError(405, "the server does not allow this method on the requested resource")
        )

    async def _version(self, request: Request) -> Response:
        return _json_response(dumps(VERSION_INFO))

    async def _ok(self, request: Request) -> Response:
        return Response(b"ok", media_type="text/plain")

    async def _openapi_v2(self, request: Request) -> Response:
        accept = request.headers.get("accept", "")
        if "protobuf" in accept:
            return Response(
                openapi.openapi_v2_protobuf(), media_type=openapi.OPENAPI_V2_PROTOBUF_CONTENT_TYPE
            )
        return _json_response(dumps(openapi.openapi_v2_json()))

    async def _openapi_v3_root(self, request: Request) -> Response:
        kinds = self.store.kinds.all()
        body = self._cached_discovery(("openapi-v3",), lambda: openapi_v3.root_document(kinds))
        assert body is not None
        return _json_response(body)

    async def _openapi_v3_gv(self, request: Request) -> Response:
        # Built per kinds generation: the built-in part alone is ~100 kB of JSON.
        kinds = self.store.kinds.all()
        group = request.path_params.get("group", "")
        version = request.path_params["version"]
        body = self._cached_discovery(
            ("openapi-v3", group, version),
            lambda: openapi_v3.group_version_document(kinds, group, version),
        )
        if body is None:
            return error_response(ApiError(404, "the server could not find the requested resource"))
        return _json_response(body)

    def _cached_discovery(self, key: tuple[Any, ...], build: Callable[[], Any]) -> bytes | None:
        if self._discovery_generation != self.store.kinds.generation:
            self._discovery_cache.clear()
            self._discovery_generation = self.store.kinds.generation
        cached = self._discovery_cache.get(key)
        if cached is None:
            value = build()
            if value is None:
                return None
            cached = self._discovery_cache[key] = dumps(value)
        return cached

    async def _api_root(self, request: Request) -> Response:
        body = self._cached_discovery(("api",), discovery.api_versions)
        assert body is not None
        return _json_response(body)

    async def _apis_root(self, request: Request) -> Response:
        kinds = self.store.kinds.all()
        body = self._cached_discovery(("apis",), lambda: discovery.api_group_list(kinds))
        assert body is not None
        return _json_response(body)

    # ------------------------------------------------------------- resources

    async def _core(self, request: Request) -> Response:
        path = request.path_params["path"]
        return await self._core_parts(request, [p for p in path.split("/") if p])

    async def _core_parts(self, request: Request, parts: list[str]) -> Response:
        if not parts:
            return await self._api_root(request)
        version, rest = parts[0], parts[1:]
        return await self._dispatch(request, "", version, rest)

    async def _grouped(self, request: Request) -> Response:
        path = request.path_params["path"]
        return await self._grouped_parts(request, [p for p in path.split("/") if p])

    async def _grouped_parts(self, request: Request, parts: list[str]) -> Response:
        if not parts:
            return await self._apis_root(request)
        if len(parts) == 1:
            if request.method != "GET":
                return error_response(ApiError(405, "method not allowed"))
            group = parts[0]
            kinds = self.store.kinds.all()
            body = self._cached_discovery(
                ("group", group), lambda: discovery.api_group(kinds, group)
            )
            if body is None:
                return error_response(
                    ApiError(404, "the server could not find the requested resource")
                )
            return _json_response(body)
        return await self._dispatch(request, parts[0], parts[1], parts[2:])

    async def _dispatch(
        self, request: Request, group: str, version: str, rest: list[str]
    ) -> Response:
        try:
            if not rest:
                if request.method != "GET":
                    raise ApiError(405, "method not allowed")
                kinds = self.store.kinds.all()
                body = self._cached_discovery(
                    ("resources", group, version),
                    lambda: discovery.api_resource_list(kinds, group, version),
                )
                if body is None:
                    raise ApiError(404, "the server could not find the requested resource")
                return _json_response(body)
            watch_path = False
            if rest[0] == "watch":
                watch_path = True
                rest = rest[1:]
            target = self._parse_target(group, version, rest)
            return await self._handle(request, target, watch_path)
        except ApiError as error:
            return error_response(error)

    def _parse_target(self, group: str, version: str, rest: list[str]) -> _Target:
        namespace: str | None = None
        if (
            len(rest) >= 3
            and rest[0] == "namespaces"
            and not (len(rest) == 3 and rest[2] in ("status", "finalize"))
        ):
            namespace = rest[1]
            rest = rest[2:]
        if not rest or len(rest) > 3:
            raise ApiError(404, "the server could not find the requested resource")
        kind = self.store.kinds.resolve(group, version, rest[0])
        if kind is None:
            raise ApiError(404, "the server could not find the requested resource")
        name = rest[1] if len(rest) > 1 else None
        sub = rest[2] if len(rest) > 2 else None
        if namespace is not None and not kind.namespaced:
            raise ApiError(404, "the server could not find the requested resource")
        if kind.namespaced and name is not None and namespace is None:
            raise ApiError(404, "the server could not find the requested resource")
        if sub is not None and sub not in kind.subresources:
            raise ApiError(404, "the server could not find the requested resource")
        return _Target(kind, namespace, name, sub)

    async def _handle(self, request: Request, target: _Target, watch_path: bool) -> Response:
        method = request.method
        params = request.query_params
        kind = target.kind
        if target.subresource == "token" and target.name is not None:
            if method != "POST":
                raise ApiError(
                    405, "the server does not allow this method on the requested resource"
                )
            await self.faults.before("create", "serviceaccounts/token")
            body = await self._read_body(request)
            answer = self.tokens.token_request(target.namespace or "", target.name, body)
            return _json_response(dumps(answer), 201)
        if target.name is None:
            if method == "GET":
                watching = watch_path or bool(parse_bool("watch", params.get("watch")))
                verb = "watch" if watching else "list"
            elif method == "POST":
                verb = "create"
            elif method == "DELETE":
                verb = "deletecollection"
            else:
                raise ApiError(
                    405, "the server does not allow this method on the requested resource"
                )
        else:
            verb = {
                "GET": "get",
                "PUT": "update",
                "PATCH": "patch",
                "DELETE": "delete",
            }.get(method, "")
            if watch_path and verb == "get":
                verb = "watch"
        if target.subresource == "log" and verb != "get":
            verb = ""  # pods/log is read-only
        if not verb or verb not in kind.verbs:
            raise ApiError(405, "the server does not allow this method on the requested resource")
        await self.faults.before(verb, kind.plural)
        handler = getattr(self, f"_verb_{verb}")
        response: Response = await handler(request, target)
        return response

    # ------------------------------------------------------------- helpers

    def _storage_kind(self, kind: ResourceKind) -> ResourceKind:
        """The kind the store writes (events.k8s.io events are stored as core events)."""
        if kind.group == "events.k8s.io":
            core = self.store.kinds.resolve("", "v1", "events")
            assert core is not None
            return core
        return kind

    def _present_obj(self, kind: ResourceKind, obj: Mapping[str, Any]) -> Mapping[str, Any]:
        if kind.group == "events.k8s.io":
            return eventshapes.core_to_events_v1(obj)
        if obj.get("apiVersion") != kind.api_version:
            if kind.is_custom and self.admission.converter(kind.group, kind.kind) is not None:
                return self._convert(kind, obj, kind.version)
            converted = dict(obj)
            converted["apiVersion"] = kind.api_version
            return converted
        return obj

    def _convert(
        self, kind: ResourceKind, obj: Mapping[str, Any], version: str
    ) -> Mapping[str, Any]:
        """``obj`` as ``version`` through the kind's registered converter (a conversion webhook)."""
        converter = self.admission.converter(kind.group, kind.kind)
        assert converter is not None
        try:
            return converter(obj, version)
        except Exception as exc:  # what kube answers when a conversion webhook fails
            raise ApiError(
                500,
                f"conversion webhook for {kind.group}/{version}, Kind={kind.kind} failed: {exc}",
                reason="InternalError",
            ) from None

    def _storage_version(self, kind: ResourceKind) -> ResourceKind:
        """The version a write of ``kind`` is stored in, when a converter is registered for it."""
        if not kind.is_custom or self.admission.converter(kind.group, kind.kind) is None:
            return kind
        for candidate in self.store.kinds.all():
            if (candidate.group, candidate.plural) == (
                kind.group,
                kind.plural,
            ) and candidate.storage:
                return candidate
        return kind

    def _admit(
        self, target: _Target, body: dict[str, Any], write: _WriteOptions, operation: str
    ) -> tuple[ResourceKind, dict[str, Any]]:
        """The admission hooks on a CREATE or UPDATE of an object (not of a subresource),
        then the conversion to the storage version: (kind to store as, body to store)."""
        kind = target.kind
        if target.subresource:
            return kind, body
        if self.admission.has_hooks(kind.group, kind.plural, operation):
            metadata = body.get("metadata") or {}
            old = None
            if operation == "UPDATE" and target.name is not None:
                current = self.store.find_for(
                    self._storage_kind(kind), target.namespace or "", target.name
                )
                old = None if current is None else self._present_obj(kind, current.obj)
            request = _admission_request(
                kind,
                operation,
                target.namespace or str(metadata.get("namespace") or ""),
                str(metadata.get("name") or target.name or ""),
                body,
                old,
            )
            body = dict(self.admission.admit(request, write.warnings))
        storage = self._storage_version(kind)
        if storage is not kind:
            body = dict(
                self._convert(kind, {**body, "apiVersion": kind.api_version}, storage.version)
            )
        return storage, body

    def _admit_delete(self, kind: ResourceKind, namespace: str, name: str) -> None:
        """The admission hooks on a DELETE of a stored object; raises ApiError on a denial
        (nothing stored under that name: nothing to ask, the delete answers 404)."""
        if not self.admission.has_hooks(kind.group, kind.plural, "DELETE"):
            return
        current = self.store.find_for(self._storage_kind(kind), namespace, name)
        if current is None:
            return
        obj = self._present_obj(kind, current.obj)
        self.admission.admit(_admission_request(kind, "DELETE", namespace, name, obj, obj), [])

    def _present(self, kind: ResourceKind, stored: Stored) -> bytes:
        obj = stored.obj
        if kind.group == "events.k8s.io" or obj.get("apiVersion") != kind.api_version:
            return dumps(self._present_obj(kind, obj))
        return stored.raw()

    def _to_store_shape(self, kind: ResourceKind, body: Any) -> Any:
        if kind.group == "events.k8s.io" and isinstance(body, Mapping):
            return eventshapes.events_v1_to_core(body)
        return body

    def _object_response(
        self,
        request: Request,
        kind: ResourceKind,
        stored: Stored,
        status: int = 200,
        headers: Mapping[str, str] | None = None,
    ) -> Response:
        if _wants_table(request):
            table = tables.to_table(
                kind,
                [self._present_obj(kind, stored.obj)],
                include_object=request.query_params.get("includeObject", "Metadata"),
            )
            return _json_response(dumps(table), status, headers)
        return _json_response(self._present(kind, stored), status, headers)

    async def _read_body(self, request: Request) -> Any:
        raw = await _bounded_body(request)
        ctype = request.headers.get("content-type", "").split(";")[0].strip().lower()
        if ctype == protobuf.MEDIA_TYPE:
            return protobuf.decode_body(raw)
        if ctype == "application/cbor":
            raise ApiError(
                415,
                "the body of the request was in an unknown format - accepted media types "
                "include: application/json, application/yaml",
                reason="UnsupportedMediaType",
            )
        if not raw.strip():
            raise bad_request("the body of the request was empty")
        try:
            if ctype.endswith("yaml"):
                return limits.load_yaml_body(raw)
            return json.loads(raw)
        except RecursionError:
            raise limits.too_deep("json") from None
        except (ValueError, yaml.YAMLError) as exc:
            raise bad_request(f"the body of the request could not be decoded: {exc}") from exc

    def _write_options(self, request: Request) -> _WriteOptions:
        params = request.query_params
        dry_run_values = params.getlist("dryRun")
        for value in dry_run_values:
            if value != "All":
                raise bad_request(f'dryRun: Unsupported value: "{value}": supported values: "All"')
        field_validation = params.get("fieldValidation") or "Warn"
        if field_validation not in ("Strict", "Warn", "Ignore"):
            raise bad_request(
                f'fieldValidation: Unsupported value: "{field_validation}": supported values: '
                '"Ignore", "Strict", "Warn"'
            )
        manager = params.get("fieldManager") or _manager_from_agent(request)
        return _WriteOptions(bool(dry_run_values), field_validation, manager)

    def _admit_owner_references(
        self, request: Request, target: _Target, body: Mapping[str, Any]
    ) -> None:
        """OwnerReferencesPermissionEnforcement (see authz/ownerrefs.py), with RBAC on."""
        user = user_of(request.scope)
        if self.authorizer is None or user is None:
            return
        namespace = target.namespace or ""
        old = None
        if target.name is not None:
            current = self.store.find_for(self._storage_kind(target.kind), namespace, target.name)
            old = None if current is None else current.obj
        name = str((body.get("metadata") or {}).get("name") or target.name or "")
        for check in finalizer_checks(namespace, body, old, self._plural_of):
            if isinstance(check, str):
                reason = check
            elif self.authorizer.decide(user, check).allowed:
                continue
            else:
                reason = (
                    "cannot set blockOwnerDeletion if an ownerReference refers to a resource you "
                    "can't set finalizers on: " + denial(user, check)
                )
            kind = target.kind
            label = resource_label(kind.plural, kind.group)
            raise ApiError(
                403,
                f'{label} "{name}" is forbidden: {reason}',
                name=name or None,
                group=kind.group or None,
                kind=kind.plural,
            )

    def _plural_of(self, group: str, version: str, kind: str) -> str | None:
        for candidate in self.store.kinds.all():
            if (candidate.group, candidate.version, candidate.kind) == (group, version, kind):
                return candidate.plural
        return None

    def _create(
        self, request: Request, target: _Target, body: dict[str, Any], write: _WriteOptions
    ) -> Response:
        """Store a new object (POST, or an apply that finds nothing) and answer 201."""
        self._admit_owner_references(request, target, body)
        store_as, body = self._admit(target, body, write, "CREATE")
        stored = self.store.create(
            self._storage_kind(store_as),
            target.namespace or "",
            body,
            dry_run=write.dry_run,
            field_validation=write.validation,
            warnings=write.warnings,
            manager=write.manager,
        )
        headers = _warning_headers(write.warnings)
        return self._object_response(request, target.kind, stored, 201, headers)

    def _update(
        self,
        request: Request,
        target: _Target,
        body: dict[str, Any],
        write: _WriteOptions,
        *,
        require_resource_version: bool = False,
    ) -> Response:
        """Store a new version of ``target`` (PUT, patch, apply) and answer 200."""
        assert target.name is not None
        self._admit_owner_references(request, target, body)
        store_as, body = self._admit(target, body, write, "UPDATE")
        stored = self.store.update(
            self._storage_kind(store_as),
            target.namespace or "",
            target.name,
            body,
            subresource=target.subresource,
            dry_run=write.dry_run,
            field_validation=write.validation,
            warnings=write.warnings,
            require_resource_version=require_resource_version,
            manager=write.manager,
        )
        headers = _warning_headers(write.warnings)
        return self._object_response(request, target.kind, stored, 200, headers)

    def _predicate(self, request: Request, kind: ResourceKind) -> Predicate | None:
        params = request.query_params
        label_text = params.get("labelSelector") or ""
        field_text = params.get("fieldSelector") or ""
        if not label_text and not field_text:
            return None
        try:
            labels = parse_label_selector(label_text) if label_text else None
            fields = parse_field_selector(field_text, kind) if field_text else None
        except SelectorError as exc:
            raise bad_request(str(exc)) from exc
        convert = kind.group == "events.k8s.io"

        def predicate(obj: Mapping[str, Any]) -> bool:
            if labels is not None and not labels.matches(obj["metadata"].get("labels") or {}):
                return False
            if fields is not None:
                view = eventshapes.core_to_events_v1(obj) if convert else obj
                if not fields.matches(view):
                    return False
            return True

        return predicate

    # ------------------------------------------------------------- verbs

    async def _verb_get(self, request: Request, target: _Target) -> Response:
        kind = target.kind
        assert target.name is not None
        stored = self.store.get(self._storage_kind(kind), target.namespace or "", target.name)
        if target.subresource == "scale":
            return _json_response(dumps(scale_of(kind, stored.obj)))
        if target.subresource == "log":
            return _pod_log(request, stored.obj)
        return self._object_response(request, kind, stored)

    async def _verb_list(self, request: Request, target: _Target) -> Response:
        kind = target.kind
        params = request.query_params
        limit_text = params.get("limit")
        limit = None
        if limit_text:
            try:
                limit = int(limit_text)
            except ValueError:
                raise bad_request(f"limit: Invalid value: {limit_text!r}") from None
        result = self.store.list(
            self._storage_kind(kind),
            target.namespace,
            predicate=self._predicate(request, kind),
            limit=limit,
            continue_token=params.get("continue") or None,
            resource_version=params.get("resourceVersion"),
            resource_version_match=params.get("resourceVersionMatch"),
        )
        if _wants_table(request):
            table = tables.to_table(
                kind,
                [self._present_obj(kind, s.obj) for s in result.items],
                include_object=params.get("includeObject", "Metadata"),
                resource_version=str(result.revision),
                continue_token=result.continue_token,
            )
            return _json_response(dumps(table))
        meta = '"resourceVersion":"' + str(result.revision) + '"'
        if result.continue_token:
            meta += ',"continue":"' + result.continue_token + '"'
        if result.remaining is not None:
            meta += ',"remainingItemCount":' + str(result.remaining)
        head = (
            '{"kind":"'
            + kind.list_kind
            + '","apiVersion":"'
            + kind.api_version
            + '","metadata":{'
            + meta
            + '},"items":['
        ).encode()
        body = head + b",".join(self._present(kind, s) for s in result.items) + b"]}"
        return _json_response(body)

    async def _verb_watch(self, request: Request, target: _Target) -> Response:
        kind = target.kind
        params = request.query_params
        bookmarks = bool(parse_bool("allowWatchBookmarks", params.get("allowWatchBookmarks")))
        send_initial = parse_bool("sendInitialEvents", params.get("sendInitialEvents"))
        rv_match = params.get("resourceVersionMatch")
        if send_initial is not None:
            if rv_match != "NotOlderThan":
                raise ApiError(
                    422,
                    "resourceVersionMatch: Forbidden: sendInitialEvents requires setting "
                    "resourceVersionMatch to NotOlderThan",
                    reason="Invalid",
                )
            if send_initial and not bookmarks:
                raise ApiError(
                    422,
                    "allowWatchBookmarks: Forbidden: sendInitialEvents requires setting "
                    "allowWatchBookmarks to true",
                    reason="Invalid",
                )
        elif rv_match:
            raise ApiError(
                422,
                "resourceVersionMatch: Forbidden: resourceVersionMatch is forbidden for watch "
                "unless sendInitialEvents is provided",
                reason="Invalid",
            )
        timeout_text = params.get("timeoutSeconds")
        timeout = _DEFAULT_WATCH_SECONDS
        if timeout_text:
            try:
                timeout = float(int(timeout_text))
            except ValueError:
                raise bad_request(f"timeoutSeconds: Invalid value: {timeout_text!r}") from None
            if timeout < 0:
                raise bad_request(
                    f"timeoutSeconds: Invalid value: {timeout_text}: must be greater than or "
                    "equal to 0"
                )
            if timeout == 0:
                timeout = _DEFAULT_WATCH_SECONDS
        predicate = self._predicate(request, kind)
        namespace = target.namespace
        if target.name is not None:
            # A watch on one object is a watch on the collection filtered by name.
            wanted = target.name
            inner = predicate

            def predicate(obj: Mapping[str, Any]) -> bool:
                return obj["metadata"].get("name") == wanted and (inner is None or inner(obj))

        encode = self._event_encoder(request, kind)
        try:
            start = self.store.watch(
                self._storage_kind(kind),
                namespace,
                predicate=predicate,
                resource_version=params.get("resourceVersion"),
                send_initial_events=send_initial,
            )
        except ApiError as error:
            if error.code != 410:
                raise
            line = dumps({"type": ERROR, "object": error.to_status()}) + b"\n"
            return _json_response(line)
        return WatchResponse(
            self.store,
            self.faults,
            kind,
            start,
            encode=encode,
            timeout=timeout,
            bookmarks=bookmarks,
            bookmark_interval=self.bookmark_interval,
            initial_events_end=bool(send_initial),
        )

    def _event_encoder(
        self, request: Request, kind: ResourceKind
    ) -> Callable[[str, Change], bytes]:
        if _wants_table(request):
            include = request.query_params.get("includeObject", "Metadata")

            def encode_table(event_type: str, change: Change) -> bytes:
                obj = self._present_obj(kind, change.new.obj)
                event = tables.table_row_event(kind, event_type, obj, include_object=include)
                return dumps(event) + b"\n"

            return encode_table
        if kind.group == "events.k8s.io" or kind.is_custom:

            def encode_converted(event_type: str, change: Change) -> bytes:
                obj = change.new.obj
                if kind.group != "events.k8s.io" and obj.get("apiVersion") == kind.api_version:
                    return change.line(event_type)
                return dumps({"type": event_type, "object": self._present_obj(kind, obj)}) + b"\n"

            return encode_converted

        def encode_plain(event_type: str, change: Change) -> bytes:
            return change.line(event_type)

        return encode_plain

    async def _verb_create(self, request: Request, target: _Target) -> Response:
        kind = target.kind
        write = self._write_options(request)
        body = self._to_store_shape(kind, await self._read_body(request))
        if not isinstance(body, dict):
            raise bad_request("the body of the request was not a JSON object")
        if reviews.is_review(kind):
            context = reviews.ReviewContext(
                user=user_of(request.scope),
                namespace=target.namespace or "",
                authorizer=self.authorizer,
                tokens=self.tokens,
            )
            return _json_response(dumps(reviews.answer(kind, body, context)), 201)
        return self._create(request, target, body, write)

    async def _verb_update(self, request: Request, target: _Target) -> Response:
        kind = target.kind
        assert target.name is not None
        write = self._write_options(request)
        body = self._to_store_shape(kind, await self._read_body(request))
        if not isinstance(body, dict):
            raise bad_request("the body of the request was not a JSON object")
        if target.subresource == "scale":
            return await self._update_scale(request, target, body, write.dry_run)
        return self._update(request, target, body, write, require_resource_version=kind.is_custom)

    async def _update_scale(
        self, request: Request, target: _Target, scale: Mapping[str, Any], dry_run: bool
    ) -> Response:
        kind = target.kind
        assert target.name is not None
        current = self.store.get(kind, target.namespace or "", target.name)
        replicas = (scale.get("spec") or {}).get("replicas")
        if not isinstance(replicas, int) or isinstance(replicas, bool) or replicas < 0:
            raise ApiError(
                422,
                f'Scale.autoscaling "{target.name}" is invalid: spec.replicas: Invalid value: '
                f"{replicas!r}: must be greater than or equal to 0",
                reason="Invalid",
            )
        wanted_rv = (scale.get("metadata") or {}).get("resourceVersion")
        new_obj = json.loads(current.raw())
        set_spec_replicas(new_obj, kind, replicas)
        if wanted_rv:
            new_obj["metadata"]["resourceVersion"] = wanted_rv
        stored = self.store.update(
            kind, target.namespace or "", target.name, new_obj, dry_run=dry_run
        )
        return _json_response(dumps(scale_of(kind, stored.obj)))

    async def _verb_patch(self, request: Request, target: _Target) -> Response:
        kind = target.kind
        assert target.name is not None
        ctype = request.headers.get("content-type", "").split(";")[0].strip().lower()
        patch_type = _PATCH_TYPES.get(ctype)
        if patch_type is None or patch_type == "unsupported":
            raise ApiError(
                415,
                "the body of the request was in an unknown format - accepted media types "
                "include: application/json-patch+json, application/merge-patch+json, "
                "application/apply-patch+yaml"
                + ("" if kind.is_custom else ", application/strategic-merge-patch+json"),
                reason="UnsupportedMediaType",
            )
        if patch_type == "strategic" and (kind.is_custom or kind.group == "events.k8s.io"):
            raise ApiError(
                415,
                "the body of the request was in an unknown format - accepted media types "
                "include: application/json-patch+json, application/merge-patch+json, "
                "application/apply-patch+yaml",
                reason="UnsupportedMediaType",
            )
        write = self._write_options(request)
        body = await self._read_body(request)
        storage_kind = self._storage_kind(kind)
        namespace = target.namespace or ""
        if patch_type == "apply":
            return await self._apply(request, target, body, write)
        current = self.store.get(storage_kind, namespace, target.name)
        if target.subresource == "scale":
            base: Any = scale_of(kind, current.obj)
        else:
            base = json.loads(self._present(kind, current))
        try:
            if patch_type == "merge":
                patched = patching.merge_patch(base, body)
            elif patch_type == "json":
                patched = patching.json_patch(base, body)
            else:
                patched = strategicmerge.strategic_merge_patch(base, body, kind)
        except patching.PatchError as exc:
            raise _patch_error(exc, kind, target.name) from exc
        if not isinstance(patched, dict):
            raise bad_request("the patched object is not a JSON object")
        if target.subresource == "scale":
            return await self._update_scale(request, target, patched, write.dry_run)
        return self._update(request, target, self._to_store_shape(kind, patched), write)

    async def _apply(
        self,
        request: Request,
        target: _Target,
        body: Any,
        write: _WriteOptions,
    ) -> Response:
        kind = target.kind
        assert target.name is not None
        params = request.query_params
        manager = params.get("fieldManager")
        if not manager:
            raise ApiError(
                400,
                'PatchOptions.meta.k8s.io "" is invalid: fieldManager: Required value: is '
                "required for apply patch",
                reason="BadRequest",
            )
        force = bool(parse_bool("force", params.get("force")))
        if not isinstance(body, dict):
            raise bad_request("the body of the request was not an object")
        storage_kind = self._storage_kind(kind)
        namespace = target.namespace or ""
        current = self.store.find_for(storage_kind, namespace, target.name)
        body = self._to_store_shape(kind, body)
        body_meta = body.get("metadata") or {}
        if body_meta.get("name") not in (None, target.name):
            raise bad_request(
                f"the name of the object ({body_meta.get('name')}) does not match the name on "
                f"the URL ({target.name})"
            )
        live = None if current is None else json.loads(current.raw())
        try:
            merged = fieldmanager.server_side_apply(
                live,
                body,
                manager=manager,
                force=force,
                kind=storage_kind,
                now=now_rfc3339(),
                subresource=target.subresource or "",
            )
        except patching.PatchError as exc:
            raise _patch_error(exc, kind, target.name) from exc
        # server_side_apply already wrote this manager's Apply entry into
        # managedFields: the store must not add an Update entry on top.
        write = attrs.evolve(write, manager=None)
        if current is None:
            if target.subresource:
                self.store.get(storage_kind, namespace, target.name)  # raises 404
            merged.setdefault("metadata", {})["name"] = target.name
            return self._create(request, target, merged, write)
        return self._update(request, target, merged, write)

    async def _delete_options(self, request: Request) -> dict[str, Any]:
        params = request.query_params
        options: dict[str, Any] = {}
        raw = await _bounded_body(request)
        if raw.strip():
            try:
                body = json.loads(raw)
            except RecursionError:
                raise limits.too_deep("json") from None
            except ValueError as exc:
                raise bad_request(f"invalid DeleteOptions: {exc}") from exc
            if isinstance(body, dict):
                options.update(body)
        if params.get("propagationPolicy"):
            options["propagationPolicy"] = params["propagationPolicy"]
        if params.getlist("dryRun"):
            options["dryRun"] = params.getlist("dryRun")
        orphan = parse_bool("orphanDependents", params.get("orphanDependents"))
        if orphan is not None:
            options["orphanDependents"] = orphan
        policy = options.get("propagationPolicy")
        if policy is None and options.get("orphanDependents") is not None:
            policy = "Orphan" if options["orphanDependents"] else "Background"
        if policy not in (None, "Background", "Foreground", "Orphan"):
            raise ApiError(
                422,
                f'DeleteOptions.meta.k8s.io "" is invalid: propagationPolicy: Unsupported value: '
                f'"{policy}": supported values: "Foreground", "Background", "Orphan", "nil"',
                reason="Invalid",
            )
        options["propagationPolicy"] = policy
        for value in options.get("dryRun") or ():
            if value != "All":
                raise bad_request(f'dryRun: Unsupported value: "{value}"')
        return options

    async def _verb_delete(self, request: Request, target: _Target) -> Response:
        kind = target.kind
        assert target.name is not None
        options = await self._delete_options(request)
        preconditions = options.get("preconditions") or {}
        self._admit_delete(kind, target.namespace or "", target.name)
        stored, gone = self.store.delete(
            self._storage_kind(kind),
            target.namespace or "",
            target.name,
            precondition_uid=preconditions.get("uid"),
            precondition_rv=preconditions.get("resourceVersion"),
            propagation=options.get("propagationPolicy"),
            dry_run=bool(options.get("dryRun")),
        )
        # kube answers the deleted object itself only for a few core kinds.
        if gone and not (kind.group == "" and kind.plural in ("pods", "services")):
            return _json_response(
                dumps(
                    success_status(
                        name=target.name,
                        group=kind.group,
                        kind=kind.plural,
                        uid=stored.obj["metadata"].get("uid"),
                    )
                )
            )
        return self._object_response(request, kind, stored, 200)

    async def _verb_deletecollection(self, request: Request, target: _Target) -> Response:
        kind = target.kind
        options = await self._delete_options(request)
        storage_kind = self._storage_kind(kind)
        result = self.store.list(
            storage_kind, target.namespace, predicate=self._predicate(request, kind)
        )
        deleted: list[Stored] = []
        for item in result.items:
            self._admit_delete(kind, item.namespace, item.name)  # kube asks per object too
            try:
                stored, _gone = self.store.delete(
                    storage_kind,
                    item.namespace,
                    item.name,
                    propagation=options.get("propagationPolicy"),
                    dry_run=bool(options.get("dryRun")),
                )
            except ApiError as error:
                if error.code == 404:
                    continue
                raise
            deleted.append(stored)
        head = (
            '{"kind":"'
            + kind.list_kind
            + '","apiVersion":"'
            + kind.api_version
            + '","metadata":{"resourceVersion":"'
            + str(self.store.revision)
            + '"},"items":['
        ).encode()
        return _json_response(head + b",".join(self._present(kind, s) for s in deleted) + b"]}")


def _admission_request(
    kind: ResourceKind,
    operation: str,
    namespace: str,
    name: str,
    obj: Mapping[str, Any],
    old: Mapping[str, Any] | None,
) -> AdmissionRequest:
    return AdmissionRequest(
        operation=operation,
        group=kind.group,
        version=kind.version,
        kind=kind.kind,
        plural=kind.plural,
        namespace=namespace,
        name=name,
        object=obj,
        old_object=old,
    )


async def _bounded_body(request: Request) -> bytes:
    """The request body, refused with 413 once it passes kube's 3 MiB (before reading it all)."""
    limit = limits.MAX_REQUEST_BODY_BYTES
    declared = request.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > limit:
        raise limits.body_too_large()
    chunks: list[bytes] = []
    size = 0
    async with aclosing(request.stream()) as stream:
        async for chunk in stream:
            size += len(chunk)
            if size > limit:
                raise limits.body_too_large()
            chunks.append(chunk)
    body = b"".join(chunks)
    request._body = body  # later request.body() calls answer the same bytes
    return body


def _pod_log(request: Request, pod: Mapping[str, Any]) -> Response:
    params = request.query_params
    tail = params.get("tailLines")
    try:
        tail_lines = int(tail) if tail else None
    except ValueError:
        raise bad_request(f"tailLines: Invalid value: {tail!r}") from None
    text = podlogs.log_text(
        pod,
        params.get("container"),
        previous=bool(parse_bool("previous", params.get("previous"))),
        timestamps=bool(parse_bool("timestamps", params.get("timestamps"))),
        tail_lines=tail_lines,
    )
    return Response(text.encode(), media_type="text/plain")


def _manager_from_agent(request: Request) -> str | None:
    agent = request.headers.get("user-agent", "")
    if not agent:
        return None
    return agent.split("/")[0][:128] or None
