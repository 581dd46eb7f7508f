"""Server-side Table output matches the columns and formats kubectl shows."""

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from orkestra_trio.apiserver.kinds import ResourceKind, builtin, kinds_from_crd
from orkestra_trio.apiserver.tables import (
    JSONPathError,
    compile_jsonpath,
    evaluate_jsonpath,
    human_duration,
    table_row_event,
    to_table,
)

NOW = datetime(2026, 1, 1, 12, 0, 0, tzinfo=UTC)


def _ts(delta: timedelta) -> str:
    return (NOW - delta).strftime("%Y-%m-%dT%H:%M:%SZ")


@pytest.mark.parametrize(
    ("seconds", "text"),
    [
        (-5, "<invalid>"),
        (-1, "0s"),
        (0, "0s"),
        (59, "59s"),
        (119, "119s"),
        (120, "2m"),
        (303, "5m3s"),
        (540, "9m"),
        (600, "10m"),
        (179 * 60 + 59, "179m"),
        (3 * 3600, "3h"),
        (3 * 3600 + 12 * 60 + 5, "3h12m"),
        (8 * 3600, "8h"),
        (47 * 3600, "47h"),
        (48 * 3600, "2d"),
        (4 * 86400 + 2 * 3600, "4d2h"),
        (8 * 86400, "8d"),
        (400 * 86400, "400d"),
        (2 * 365 * 86400 + 10 * 86400, "2y10d"),
        (3 * 365 * 86400, "3y"),
        (9 * 365 * 86400, "9y"),
    ],
)
def test_human_duration_matches_kube_rounding(seconds: int, text: str) -> None:
    assert human_duration(seconds) == text


def _names(table: dict[str, Any]) -> list[str]:
    return [c["name"] for c in table["columnDefinitions"] if c["priority"] == 0]


def test_pod_table() -> None:
    pod = {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {
            "name": "p",
            "namespace": "d",
            "resourceVersion": "7",
            "creationTimestamp": _ts(timedelta(minutes=5, seconds=3)),
        },
        "spec": {"containers": [{"name": "a"}, {"name": "b"}], "nodeName": "n1"},
        "status": {
            "phase": "Running",
            "podIP": "10.0.0.1",
            "containerStatuses": [
                {"name": "a", "ready": True, "restartCount": 2},
                {
                    "name": "b",
                    "ready": False,
                    "restartCount": 1,
                    "state": {"waiting": {"reason": "CrashLoopBackOff"}},
                },
            ],
        },
    }
    table = to_table(builtin("", "pods"), [pod], now=NOW)
    assert table["kind"] == "Table" and table["apiVersion"] == "meta.k8s.io/v1"
    assert _names(table) == ["Name", "Ready", "Status", "Restarts", "Age"]
    assert table["columnDefinitions"][0]["format"] == "name"
    (row,) = table["rows"]
    assert row["cells"][:5] == ["p", "1/2", "CrashLoopBackOff", "3", "5m3s"]
    assert row["cells"][5:7] == ["10.0.0.1", "n1"]
    assert len(row["cells"]) == len(table["columnDefinitions"])
    assert row["object"] == {
        "kind": "PartialObjectMetadata",
        "apiVersion": "meta.k8s.io/v1",
        "metadata": pod["metadata"],
    }
    assert table["metadata"]["resourceVersion"] == "7"
    deleting = {**pod, "metadata": {**pod["metadata"], "deletionTimestamp": _ts(timedelta())}}
    assert (
        to_table(builtin("", "pods"), [deleting], now=NOW)["rows"][0]["cells"][2] == "Terminating"
    )


def test_deployment_table() -> None:
    deploy = {
        "metadata": {"name": "web", "creationTimestamp": _ts(timedelta(hours=3))},
        "spec": {
            "replicas": 3,
            "selector": {"matchLabels": {"app": "web"}},
            "template": {"spec": {"containers": [{"name": "c", "image": "nginx"}]}},
        },
        "status": {"readyReplicas": 2, "updatedReplicas": 3, "availableReplicas": 2},
    }
    table = to_table(
        builtin("apps", "deployments"),
        [deploy],
        now=NOW,
        resource_version="9",
        continue_token="tok",
    )
    assert _names(table) == ["Name", "Ready", "Up-to-date", "Available", "Age"]
    assert table["rows"][0]["cells"] == ["web", "2/3", 3, 2, "3h", "c", "nginx", "app=web"]
    assert table["metadata"] == {"resourceVersion": "9", "continue": "tok"}


