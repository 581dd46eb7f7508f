"""A bounded chaos soak on loopback: the runtime and the API server as separate processes.

What runs (all on 127.0.0.1, in a temporary folder, for ``--minutes``):

* ``python -m orkestra_trio apiserver --state FILE`` (SQLite, so a kill -9
  loses nothing acknowledged) on a port chosen once and kept across restarts;
* a chaos proxy in this process between the runtime and the API server: it
  injects bursts of 429 (with Retry-After), 500, latency, and stalled watch
  streams (held open, nothing sent);
* ``python -m orkestra_trio run katalogs/website.yaml`` against the proxy
  (``--watch-stall-timeout`` twice the server's bookmark interval);
* a driver writing straight to the API server: a stream of creates, updates
  and deletes of Website CRs, each recorded only once the server acknowledged
  it (a write whose answer was lost is "uncertain");
* chaos: every few seconds one of kill -9 of the API server (restarted on the
  same port and state), kill -9 of the runtime (restarted), a 429 burst, a
  500 burst, latency, stalled watches.

Then the chaos stops, every process runs, and the soak waits (bounded) for
convergence and checks:

* no acknowledged write lost: every CR the driver last created or updated
  exists with that spec; every CR it deleted is gone;
* no orphan or duplicate child: every Deployment/Service is owned by the live
  CR of its name, every live CR has exactly its one Deployment and Service;
* no stuck finalizer: no CR is left with a deletionTimestamp;
* every CR converged: Ready=True, observedGeneration == generation, its
  Deployment's replicas and image those of its spec.

It prints the figures (operations, faults survived, restarts, time to
converge, the runtime's watch stalls) and exits 1 when a check fails.

Run: ``python bench/soak.py --minutes 10`` (``--minutes 1`` for a quick look).
"""

from __future__ import annotations

import argparse
import json
import os
import random
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path
from typing import Any

import httpx
import trio
import yaml
from hypercorn.config import Config
from hypercorn.trio import serve

REPO = Path(__file__).parents[1]
KATALOG = REPO / "katalogs" / "website.yaml"
GROUP_PATH = "/apis/demo.example.com/v1/namespaces/default/websites"
BOOKMARK_INTERVAL = 1.0
STALL_TIMEOUT = 2 * BOOKMARK_INTERVAL + 1
NAMES = [f"site-{n}" for n in range(40)]
IMAGES = ["nginx:1.25", "nginx:1.26", "nginx:1.27"]
FAULTS = ("kill-apiserver", "kill-runtime", "429", "500", "latency", "stall")
HOP_HEADERS = {"connection", "keep-alive", "transfer-encoding", "content-length", "host"}


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def status_body(code: int, reason: str, message: str) -> bytes:
    return json.dumps(
        {
            "kind": "Status",
            "apiVersion": "v1",
            "metadata": {},
            "status": "Failure",
            "message": message,
            "reason": reason,
            "code": code,
        }
    ).encode()


# --------------------------------------------------------------------- the proxy


class Chaos:
    """The fault the proxy injects right now (one at a time)."""

    def __init__(self) -> None:
        self.mode: str | None = None
        self._unstalled = trio.Event()
        self._unstalled.set()
        self.injected: Counter[str] = Counter()

    def set(self, mode: str | None) -> None:
        if mode == "stall":
            self._unstalled = trio.Event()
        elif self.mode == "stall":
            self._unstalled.set()
        self.mode = mode

    async def hold_if_stalled(self) -> None:
        if self.mode == "stall":
            self.injected["stalled chunk"] += 1
            await self._unstalled.wait()


