"""Remote reads against a real HTTP server on 127.0.0.1, in the test's own Trio run."""

from __future__ import annotations

import pytest
import trio
import trio.testing
from oncop_helpers import FakeBox, FakeView, crd_entries, serving
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import (
    JSONResponse,
    PlainTextResponse,
    RedirectResponse,
    Response,
    StreamingResponse,
)
from starlette.routing import Route

from orkestra_trio.katalog.render import build_context
from orkestra_trio.oncop import MAX_BODY, RemoteCache, RemoteReader, http_client, oncop_app

CR = {"metadata": {"name": "shop", "namespace": "team-a"}, "spec": {}}
CONTEXT = build_context(CR)


class Remote:
    """A fake remote runtime: every route counts its requests."""

    def __init__(self) -> None:
        self.requests: dict[str, int] = {}
        self.arrived = trio.Event()
        self.release: trio.Event | None = None
        self.seen_auth: list[str | None] = []

    def app(self) -> Starlette:
        return Starlette(
            routes=[
                Route("/katalog/loader/cr/{ns}/{name}", self.cr),
                Route("/katalog/loader/health", self.health),
                Route("/katalog/loader", self.summary),
                Route("/katalog/loader/cr/{ns}/{name}/events", self.summary),
                Route("/big", self.big),
                Route("/endless", self.endless),
                Route("/silent", self.silent),
                Route("/notjson", self.notjson),
                Route("/list", self.list),
                Route("/moved", self.moved),
                Route("/k8s/{name}", self.k8s_object),
            ]
        )

    def count(self, request: Request) -> None:
        self.requests[request.url.path] = self.requests.get(request.url.path, 0) + 1
        self.seen_auth.append(request.headers.get("authorization"))

    async def cr(self, request: Request) -> Response:
        self.count(request)
        self.arrived.set()
        if self.release is not None:
            await self.release.wait()
        name = request.path_params["name"]
        if name == "gone":
            return JSONResponse({"error": "not found"}, status_code=404)
        return JSONResponse(
            {
                "found": "true",
                "name": name,
                "namespace": request.path_params["ns"],
                "spec": {"source": "s3"},
                "status": {"phase": "Ready"},
                "metrics": {"queueDepth": 7},
            }
        )

    async def health(self, request: Request) -> Response:
        self.count(request)
        return JSONResponse({"name": "loader", "state": "degraded", "healthy": False}, 503)

    async def summary(self, request: Request) -> Response:
        self.count(request)
        return JSONResponse({"name": "loader", "metrics": {"queueDepth": 3}})

    async def big(self, request: Request) -> Response:
        self.count(request)
        return JSONResponse({"blob": "x" * (MAX_BODY + 10)})

    async def endless(self, request: Request) -> Response:
        self.count(request)

        async def forever():
            yield b'{"x": "'
            while True:
                yield b"y" * 4096
                await trio.sleep(0)

        return StreamingResponse(forever(), media_type="application/json")

    async def silent(self, request: Request) -> Response:
        self.count(request)
        await trio.sleep_forever()
        raise AssertionError("unreachable")

    async def notjson(self, request: Request) -> Response:
        self.count(request)
        return PlainTextResponse("{not json")

    async def list(self, request: Request) -> Response:
        self.count(request)
        return JSONResponse([1, 2, 3])

    async def moved(self, request: Request) -> Response:
        self.count(request)
        return RedirectResponse("http://example.invalid/", status_code=302)

    async def k8s_object(self, request: Request) -> Response:
        self.count(request)
        return JSONResponse(
            {
                "apiVersion": "v1",
                "kind": "Thing",
                "metadata": {"name": request.path_params["name"], "labels": {"a": "b"}},
                "status": {"phase": "Up"},
            }
        )


@pytest.fixture
async def remote():
    fake = Remote()
    async with serving(fake.app()) as url:
        fake.url = url
        yield fake


@pytest.fixture
async def http():
    async with http_client() as client:
        yield client