@pytest.mark.parametrize(
    ("group", "plural", "columns"),
    [
        ("", "services", ["Name", "Type", "Cluster-IP", "External-IP", "Port(s)", "Age"]),
        ("", "configmaps", ["Name", "Data", "Age"]),
        ("", "secrets", ["Name", "Type", "Data", "Age"]),
        ("", "namespaces", ["Name", "Status", "Age"]),
        ("", "events", ["Last Seen", "Type", "Reason", "Object", "Message"]),
        ("apps", "statefulsets", ["Name", "Ready", "Age"]),
        ("apps", "replicasets", ["Name", "Desired", "Current", "Ready", "Age"]),
        ("batch", "jobs", ["Name", "Status", "Completions", "Duration", "Age"]),
        ("coordination.k8s.io", "leases", ["Name", "Holder", "Age"]),
        ("apiextensions.k8s.io", "customresourcedefinitions", ["Name", "Created At"]),
    ],
)
def test_builtin_columns(group: str, plural: str, columns: list[str]) -> None:
    kind = builtin(group, plural)
    table = to_table(kind, [{"metadata": {"name": "x"}}], now=NOW)
    assert _names(table) == columns
    assert len(table["rows"][0]["cells"]) == len(table["columnDefinitions"])


def test_cells_for_simple_kinds() -> None:
    created = _ts(timedelta(days=3))
    cm = {"metadata": {"name": "c", "creationTimestamp": created}, "data": {"a": "1", "b": "2"}}
    assert to_table(builtin("", "configmaps"), [cm], now=NOW)["rows"][0]["cells"] == ["c", 2, "3d"]
    svc = {
        "metadata": {"name": "s"},
        "spec": {
            "clusterIP": "10.96.0.1",
            "ports": [{"port": 80, "protocol": "TCP"}, {"port": 443, "nodePort": 30443}],
        },
    }
    cells = to_table(builtin("", "services"), [svc], now=NOW)["rows"][0]["cells"]
    assert cells[:6] == [
        "s",
        "ClusterIP",
        "10.96.0.1",
        "<none>",
        "80/TCP,443:30443/TCP",
        "<unknown>",
    ]
    event = {
        "metadata": {"name": "e"},
        "type": "Normal",
        "reason": "Created",
        "message": "hi",
        "involvedObject": {"kind": "Widget", "name": "w"},
        "lastTimestamp": created,
        "count": 4,
    }
    cells = to_table(builtin("", "events"), [event], now=NOW)["rows"][0]["cells"]
    assert cells[:4] == ["3d", "Normal", "Created", "widget/w"]
    assert cells[6] == "hi" and cells[8] == 4
    job = {
        "metadata": {"name": "j"},
        "spec": {"completions": 1},
        "status": {
            "succeeded": 1,
            "startTime": _ts(timedelta(seconds=30)),
            "completionTime": _ts(timedelta(seconds=10)),
            "conditions": [{"type": "Complete", "status": "True"}],
        },
    }
    cells = to_table(builtin("batch", "jobs"), [job], now=NOW)["rows"][0]["cells"]
    assert cells[:4] == ["j", "Complete", "1/1", "20s"]


def _crd_kind(columns: list[dict[str, Any]] | None) -> ResourceKind:
    version: dict[str, Any] = {
        "name": "v1",
        "served": True,
        "storage": True,
        "schema": {"openAPIV3Schema": {"type": "object"}},
    }
    if columns is not None:
        version["additionalPrinterColumns"] = columns
    (kind,) = kinds_from_crd(
        {
            "spec": {
                "group": "g.io",
                "scope": "Namespaced",
                "names": {"plural": "ws", "kind": "W"},
                "versions": [version],
            }
        }
    )
    return kind