class Proxy:
    """An HTTP proxy (ASGI) that forwards to the API server, with faults."""

    def __init__(self, upstream: str, chaos: Chaos) -> None:
        self.upstream = upstream
        self.chaos = chaos
        self.client = httpx.AsyncClient(base_url=upstream, timeout=None)

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] == "lifespan":
            while True:
                message = await receive()
                if message["type"] == "lifespan.startup":
                    await send({"type": "lifespan.startup.complete"})
                elif message["type"] == "lifespan.shutdown":
                    await send({"type": "lifespan.shutdown.complete"})
                    return
        if scope["type"] != "http":
            return
        body = b""
        while True:
            message = await receive()
            body += message.get("body", b"")
            if not message.get("more_body"):
                break
        query = scope.get("query_string", b"").decode()
        is_watch = "watch=true" in query or "watch=1" in query
        mode = self.chaos.mode
        if mode == "latency":
            await trio.sleep(random.uniform(0.05, 0.4))
        if mode in ("429", "500") and random.random() < 0.6:
            self.chaos.injected[mode] += 1
            code = int(mode)
            reason = "TooManyRequests" if code == 429 else "InternalError"
            headers = [(b"content-type", b"application/json")]
            if code == 429:
                headers.append((b"retry-after", b"1"))
            await send({"type": "http.response.start", "status": code, "headers": headers})
            await send({"type": "http.response.body", "body": status_body(code, reason, "soak")})
            return
        headers = [
            (k.decode("latin-1"), v.decode("latin-1"))
            for k, v in scope["headers"]
            if k.decode("latin-1").lower() not in HOP_HEADERS
        ]
        url = scope["path"] + (f"?{query}" if query else "")
        request = self.client.build_request(scope["method"], url, headers=headers, content=body)
        try:
            response = await self.client.send(request, stream=True)
        except httpx.HTTPError:
            await send(
                {
                    "type": "http.response.start",
                    "status": 503,
                    "headers": [(b"content-type", b"application/json")],
                }
            )
            await send(
                {
                    "type": "http.response.body",
                    "body": status_body(503, "ServiceUnavailable", "down"),
                }
            )
            return
        try:
            out_headers = [
                (k.encode("latin-1"), v.encode("latin-1"))
                for k, v in response.headers.items()
                if k.lower() not in HOP_HEADERS
            ]
            await send(
                {
                    "type": "http.response.start",
                    "status": response.status_code,
                    "headers": out_headers,
                }
            )
            try:
                async for chunk in response.aiter_raw():
                    if is_watch:
                        await self.chaos.hold_if_stalled()
                    await send({"type": "http.response.body", "body": chunk, "more_body": True})
            except httpx.HTTPError:
                pass  # the API server went away mid-stream: end the answer
            await send({"type": "http.response.body", "body": b"", "more_body": False})
        finally:
            await response.aclose()


# --------------------------------------------------------------------- processes


class Managed:
    """A child process that can be killed -9 and restarted with the same command."""

    def __init__(self, name: str, command: list[str], log: Path, ready_marker: str) -> None:
        self.name = name
        self.command = command
        self.log = log
        self.ready_marker = ready_marker
        self.process: trio.Process | None = None
        self.starts = 0
        self.first_line: str = ""

    async def start(self, timeout: float = 60.0) -> None:
        with self.log.open("ab") as log:
            self.process = await trio.lowlevel.open_process(
                self.command,
                stdout=subprocess.PIPE,
                stderr=log,
                cwd=self.log.parent,
                env={**os.environ, "PYTHONUNBUFFERED": "1"},
            )
        self.starts += 1
        assert self.process.stdout is not None
        buffer = b""
        with trio.fail_after(timeout):
            while self.ready_marker.encode() not in buffer:
                chunk = await self.process.stdout.receive_some(65536)
                if not chunk:
                    raise RuntimeError(f"{self.name} exited at start; see {self.log}")
                buffer += chunk
        self.first_line = buffer.decode(errors="replace")
        trio.lowlevel.spawn_system_task(self._drain, self.process)

    @staticmethod
    async def _drain(process: trio.Process) -> None:
        assert process.stdout is not None
        try:
            while await process.stdout.receive_some(65536):
                pass
        except (trio.ClosedResourceError, trio.BrokenResourceError):
            pass

    async def kill9(self) -> None:
        if self.process is not None and self.process.returncode is None:
            self.process.send_signal(signal.SIGKILL)
            await self.process.wait()

    async def stop(self) -> None:
        if self.process is not None and self.process.returncode is None:
            self.process.send_signal(signal.SIGTERM)
            with trio.move_on_after(15):
                await self.process.wait()
            await self.kill9()


# --------------------------------------------------------------------- the driver


