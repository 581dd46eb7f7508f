"""Benchmark of box isolation, end to end: a calm box's latency beside a noisy sibling.

The real runtime (boxes, informers, workers, pipeline, kube client) runs in
this process against the embedded API server started as its own process
(``python -m orkestra_trio apiserver``). The Katalog has two boxes:

* ``calm``: 2 workers, one ConfigMap child, one status field and the Ready
  condition. The benchmark creates one calm CR at a time and measures create
  → Ready=True (with the status field filled in) as the calm box's informer
  sees it: the latency a user of the calm operator would see.
* ``noisy``: the sibling, whose behaviour is the mode. While the calm box is
  sampled, the benchmark creates noisy CRs at a fixed rate (the same API-server
  load in every mode), each carrying the same spec.

Modes (the sibling):

* ``baseline``: a healthy box of 16 workers (a ConfigMap child, a status field);
* ``flood``: as baseline, plus ``--flood`` CRs created beforehand and a 1 s
  resync, so its queue takes all of them every second;
* ``failing``: 16 workers, every reconcile fails on a real template error;
* ``cpu``: 16 workers, a status field whose (legal) template ranges twice,
  nested, over the CR's 99 ``spec.items`` with five printf per iteration:
  about the heaviest render the template limits allow;
* ``hang``: 16 workers, every reconcile hangs until the box's 1 s timeout;
* ``crash``: a healthy box whose machinery crashes 0.3 s after every
  (re)start: its supervisor restarts it with backoff, and every restart
  enqueues all its CRs again.

Each mode starts a fresh API server process and runtime. It prints the calm
box's median and p99 latency per mode and their ratios to the baseline's.
Goal (issue 16): at most 1.5x the median and 2x the p99 in every mode.

Run: ``python bench/isolation.py`` (``--quick`` for a short smoke run,
``--modes failing,cpu`` for some modes, ``--runs 3`` for the median of three).
"""

from __future__ import annotations

import argparse
import logging
import os
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Mapping
from contextlib import AsyncExitStack
from pathlib import Path
from typing import Any

import trio

from orkestra_trio.katalog import CrdEntry, load_katalogs
from orkestra_trio.kube import find_config, open_kube_client
from orkestra_trio.runtime.box import Box
from orkestra_trio.runtime.crdinstall import install_crds
from orkestra_trio.runtime.informer import Change, ObjectKey
from orkestra_trio.runtime.runtime import start_boxes
from orkestra_trio.runtime.safe import Outcome, ReconcileFn

GOAL_MEDIAN = 1.5
GOAL_P99 = 2.0
MODES = ("baseline", "flood", "failing", "cpu", "hang", "crash")
GROUP = "isobench.example.com"
#: printf per loop iteration of the cpu template.
PRINTFS = 5

CALM = """\
    calm:
      apiTypes: {group: %(group)s, version: v1, kind: Calm, plural: calms}
      operatorBox:
        reconciler: {workers: 2, timeout: 10s}
        onReconcile:
          configMaps:
            - name: "{{ .metadata.name }}-calm"
              data: {value: "{{ .spec.value }}"}
        status:
          conditions: true
          fields:
            - path: value
              value: "{{ .spec.value }}"
"""

NOISY = """\
    noisy:
      apiTypes: {group: %(group)s, version: v1, kind: Noisy, plural: noisies}
      operatorBox:
        reconciler: {workers: 16, timeout: 1s%(resync)s}
        onReconcile:
          configMaps:
            - name: "{{ .metadata.name }}-noisy"
              data: {value: "{{ .spec.value }}"}
        status:
          conditions: true
          fields:
            - path: value
              value: %(value)s
"""

HEALTHY_VALUE = '"{{ .spec.value }}"'
#: A real template error: ``index`` of a list out of range fails the render.
FAILING_VALUE = '"{{ index .spec.items 99999999 }}"'
CPU_VALUE = (
    '"{{ range .spec.items }}{{ range $.spec.items }}'
    + "".join(f'{{{{ $v{i} := printf \\"%s-%d\\" $.metadata.name . }}}}' for i in range(PRINTFS))
    + '{{ end }}{{ end }}{{ .spec.value }}"'
)


