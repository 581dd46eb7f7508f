"""orkestra_trio against kopf on the same job, and against the floor (issue 13).

Three contenders, each on a fresh embedded API server running in its own
process (``--role server``), each operator in its own process too, so that a
process's CPU and memory are the operator's alone:

* ``ours``: ``python -m orkestra_trio katalogs/website.yaml --kubeconfig ...``;
* ``kopf``: ``kopf run bench/kopf_website.py``, a hand-written kopf operator
  doing what the Katalog does (same children, status fields, one Event);
* ``floor``: a bare client (``--role floor``) that makes only the writes an
  operator cannot avoid: per CR a Deployment, a Service and one status write
  once the Deployment is available. No cache, no queue, no templates.

This process creates the CRD, one warm-up CR (waits until it is Ready), then
N Website CRs at once (64 in flight), and watches them until every one is Ready
(``Ready=True`` and phase ``Running``). It prints, per contender: time to all
Ready, operator CPU (user+system, /proc) until then, API requests per CR (as the
server counted them, our own creates taken out), peak RSS, writes during a
quiet period after, and the ratios kopf/ours and ours/floor. Runs are paired:
every run starts all three contenders on fresh servers, in rotating order;
medians over ``--runs``.

Goals (issue 13): >= 3x kopf in wall time and in CPU, <= 1.3x the floor,
<= 4 requests per CR to Ready, <= 4 ms operator CPU per CR, <= 10 KB RSS per
cached object (the RSS growth from before the creates until all Ready, over
the 3 objects each CR brings: CR, Deployment, Service).

Needs the ``bench`` extra (``pip install -e '.[bench]'``: kopf).
Run: ``python bench/vs_kopf.py [--crs 1000] [--runs 3] [--only ours,kopf]``.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path
from typing import Any

import trio
import yaml

from orkestra_trio.kube import (
    AlreadyExists,
    KubeClient,
    NotFound,
    Synced,
    load_kubeconfig,
    open_kube_client,
)

ROOT = Path(__file__).resolve().parents[1]
KATALOG = ROOT / "katalogs" / "website.yaml"
CRD = ROOT / "katalogs" / "website" / "crd.yaml"
KOPF_OPERATOR = ROOT / "bench" / "kopf_website.py"
WEBSITE = ("demo.example.com/v1", "Website")
DEPLOYMENT = ("apps/v1", "Deployment")
CONTENDERS = ("ours", "kopf", "floor")
GOAL_VS_KOPF = 3.0
GOAL_VS_FLOOR = 1.3
GOAL_REQUESTS = 4.0
GOAL_CPU_MS = 4.0
CLK_TCK = os.sysconf("SC_CLK_TCK")
# Under the profiler a plan costs several times its real CPU: past planner.HEAVY_PLAN the box
# would move its plans to a process of its own, out of the profile. Keep them in the loop.
PROFILED = """
import cProfile, runpy, time
import orkestra_trio.runtime.planner as planner
planner.HEAVY_PLAN = float("inf")
profiler = cProfile.Profile(time.process_time)
profiler.enable()
try:
    runpy.run_module("orkestra_trio", run_name="__main__")
finally:
    profiler.disable()
    profiler.dump_stats({out!r})
