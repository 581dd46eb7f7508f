"""External calls over HTTP: one request rendered safely for a CR, sent through :func:`.client.exchange`.

The same rules as a cross ``source.endpoint`` read, since it is the same
client: the URL's scheme and host are fixed at load time and every value a
template puts into the path or query is escaped (:func:`.urls.render_endpoint`);
the whole exchange is bounded in time, the body to 64 KiB, redirects are not
followed. What differs is the method (a body for POST/PUT/PATCH), the
headers, and that any status is an answer (``.external.<name>.status``),
judged against ``expectedStatus`` (:mod:`orkestra_trio.katalog.external`).

A :class:`PreparedCall` is the rendered request without its token (read
from the environment when it is sent, so a rotated token is picked up). Its
``fingerprint`` identifies what would be sent: the runtime sends a non-GET
call again only when it changes, and a GET answer is cached under ``key``
(which includes who the call authenticates as, so two boxes with different
tokens never share an answer).
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from typing import Any

import attrs
import httpx
import trio

from orkestra_trio.katalog.external import answered, failed
from orkestra_trio.katalog.model import (
    ExternalCall,
    FrozenMap,
    RemoteReconciler,
    RetryBackoff,
    Text,
)
from orkestra_trio.katalog.render import render_value
from orkestra_trio.katalog.template import TemplateRenderError

from .cache import Failed
from .client import MAX_BODY, TokenError, bearer_token, exchange
from .urls import TargetError, render_endpoint

JSON = dict[str, Any]


@attrs.frozen
class PreparedCall:
    """One external call rendered for one CR (see the module docstring)."""

    name: str
    method: str
    url: str
    headers: FrozenMap[str, str]
    body: bytes | None
    expected: tuple[int, ...]
    time_limit: float
    retry: RetryBackoff
    cache_for: float
    token: str | None = None
    token_from_env: str | None = None
    #: The header the token goes in, as ``Bearer <token>``.
    token_header: str = "Authorization"

    @property
    def fingerprint(self) -> str:
        """A digest of what would be sent (method, URL, headers, body and who is asking)."""
        digest = hashlib.sha256()
        for part in (self.method, self.url, json.dumps(sorted(self.headers.items())), self._who()):
            digest.update(part.encode())
            digest.update(b"\0")
        digest.update(self.body or b"")
        return digest.hexdigest()

    @property
    def key(self) -> str:
        """The cache key of a GET call's answer."""
        return f"external:{self.method}:{self.url}:{self.fingerprint[:16]}"

    def _who(self) -> str:
        if self.token_from_env:
            return f"env:{self.token_from_env}"
        if self.token:
            return "token:" + hashlib.sha256(self.token.encode()).hexdigest()
        return ""


def prepare_call(
    call: ExternalCall, context: Mapping[str, Any], *, time_limit: float
) -> PreparedCall:
    """``call`` rendered for the CR of ``context``; raises :class:`TargetError` when it cannot be."""
    _, url = render_endpoint(call.url, context, what="url")
    try:
        headers = {"Accept": "application/json"}
        headers.update({name: text.render(context) for name, text in call.headers.items()})
        body = None
        if call.body is not None:
            content_type, body = _body(call.body, context)
            headers.setdefault("Content-Type", content_type)
    except TemplateRenderError as error:
        raise TargetError(f"template: {error}") from error
    return PreparedCall(
        name=call.name,
        method=call.method,
        url=url,
        headers=FrozenMap(headers),
        body=body,
        expected=call.expected_status,
        time_limit=min(call.timeout, time_limit),
        retry=call.retry,
        cache_for=call.cache_for,
        token=call.token,
        token_from_env=call.token_from_env,
    )


def prepare_remote_reconcile(
    remote: RemoteReconciler,
    cr: Mapping[str, Any],
    prepared_cr: Mapping[str, Any],
    context: Mapping[str, Any],
    *,
    time_limit: float,
) -> PreparedCall:
    """The POST of a remote reconciler (1.13): ``{key, gvk, object, prepared}``.

    ``object`` is the CR as stored, ``prepared`` as the templates see it (normalized).
    Raises :class:`TargetError` when the endpoint cannot be rendered.
    """
    _, url = render_endpoint(remote.endpoint, context, what="remote endpoint")
    metadata = cr.get("metadata") or {}
    namespace, name = str(metadata.get("namespace") or ""), str(metadata.get("name") or "")
    group, _, version = str(cr.get("apiVersion") or "").rpartition("/")
    body = {
        "key": f"{namespace}/{name}" if namespace else name,
        "gvk": {"Group": group, "Version": version, "Kind": str(cr.get("kind") or "")},
        "object": cr,
        "prepared": prepared_cr,
    }
    return PreparedCall(
        name="remote",
        method="POST",
        url=url,
        headers=FrozenMap({"Accept": "application/json", "Content-Type": "application/json"}),
        body=json.dumps(body).encode(),
        expected=(),
        time_limit=min(remote.timeout, time_limit),
        retry=RetryBackoff(),
        cache_for=0.0,
        token=remote.token,
        token_from_env=remote.token_from_env,
        token_header=remote.header,
    )


async def send_call(
    http: httpx.AsyncClient,
    prepared: PreparedCall,
    *,
    environ: Mapping[str, str] | None = None,
    max_bytes: int = MAX_BODY,
) -> JSON:
    """Send ``prepared`` (again after ``retryBackoff`` waits while it fails); its answer."""
    try:
        token = bearer_token(prepared, environ)
    except TokenError as error:
        return failed(str(error))
    headers = dict(prepared.headers)
    if token:
        headers[prepared.token_header] = f"Bearer {token}"
    answer: JSON = failed("not sent")
    for attempt, wait in enumerate((0.0, *prepared.retry.waits())):
        if attempt:
            await trio.sleep(wait)
        result = await exchange(
            http,
            prepared.method,
            prepared.url,
            headers=headers,
            content=prepared.body,
            time_limit=prepared.time_limit,
            max_bytes=max_bytes,
        )
        if isinstance(result, Failed):
            answer = failed(result.error)
        else:
            answer = answered(
                result.status,
                result.headers,
                result.body,
                url=prepared.url,
                expected=prepared.expected,
            )
        if not answer["error"]:
            break
    return answer


def _body(body: Any, context: Mapping[str, Any]) -> tuple[str, bytes]:
    """(Content-Type, bytes): a template string as written, a mapping or list as JSON."""
    if isinstance(body, Text):
        text = body.render(context)
        try:
            json.loads(text)
        except ValueError:
            return "text/plain; charset=utf-8", text.encode()
        return "application/json", text.encode()
    return "application/json", json.dumps(render_value(body, context)).encode()