def heaviest_legal_items() -> int:
    """Items in every noisy CR's spec: the most for which the cpu template (two nested
    ranges over them) still renders within the template limits, so the noisy box burns
    the longest render the limits allow, every time."""
    from orkestra_trio.katalog.template import TemplateRenderError, compile_template

    template = compile_template(CPU_VALUE.replace('\\"', '"').strip('"'), name="cpu")
    items = 1
    while True:
        context = {"metadata": {"name": "n"}, "spec": {"items": list(range(items + 1))}}
        try:
            template.render(context)
        except TemplateRenderError:
            return items
        items += 1


def katalog_text(mode: str) -> str:
    value = {"failing": FAILING_VALUE, "cpu": CPU_VALUE}.get(mode, HEALTHY_VALUE)
    resync = ", resync: 1s" if mode == "flood" else ""
    head = "apiVersion: orkestra.orkspace.io/v1\nkind: Katalog\n"
    head += "metadata: {name: isobench}\nspec:\n  crds:\n"
    return (
        head + CALM % {"group": GROUP} + NOISY % {"group": GROUP, "resync": resync, "value": value}
    )


# -------------------------------------------------------------- sibling faults


class HangingBox(Box):
    """Every reconcile of this box waits until the box's timeout cuts it."""

    def __init__(self, crd: CrdEntry, **kwargs: Any) -> None:
        super().__init__(crd, wrap_reconcile=self._hang, **kwargs)

    @staticmethod
    def _hang(inner: ReconcileFn[ObjectKey]) -> ReconcileFn[ObjectKey]:
        async def hang(key: ObjectKey) -> Outcome | None:
            await trio.sleep_forever()
            return None  # pragma: no cover

        return hang


class CrashingBox(Box):
    """The box's own machinery crashes shortly after every (re)start."""

    crash_after = 0.3

    async def _run_once(self) -> None:
        async with trio.open_nursery() as nursery:
            nursery.start_soon(super()._run_once)
            await trio.sleep(self.crash_after)
            raise RuntimeError("benchmark: the box crashes")


def box_factory(mode: str) -> Callable[..., Box]:
    special = {"hang": HangingBox, "crash": CrashingBox}

    def make(crd: CrdEntry, **kwargs: Any) -> Box:
        if crd.key == "noisy" and mode in special:
            return special[mode](crd, **kwargs)
        return Box(crd, **kwargs)

    return make


# ------------------------------------------------------------------ measuring


def cr(kind: str, name: str, value: str, items: list[int] | None = None) -> dict[str, Any]:
    spec: dict[str, Any] = {"value": value}
    if items is not None:
        spec["items"] = items
    return {
        "apiVersion": f"{GROUP}/v1",
        "kind": kind,
        "metadata": {"name": name, "namespace": "default"},
        "spec": spec,
    }


def calm_ready(obj: Mapping[str, Any]) -> bool:
    status = obj.get("status") or {}
    if status.get("value") != (obj.get("spec") or {}).get("value"):
        return False
    return any(
        c.get("type") == "Ready" and c.get("status") == "True"
        for c in status.get("conditions") or ()
    )


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