def host_entry(cross_entries, url, *, name="shop-loader", extra=""):
    (entry,) = cross_entries(
        f"""
        - crd: loader
          selector: {{name: "{name}"}}
          source:
            host: "{url}"
            cacheFor: 10s
            {extra}
          as: loader
        """
    )
    return entry


def endpoint_entry(cross_entries, url, path, *, extra=""):
    (entry,) = cross_entries(
        f"""
        - crd: thing
          source:
            endpoint: "{url}{path}"
            {extra}
        """
    )
    return entry


async def read(reader, entry, name="shop-loader"):
    return await reader.read(entry, name=name, namespace="team-a", context=CONTEXT)


async def test_an_oncop_read_has_the_template_shape(remote, http, cross_entries):
    reader = RemoteReader(http)
    answer = await read(reader, host_entry(cross_entries, remote.url))
    assert answer["found"] == "true"
    assert answer["status"]["phase"] == "Ready"
    assert answer["metrics"]["queueDepth"] == 7
    assert answer["labels"] == {} and answer["annotations"] == {}
    assert remote.requests == {"/katalog/loader/cr/team-a/shop-loader": 1}


async def test_concurrent_reconciles_share_one_request(remote, http, cross_entries):
    reader = RemoteReader(http)
    entry = host_entry(cross_entries, remote.url)
    remote.release = trio.Event()
    answers = []

    async def reconcile():
        answers.append(await read(reader, entry))

    async with trio.open_nursery() as nursery:
        for _ in range(20):
            nursery.start_soon(reconcile)
        await remote.arrived.wait()
        await trio.testing.wait_all_tasks_blocked()
        remote.release.set()
    assert len(answers) == 20 and all(a["status"]["phase"] == "Ready" for a in answers)
    assert remote.requests == {"/katalog/loader/cr/team-a/shop-loader": 1}
    # A later reconcile inside cacheFor is answered from the cache.
    await read(reader, entry)
    assert remote.requests["/katalog/loader/cr/team-a/shop-loader"] == 1


@pytest.mark.parametrize(
    ("protocol", "path"),
    [
        ("cr", "/katalog/loader/cr/team-a/shop-loader"),
        ("health", "/katalog/loader/health"),
        ("metrics", "/katalog/loader"),
        ("info", "/katalog/loader"),
        ("events", "/katalog/loader/cr/team-a/shop-loader/events"),
    ],
)
async def test_source_host_and_protocol_choose_the_oncop_path(
    remote, http, cross_entries, protocol, path
):
    # Orkestra's source.protocol (this runtime also reads it as type:) picks the path.
    reader = RemoteReader(http)
    answer = await read(
        reader, host_entry(cross_entries, remote.url, extra=f"protocol: {protocol}")
    )
    assert answer["found"] == "true"
    assert remote.requests == {path: 1}


async def test_404_is_found_false_without_error(remote, http, cross_entries):
    reader = RemoteReader(http)
    answer = await read(reader, host_entry(cross_entries, remote.url, name="gone"), name="gone")
    assert answer["found"] == "false" and "error" not in answer


async def test_health_503_is_an_answer_not_a_failure(remote, http, cross_entries):
    reader = RemoteReader(http)
    entry = host_entry(cross_entries, remote.url, extra="type: health")
    answer = await read(reader, entry)
    assert answer["found"] == "true" and answer["state"] == "degraded"
    assert "error" not in answer


@pytest.mark.parametrize(
    ("path", "message"),
    [
        ("/big", f"larger than {MAX_BODY} bytes"),
        ("/endless", f"larger than {MAX_BODY} bytes"),
        ("/notjson", "is not JSON"),
        ("/list", "is a JSON list, not an object"),
        ("/moved", "HTTP 302"),
    ],
)
async def test_bad_answers_become_not_found_with_error(remote, http, cross_entries, path, message):
    reader = RemoteReader(http)
    answer = await read(reader, endpoint_entry(cross_entries, remote.url, path))
    assert answer["found"] == "false"
    assert message in answer["error"]
    assert remote.requests[path] == 1