"""


def website(name: str) -> dict[str, Any]:
    return {
        "apiVersion": "demo.example.com/v1",
        "kind": "Website",
        "metadata": {"name": name, "namespace": "default"},
        "spec": {"replicas": 1, "image": "nginx:1.27"},
    }


def is_ready(obj: dict[str, Any]) -> bool:
    status = obj.get("status") or {}
    if status.get("phase") != "Running":
        return False
    return any(
        c.get("type") == "Ready" and c.get("status") == "True"
        for c in status.get("conditions") or ()
    )


def proc_cpu(pid: int) -> float:
    """User + system CPU seconds of a process (its threads included)."""
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rpartition(")")[2].split()
    return (int(fields[11]) + int(fields[12])) / CLK_TCK


def proc_peak_rss_mib(pid: int, field: str = "VmHWM") -> float:
    """Peak RSS (``VmRSS`` for the current one) of a process, MiB."""
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith(f"{field}:"):
                return int(line.split()[1]) / 1024
    return 0.0


# ------------------------------------------------------------ --role server


async def serve(kubeconfig: Path) -> None:
    """The embedded API server; each line on stdin is answered with its request counts."""
    from orkestra_trio.apiserver import open_apiserver

    async with open_apiserver() as server:
        server.write_kubeconfig(kubeconfig)
        print("ready", flush=True)
        stdin = trio.lowlevel.FdStream(os.dup(0))
        buffered = b""
        while True:
            data = await stdin.receive_some()
            if not data:
                return
            buffered += data
            while b"\n" in buffered:
                _, _, buffered = buffered.partition(b"\n")
                counts = [[v, r, c] for (v, r), c in server.request_count.items()]
                print(json.dumps({"counts": counts, "cpu": time.process_time()}), flush=True)


class ServerProcess:
    def __init__(self, workdir: Path) -> None:
        self.kubeconfig = workdir / "kubeconfig"
        with (workdir / "server.log").open("w") as log:
            self.proc = subprocess.Popen(
                [
                    sys.executable,
                    __file__,
                    "--role",
                    "server",
                    "--kubeconfig",
                    str(self.kubeconfig),
                ],
                stdin=subprocess.PIPE,
                stdout=subprocess.PIPE,
                stderr=log,
                text=True,
            )
        assert self.proc.stdout is not None
        line = self.proc.stdout.readline()
        if line.strip() != "ready":
            raise RuntimeError(f"the API server did not start (see {workdir}/server.log)")

    def snapshot(self) -> tuple[Counter[tuple[str, str]], float]:
        """(requests by (verb, resource), server CPU seconds)."""
        assert self.proc.stdin is not None and self.proc.stdout is not None
        self.proc.stdin.write("counts\n")
        self.proc.stdin.flush()
        answer = json.loads(self.proc.stdout.readline())
        return Counter({(v, r): c for v, r, c in answer["counts"]}), answer["cpu"]

    def stop(self) -> None:
        stop(self.proc)
        for pipe in (self.proc.stdin, self.proc.stdout):
            if pipe is not None:
                pipe.close()


def stop(proc: subprocess.Popen[Any]) -> None:
    if proc.poll() is None:
        proc.terminate()
        try:
            proc.wait(15)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


# ------------------------------------------------------------- --role floor


async def floor(kubeconfig: Path) -> None:
    """The bare client: per new CR a Deployment, a Service, one status write when available."""
    from kopf_website import _status, deployment, service

    async with open_kube_client(load_kubeconfig(str(kubeconfig))) as kube:
        available: dict[tuple[str, str], trio.Event] = {}

        def slot(namespace: str, name: str) -> trio.Event:
            return available.setdefault((namespace, name), trio.Event())

        async def watch_deployments() -> None:
            async with kube.list_watch(DEPLOYMENT) as events:
                async for event in events:
                    objs = event.items if isinstance(event, Synced) else [event.object]
                    for obj in objs:
                        if int((obj.get("status") or {}).get("readyReplicas") or 0) > 0:
                            meta = obj["metadata"]
                            slot(meta["namespace"], meta["name"]).set()

        # As many writes in flight as the harness's creates: a bare client still
        # bounds its concurrency (a thousand at once overflow the server's backlog).
        limiter = trio.CapacityLimiter(64)

        async def handle(cr: dict[str, Any]) -> None:
            meta = cr["metadata"]
            async with limiter:
                with contextlib.suppress(AlreadyExists):
                    await kube.create(deployment(cr))
                with contextlib.suppress(AlreadyExists):
                    await kube.create(service(cr))
            await slot(meta["namespace"], meta["name"]).wait()
            async with limiter:
                with contextlib.suppress(NotFound):
                    await kube.patch_status(
                        await kube.resource(WEBSITE),
                        meta["name"],
                        {"status": _status(cr, 1)},
                        namespace=meta["namespace"],
                    )

        async with trio.open_nursery() as nursery:
            nursery.start_soon(watch_deployments)
            async with kube.list_watch(WEBSITE) as events:
                async for event in events:
                    if isinstance(event, Synced):
                        for obj in event.items:
                            if not is_ready(obj):
                                nursery.start_soon(handle, obj)
                    elif event.type == "ADDED":
                        nursery.start_soon(handle, event.object)


# ---------------------------------------------------------------- harness


def operator_command(contender: str, kubeconfig: Path, profile: Path | None) -> list[str]:
    if contender == "ours":
        launch = ["-m", "orkestra_trio"]
        if profile is not None:  # CPU time, not wall time: the machine is shared
            launch = ["-c", PROFILED.format(out=str(profile))]
        return [
            sys.executable,
            *launch,
            str(KATALOG),
            "--kubeconfig",
            str(kubeconfig),
            "--listen",
            "127.0.0.1:0",
        ]
    if contender == "kopf":
        return [
            sys.executable,
            "-m",
            "kopf",
            "run",
            "--standalone",
            "--all-namespaces",
            str(KOPF_OPERATOR),
        ]
    return [sys.executable, __file__, "--role", "floor", "--kubeconfig", str(kubeconfig)]


class ReadyWatch:
    """Watches the Websites from this process: which are Ready, and when the last became so."""

    def __init__(self) -> None:
        self.ready: set[str] = set()
        self.changed = trio.Event()

    async def run(self, kube: KubeClient, *, task_status: trio.TaskStatus[None]) -> None:
        started = False
        async with kube.list_watch(WEBSITE) as events:
            async for event in events:
                objs = event.items if isinstance(event, Synced) else [event.object]
                for obj in objs:
                    if is_ready(obj):
                        self.ready.add(obj["metadata"]["name"])
                self.changed.set()
                self.changed = trio.Event()
                if not started:
                    started = True
                    task_status.started()

    async def wait_for(
        self, names: set[str], timeout: float, operator: subprocess.Popen[Any] | None = None
    ) -> None:
        with trio.fail_after(timeout):
            while not names <= self.ready:
                if operator is not None and operator.poll() is not None:
                    raise RuntimeError(f"the operator exited (code {operator.returncode})")
                with trio.move_on_after(1.0):
                    await self.changed.wait()


async def install_crd(kube: KubeClient) -> None:
    crd = yaml.safe_load(CRD.read_text())
    await kube.create(crd)
    with trio.fail_after(30):
        while True:
            try:
                await kube.resource(WEBSITE)
                return
            except NotFound:
                await trio.sleep(0.05)


async def one_run(
    contender: str,
    n: int,
    concurrency: int,
    quiet_seconds: float,
    timeout: float,
    profile: Path | None = None,
    keep_logs: Path | None = None,
) -> dict[str, Any]:
    with tempfile.TemporaryDirectory(prefix="vs-kopf-") as tmp:
        workdir = Path(tmp)
        server = ServerProcess(workdir)
        operator: subprocess.Popen[Any] | None = None
        try:
            config = load_kubeconfig(str(server.kubeconfig))
            async with open_kube_client(config) as kube, trio.open_nursery() as nursery:
                await install_crd(kube)
                ready = ReadyWatch()
                await nursery.start(ready.run, kube)
                env = {**os.environ, "KUBECONFIG": str(server.kubeconfig)}
                env["PYTHONPATH"] = os.pathsep.join(
                    [str(ROOT / "bench"), env.get("PYTHONPATH", "")]
                )
                with (workdir / "operator.log").open("w") as log:
                    operator = subprocess.Popen(
                        operator_command(contender, server.kubeconfig, profile),
                        env=env,
                        stdout=log,
                        stderr=subprocess.STDOUT,
                        cwd=tmp,
                    )
                await kube.create(website("warm-up"))
                try:
                    await ready.wait_for({"warm-up"}, 120)
                except trio.TooSlowError:
                    tail = (workdir / "operator.log").read_text()[-2000:]
                    raise RuntimeError(
                        f"{contender}: the warm-up CR never got Ready\n{tail}"
                    ) from None
                await trio.sleep(1.0)  # the warm-up's last events settle
                counts_before, server_cpu_before = server.snapshot()
                cpu_before = proc_cpu(operator.pid)
                rss_before = proc_peak_rss_mib(operator.pid, "VmRSS")
                names = {f"bench-{i:05d}" for i in range(n)}
                limiter = trio.CapacityLimiter(concurrency)
                start = time.perf_counter()

                async def create(name: str) -> None:
                    async with limiter:
                        await kube.create(website(name))

                async with trio.open_nursery() as creators:
                    for name in sorted(names):
                        creators.start_soon(create, name)
                await ready.wait_for(names, timeout, operator)
                elapsed = time.perf_counter() - start
                cpu = proc_cpu(operator.pid) - cpu_before
                rss_growth = proc_peak_rss_mib(operator.pid, "VmRSS") - rss_before
                counts_ready, server_cpu = server.snapshot()
                await trio.sleep(quiet_seconds)
                counts_quiet, _ = server.snapshot()
                rss = proc_peak_rss_mib(operator.pid)
                nursery.cancel_scope.cancel()
        finally:
            if operator is not None:
                stop(operator)
            server.stop()
            if keep_logs is not None:
                keep_logs.mkdir(parents=True, exist_ok=True)
                for log_name in ("operator.log", "server.log"):
                    with contextlib.suppress(OSError):
                        (keep_logs / f"{contender}-{log_name}").write_bytes(
                            (workdir / log_name).read_bytes()
                        )
    requests = counts_ready.copy()
    requests.subtract(counts_before)
    requests[("create", "websites")] -= n  # this process's own creates
    by_kind = {f"{v} {r}": c / n for (v, r), c in sorted(requests.items()) if c}
    quiet = counts_quiet.copy()
    quiet.subtract(counts_ready)
    quiet_writes = sum(
        c for (v, _), c in quiet.items() if v not in ("get", "list", "watch") and c > 0
    )
    return {
        "ready_s": elapsed,
        "cpu_s": cpu,
        "cpu_ms_per_cr": cpu * 1000 / n,
        "requests_per_cr": sum(requests.values()) / n,
        # kopf posts one Event per CR: a fair comparison posts ours too (issue 13).
        "events_per_cr": (requests[("create", "events")] + requests[("patch", "events")]) / n,
        "by_kind": by_kind,
        "rss_mib": rss,
        # Each CR brings three cached objects (the CR, its Deployment, its Service);
        # the growth also holds what is still in flight (queues, buffers): an upper bound.
        "rss_kib_per_object": rss_growth * 1024 / (3 * n),
        "server_cpu_s": server_cpu - server_cpu_before,
        "quiet_writes_per_min": quiet_writes * 60 / quiet_seconds,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--crs", type=int, default=1000)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--concurrency", type=int, default=64, help="creates in flight")
    parser.add_argument("--only", default=",".join(CONTENDERS), help="e.g. ours,floor")
    parser.add_argument("--quiet-seconds", type=float, default=5.0)
    parser.add_argument("--timeout", type=float, default=600.0)
    parser.add_argument("--role", choices=("harness", "server", "floor"), default="harness")
    parser.add_argument("--kubeconfig", type=Path)
    parser.add_argument(
        "--profile", type=Path, metavar="FILE", help="cProfile our operator into FILE (last run)"
    )
    parser.add_argument("--keep-logs", type=Path, metavar="DIR", help="copy the logs into DIR")
    args = parser.parse_args()
    if args.role == "server":
        trio.run(serve, args.kubeconfig)
        return
    if args.role == "floor":
        with contextlib.suppress(KeyboardInterrupt):
            trio.run(floor, args.kubeconfig)
        return
    contenders = [c.strip() for c in args.only.split(",") if c.strip()]
    if unknown := set(contenders) - set(CONTENDERS):
        parser.error(f"--only: unknown contender(s) {', '.join(sorted(unknown))}")
    if "kopf" in contenders:
        try:
            import kopf  # noqa: F401
        except ImportError:
            parser.error("kopf is not installed: pip install -e '.[bench]'")
    results: dict[str, list[dict[str, Any]]] = {c: [] for c in contenders}
    for run in range(args.runs):
        order = contenders[run % len(contenders) :] + contenders[: run % len(contenders)]
        for contender in order:
            result = trio.run(
                one_run,
                contender,
                args.crs,
                args.concurrency,
                args.quiet_seconds,
                args.timeout,
                args.profile.resolve() if args.profile and contender == "ours" else None,
                args.keep_logs,
            )
            results[contender].append(result)
            print(
                f"run {run + 1} {contender:5s}: Ready {result['ready_s']:6.2f} s, "
                f"CPU {result['cpu_s']:6.2f} s, {result['requests_per_cr']:5.2f} requests/CR "
                f"({result['events_per_cr']:.2f} Events), "
                f"RSS {result['rss_mib']:5.0f} MiB, server CPU {result['server_cpu_s']:5.2f} s",
                flush=True,
            )
    report(results, args.crs, args.runs)


def report(results: dict[str, list[dict[str, Any]]], n: int, runs: int) -> None:
    def med(contender: str, key: str) -> float:
        return statistics.median(r[key] for r in results[contender])

    print(f"\n{n} Website CRs, each contender on a fresh API server, median of {runs} run(s)")
    rows = [
        ("all Ready (s)", "ready_s", "{:9.2f}"),
        ("operator CPU until Ready (s)", "cpu_s", "{:9.2f}"),
        ("operator CPU per CR (ms)", "cpu_ms_per_cr", "{:9.2f}"),
        ("API requests per CR to Ready", "requests_per_cr", "{:9.2f}"),
        ("  of which Events", "events_per_cr", "{:9.2f}"),
        ("writes/min when quiet", "quiet_writes_per_min", "{:9.1f}"),
        ("peak RSS (MiB)", "rss_mib", "{:9.0f}"),
        ("RSS growth per cached obj (KiB)", "rss_kib_per_object", "{:9.1f}"),
        ("API server CPU (s)", "server_cpu_s", "{:9.2f}"),
    ]
    names = list(results)
    print(f"  {'':30s}" + "".join(f"{c:>10s}" for c in names))
    for label, key, fmt in rows:
        print(f"  {label:30s}" + "".join(" " + fmt.format(med(c, key)) for c in names))
    for contender in names:
        print(f"  requests per CR by kind, {contender} (last run):")
        for kind, value in results[contender][-1]["by_kind"].items():
            print(f"      {kind:28s} {value:6.2f}")
    if "ours" in results and "kopf" in results:
        for label, key in (("wall time", "ready_s"), ("CPU", "cpu_s")):
            ratio = statistics.median(
                k[key] / o[key] for k, o in zip(results["kopf"], results["ours"], strict=True)
            )
            verdict = "OK" if ratio >= GOAL_VS_KOPF else "BELOW"
            print(f"  kopf/ours {label:10s} {ratio:5.2f}x   (goal >= {GOAL_VS_KOPF:g}x) {verdict}")
        ratio = statistics.median(
            k["rss_mib"] / o["rss_mib"]
            for k, o in zip(results["kopf"], results["ours"], strict=True)
        )
        print(f"  kopf/ours peak RSS   {ratio:5.2f}x")
    if "ours" in results and "floor" in results:
        ratio = statistics.median(
            o["ready_s"] / f["ready_s"]
            for o, f in zip(results["ours"], results["floor"], strict=True)
        )
        verdict = "OK" if ratio <= GOAL_VS_FLOOR else "ABOVE"
        print(f"  ours/floor wall time {ratio:5.2f}x   (goal <= {GOAL_VS_FLOOR:g}x) {verdict}")
    if "ours" in results:
        requests = med("ours", "requests_per_cr")
        cpu_ms = med("ours", "cpu_ms_per_cr")
        print(
            f"  ours: {requests:.2f} requests per CR (goal <= {GOAL_REQUESTS:g}), "
            f"{cpu_ms:.2f} ms CPU per CR (goal <= {GOAL_CPU_MS:g})"
        )


if __name__ == "__main__":
    main()
