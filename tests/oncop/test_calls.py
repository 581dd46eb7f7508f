"""External calls (``external:``) against a real HTTP server on 127.0.0.1, in the test's Trio run.

The request is rendered for a CR (URL path values escaped, the host fixed at
load), sent through the same client as cross reads, and every outcome is an
answer ``{called, status, body, headers, error}``.
"""

from __future__ import annotations

import json
import textwrap

import pytest
import trio
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, PlainTextResponse, Response
from starlette.routing import Route

from loopback_http import serving
from orkestra_trio.katalog import load_katalog
from orkestra_trio.katalog.model import ExternalCall
from orkestra_trio.katalog.render import build_context
from orkestra_trio.oncop import RemoteReader, http_client

CR = {"metadata": {"name": "shop", "namespace": "team-a"}, "spec": {"tier": "gold/x", "n": 3}}
CONTEXT = build_context(CR)


class Service:
    """Records every request; answers by path."""

    def __init__(self) -> None:
        self.seen: list[tuple[str, str, dict[str, str], bytes]] = []
        self.fail_first = 0

    def app(self) -> Starlette:
        return Starlette(
            routes=[
                Route("/flags/{name:path}", self.flags),
                Route("/orders", self.orders, methods=["POST", "PUT"]),
                Route("/flaky", self.flaky),
                Route("/text", self.text),
                Route("/silent", self.silent),
            ]
        )

    async def record(self, request: Request) -> None:
        body = await request.body()
        raw_path = request.scope["raw_path"].decode()
        self.seen.append((request.method, raw_path, dict(request.headers), body))

    async def flags(self, request: Request) -> Response:
        await self.record(request)
        return JSONResponse({"enabled": True, "for": request.path_params["name"]})

    async def orders(self, request: Request) -> Response:
        await self.record(request)
        return JSONResponse({"id": 7, "got": json.loads(await request.body())}, status_code=201)

    async def flaky(self, request: Request) -> Response:
        await self.record(request)
        if self.fail_first > 0:
            self.fail_first -= 1
            return JSONResponse({"error": "busy"}, status_code=503)
        return JSONResponse({"ok": True})

    async def text(self, request: Request) -> Response:
        await self.record(request)
        return PlainTextResponse("plain words", headers={"X-Version": "4"})

    async def silent(self, request: Request) -> Response:
        await self.record(request)
        await trio.sleep_forever()
        raise AssertionError("unreachable")


@pytest.fixture
async def service():
    fake = Service()
    async with serving(fake.app()) as url:
        fake.url = url
        yield fake


@pytest.fixture
async def reader():
    async with http_client() as http:
        yield RemoteReader(http, environ={"FLAGS_TOKEN": "s3cret"})


@pytest.fixture
def calls(tmp_path):
    """calls(yaml) -> the ExternalCall tuple of a box whose preReconcile.external is ``yaml``."""

    def load(body: str) -> tuple[ExternalCall, ...]:
        path = tmp_path / "katalog.yaml"
        head = (
            "apiVersion: orkestra.orkspace.io/v1\nkind: Katalog\nmetadata: {name: t}\n"
            "spec:\n  crds:\n    app:\n"
            "      apiTypes: {group: d.example.com, version: v1, kind: App, plural: apps}\n"
            "      operatorBox:\n        preReconcile:\n          external:\n"
        )
        path.write_text(head + textwrap.indent(textwrap.dedent(body), " " * 12))
        box = load_katalog(path).crds["app"].operator_box
        assert box is not None
        return box.external

    return load


async def call(reader, external_call, context=CONTEXT, time_limit=5.0):
    prepared = reader.prepare_call(external_call, context, time_limit=time_limit)
    assert not isinstance(prepared, str), prepared
    answer, _ = await reader.send_call(prepared)
    return answer


async def test_a_get_answers_status_json_body_and_headers_with_the_token(service, reader, calls):
    (flags,) = calls(
        f"""
        - name: featureFlags
          url: "{service.url}/flags/{{{{ .spec.tier }}}}"
          token: $FLAGS_TOKEN
          headers: {{X-Tenant: "{{{{ .metadata.namespace }}}}"}}
        """
    )
    answer = await call(reader, flags)
    assert answer["called"] is True and answer["status"] == 200 and answer["error"] == ""
    # The spec value is one escaped path segment: its "/" cannot change the path.
    assert answer["body"] == {"enabled": True, "for": "gold/x"}
    assert answer["headers"]["content-type"] == "application/json"
    ((method, path, headers, _),) = service.seen
    assert (method, path) == ("GET", "/flags/gold%2Fx")
    assert headers["authorization"] == "Bearer s3cret" and headers["x-tenant"] == "team-a"


