"""Typed errors from Status bodies, the backoff policy, the REST mapper."""

import json
import random

import pytest

from orkestra_trio.kube import (
    AlreadyExists,
    ApiError,
    Conflict,
    Gone,
    Invalid,
    NotFound,
    ResourceInfo,
    RestMapper,
    RetryPolicy,
    ServerError,
    TooManyRequests,
)
from orkestra_trio.kube.errors import error_from_response, error_from_status
from orkestra_trio.kube.mapper import resources_from_discovery


def status(code, reason, message="", **details):
    return json.dumps(
        {
            "kind": "Status",
            "apiVersion": "v1",
            "status": "Failure",
            "code": code,
            "reason": reason,
            "message": message,
            "details": details,
        }
    ).encode()


@pytest.mark.parametrize(
    ("code", "reason", "cls"),
    [
        (404, "NotFound", NotFound),
        (409, "AlreadyExists", AlreadyExists),
        (409, "Conflict", Conflict),
        (410, "Expired", Gone),
        (422, "Invalid", Invalid),
        (429, "TooManyRequests", TooManyRequests),
        (500, "InternalError", ServerError),
        (503, "ServiceUnavailable", ServerError),
        (504, "Timeout", ServerError),
    ],
)
def test_status_code_and_reason_pick_the_class(code, reason, cls):
    err = error_from_response(
        "patch", "apps/v1 Deployment default/web", code, status(code, reason, "boom"), {}
    )
    assert type(err) is cls
    assert err.code == code and err.reason == reason
    assert str(err).startswith("patch apps/v1 Deployment default/web: boom")


def test_already_exists_is_a_conflict():
    err = error_from_response("create", "v1 ConfigMap a/b", 409, status(409, "AlreadyExists"), {})
    assert isinstance(err, Conflict)


def test_invalid_carries_causes_into_the_message():
    body = status(
        422,
        "Invalid",
        'Widget.example.com "w" is invalid',
        causes=[
            {"reason": "FieldValueRequired", "field": "spec.size", "message": "Required value"}
        ],
    )
    err = error_from_response("create", "example.com/v1 Widget default/w", 422, body, {})
    assert isinstance(err, Invalid)
    assert err.causes[0].field == "spec.size"
    assert err.causes[0].type == "FieldValueRequired"
    assert "spec.size: Required value" in str(err)


def test_retry_after_from_header_and_details():
    err = error_from_response(
        "get", "v1 Pod a/b", 429, status(429, "TooManyRequests"), {"retry-after": "3"}
    )
    assert isinstance(err, TooManyRequests) and err.retry_after == 3.0
    err = error_from_response(
        "get", "v1 Pod a/b", 429, status(429, "TooManyRequests", retryAfterSeconds=7), {}
    )
    assert err.retry_after == 7.0


def test_non_json_body_and_empty_body():
    err = error_from_response("get", "v1 Pod a/b", 502, b"<html>Bad gateway</html>", {})
    assert isinstance(err, ServerError) and "Bad gateway" in str(err)
    err = error_from_response("get", "v1 Pod a/b", 404, b"", {})
    assert isinstance(err, NotFound) and err.reason == "NotFound"
    err = error_from_response("get", "v1 Pod a/b", 418, b"", {})
    assert type(err) is ApiError


def test_watch_error_event_status_uses_the_body_code():
    err = error_from_status(
        "watch",
        "v1 Pod in all namespaces",
        200,
        {"kind": "Status", "code": 410, "reason": "Expired", "message": "too old"},
    )
    assert isinstance(err, Gone) and err.code == 410


def test_backoff_grows_with_jitter_and_is_capped():
    policy = RetryPolicy(base=0.1, cap=1.0, jitter=0.5)
    rng = random.Random(1)
    delays = [policy.backoff(n, rng) for n in range(1, 10)]
    for n, d in enumerate(delays, start=1):
        raw = min(1.0, 0.1 * 2 ** (n - 1))
        assert raw * 0.5 <= d <= raw
    assert max(delays) <= 1.0
    assert len(set(delays)) == len(delays)  # jittered
    assert policy.backoff(10_000) <= 1.0  # no overflow


def test_next_delay_bounds_attempts_and_time():
    policy = RetryPolicy(max_attempts=3, max_elapsed=10.0, base=1.0, cap=1.0, jitter=0.0)
    assert policy.next_delay(1, elapsed=0.0) == 1.0
    assert policy.next_delay(2, elapsed=1.0) == 1.0
    assert policy.next_delay(3, elapsed=2.0) is None  # third attempt was the last
    assert policy.next_delay(1, elapsed=9.5) is None  # would overrun the time budget
    assert policy.next_delay(1, elapsed=0.0, retry_after=4.0) == 4.0
    assert policy.next_delay(1, elapsed=7.0, retry_after=4.0) is None