class Driver:
    """Creates, updates and deletes Websites; remembers what the server acknowledged."""

    def __init__(self, api: str) -> None:
        self.http = httpx.AsyncClient(base_url=api, timeout=10)
        self.expected: dict[str, dict[str, Any] | None] = {}  # None: deleted
        self.uncertain: set[str] = set()
        self.acked: Counter[str] = Counter()
        self.refused: Counter[str] = Counter()

    def _spec(self) -> dict[str, Any]:
        return {"replicas": random.randint(1, 3), "image": random.choice(IMAGES), "port": 8080}

    async def step(self) -> None:
        name = random.choice(NAMES)
        live = self.expected.get(name) is not None
        try:
            if not live:
                await self._create(name)
            elif random.random() < 0.6:
                await self._update(name)
            else:
                await self._delete(name)
        except httpx.HTTPError:
            # The answer was lost (the server was killed): the write may or may not be in.
            self.uncertain.add(name)
            self.refused["no answer"] += 1

    async def _create(self, name: str) -> None:
        spec = self._spec()
        body = {
            "apiVersion": "demo.example.com/v1",
            "kind": "Website",
            "metadata": {"name": name, "namespace": "default"},
            "spec": spec,
        }
        response = await self.http.post(GROUP_PATH, json=body)
        if response.status_code == 201:
            self.expected[name] = spec
            self.uncertain.discard(name)
            self.acked["create"] += 1
        else:
            self.refused[f"create {response.status_code}"] += 1

    async def _update(self, name: str) -> None:
        current = await self.http.get(f"{GROUP_PATH}/{name}")
        if current.status_code != 200:
            self.refused[f"get {current.status_code}"] += 1
            return
        obj = current.json()
        if obj["metadata"].get("deletionTimestamp"):
            return
        spec = dict(obj.get("spec") or {})
        spec.update(self._spec())
        obj["spec"] = spec
        response = await self.http.put(f"{GROUP_PATH}/{name}", json=obj)
        if response.status_code == 200:
            self.expected[name] = {k: spec[k] for k in ("replicas", "image", "port")}
            self.uncertain.discard(name)
            self.acked["update"] += 1
        else:
            self.refused[f"update {response.status_code}"] += 1

    async def _delete(self, name: str) -> None:
        response = await self.http.delete(f"{GROUP_PATH}/{name}")
        if response.status_code in (200, 202):
            self.expected[name] = None
            self.uncertain.discard(name)
            self.acked["delete"] += 1
        else:
            self.refused[f"delete {response.status_code}"] += 1


# --------------------------------------------------------------------- checks


def _ready(cr: dict[str, Any]) -> bool:
    for condition in (cr.get("status") or {}).get("conditions") or ():
        if condition.get("type") == "Ready":
            return condition.get("status") == "True"
    return False


async def check(http: httpx.AsyncClient, driver: Driver) -> list[str]:
    """Every violated rule, as lines (empty: converged and correct)."""
    problems: list[str] = []
    crs = {o["metadata"]["name"]: o for o in (await http.get(GROUP_PATH)).json()["items"]}
    deployments = (await http.get("/apis/apps/v1/namespaces/default/deployments")).json()["items"]
    services = (await http.get("/api/v1/namespaces/default/services")).json()["items"]
    for name, spec in driver.expected.items():
        if name in driver.uncertain:
            continue
        cr = crs.get(name)
        if spec is None and cr is not None and not cr["metadata"].get("deletionTimestamp"):
            # Deleted and acknowledged, yet a live CR of that name: only fine if it
            # is a later create the driver did not see acknowledged (never the case here).
            problems.append(f"lost delete: {name} still exists")
        if spec is not None:
            if cr is None:
                problems.append(f"lost write: {name} is gone")
                continue
            have = {k: (cr.get("spec") or {}).get(k) for k in spec}
            if have != spec:
                problems.append(f"lost update: {name} has {have}, acknowledged {spec}")
    for name, cr in crs.items():
        meta = cr["metadata"]
        if meta.get("deletionTimestamp"):
            problems.append(f"stuck finalizer: {name} {meta.get('finalizers')}")
            continue
        if not _ready(cr) or (cr.get("status") or {}).get("observedGeneration") != meta.get(
            "generation"
        ):
            problems.append(f"not converged: {name} status {cr.get('status')}")
    for kind, children in (("Deployment", deployments), ("Service", services)):
        names = Counter(c["metadata"]["name"] for c in children if c["metadata"]["name"] in NAMES)
        for child in children:
            cname = child["metadata"]["name"]
            if cname not in NAMES:
                continue
            owners = [r.get("uid") for r in child["metadata"].get("ownerReferences") or ()]
            cr = crs.get(cname)
            if cr is None or cr["metadata"]["uid"] not in owners:
                problems.append(f"orphan {kind}: {cname} owned by {owners}")
        for name, cr in crs.items():
            if names[name] != 1 and not cr["metadata"].get("deletionTimestamp"):
                problems.append(f"{kind} count of {name}: {names[name]}")
    by_name = {d["metadata"]["name"]: d for d in deployments}
    for name, cr in crs.items():
        deployment = by_name.get(name)
        spec = cr.get("spec") or {}
        if deployment is None:
            continue
        image = deployment["spec"]["template"]["spec"]["containers"][0]["image"]
        if deployment["spec"].get("replicas") != spec.get("replicas") or image != spec.get("image"):
            problems.append(
                f"child drift: {name} deployment {deployment['spec'].get('replicas')}/{image}"
            )
    return problems