async def test_a_post_sends_its_rendered_body_as_json(service, reader, calls):
    (order,) = calls(
        f"""
        - name: order
          url: "{service.url}/orders"
          method: post
          body: {{customer: "{{{{ .metadata.name }}}}", tier: "{{{{ .spec.tier }}}}"}}
          expectedStatus: 201
        """
    )
    answer = await call(reader, order)
    assert answer["status"] == 201 and answer["error"] == ""
    assert answer["body"] == {"id": 7, "got": {"customer": "shop", "tier": "gold/x"}}
    ((method, _, headers, body),) = service.seen
    assert method == "POST" and headers["content-type"] == "application/json"
    assert json.loads(body) == {"customer": "shop", "tier": "gold/x"}


async def test_an_unexpected_status_is_an_error_and_retry_backoff_tries_again(
    service, reader, calls
):
    flaky, strict = calls(
        f"""
        - name: flaky
          url: "{service.url}/flaky"
          retryBackoff: {{initial: 10ms, maxAttempts: 3}}
          cacheFor: 0s  # asked again on every call (a GET's answer is cached otherwise)
        - name: strict
          url: "{service.url}/flags/a"
          expectedStatus: [202, 204]
        """
    )
    service.fail_first = 2
    answer = await call(reader, flaky)
    assert answer["status"] == 200 and answer["error"] == "" and len(service.seen) == 3
    service.fail_first = 5
    answer = await call(reader, flaky)
    assert answer["status"] == 503 and len(service.seen) == 6
    assert answer["error"] == f"HTTP 503 from {service.url}/flaky, expected 2xx"
    answer = await call(reader, strict)
    assert answer["status"] == 200 and answer["body"]["enabled"] is True
    assert answer["error"].endswith("expected 202 or 204")


async def test_text_bodies_timeouts_and_a_missing_token_are_answers(service, reader, calls):
    text, silent, tokened = calls(
        f"""
        - name: text
          url: "{service.url}/text"
        - name: silent
          url: "{service.url}/silent"
          timeout: 5s
        - name: tokened
          url: "{service.url}/text"
          token: $NOT_SET_ANYWHERE
        """
    )
    answer = await call(reader, text)
    assert answer["body"] == "plain words" and answer["headers"]["x-version"] == "4"
    # The box's reconcile timeout bounds the call's own.
    with trio.fail_after(3):
        answer = await call(reader, silent, time_limit=0.3)
    assert answer["called"] is True and answer["status"] == 0
    assert answer["error"] == f"no answer from {service.url}/silent within 0.3s"
    answer = await call(reader, tokened)
    assert "NOT_SET_ANYWHERE" in answer["error"] and answer["status"] == 0
    assert len(service.seen) == 2  # the call without its token was not sent


async def test_get_answers_are_cached_and_other_methods_never(service, reader, calls):
    flags, order = calls(
        f"""
        - name: flags
          url: "{service.url}/flags/x"
          cacheFor: 1m
        - name: order
          url: "{service.url}/orders"
          method: PUT
          body: '{{"n": {{{{ .spec.n }}}}}}'
        """
    )
    for _ in range(3):
        await call(reader, flags)
        answer = await call(reader, order)
    assert answer["body"]["got"] == {"n": 3}
    assert [m for m, *_ in service.seen] == ["GET", "PUT", "PUT", "PUT"]
    prepared = reader.prepare_call(flags, CONTEXT, time_limit=5)
    _, key = await reader.send_call(prepared)
    assert key == prepared.key and key in reader.cache


async def test_a_token_is_part_of_the_cache_key(calls, reader):
    one, two = calls(
        """
        - {name: one, url: "http://127.0.0.1:1/x", token: $A}
        - {name: two, url: "http://127.0.0.1:1/x", token: $B}
        """
    )
    first = reader.prepare_call(one, CONTEXT, time_limit=5)
    second = reader.prepare_call(two, CONTEXT, time_limit=5)
    assert first.url == second.url and first.key != second.key
