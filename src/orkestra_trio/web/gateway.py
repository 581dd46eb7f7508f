"""Orkestra's gateway API, served by the runtime when a Katalog says ``gateway.api.enabled``.

Routes (shapes as Orkestra documents them, docs/katalog.md "The gateway"):

* ``POST /api/v1/apply``: target mode (``{"target": ..., <fields>}``) or a full
  CR; target resolution, token check, CR build, provenance, admission, then a
  server-side apply with field manager ``orkestra-gateway``. 200/201
  ``{accepted: true, name, namespace, kind, apiVersion, pollUrl, warnings, status}``,
  422 ``{accepted: false, message, violations: [{field, message, severity}]}``;
* ``GET /api/v1/resources/{kind}/{namespace}[/{name}]``, ``DELETE .../{name}``;
* ``GET /api/v1/schema`` (the catalog), ``GET /api/v1/schema?target=T`` and
  ``GET /api/v1/schema/{kind}``: the serve form;
* ``GET /api/v1/raw-schema?kind=K[&apiVersion=V]``: the CRD's own OpenAPI spec
  schema (its storage version), with serve's labels and annotations.

``secretRef`` token Secrets are made when missing and given a new token once
older than ``rotateAfter`` (:func:`rotate_tokens` runs while the API serves).

Every call needs ``Authorization: Bearer <token>`` naming one of
``gateway.api.auth.tokens``, compared in constant time. The decisions are
:mod:`orkestra_trio.katalog.serve`'s; this module does the HTTP and the API
server calls.
"""

from __future__ import annotations

import datetime
import hmac
import json
import logging
import os
import uuid
from collections.abc import Awaitable, Callable, Iterable, Mapping
from typing import Any

import trio
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from orkestra_trio.auth import bearer_token
from orkestra_trio.katalog.admission import failed_rules, run_rules
from orkestra_trio.katalog.gateway_tokens import token_secret, token_secret_manifest
from orkestra_trio.katalog.model import CrdEntry, GatewayToken, KatalogSet
from orkestra_trio.katalog.serve import (
    GATEWAY_FIELD_MANAGER,
    Refusal,
    Resolved,
    Violation,
    build_from_intent,
    catalog_entry,
    form_schema,
    gateway_crds,
    gateways,
    prepare_cr,
    raw_schema,
    raw_schema_crds,
    raw_schema_denial,
    resolve_cr,
    resolve_kind,
    resolve_raw,
    resolve_target,
    served,
    spec_schema,
    token_denial,
)
from orkestra_trio.kube import KubeClient
from orkestra_trio.kube.errors import ApiError, KubeError, NotFound

from .oidc import OidcVerifier

Peers = Callable[[CrdEntry], Awaitable[Iterable[Mapping[str, Any]]]]
log = logging.getLogger(__name__)
#: A request body larger than this is refused (an intent is a few fields).
MAX_BODY = 1 << 20


class GatewayTokenError(Exception):
    """A declared token has no value (its variable is unset, its Secret key is empty)."""


def new_token() -> str:
    """A new random token for a ``secretRef`` Secret the gateway makes (a UUID v4, as Orkestra)."""
    return str(uuid.uuid4())


def _utcnow() -> datetime.datetime:
    return datetime.datetime.now(datetime.UTC)


async def load_tokens(
    kube: KubeClient,
    katalogs: KatalogSet,
    *,
    namespace: str,
    environ: Mapping[str, str] | None = None,
    now: datetime.datetime | None = None,
) -> dict[str, str]:
    """Token name -> secret value, from the environment (``${VAR}``) or Secrets, read at start.

    A ``secretRef`` Secret that does not exist is created with a new token; one
    whose ``rotateAfter`` has passed gets a new token (:func:`refresh_tokens`
    keeps doing so while the gateway runs).
    """
    env = os.environ if environ is None else environ
    moment = _utcnow() if now is None else now
    out: dict[str, str] = {}
    for gateway in gateways(katalogs):
        for token in gateway.tokens:
            if token.oidc_issuer:
                continue  # an ID token, checked per request (web/oidc.py)
            if token.env:
                value = env.get(token.env, "")
                where = f"environment variable {token.env}"
            else:
                ns = token.secret_namespace or namespace
                where = f"Secret {ns}/{token.secret_name} key {token.secret_key}"
                value, _ = await secret_token(kube, token, ns, moment)
            if not value:
                raise GatewayTokenError(
                    f"gateway token {token.name!r}: {where} is empty or missing"
                )
            out[token.name] = value
    return out