# --------------------------------------------------------------------- the soak


async def chaos_loop(
    until: float,
    chaos: Chaos,
    apiserver: Managed,
    runtime: Managed,
    survived: Counter[str],
    rng: random.Random,
) -> None:
    while trio.current_time() < until:
        await trio.sleep(rng.uniform(4, 10))
        if trio.current_time() >= until:
            return
        fault = rng.choice(FAULTS)
        if fault == "kill-apiserver":
            await apiserver.kill9()
            await trio.sleep(rng.uniform(0.5, 3))
            await apiserver.start()
        elif fault == "kill-runtime":
            await runtime.kill9()
            await trio.sleep(rng.uniform(0.5, 3))
            await runtime.start()
        else:
            chaos.set(fault)
            await trio.sleep(
                rng.uniform(STALL_TIMEOUT + 1, 12) if fault == "stall" else rng.uniform(3, 8)
            )
            chaos.set(None)
        survived[fault] += 1


async def main(minutes: float, seed: int, keep: bool) -> int:
    rng = random.Random(seed)
    random.seed(seed)
    folder = Path(tempfile.mkdtemp(prefix="orkestra-soak-"))
    api_port = free_port()
    api_url = f"http://127.0.0.1:{api_port}"
    py = sys.executable
    apiserver = Managed(
        "apiserver",
        [
            py,
            "-m",
            "orkestra_trio",
            "apiserver",
            "--listen",
            f"127.0.0.1:{api_port}",
            "--state",
            str(folder / "state.db"),
            "--kubeconfig-out",
            str(folder / "apiserver.kubeconfig"),
            "--bookmark-interval",
            str(BOOKMARK_INTERVAL),
        ],
        folder / "apiserver.log",
        "serving the Kubernetes API",
    )
    chaos = Chaos()
    proxy = Proxy(api_url, chaos)
    config = Config()
    config.bind = ["127.0.0.1:0"]
    config.accesslog = None
    config.loglevel = "ERROR"
    config.graceful_timeout = 1
    survived: Counter[str] = Counter()
    driver = Driver(api_url)
    stop_proxy = trio.Event()
    code = 0
    async with trio.open_nursery() as nursery:
        binds = await nursery.start(serve, proxy, config)  # type: ignore[arg-type]
        proxy_url = binds[0]
        (folder / "runtime.kubeconfig").write_text(
            yaml.safe_dump(
                {
                    "apiVersion": "v1",
                    "kind": "Config",
                    "clusters": [{"name": "soak", "cluster": {"server": proxy_url}}],
                    "users": [{"name": "soak", "user": {}}],
                    "contexts": [
                        {
                            "name": "soak",
                            "context": {"cluster": "soak", "user": "soak", "namespace": "default"},
                        }
                    ],
                    "current-context": "soak",
                }
            )
        )
        runtime = Managed(
            "runtime",
            [
                py,
                "-m",
                "orkestra_trio",
                "run",
                str(KATALOG),
                "--kubeconfig",
                str(folder / "runtime.kubeconfig"),
                "--install-crds",
                "--listen",
                "127.0.0.1:0",
                "--watch-stall-timeout",
                str(STALL_TIMEOUT),
                "--log-format",
                "json",
            ],
            folder / "runtime.log",
            "http: ",
        )
        await apiserver.start()
        await runtime.start(timeout=120)
        started = time.monotonic()
        until = trio.current_time() + minutes * 60

        async def drive() -> None:
            while trio.current_time() < until:
                await driver.step()
                await trio.sleep(rng.uniform(0.02, 0.25))

        async with trio.open_nursery() as work:
            work.start_soon(drive)
            work.start_soon(chaos_loop, until, chaos, apiserver, runtime, survived, rng)
        chaos.set(None)
        soak_seconds = time.monotonic() - started
        # Both processes run again (a kill at the very end restarted them already).
        if apiserver.process is None or apiserver.process.returncode is not None:
            await apiserver.start()
        if runtime.process is None or runtime.process.returncode is not None:
            await runtime.start(timeout=120)
        converge_start = time.monotonic()
        problems: list[str] = ["not checked"]
        async with httpx.AsyncClient(base_url=api_url, timeout=30) as http:
            with trio.move_on_after(240):
                while problems:
                    try:
                        problems = await check(http, driver)
                    except httpx.HTTPError as exc:
                        problems = [f"API server unreachable: {exc}"]
                    if problems:
                        await trio.sleep(2)
            converge_seconds = time.monotonic() - converge_start
            crs = (await http.get(GROUP_PATH)).json()["items"]
        figures = await _runtime_figures(runtime)
        ops = sum(driver.acked.values())
        print(f"soak: {soak_seconds / 60:.1f} min of chaos, seed {seed}, folder {folder}")
        print(
            f"operations acknowledged: {ops} ({dict(driver.acked)}); "
            f"{ops / soak_seconds:.1f}/s; refused or unanswered: {dict(driver.refused)}"
        )
        print(f"uncertain (answer lost in a kill): {len(driver.uncertain)}")
        print(f"faults survived: {sum(survived.values())} {dict(survived)}")
        print(f"proxy injections: {dict(chaos.injected)}")
        print(f"process starts: apiserver {apiserver.starts}, runtime {runtime.starts}")
        print(f"runtime since its last start: {figures}")
        print(
            f"runtime log: {_log_figures(runtime.log)}; apiserver log: {_log_figures(apiserver.log)}"
        )
        print(f"final Websites: {len(crs)}")
        if problems:
            code = 1
            print(f"NOT CONVERGED after {converge_seconds:.1f}s; {len(problems)} problem(s):")
            for line in problems[:30]:
                print(f"  {line}")
        else:
            print(
                f"converged {converge_seconds:.1f}s after the chaos stopped: no acknowledged "
                "write lost, no orphan or duplicate child, no stuck finalizer, every CR Ready "
                "at its generation"
            )
        await runtime.stop()
        await apiserver.stop()
        await driver.http.aclose()
        await proxy.client.aclose()
        stop_proxy.set()
        nursery.cancel_scope.cancel()
    if not keep and code == 0:
        for path in sorted(folder.rglob("*"), reverse=True):
            path.unlink() if path.is_file() else path.rmdir()
        folder.rmdir()
    return code


