"""Waiting for a cluster or a CRD is one line per attempt; progress lines while work is pending."""

from __future__ import annotations

import itertools
import logging
import random
from pathlib import Path

import httpx
import trio
import trio.testing

from orkestra_trio.apiserver import open_apiserver
from orkestra_trio.kube import TransportError, open_kube_client
from orkestra_trio.runtime.backoff import JitteredBackoff
from orkestra_trio.runtime.box import BoxSetupError
from orkestra_trio.runtime.health import HealthState
from orkestra_trio.runtime.preflight import CLUSTER_BACKOFF, wait_for_cluster
from orkestra_trio.runtime.progress import BoxProgress, log_progress, progress_line
from orkestra_trio.runtime.runtime import open_runtime
from orkestra_trio.runtime.supervisor import Supervisor
from orkestra_trio.runtime.workqueue import WorkQueue

KATALOG = Path(__file__).parents[2] / "katalogs" / "website.yaml"


def refused() -> TransportError:
    return TransportError("get", "/version", httpx.ConnectError("refused"), reached_server=False)


async def test_wait_for_cluster_retries_with_a_capped_backoff_one_line_each(
    autojump_clock: trio.testing.MockClock, caplog
) -> None:
    failures = 12
    calls: list[float] = []

    async def probe() -> None:
        calls.append(trio.current_time())
        if len(calls) <= failures:
            raise refused()

    caplog.set_level(logging.WARNING, logger="orkestra_trio.runtime.preflight")
    attempts = await wait_for_cluster(
        probe, "http://x (from --kubeconfig kc)", hint="a hint", rng=random.Random(1)
    )
    assert attempts == failures + 1
    waits = [b - a for a, b in itertools.pairwise(calls)]
    # Capped: the last waits are at the cap (less its jitter), never beyond.
    assert CLUSTER_BACKOFF.cap * (1 - CLUSTER_BACKOFF.jitter) <= max(waits) <= CLUSTER_BACKOFF.cap
    assert waits[-1] > waits[0]  # it grew
    lines = [r.getMessage() for r in caplog.records]
    assert len(lines) == failures
    assert all(r.exc_info is None for r in caplog.records)
    assert lines[0].startswith("cluster http://x (from --kubeconfig kc) unreachable: refused;")
    assert "attempt 1," in lines[0] and lines[0].endswith("(a hint)")


async def test_an_answering_server_is_reachable_at_once() -> None:
    async with open_apiserver() as server, open_kube_client(server.url) as kube:
        assert await wait_for_cluster(kube.version, server.url) == 1


async def test_an_expected_crash_is_one_line_without_traceback(
    autojump_clock: trio.testing.MockClock, caplog
) -> None:
    runs = 0

    async def run_box() -> None:
        nonlocal runs
        runs += 1
        if runs == 1:
            raise BoxSetupError("the cluster does not serve Widget")
        if runs == 2:
            raise RuntimeError("a bug")

    supervisor = Supervisor(
        "w", run_box, backoff=JitteredBackoff(base=0.1, cap=1.0), expected=(BoxSetupError,)
    )
    caplog.set_level(logging.INFO, logger="orkestra_trio.runtime.supervisor")
    await supervisor.run()
    records = [(r.levelname, r.getMessage(), r.exc_info is not None) for r in caplog.records]
    assert records[0][0] == "WARNING" and records[0][2] is False
    assert records[0][1].startswith("box w cannot run: the cluster does not serve Widget; retry 1")
    # A bug keeps its traceback and its own restart line.
    assert records[1][:1] == ("ERROR",) and records[1][2] is True
    assert records[2][1].startswith("box w: restart 2 in")
    assert supervisor.restarts == 2


async def test_a_missing_crd_on_a_given_cluster_says_how_to_install_it(tmp_path, caplog) -> None:
    caplog.set_level(logging.WARNING, logger="orkestra_trio.runtime.supervisor")
    async with open_apiserver(workload_simulation=False) as server:
        kubeconfig = server.write_kubeconfig(tmp_path / "kubeconfig")
        async with open_runtime(KATALOG, kubeconfig=kubeconfig) as rt:
            assert rt.cluster_source == f"--kubeconfig {kubeconfig}, context orkestra-embedded"
            assert rt.describe()[0] == f"cluster: {server.url} from {rt.cluster_source}"
            box = rt.box("website")
            with trio.fail_after(10):
                await box.health.wait_until(lambda s: s.last_error is not None)
            snap = box.health.snapshot()
            assert snap.state is HealthState.NOT_STARTED
            # /health says what it waits for, not that it crashed.
            assert snap.last_error.startswith(f"box cannot run: the cluster {server.url} does not")
    lines = [r for r in caplog.records if "cannot run" in r.getMessage()]
    assert lines and all(r.exc_info is None for r in lines)
    message = lines[0].getMessage()
    assert f"the cluster {server.url} does not serve Website" in message
    assert "kubectl apply -f " + str(KATALOG.parent / "website" / "crd.yaml") in message
    assert "--install-crds" in message