async def secret_token(
    kube: KubeClient, token: GatewayToken, namespace: str, now: datetime.datetime
) -> tuple[str, float | None]:
    """The token a ``secretRef`` Secret holds at ``now`` (made when absent or due); when due next."""
    ref = ("v1", "Secret")
    try:
        secret: Mapping[str, Any] | None = await kube.get(
            ref, token.secret_name, namespace=namespace
        )
    except NotFound:
        secret = None
    found = token_secret(token, secret, now)
    if not found.write:
        return found.value, found.due_in
    value = new_token()
    manifest = token_secret_manifest(token, namespace, value, found.annotations)
    await kube.apply(manifest, force=True, field_manager=GATEWAY_FIELD_MANAGER)
    what = "created" if secret is None else "gave a new token to"
    log.info(
        "gateway token %r: %s Secret %s/%s (key %s)",
        token.name,
        what,
        namespace,
        token.secret_name,
        token.secret_key,
    )
    return value, found.due_in


async def refresh_tokens(
    kube: KubeClient,
    katalogs: KatalogSet,
    api: GatewayApi,
    *,
    namespace: str,
    now: datetime.datetime,
) -> float | None:
    """Read the ``rotateAfter`` tokens' Secrets again, rotating the due ones, into ``api``.

    Returns the seconds until the next one is due (None: no token rotates).
    """
    due: list[float] = []
    for gateway in gateways(katalogs):
        for token in gateway.tokens:
            if token.rotate_after is None or not token.secret_name:
                continue
            ns = token.secret_namespace or namespace
            value, due_in = await secret_token(kube, token, ns, now)
            if value:
                api.set_token(token.name, value)
            if due_in is not None:
                due.append(due_in)
    return min(due) if due else None


#: After a failed refresh (the API server unreachable), try again this much later.
REFRESH_RETRY = 30.0


async def rotate_tokens(
    kube: KubeClient,
    katalogs: KatalogSet,
    api: GatewayApi,
    *,
    namespace: str,
    wall: Callable[[], datetime.datetime] = _utcnow,
) -> None:
    """Keep the ``rotateAfter`` tokens current for as long as the gateway serves."""
    while True:
        try:
            due = await refresh_tokens(kube, katalogs, api, namespace=namespace, now=wall())
        except KubeError as exc:
            log.warning("gateway tokens: cannot refresh (%s); again in %ss", exc, REFRESH_RETRY)
            due = REFRESH_RETRY
        if due is None:
            return
        await trio.sleep(max(due, 1.0))


def _json(body: Any, status: int = 200) -> JSONResponse:
    return JSONResponse(body, status_code=status)


def _rejected(message: str, violations: Iterable[Violation], status: int = 422) -> JSONResponse:
    listed = [v.as_json() for v in violations]
    body = {
        "accepted": False,
        "status": "rejected",
        "reason": message,
        "message": message,
        "violations": listed,
    }
    return _json(body, status)


def _denied(status: int, message: str) -> JSONResponse:
    return _json({"accepted": False, "message": message}, status)