async def _runtime_figures(runtime: Managed) -> str:
    """Watch stalls and reconciles from the runtime's /metrics (since its last start)."""
    url = ""
    for line in runtime.first_line.splitlines():
        if line.startswith("http: "):
            url = line.split()[1]
    if not url:
        return "?"
    try:
        async with httpx.AsyncClient(base_url=url, timeout=5) as http:
            text = (await http.get("/metrics")).text
    except httpx.HTTPError:
        return "?"
    totals: Counter[str] = Counter()
    for line in text.splitlines():
        if line.startswith("orkestra_watch_stalls_total"):
            totals["watch stalls"] += int(float(line.split()[-1]))
        elif line.startswith("controller_runtime_reconcile_total"):
            result = line.split('result="')[1].split('"')[0]
            totals[f"reconciles {result}"] += int(float(line.split()[-1]))
    return ", ".join(f"{k} {v}" for k, v in sorted(totals.items()))


def _log_figures(log: Path) -> str:
    """Warnings, errors and tracebacks in a process's log (every start)."""
    counts: Counter[str] = Counter()
    for line in log.read_text(errors="replace").splitlines():
        if "Traceback" in line:
            counts["tracebacks"] += 1
        lowered = line.lower()
        for level in ("warning", "error", "critical"):
            field = f'"level": "{level}"' in lowered
            # Text lines say "... WARNING box=..."; JSON lines only in their level field.
            word = not lowered.startswith("{") and f" {level} " in lowered
            if field or word:
                counts[level] += 1
        if "conflict" in lowered:
            counts["conflict lines"] += 1
    return ", ".join(f"{k} {v}" for k, v in sorted(counts.items())) or "clean"


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--minutes", type=float, default=10.0)
    parser.add_argument("--seed", type=int, default=14)
    parser.add_argument("--keep", action="store_true", help="keep the folder (state, logs)")
    args = parser.parse_args()
    sys.exit(trio.run(main, args.minutes, args.seed, args.keep))
