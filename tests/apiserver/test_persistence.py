"""SQLite persistence across a kill -9: objects, the revision counter and watch resumes survive."""

import json
import os
import selectors
import signal
import subprocess
import sys
import time

import httpx
import pytest
import yaml
from apiserver_helpers import open_crd

CM = "/api/v1/namespaces/default/configmaps"
GADGETS = "/apis/example.com/v1/namespaces/default/gadgets"
GADGET_CRD = open_crd("gadgets", "Gadget")


def start_server(tmp_path, state, *extra):
    kubeconfig = tmp_path / "kubeconfig"
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "orkestra_trio",
            "apiserver",
            "--listen",
            "127.0.0.1:0",
            "--state",
            str(state),
            "--kubeconfig-out",
            str(kubeconfig),
            "--no-workload-simulation",
            *extra,
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    url = None
    selector = selectors.DefaultSelector()
    selector.register(proc.stdout, selectors.EVENT_READ)
    deadline = time.monotonic() + 30
    try:
        while url is None:
            if time.monotonic() > deadline or proc.poll() is not None:
                raise AssertionError(
                    f"server did not start: {proc.stderr.read() if proc.poll() is not None else ''}"
                )
            if selector.select(timeout=0.5):
                line = proc.stdout.readline()
                if line.startswith("serving the Kubernetes API on "):
                    url = line.split(" on ", 1)[1].strip()
    finally:
        selector.close()
    return proc, url, kubeconfig


def stop(proc, sig=signal.SIGTERM):
    if proc.poll() is None:
        proc.send_signal(sig)
    try:
        proc.wait(timeout=10)
    finally:
        proc.stdout.close()
        proc.stderr.close()
    return proc.returncode


def watch_events(client, params, count):
    events = []
    with client.stream("GET", CM, params={"watch": "true", "timeoutSeconds": "3", **params}) as r:
        for line in r.iter_lines():
            if line.strip():
                events.append(json.loads(line))
            if len(events) >= count:
                break
    return events


@pytest.mark.slow
def test_kill_9_loses_nothing_and_watchers_resume(tmp_path):
    state = tmp_path / "state.db"
    proc, url, kubeconfig = start_server(tmp_path, state)
    try:
        config = yaml.safe_load(kubeconfig.read_text())
        assert config["clusters"][0]["cluster"]["server"] == url
        assert config["contexts"][0]["context"]["namespace"] == "default"
        with httpx.Client(base_url=url, timeout=10) as client:
            client.post(CM, json={"metadata": {"name": "a"}, "data": {"v": "1"}})
            client.post(CM, json={"metadata": {"name": "b"}})
            resume_from = client.get(CM).json()["metadata"]["resourceVersion"]
            client.patch(
                f"{CM}/a",
                json={"data": {"v": "2"}},
                headers={"content-type": "application/merge-patch+json"},
            )
            client.delete(f"{CM}/b")
            client.post(CM, json={"metadata": {"name": "c"}})
            before = client.get(CM).json()
            crd = client.post(
                "/apis/apiextensions.k8s.io/v1/customresourcedefinitions", json=GADGET_CRD
            )
            assert crd.status_code == 201, crd.text
            gadget = client.post(GADGETS, json={"metadata": {"name": "g"}, "spec": {"x": 1}}).json()
    finally:
        stop(proc, signal.SIGKILL)

    proc, url, _ = start_server(tmp_path, state)
    try:
        with httpx.Client(base_url=url, timeout=10) as client:
            after = client.get(CM, params={"resourceVersion": ""}).json()
            assert after["items"] == before["items"]
            assert client.get(f"{GADGETS}/g").json() == gadget  # CRD kinds come back too
            events = watch_events(client, {"resourceVersion": resume_from}, 3)
            assert [(e["type"], e["object"]["metadata"]["name"]) for e in events] == [
                ("MODIFIED", "a"),
                ("DELETED", "b"),
                ("ADDED", "c"),
            ]
            created = client.post(CM, json={"metadata": {"name": "d"}}).json()
            assert (
                int(created["metadata"]["resourceVersion"])
                == int(gadget["metadata"]["resourceVersion"]) + 1
            )
    finally:
        assert stop(proc) == 0


