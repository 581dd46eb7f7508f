"""One remote read over HTTP: bounded in time and size, never an exception.

A remote operator is somebody else's process: it may be slow, gone, huge or
wrong. Whatever it does, a reconcile that reads it must finish promptly and
get an answer the Katalog can reason about, so :func:`fetch` turns every
outcome into a :class:`~.cache.Fetched` or :class:`~.cache.Failed`:

* 5 s for the whole exchange (connect, headers and body together);
* at most 64 KiB of body, counted while reading the stream, so a huge or
  endless answer costs 64 KiB and not the runtime's memory;
* a 404 is a normal answer: ``found: "false"``;
* redirects are not followed (the host was fixed at load time);
* a body that is not a JSON object is an error, as is any other status.

:func:`to_answer` gives every answer the shape templates see under
``.cross.<as>`` (the same as a same-process read).
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable, Mapping
from typing import Any, Protocol

import attrs
import httpx
import trio

from orkestra_trio.katalog.render import cross_answer

from .cache import Failed, Fetched, FetchResult
from .urls import RemoteTarget

JSON = dict[str, Any]

#: The whole exchange must finish within this many seconds.
DEFAULT_TIMEOUT = 5.0
#: The most body bytes read from one answer.
MAX_BODY = 64 * 1024


class TokenError(ValueError):
    """``tokenFrom.env`` names a variable that is not set, or ``auth.secretRef`` a missing key."""


class HasToken(Protocol):
    """What carries a bearer token: a cross source, an external call."""

    @property
    def token(self) -> str | None: ...
    @property
    def token_from_env(self) -> str | None: ...


#: Reads one key of a Secret the runtime holds in a cache: (namespace, name, key) -> value.
SecretLookup = Callable[[str, str, str], "str | None"]


def bearer_token(
    source: HasToken,
    environ: Mapping[str, str] | None = None,
    secrets: SecretLookup | None = None,
) -> str | None:
    """The token to send: ``source.token``, the variable named by ``tokenFrom.env``, or
    the Secret key named by ``auth.secretRef`` (through ``secrets``).

    Read on every request, so a rotated token is picked up without a restart.
    """
    if source.token:
        return source.token
    secret = getattr(source, "token_secret", None)
    if secret is not None:
        namespace, name, key = secret
        value = secrets(namespace, name, key) if secrets is not None else None
        if not value:
            raise TokenError(
                f"Secret {namespace}/{name} has no key {key!r} (auth.secretRef, the bearer "
                "token), or this runtime cannot read it"
            )
        return value
    if source.token_from_env:
        env = os.environ if environ is None else environ
        value = env.get(source.token_from_env)
        if not value:
            raise TokenError(
                f"environment variable {source.token_from_env} (the bearer token) "
                "is not set or empty"
            )
        return value
    return None


async def _read_capped(response: httpx.Response, max_bytes: int) -> bytes | None:
    """The body, or None once it passes ``max_bytes`` (nothing beyond that is kept).

    We stop by cancelling rather than by breaking out of the loop: the
    cancellation is raised inside httpx's nested stream generators and
    unwinds every one of them, where a ``break`` would leave them suspended
    (and reported as leaked when collected).
    """
    chunks: list[bytes] = []
    size = 0
    with trio.CancelScope() as cap:
        async for chunk in response.aiter_bytes():
            if size > max_bytes:
                continue  # the cancellation arrives at the stream's next read
            size += len(chunk)
            if size > max_bytes:
                cap.cancel()
                continue
            chunks.append(chunk)
    return None if size > max_bytes else b"".join(chunks)


def _accepted(target: RemoteTarget, status: int) -> bool:
    # A 503 from /health is the remote telling us it is unhealthy: an answer.
    return status == 200 or (status == 503 and target.type == "health" and not target.raw)


@attrs.frozen
class Exchanged:
    """An HTTP answer as read: status, headers (names lower-cased) and at most ``max_bytes`` of body."""

    status: int
    headers: Mapping[str, str]
    body: bytes


async def exchange(
    http: httpx.AsyncClient,
    method: str,
    url: str,
    *,
    headers: Mapping[str, str],
    content: bytes | None = None,
    time_limit: float = DEFAULT_TIMEOUT,
    max_bytes: int = MAX_BODY,
    read_body: Callable[[int], bool] = lambda status: True,
) -> Exchanged | Failed:
    """One request, bounded in time (the whole exchange) and size; never an exception.

    ``read_body(status)`` False: the body is not read (an answer judged by its status).
    Every remote read and every external call goes through here.
    """
    body = b""
    with trio.move_on_after(time_limit) as scope:
        try:
            async with http.stream(
                method,
                url,
                headers=dict(headers),
                content=content,
                follow_redirects=False,
                timeout=httpx.Timeout(time_limit),
            ) as response:
                status = response.status_code
                if read_body(status):
                    capped = await _read_capped(response, max_bytes)
                    if capped is None:
                        return Failed(f"answer from {url} is larger than {max_bytes} bytes")
                    body = capped
                answer_headers = {k.lower(): v for k, v in response.headers.items()}
        except httpx.TimeoutException:
            return Failed(f"no answer from {url} within {time_limit:g}s")
        except httpx.HTTPError as error:
            return Failed(f"cannot read {url}: {type(error).__name__}: {error}")
    if scope.cancelled_caught:
        return Failed(f"no answer from {url} within {time_limit:g}s")
    return Exchanged(status, answer_headers, body)


async def fetch(
    http: httpx.AsyncClient,
    target: RemoteTarget,
    *,
    token: str | None = None,
    time_limit: float = DEFAULT_TIMEOUT,
    max_bytes: int = MAX_BODY,
) -> FetchResult:
    """GET ``target.url`` and turn whatever happens into a result."""
    headers = {"Accept": "application/json"}
    if token:
        headers["Authorization"] = f"Bearer {token}"
    url = target.url
    answer = await exchange(
        http,
        "GET",
        url,
        headers=headers,
        time_limit=time_limit,
        max_bytes=max_bytes,
        read_body=lambda status: _accepted(target, status),
    )
    if isinstance(answer, Failed):
        return answer
    status = answer.status
    if status == 404:
        return Fetched(cross_answer(None))
    if status in (401, 403):
        return Failed(f"HTTP {status} from {url}: not authorized (check source.token)")
    if not _accepted(target, status):
        return Failed(f"HTTP {status} from {url}")
    try:
        decoded = json.loads(answer.body)
    except ValueError as error:
        return Failed(f"answer from {url} is not JSON: {error}")
    if not isinstance(decoded, dict):
        return Failed(f"answer from {url} is a JSON {type(decoded).__name__}, not an object")
    return Fetched(to_answer(target, decoded))


def to_answer(target: RemoteTarget, body: Mapping[str, Any]) -> JSON:
    """The ``.cross.<as>`` shape of a decoded answer.

    An ONCOP answer already has (or is given) ``found: "true"`` and keeps all
    its fields (``metrics``, ``children``, health fields, ``events``). A raw
    endpoint that returns a Kubernetes object (it has ``metadata``) is read
    like a same-process object, keeping its other top-level fields too.
    """
    if "found" in body:
        return cross_answer(body)
    if target.raw and isinstance(body.get("metadata"), Mapping):
        return {**body, **cross_answer(body)}
    return cross_answer({"found": "true", **body})