def test_resource_paths_and_descriptions():
    deploy = ResourceInfo("apps", "v1", "Deployment", "deployments", True)
    assert (
        deploy.object_path("web", "default") == "/apis/apps/v1/namespaces/default/deployments/web"
    )
    assert deploy.object_path("web", "default", "status").endswith("/web/status")
    assert deploy.collection_path("") == "/apis/apps/v1/deployments"
    assert deploy.describe("web", "default") == "apps/v1 Deployment default/web"
    assert deploy.describe("", "") == "apps/v1 Deployment in all namespaces"
    ns = ResourceInfo("", "v1", "Namespace", "namespaces", False)
    assert ns.object_path("x", "ignored") == "/api/v1/namespaces/x"
    assert ns.describe("x", None) == "v1 Namespace x"


DISCOVERY = {
    "kind": "APIResourceList",
    "groupVersion": "example.com/v1",
    "resources": [
        {
            "name": "widgets",
            "singularName": "widget",
            "namespaced": True,
            "kind": "Widget",
            "verbs": ["get", "list"],
            "shortNames": ["wd"],
        },
        {
            "name": "widgets/status",
            "singularName": "",
            "namespaced": True,
            "kind": "Widget",
            "verbs": ["get"],
        },
        {
            "name": "gizmos",
            "singularName": "gizmo",
            "namespaced": False,
            "kind": "Gizmo",
            "verbs": [],
        },
    ],
}


def test_resources_from_discovery():
    found = {r.kind: r for r in resources_from_discovery("example.com/v1", DISCOVERY)}
    assert set(found) == {"Widget", "Gizmo"}
    assert found["Widget"].subresources == frozenset({"status"})
    assert found["Widget"].short_names == ("wd",)
    assert found["Gizmo"].namespaced is False
    assert found["Gizmo"].api_version == "example.com/v1"


async def test_mapper_builtins_need_no_round_trip_and_misses_refresh():
    served = {}
    fetched = []

    async def fetch(path):
        fetched.append(path)
        return served.get(path)

    mapper = RestMapper(fetch)
    cm = await mapper.resolve("v1", "ConfigMap")
    assert cm.plural == "configmaps" and cm.namespaced
    assert (await mapper.resolve("apps/v1", "Deployment")).subresources >= {"status", "scale"}
    assert fetched == []

    with pytest.raises(NotFound, match=r"example\.com/v1 Widget"):
        await mapper.resolve("example.com/v1", "Widget")
    assert fetched == ["/apis/example.com/v1"]

    served["/apis/example.com/v1"] = DISCOVERY  # the CRD was created meanwhile
    widget = await mapper.resolve("example.com/v1", "Widget")
    assert widget.plural == "widgets"
    assert (await mapper.resolve_plural("example.com/v1", "gizmos")).kind == "Gizmo"
    assert fetched == ["/apis/example.com/v1"] * 2


async def test_mapper_search_walks_discovery():
    docs = {
        "/api": {"versions": ["v1"]},
        "/apis": {
            "groups": [{"name": "example.com", "versions": [{"groupVersion": "example.com/v1"}]}]
        },
        "/api/v1": {
            "resources": [
                {
                    "name": "configmaps",
                    "kind": "ConfigMap",
                    "namespaced": True,
                    "shortNames": ["cm"],
                }
            ]
        },
        "/apis/example.com/v1": DISCOVERY,
    }

    async def fetch(path):
        return docs.get(path)

    mapper = RestMapper(fetch)
    assert [r.kind for r in await mapper.search("wd")] == ["Widget"]
    assert [r.plural for r in await mapper.search("cm")] == ["configmaps"]
    assert [r.kind for r in await mapper.search("gizmo")] == ["Gizmo"]


async def test_concurrent_misses_share_one_discovery_request():
    import trio

    fetched = []

    async def fetch(path):
        fetched.append(path)
        await trio.sleep(0.01)
        return DISCOVERY

    mapper = RestMapper(fetch)
    async with trio.open_nursery() as nursery:
        for _ in range(10):
            nursery.start_soon(mapper.resolve, "example.com/v1", "Widget")
    assert fetched == ["/apis/example.com/v1"]


def test_causes_the_message_already_lists_are_not_repeated():
    # What the API server answers for a child with an invalid name: its message
    # already carries the field error, and the cause says it again.
    said = 'metadata.name: Invalid value: "a_X": must be lower case'
    body = status(
        422,
        "Invalid",
        f'Deployment.apps "a_X" is invalid: {said}',
        causes=[
            {
                "reason": "FieldValueInvalid",
                "field": "metadata.name",
                "message": 'Invalid value: "a_X": must be lower case',
            },
            {"reason": "FieldValueRequired", "field": "spec.selector", "message": "Required value"},
        ],
    )
    err = error_from_response("create", "apps/v1 Deployment default/a_X", 422, body, {})
    text = str(err)
    assert text.count(said) == 1
    assert text.endswith("(422 Invalid); spec.selector: Required value")