@pytest.mark.slow
def test_cli_sigint_exits_zero_and_rejects_bad_listen(tmp_path):
    proc, url, _ = start_server(tmp_path, tmp_path / "s.db")
    with httpx.Client(base_url=url, timeout=10) as client:
        assert client.get("/healthz").text == "ok"
    busy = subprocess.run(
        [sys.executable, "-m", "orkestra_trio", "apiserver", "--listen", url.split("//")[1]],
        capture_output=True,
        text=True,
        timeout=60,
        cwd=tmp_path,
    )
    assert busy.returncode == 1
    assert "cannot serve on" in busy.stderr and "Traceback" not in busy.stderr
    assert stop(proc, signal.SIGINT) == 0
    bad = subprocess.run(
        [sys.executable, "-m", "orkestra_trio", "apiserver", "--listen", "nonsense"],
        capture_output=True,
        text=True,
        timeout=60,
        env={**os.environ},
    )
    assert bad.returncode == 1
    assert "--listen" in bad.stderr and "Traceback" not in bad.stderr


def _leave_uncollected_state(state):
    """Write the state a kill -9 between a delete and its collection leaves behind.

    A store with persistence but no garbage collector commits what the server
    commits before its collector runs: an owner deleted (its dependent still
    there), a foreground deletion started (finalizer set, dependent untouched).
    """
    from orkestra_trio.apiserver.persistence import SqlitePersistence
    from orkestra_trio.apiserver.store import Store

    store = Store()
    persistence = SqlitePersistence(state, history_size=100)
    store.persistence = persistence
    try:
        store.bootstrap()
        cm = store.kind_for(("", "configmaps"))

        def create(name, owner=None):
            meta = {"name": name}
            if owner is not None:
                meta["ownerReferences"] = [
                    {
                        "apiVersion": "v1",
                        "kind": "ConfigMap",
                        "name": owner.obj["metadata"]["name"],
                        "uid": owner.obj["metadata"]["uid"],
                    }
                ]
            return store.create(cm, "default", {"metadata": meta})

        gone_owner = create("gone-owner")
        create("orphaned", gone_owner)
        fg_owner = create("fg-owner")
        create("fg-dependent", fg_owner)
        kept_owner = create("kept-owner")
        create("kept-dependent", kept_owner)
        store.delete(cm, "default", "gone-owner")
        store.delete(cm, "default", "fg-owner", propagation="Foreground")
        assert store.find(("", "configmaps"), "default", "orphaned") is not None
        assert (
            "foregroundDeletion"
            in store.find(("", "configmaps"), "default", "fg-owner").obj["metadata"]["finalizers"]
        )
    finally:
        persistence.close()


def wait_names(client, expected, timeout=10.0):
    deadline = time.monotonic() + timeout
    while True:
        names = sorted(i["metadata"]["name"] for i in client.get(CM).json()["items"])
        if names == expected or time.monotonic() > deadline:
            return names
        time.sleep(0.05)


@pytest.mark.slow
def test_restart_collects_what_a_kill_left_uncollected(tmp_path):
    state = tmp_path / "state.db"
    _leave_uncollected_state(state)
    proc, url, _ = start_server(tmp_path, state)
    try:
        with httpx.Client(base_url=url, timeout=10) as client:
            # The orphan goes; the foreground deletion finishes (dependent, then owner).
            assert wait_names(client, ["kept-dependent", "kept-owner"]) == [
                "kept-dependent",
                "kept-owner",
            ]
    finally:
        stop(proc, signal.SIGKILL)
    # The collection was durable: a second (killed and restarted) run still agrees.
    proc, url, _ = start_server(tmp_path, state)
    try:
        with httpx.Client(base_url=url, timeout=10) as client:
            names = sorted(i["metadata"]["name"] for i in client.get(CM).json()["items"])
            assert names == ["kept-dependent", "kept-owner"]
    finally:
        assert stop(proc) == 0