async def test_a_raw_endpoint_kubernetes_object_reads_like_a_local_one(remote, http, cross_entries):
    reader = RemoteReader(http)
    entry = endpoint_entry(cross_entries, remote.url, "/k8s/{{ .metadata.name }}")
    answer = await read(reader, entry)
    assert answer["found"] == "true" and answer["name"] == "shop"
    assert answer["labels"] == {"a": "b"} and answer["status"] == {"phase": "Up"}


async def test_a_silent_server_times_out_after_five_seconds(
    remote, http, cross_entries, autojump_clock
):
    reader = RemoteReader(http)
    start = trio.current_time()
    answer = await read(reader, endpoint_entry(cross_entries, remote.url, "/silent"))
    elapsed = trio.current_time() - start
    assert answer["found"] == "false" and "within 5s" in answer["error"]
    assert 5.0 <= elapsed < 5.5


async def test_token_and_token_from_env_are_sent(remote, http, cross_entries):
    entry = endpoint_entry(cross_entries, remote.url, "/k8s/a", extra="token: abc")
    await read(RemoteReader(http), entry)
    entry = endpoint_entry(
        cross_entries, remote.url, "/k8s/b", extra="tokenFrom: {env: LOADER_TOKEN}"
    )
    await read(RemoteReader(http, environ={"LOADER_TOKEN": "from-env"}), entry)
    assert remote.seen_auth == ["Bearer abc", "Bearer from-env"]
    missing = await read(RemoteReader(http, environ={}), entry)
    assert "LOADER_TOKEN" in missing["error"] and missing["found"] == "false"


async def test_auth_on_and_off_against_the_oncop_server(tmp_path, http, cross_entries):
    crds = crd_entries(
        tmp_path,
        """
        loader:
          apiTypes: {group: demo.example.com, version: v1, kind: Loader, plural: loaders}
          operatorBox: {}
        """,
    )
    cr = {"metadata": {"name": "shop-loader", "namespace": "team-a"}, "status": {"phase": "Ready"}}
    view = FakeView(FakeBox(crds["loader"], crs=[cr]))
    async with serving(oncop_app(view, token="s3cret")) as url:
        raw = await http.get(f"{url}/katalog/loader/cr/team-a/shop-loader")
        assert raw.status_code == 401 and raw.json()["error"].startswith("unauthorized")
        assert (
            await http.get(f"{url}/katalog", headers={"Authorization": "Bearer no"})
        ).status_code == 401
        without = await read(RemoteReader(http), host_entry(cross_entries, url))
        assert without["found"] == "false" and "HTTP 401" in without["error"]
        entry = host_entry(cross_entries, url, extra="token: s3cret")
        with_token = await read(RemoteReader(http), entry)
        assert with_token["found"] == "true" and with_token["status"]["phase"] == "Ready"
    async with serving(oncop_app(view)) as url:
        open_read = await read(RemoteReader(http), host_entry(cross_entries, url))
        assert open_read["status"]["phase"] == "Ready"


async def test_a_dead_remote_keeps_the_last_good_value_then_loses_it(http, cross_entries):
    now = [0.0]  # the cache's clock, moved by hand instead of waiting
    reader = RemoteReader(http, cache=RemoteCache(clock=lambda: now[0]))
    fake = Remote()
    async with serving(fake.app()) as url:
        entry = host_entry(cross_entries, url, extra="staleFor: 30s")
        assert (await read(reader, entry))["status"]["phase"] == "Ready"
    # The server is gone.
    now[0] += 11
    stale = await read(reader, entry)
    assert stale["status"]["phase"] == "Ready" and stale["stale"] == "true"
    assert "cannot read" in stale["error"]
    now[0] += 30
    lost = await read(reader, entry)
    assert lost["found"] == "false" and "cannot read" in lost["error"]
    assert fake.requests == {"/katalog/loader/cr/team-a/shop-loader": 1}