class GatewayApi:
    """The gateway's routes over the Katalogs, one API client and the tokens' values."""

    def __init__(
        self,
        katalogs: KatalogSet,
        kube: KubeClient,
        tokens: Mapping[str, str],
        *,
        peers: Peers | None = None,
        oidc: OidcVerifier | None = None,
    ) -> None:
        self.crds = gateway_crds(katalogs)
        #: What ``/api/v1/raw-schema`` may describe: every CRD of the gateway's Katalogs.
        self.raw_crds = raw_schema_crds(katalogs)
        self.kube = kube
        self.tokens = [(name, value.encode()) for name, value in tokens.items()]
        self.peers = peers
        #: Verifies the OIDC token entries' ID tokens (None: static tokens only).
        self.oidc = oidc

    def set_token(self, name: str, value: str) -> None:
        """Put ``value`` in force for the token entry ``name`` (its Secret got a new token)."""
        self.tokens = [(n, value.encode() if n == name else v) for n, v in self.tokens]

    def app(self) -> Any:
        return Starlette(
            routes=[
                Route("/api/v1/apply", self.apply, methods=["POST"]),
                Route("/api/v1/schema", self.schema, methods=["GET"]),
                Route("/api/v1/schema/{kind}", self.schema, methods=["GET"]),
                Route("/api/v1/raw-schema", self.raw_schema, methods=["GET"]),
                Route("/api/v1/resources/{kind}/{namespace}", self.list_resources, methods=["GET"]),
                Route(
                    "/api/v1/resources/{kind}/{namespace}/{name}",
                    self.resource,
                    methods=["GET", "DELETE"],
                ),
            ]
        )

    # -- authentication --------------------------------------------------------

    async def authenticate(self, request: Request) -> tuple[str, str] | None:
        """(token entry name, source) of the bearer token; None when it is none of ours.

        A static token's source is "" (Orkestra's); an OIDC token's, its ``sub``.
        """
        given = bearer_token(request.headers)
        if not given:
            return None
        presented = given.encode()
        found = None
        for name, value in self.tokens:  # every one compared: the time tells nothing
            if hmac.compare_digest(presented, value):
                found = name
        if found is not None:
            return found, ""
        if self.oidc is not None and given.count(".") == 2:
            return await self.oidc.identify(given)
        return None

    # -- apply -------------------------------------------------------------------

    async def apply(self, request: Request) -> Response:
        who = await self.authenticate(request)
        if who is None:
            return _denied(401, "unauthorized: send Authorization: Bearer <token>")
        caller, source = who
        raw = await request.body()
        if len(raw) > MAX_BODY:
            return _denied(413, "request body too large")
        try:
            body = json.loads(raw)
        except ValueError:
            return _denied(400, "the body must be a JSON object")
        if not isinstance(body, dict):
            return _denied(400, "the body must be a JSON object")
        # 1. target resolution
        if "target" in body:
            target = body.get("target")
            resolved = resolve_target(self.crds, target) if isinstance(target, str) else None
            if resolved is None:
                return _denied(404, f"unknown target {target!r}")
            if not resolved.serve.target_mode:
                return _denied(400, f"target mode is disabled for {resolved.target.name!r}")
        elif "apiVersion" in body and "kind" in body:
            resolved = resolve_cr(self.crds, str(body["apiVersion"]), str(body["kind"]))
            if resolved is None:
                return _denied(404, f"{body['kind']} ({body['apiVersion']}) is not served")
            if not resolved.serve.cr_mode:
                return _denied(400, f"full CR mode is disabled for {resolved.crd.api_types.kind}")
        else:
            return _denied(400, 'send {"target": ..., <fields>} or a full CR (apiVersion, kind)')
        # 3.-4. the CR, its identity and provenance (built before the token check of
        # 2., which needs the namespace; nothing is written before both pass)
        if "target" in body:
            cr, problems = build_from_intent(resolved, body, source=source)
        else:
            cr, problems = prepare_cr(resolved, body, source=source)
        metadata = cr.get("metadata") or {}
        namespace = str(metadata.get("namespace") or "")
        name = str(metadata.get("name") or "")
        existing = await self._existing(resolved, name, namespace) if name else None
        operation = "update" if existing is not None else "create"
        denial = token_denial(resolved, caller, operation, "resources", namespace)
        if denial is not None:
            return _denied(403, f"forbidden: {denial}")
        if problems:
            return _rejected(problems[0].message, problems)
        # 5. admission: our rules, as the webhook would run them (mutation included)
        admission = resolved.crd.admission
        peers = await self._peers(resolved.crd)
        outcome = run_rules(admission, cr, peers=peers)
        if outcome.denials:
            checked = outcome.cr if admission.mutate_first else cr
            denied = [
                Violation(rule.condition.field, message)
                for rule, message in failed_rules(admission.validation, checked, peers)
                if rule.action == "deny"
            ]
            return _rejected(outcome.denials[0], denied or [Violation("", outcome.denials[0])])
        # 6. server-side apply
        try:
            applied = await self.kube.apply(
                outcome.cr, force=True, field_manager=GATEWAY_FIELD_MANAGER
            )
        except ApiError as exc:
            return _rejected(
                str(exc), [Violation("", str(exc))], status=exc.code if exc.code >= 400 else 422
            )
        meta = applied.get("metadata") or {}
        kind = resolved.crd.api_types.kind
        poll = f"/api/v1/resources/{kind}/{meta.get('namespace') or '_'}/{meta.get('name')}"
        return _json(
            {
                "accepted": True,
                "status": "applied",
                "name": meta.get("name"),
                "namespace": meta.get("namespace", ""),
                "kind": kind,
                "apiVersion": resolved.crd.api_types.api_version,
                "target": resolved.serve.primary.name,
                "alias": resolved.alias,
                "pollUrl": poll,
                "warnings": list(outcome.warnings),
            },
            200 if existing is not None else 201,
        )

    async def _existing(self, resolved: Resolved, name: str, namespace: str) -> Any:
        types = resolved.crd.api_types
        try:
            return await self.kube.get(
                (types.api_version, types.kind),
                name,
                namespace=namespace if resolved.crd.namespaced else None,
            )
        except NotFound:
            return None

    async def _peers(self, crd: CrdEntry) -> Iterable[Mapping[str, Any]]:
        if self.peers is None or not any(
            r.condition.operator == "unique" for r in crd.admission.validation
        ):
            return ()
        return await self.peers(crd)

    # -- resources -----------------------------------------------------------------

    async def _resolve(
        self, request: Request, operation: str, endpoint_class: str
    ) -> Resolved | Response:
        who = await self.authenticate(request)
        if who is None:
            return _denied(401, "unauthorized: send Authorization: Bearer <token>")
        caller = who[0]
        kind = request.path_params.get("kind") or request.query_params.get("target") or ""
        resolved = resolve_kind(self.crds, kind)
        if resolved is None:
            return _denied(404, f"unknown kind or target {kind!r}")
        namespace = request.path_params.get("namespace", "")
        namespace = "" if namespace == "_" else namespace
        denial = token_denial(resolved, caller, operation, endpoint_class, namespace)
        if denial is not None:
            return _denied(403, f"forbidden: {denial}")
        return resolved

    def _namespace(self, request: Request, resolved: Resolved) -> str | None:
        namespace = str(request.path_params["namespace"])
        return None if not resolved.crd.namespaced or namespace == "_" else namespace

    async def list_resources(self, request: Request) -> Response:
        resolved = await self._resolve(request, "list", "resources")
        if isinstance(resolved, Response):
            return resolved
        types = resolved.crd.api_types
        try:
            found = await self.kube.list(
                (types.api_version, types.kind), namespace=self._namespace(request, resolved)
            )
        except NotFound:
            return _denied(404, f"{types.kind} ({types.api_version}) is not served by the cluster")
        except ApiError as exc:
            return _denied(exc.code if exc.code >= 400 else 500, str(exc))
        return _json({"kind": types.kind, "items": found.items})

    async def resource(self, request: Request) -> Response:
        deleting = request.method == "DELETE"
        resolved = await self._resolve(request, "delete" if deleting else "get", "resources")
        if isinstance(resolved, Response):
            return resolved
        types = resolved.crd.api_types
        ref = (types.api_version, types.kind)
        name = str(request.path_params["name"])
        namespace = self._namespace(request, resolved)
        try:
            if deleting:
                await self.kube.delete(ref, name, namespace=namespace)
                return _json({"deleted": True, "kind": types.kind, "name": name})
            return _json(await self.kube.get(ref, name, namespace=namespace))
        except NotFound:
            return _denied(404, f"{types.kind} {name!r} not found")
        except ApiError as exc:
            return _denied(exc.code if exc.code >= 400 else 500, str(exc))

    # -- schema --------------------------------------------------------------------

    async def schema(self, request: Request) -> Response:
        if "kind" not in request.path_params and "target" not in request.query_params:
            who = await self.authenticate(request)
            if who is None:
                return _denied(401, "unauthorized: send Authorization: Bearer <token>")
            caller = who[0]
            entries = []
            for crd, serve in served(self.crds):
                for target in serve.targets:
                    listed = Resolved(crd, serve, target)
                    if (
                        target.enabled
                        and token_denial(listed, caller, "list", "schema", "") is None
                    ):
                        entries.append(catalog_entry(listed))
            return _json({"items": entries, "total": len(entries)})
        resolved = await self._resolve(request, "get", "schema")
        if isinstance(resolved, Response):
            return resolved
        return _json(form_schema(resolved, await self._spec_schema(resolved.crd)))

    async def _crd_object(self, crd: CrdEntry) -> dict[str, Any]:
        """The CustomResourceDefinition of ``crd`` as the cluster holds it (raises ApiError)."""
        types = crd.api_types
        return await self.kube.get(
            ("apiextensions.k8s.io/v1", "CustomResourceDefinition"),
            f"{types.plural}.{types.group}",
        )

    async def _spec_schema(self, crd: CrdEntry) -> Mapping[str, Any] | None:
        """The CRD's OpenAPI schema of ``spec`` for the served version, when readable."""
        try:
            found = await self._crd_object(crd)
        except ApiError:
            return None
        return spec_schema(found, crd.api_types.version)

    # -- raw schema ----------------------------------------------------------------

    async def raw_schema(self, request: Request) -> Response:
        """``GET /api/v1/raw-schema?kind=K[&apiVersion=V]``: the CRD's OpenAPI spec schema."""
        who = await self.authenticate(request)
        if who is None:
            return _denied(401, "unauthorized: send Authorization: Bearer <token>")
        params = request.query_params
        found = resolve_raw(self.raw_crds, params.get("kind", ""), params.get("apiVersion", ""))
        if isinstance(found, Refusal):
            return _json(dict(found.body), found.status)
        denial = raw_schema_denial(found, who[0])
        if denial is not None:
            return _json({"error": "permission denied", "message": f"forbidden: {denial}"}, 403)
        types = found.api_types
        name = f"{types.plural}.{types.group}"
        try:
            crd_object = await self._crd_object(found)
        except NotFound:
            return _json({"error": "CRD not found", "message": f"CRD {name!r} not found"}, 404)
        except ApiError as exc:
            status = exc.code if exc.code >= 400 else 502
            return _json({"error": "cluster error", "message": str(exc)}, status)
        return _json(raw_schema(found, crd_object))