def test_progress_line_names_every_box() -> None:
    line = progress_line([BoxProgress("db", 4, 0, 0), BoxProgress("app", 12, 3, 1)])
    assert line == (
        "progress: db 4 reconciled, 0 pending, 0 failing; app 12 reconciled, 3 pending, 1 failing"
    )


class FakeBox:
    def __init__(self, name: str) -> None:
        from orkestra_trio.runtime.metrics import BoxMetrics

        self.name = name
        self.queue: WorkQueue[str] = WorkQueue(name=name)
        self.metrics = BoxMetrics()


async def test_progress_is_logged_while_work_is_pending_then_once_more(
    autojump_clock: trio.testing.MockClock, caplog
) -> None:
    box = FakeBox("app")
    caplog.set_level(logging.INFO, logger="orkestra_trio.runtime.progress")
    async with trio.open_nursery() as nursery:
        nursery.start_soon(log_progress, {"app": box}, 10.0)
        await trio.sleep(25)  # idle: two ticks, no line
        assert caplog.records == []
        box.queue.add("default/a")
        box.queue.add("default/b")
        await trio.sleep(10)
        key = await box.queue.get()
        box.queue.done(key)
        box.queue.add_rate_limited(key)  # it failed: waiting for its retry
        box.metrics.reconcile_total["error"] += 1
        await trio.sleep(10)
        key = await box.queue.get()
        box.queue.done(key)
        box.queue.forget("default/a")
        box.queue.forget("default/b")
        box.metrics.reconcile_total["success"] += 2
        await trio.sleep(30)  # done: one last line, then quiet
        nursery.cancel_scope.cancel()
    assert [r.getMessage() for r in caplog.records] == [
        "progress: app 0 reconciled, 2 pending, 0 failing",
        "progress: app 0 reconciled, 1 pending, 1 failing",
        "progress: app 2 reconciled, 0 pending, 0 failing",
    ]


def test_the_cluster_source_names_each_origin(tmp_path) -> None:
    from orkestra_trio.kube import find_config
    from orkestra_trio.runtime.runtime import _stale_hint

    config_text = (
        "apiVersion: v1\nkind: Config\ncurrent-context: kind-dev\n"
        "clusters: [{name: c, cluster: {server: 'https://127.0.0.1:6443'}}]\n"
        "contexts: [{name: kind-dev, context: {cluster: c}}, "
        "{name: orkestra-embedded, context: {cluster: c}}]\n"
    )
    kubeconfig = tmp_path / "kc"
    kubeconfig.write_text(config_text)
    home = tmp_path / "home"
    (home / ".kube").mkdir(parents=True)
    (home / ".kube" / "config").write_text(config_text)
    sa = tmp_path / "sa"
    sa.mkdir()
    (sa / "token").write_text("t")
    pod = {"KUBERNETES_SERVICE_HOST": "10.0.0.1", "KUBERNETES_SERVICE_PORT": "443"}
    none = str(tmp_path / "nothing")

    def origin(*args, **kwargs) -> str:
        kwargs.setdefault("incluster_root", str(sa))
        config = find_config(*args, **kwargs)
        assert config is not None
        return config.describe_origin()

    assert (
        origin(str(kubeconfig), env={}, home=none) == f"--kubeconfig {kubeconfig}, context kind-dev"
    )
    assert origin(env={"KUBECONFIG": str(kubeconfig)}, home=none) == (
        f"$KUBECONFIG={kubeconfig}, context kind-dev"
    )
    assert origin(env={}, home=str(home)) == (
        f"~/.kube/config ({home / '.kube' / 'config'}), context kind-dev"
    )
    assert origin(env=pod, home=none) == "in-cluster service account"
    # A kubeconfig the runtime wrote for an embedded server that is gone: the retry line says so.
    stale = find_config(str(kubeconfig), context="orkestra-embedded")
    assert stale is not None and "unset KUBECONFIG or pass --embedded" in _stale_hint(stale)
    assert _stale_hint(find_config(str(kubeconfig))) == ""