async def measure_mode(
    mode: str, katalog: Path, kubeconfig: Path, args: argparse.Namespace
) -> dict[str, Any]:
    katalogs = load_katalogs([katalog])
    config = find_config(str(kubeconfig))
    assert config is not None
    async with AsyncExitStack() as stack:
        kube = await stack.enter_async_context(open_kube_client(config))
        # The load generator's own client: its requests do not queue in the runtime's pool.
        loader = await stack.enter_async_context(open_kube_client(config))
        await install_crds(kube, katalogs)
        rt = await start_boxes(
            stack,
            kube,
            katalogs,
            apiserver=None,
            kubeconfig_path=None,
            server_url=config.server,
            box_factory=box_factory(mode),
        )
        try:
            await rt.wait_ready()
            calm = rt.box("calm")
            assert calm.cr_informer is not None
            items = list(range(heaviest_legal_items()))
            if mode == "flood":
                limiter = trio.CapacityLimiter(16)

                async def pre(i: int) -> None:
                    async with limiter:
                        await loader.create(cr("Noisy", f"pre-{i:05d}", "v", items))

                async with trio.open_nursery() as nursery:
                    for i in range(args.flood):
                        nursery.start_soon(pre, i)

            waiting: dict[str, trio.Event] = {}

            def seen(change: Change) -> None:
                name = change.key[1]
                event = waiting.get(name)
                if event is not None and change.new is not None and calm_ready(change.new):
                    event.set()

            calm.cr_informer.subscribe(seen)
            latencies: list[float] = []
            timeouts = 0

            async def sample(i: int) -> None:
                nonlocal timeouts
                name = f"calm-{i:05d}"
                event = waiting[name] = trio.Event()
                start = time.perf_counter()
                await kube.create(cr("Calm", name, f"value-{i}"))
                with trio.move_on_after(args.sample_timeout) as scope:
                    await event.wait()
                if scope.cancelled_caught:
                    timeouts += 1
                    latencies.append(args.sample_timeout)
                else:
                    latencies.append(time.perf_counter() - start)
                del waiting[name]

            # A fixed rate, at most 16 creates in flight (a server falling behind is not flooded).
            in_flight = trio.CapacityLimiter(16)

            async def create_noisy(i: int) -> None:
                async with in_flight:
                    await loader.create(cr("Noisy", f"load-{i:05d}", "v", items))

            async def load() -> None:
                nonlocal created
                period = 1.0 / args.rate
                next_at = trio.current_time()
                async with trio.open_nursery() as nursery:
                    while True:
                        await in_flight.acquire()  # wait for a free slot, then hand it over
                        in_flight.release()
                        nursery.start_soon(create_noisy, created)
                        created += 1
                        next_at += period
                        await trio.sleep_until(max(next_at, trio.current_time()))

            created = 0
            async with trio.open_nursery() as nursery:
                nursery.start_soon(load)
                # The sibling reaches its steady state under the load first.
                await trio.sleep(args.settle)
                for i in range(args.warmup):  # connections, caches, first discovery
                    await sample(i)
                latencies.clear()
                timeouts = 0
                created_before = created
                started = time.perf_counter()
                for i in range(args.samples):
                    await sample(args.warmup + i)
                    await trio.sleep(args.gap)
                    if time.perf_counter() - started > args.max_seconds and i >= 20:
                        break  # a mode this slow has made its point
                nursery.cancel_scope.cancel()
            elapsed = time.perf_counter() - started
            noisy = rt.box("noisy")
            return {
                "samples": len(latencies),
                "median": statistics.median(latencies),
                "p99": percentile(latencies, 0.99),
                "timeouts": timeouts,
                "noisy_created": created - created_before,
                "noisy_reconciles": noisy.health.total_reconciles,
                "noisy_restarts": noisy.supervisor.restarts,
                "noisy_plans_in_process": noisy.metrics.plans_in_process_total,
                "seconds": elapsed,
            }
        finally:
            await rt.aclose(grace=1.0)


def start_apiserver(folder: Path) -> tuple[subprocess.Popen[str], Path]:
    kubeconfig = folder / "kubeconfig.yaml"
    process = subprocess.Popen(
        [sys.executable, "-m", "orkestra_trio", "apiserver", "--kubeconfig-out", str(kubeconfig)],
        stdout=subprocess.PIPE,
        stderr=(folder / "apiserver.log").open("w"),
        text=True,
        cwd=folder,
    )
    assert process.stdout is not None
    deadline = time.monotonic() + 60
    for line in process.stdout:  # the server prints its kubeconfig path once it listens
        if line.startswith("kubeconfig:"):
            return process, kubeconfig
        if time.monotonic() > deadline:
            break
    process.kill()
    raise SystemExit("the API server process did not start")