def test_crd_additional_printer_columns() -> None:
    kind = _crd_kind(
        [
            {"name": "Size", "type": "integer", "jsonPath": ".spec.size"},
            {
                "name": "Ready",
                "type": "string",
                "jsonPath": '.status.conditions[?(@.type=="Ready")].status',
            },
            {"name": "Ratio", "type": "number", "jsonPath": ".spec.ratio", "priority": 1},
            {"name": "On", "type": "boolean", "jsonPath": ".spec.on"},
            {"name": "Started", "type": "date", "jsonPath": ".status.started"},
            {"name": "First", "type": "string", "jsonPath": ".spec.items[0].name"},
            {"name": "Obj", "type": "string", "jsonPath": ".spec.obj"},
            {"name": "Missing", "type": "string", "jsonPath": ".spec.nothing"},
        ]
    )
    obj = {
        "metadata": {"name": "w1"},
        "spec": {"size": 3, "ratio": 2, "on": True, "items": [{"name": "a"}], "obj": {"k": 1}},
        "status": {
            "started": _ts(timedelta(minutes=90)),
            "conditions": [
                {"type": "Synced", "status": "False"},
                {"type": "Ready", "status": "True"},
            ],
        },
    }
    table = to_table(kind, [obj], now=NOW, include_object="Object")
    assert [c["name"] for c in table["columnDefinitions"]] == [
        "Name",
        "Size",
        "Ready",
        "Ratio",
        "On",
        "Started",
        "First",
        "Obj",
        "Missing",
    ]
    assert table["columnDefinitions"][3]["priority"] == 1
    assert table["columnDefinitions"][1]["description"] == (
        "Custom resource definition column (in JSONPath format): .spec.size"
    )
    assert table["rows"][0]["cells"] == ["w1", 3, "True", 2.0, True, "90m", "a", '{"k":1}', None]
    assert table["rows"][0]["object"] == obj


def test_crd_without_columns_gets_age() -> None:
    table = to_table(
        _crd_kind(None),
        [{"metadata": {"name": "w", "creationTimestamp": _ts(timedelta(seconds=42))}}],
        now=NOW,
        include_object="None",
    )
    assert [c["name"] for c in table["columnDefinitions"]] == ["Name", "Age"]
    assert table["columnDefinitions"][1]["type"] == "date"
    assert table["rows"][0] == {"cells": ["w", "42s"], "object": None}


def test_jsonpath_subset() -> None:
    doc = {"a": {"b": [{"n": 1, "t": "x"}, {"n": 2, "t": "y"}]}, "dotted": {"k.v": 5}}
    assert evaluate_jsonpath(doc, compile_jsonpath(".a.b[1].n")) == [2]
    assert evaluate_jsonpath(doc, compile_jsonpath("{.a.b[*].n}")) == [1, 2]
    assert evaluate_jsonpath(doc, compile_jsonpath(".a.b[-1].t")) == ["y"]
    assert evaluate_jsonpath(doc, compile_jsonpath(".a.b[?(@.t=='y')].n")) == [2]
    assert evaluate_jsonpath(doc, compile_jsonpath(".a.b[?(@.n!=1)].t")) == ["y"]
    assert evaluate_jsonpath(doc, compile_jsonpath(".a.b[?(@.n==2)].t")) == ["y"]
    assert evaluate_jsonpath(doc, compile_jsonpath(".dotted['k.v']")) == [5]
    assert evaluate_jsonpath(doc, compile_jsonpath(".a.zzz")) == []
    with pytest.raises(JSONPathError):
        compile_jsonpath(".a..b")


def test_generic_kind_and_watch_event() -> None:
    kind = ResourceKind(
        group="x.io", version="v1", kind="Thing", plural="things", singular="thing", namespaced=True
    )
    event = table_row_event(
        kind, "MODIFIED", {"metadata": {"name": "t", "resourceVersion": "3"}}, now=NOW
    )
    assert event["type"] == "MODIFIED"
    table = event["object"]
    assert [c["name"] for c in table["columnDefinitions"]] == ["Name", "Age"]
    assert table["rows"][0]["cells"] == ["t", "<unknown>"]
    assert table["metadata"]["resourceVersion"] == "3"
    quiet = table_row_event(kind, "ADDED", {"metadata": {"name": "t"}}, include_headers=False)
    assert quiet["object"]["columnDefinitions"] == []