def run_mode(mode: str, args: argparse.Namespace) -> dict[str, Any]:
    with tempfile.TemporaryDirectory(prefix="isobench-") as tmp:
        folder = Path(tmp)
        katalog = folder / "katalog.yaml"
        katalog.write_text(katalog_text(mode))
        process, kubeconfig = start_apiserver(folder)
        try:
            return trio.run(measure_mode, mode, katalog, kubeconfig, args)
        except BaseException:
            log = (folder / "apiserver.log").read_text().splitlines()
            print("\n".join(["the API server's last lines:", *log[-20:]]), file=sys.stderr)
            raise
        finally:
            process.terminate()
            try:
                process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--modes", default=",".join(MODES[1:]), help="comma-separated")
    parser.add_argument("--samples", type=int, default=150, help="calm CRs per mode")
    parser.add_argument("--warmup", type=int, default=5)
    parser.add_argument(
        "--settle", type=float, default=3.0, help="seconds of load before the first sample"
    )
    parser.add_argument("--gap", type=float, default=0.02, help="seconds between samples")
    parser.add_argument("--rate", type=float, default=20.0, help="noisy CRs created per second")
    parser.add_argument("--flood", type=int, default=1500, help="noisy CRs before the flood mode")
    parser.add_argument("--sample-timeout", type=float, default=10.0)
    parser.add_argument(
        "--max-seconds", type=float, default=40.0, help="stop sampling a mode after this"
    )
    parser.add_argument("--runs", type=int, default=1)
    parser.add_argument("--quick", action="store_true", help="40 samples, a 500-CR flood")
    args = parser.parse_args()
    if args.quick:
        args.samples, args.flood = 40, 500
    modes = [m for m in args.modes.split(",") if m and m != "baseline"]
    unknown = [m for m in modes if m not in MODES]
    if unknown:
        parser.error(f"--modes: unknown {', '.join(unknown)}; known: {', '.join(MODES)}")
    logging.basicConfig(level=logging.CRITICAL)
    os.environ.pop("KUBECONFIG", None)
    ratios: dict[str, list[tuple[float, float]]] = {m: [] for m in modes}
    for run in range(args.runs):
        base = run_mode("baseline", args)
        print(
            f"run {run + 1}: baseline  median {base['median'] * 1000:7.1f} ms  "
            f"p99 {base['p99'] * 1000:7.1f} ms  ({base['noisy_created']} noisy CRs created)",
            flush=True,
        )
        for mode in modes:
            got = run_mode(mode, args)
            ratio = (got["median"] / base["median"], got["p99"] / base["p99"])
            ratios[mode].append(ratio)
            extra = f", {got['samples']} samples"
            extra += f", {got['timeouts']} timed out" if got["timeouts"] else ""
            if got["noisy_restarts"]:
                extra += f", {got['noisy_restarts']} restarts"
            if got["noisy_plans_in_process"]:
                extra += f", {got['noisy_plans_in_process']} planned in its process"
            print(
                f"run {run + 1}: {mode:9s} median {got['median'] * 1000:7.1f} ms  "
                f"p99 {got['p99'] * 1000:7.1f} ms  ratio {ratio[0]:5.2f}x / {ratio[1]:5.2f}x  "
                f"({got['noisy_reconciles']} noisy reconciles{extra})",
                flush=True,
            )
    print(f"calm box latency vs the same-load baseline, median of {args.runs} run(s):")
    failed = False
    for mode in modes:
        median = statistics.median(r[0] for r in ratios[mode])
        p99 = statistics.median(r[1] for r in ratios[mode])
        ok = median <= GOAL_MEDIAN and p99 <= GOAL_P99
        failed |= not ok
        print(
            f"  {mode:9s} median {median:5.2f}x (goal <= {GOAL_MEDIAN}x)  "
            f"p99 {p99:5.2f}x (goal <= {GOAL_P99}x)  {'ok' if ok else 'MISSED'}"
        )
    print("every mode within the goal" if not failed else "some modes miss the goal")


if __name__ == "__main__":
    main()
