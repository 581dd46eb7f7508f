"""``simulate``: run a Katalog against an in-process cluster in virtual time and show every cycle.

``render`` shows one reconcile; ``simulate`` shows where the whole loop goes.
The Katalog's boxes run for real (registry, informers, pipeline) against the
embedded API server, all in one Trio loop under a virtual clock, so minutes
of operator time take a moment. The given CRs are applied, then cycle after
cycle (``--interval`` of virtual time, then until no box has work) we print
the objects that changed (created, changed, deleted: one line each, and
their number in the cycle's headline next to the write requests, by verb,
that the operator sent) and the CRs' resulting status.

A remote ``cross:`` source (another process over ONCOP, an endpoint) has no
one to answer it here: every such read gets "unavailable", and a CR waiting
for it would look settled. ``simulate`` says so before the first cycle and
again in its last line; ``--cross AS=FILE.yaml`` gives the entry ``AS`` an
answer (a Kubernetes object or a cross answer, as ``render --cross`` takes). Two consecutive cycles without a write (and no box
failing) mean the Katalog settled: exit 0. Still writing after ``--max-cycles``: exit 1, the
sign of a loop (two children fighting, a status that never stops changing,
a reconcile that keeps failing).
"""

from __future__ import annotations

import argparse
import logging
import os
import sys
from collections import Counter
from collections.abc import Mapping
from functools import partial
from pathlib import Path
from typing import TYPE_CHECKING, Any

from orkestra_trio.commands.errors import UserError

if TYPE_CHECKING:
    from orkestra_trio.testing import KatalogHandle, TestCluster

HELP = (
    "Run a Katalog in virtual time against an in-process cluster; print each cycle's writes "
    "(--plans: and the reconcile plans)."
)

#: (plural, namespace, name) -> (kind, resourceVersion)
Snapshot = dict[tuple[str, str, str], tuple[str, str]]


def configure(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("katalogs", nargs="+", metavar="KATALOG.yaml", help="the Katalog file(s)")
    parser.add_argument(
        "--cr",
        action="extend",
        nargs="+",
        default=[],
        metavar="CR.yaml",
        help="custom resources to apply before the first cycle (several files, or --cr again; "
        "a file may hold several)",
    )
    parser.add_argument(
        "--max-cycles",
        type=int,
        default=20,
        metavar="N",
        help="give up (exit 1) after N cycles without settling (default 20)",
    )
    parser.add_argument(
        "--interval",
        type=float,
        default=1.0,
        metavar="SECONDS",
        help="virtual time each cycle lets pass before waiting for the boxes (default 1)",
    )
    parser.add_argument(
        "--events", action="store_true", help="also list the Events the operator posted"
    )
    parser.add_argument(
        "--plans",
        action="store_true",
        help="also print each CR's last reconcile plan of the cycle (children, status, Events, "
        "requeue), as render prints one",
    )
    parser.add_argument(
        "--cross",
        action="append",
        default=[],
        metavar="AS=FILE.yaml",
        help="answer the remote cross: entry named AS with this object (a Kubernetes object or "
        "a cross answer), whatever name it asks for; without it a remote source reads as "
        "unavailable",
    )


def run(args: argparse.Namespace) -> int:
    import trio
    import trio.testing

    from orkestra_trio.katalog import KatalogError, load_katalogs
    from orkestra_trio.runtime.crdinstall import InstallError, read_objects

    if args.max_cycles < 1:
        raise UserError("--max-cycles must be at least 1")
    if args.interval <= 0:
        raise UserError("--interval must be a positive number of seconds")
    try:
        katalogs = load_katalogs([Path(path) for path in args.katalogs])
    except KatalogError as exc:
        raise UserError(str(exc)) from None
    crs: list[dict[str, Any]] = []
    try:
        for path in args.cr:
            crs.extend(read_objects(Path(path)))
    except InstallError as exc:
        raise UserError(str(exc)) from None
    for cr in crs:
        _check_cr(katalogs, cr)
    answers = _read_cross_answers(katalogs, args.cross)
    unanswered = unanswered_remote_lines(katalogs, answers)
    for line in unanswered:
        print(f"warning: {line}", file=sys.stderr, flush=True)
    # Failed reconciles are part of what the cycles show; the runtime's log lines would repeat them.
    logger = logging.getLogger("orkestra_trio")
    previous = logger.level
    logger.setLevel(logging.ERROR)
    settled = False
    try:
        clock = trio.testing.MockClock(autojump_threshold=0)
        settled = trio.run(
            _simulate, katalogs, crs, args, _FileAnswers(answers), len(unanswered), clock=clock
        )
    except* BrokenPipeError:
        # The reader went away (``| head``): nothing left to say. Point stdout at
        # devnull so that the interpreter's final flush does not fail again.
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
    finally:
        logger.setLevel(previous)  # run in-process (tests, embedding): leave logging as found
    return 0 if settled else 1


async def _simulate(
    katalogs: Any,
    crs: list[dict[str, Any]],
    args: argparse.Namespace,
    remote: _FileAnswers,
    unanswered: int,
) -> bool:
    from orkestra_trio.runtime.crdinstall import apply_setup_files, install_crds
    from orkestra_trio.testing import open_test_cluster, run_katalog

    async with open_test_cluster() as cluster:
        # The setup files and CRDs go in first, then the "before" picture, then the
        # boxes, and only then the CRs (the Katalog's crFiles and --cr): so cycle 1
        # shows every write the operator made, however fast it reacted.
        await apply_setup_files(cluster.kube, katalogs)
        await install_crds(cluster.kube, katalogs)
        before = _snapshot(cluster)
        async with run_katalog(katalogs, cluster, install=False, remote=remote) as kat:
            return await _cycles(kat, cluster, katalogs, crs, args, before, unanswered)
    raise AssertionError("unreachable")  # pragma: no cover - the block returns


async def _cycles(
    kat: KatalogHandle,
    cluster: TestCluster,
    katalogs: Any,
    crs: list[dict[str, Any]],
    args: argparse.Namespace,
    before: Snapshot,
    unanswered: int = 0,
) -> bool:
    """Apply the CRs, then run cycles until two in a row change nothing."""
    import trio

    from orkestra_trio.kube import KubeError
    from orkestra_trio.runtime.crdinstall import apply_cr_files
    from orkestra_trio.testing import NotSteady

    # The plans the boxes apply, the last one per CR of each cycle (--plans).
    plans: dict[tuple[str, str, str], Any] = {}
    if getattr(args, "plans", False):
        for name in kat.boxes:
            kat.box(name).on_plan = partial(_keep_plan, plans, name)
    # The operator's writes count from here: it may react while the CRs go in.
    writes_before = _writes_by_verb(cluster)
    try:
        await apply_cr_files(cluster.kube, katalogs)
        for cr in crs:
            await kat.apply(cr)
    except KubeError as exc:
        # Raised from here it would come out wrapped in the nurseries' groups.
        print(f"orkestra_trio: cannot apply the CR: {exc}", file=sys.stderr)
        return False
    print(f"applied {len(crs)} CR{'s' if len(crs) != 1 else ''}; boxes: {', '.join(kat.boxes)}")
    quiet = 0
    for cycle in range(1, args.max_cycles + 1):
        await trio.sleep(args.interval)
        try:
            await kat.wait_steady(within=60.0)
        except NotSteady as exc:
            print(f"cycle {cycle}: {exc}")
        after = _snapshot(cluster)
        writes_now = _writes_by_verb(cluster)
        writes = writes_now - writes_before
        changes = _changes(before, after)
        listed = [line for line, event in changes if args.events or not event]
        before, writes_before = after, writes_now
        print(f"cycle {cycle} (t={trio.current_time():g}s): {cycle_headline(listed, writes)}")
        for line in listed:
            print(f"  {line}")
        hidden = len(changes) - len(listed)
        if hidden:
            print(f"  ({hidden} Event(s) not listed; --events lists them)")
        for line in _statuses(kat, crs):
            print(f"  {line}")
        for line in _plan_lines(plans):
            print(f"  {line}")
        plans.clear()
        failing = _failing_boxes(kat)
        for line in failing:
            print(f"  {line}")
        # A box still failing has retries coming, however quiet this cycle was.
        quiet = quiet + 1 if writes.total() == 0 and not failing else 0
        if quiet == 2:
            if unanswered:
                print(
                    f"settled after {cycle} cycles, but {unanswered} remote cross: source(s) had "
                    "nothing to answer them (see the warning): what waits for them never got it"
                )
            else:
                print(f"settled after {cycle} cycles")
            return True
    print(f"did not settle within {args.max_cycles} cycles", flush=True)
    return False


def _keep_plan(
    plans: dict[tuple[str, str, str], Any], box: str, key: tuple[str, str], plan: Any
) -> None:
    plans[(box, *key)] = plan


def _plan_lines(plans: Mapping[tuple[str, str, str], Any]) -> list[str]:
    """Each CR's last plan of the cycle, as ``render`` prints a plan (YAML, indented)."""
    from orkestra_trio.commands.render import to_yaml
    from orkestra_trio.katalog.plan import plan_document

    lines = []
    for (box, _namespace, _name), plan in sorted(plans.items()):
        lines.append(f"plan of box {box} for {plan.cr}:")
        lines.extend(f"  {line}" for line in to_yaml(plan_document(plan)).splitlines())
    return lines


def cycle_headline(listed: list[str], writes: Counter[str]) -> str:
    """``3 object(s) changed, 5 write request(s): create 3, patch 2``: both numbers add up."""
    head = f"{len(listed)} object(s) changed, {writes.total()} write request(s)"
    if not writes.total():
        return head
    return head + ": " + ", ".join(f"{verb} {n}" for verb, n in sorted(writes.items()))


def _writes_by_verb(cluster: TestCluster) -> Counter[str]:
    """The operator's write requests so far, by verb."""
    from orkestra_trio.testing.cluster import WRITE_VERBS

    counts: Counter[str] = Counter()
    for (verb, _plural), n in cluster.requests().items():
        if verb in WRITE_VERBS:
            counts[verb] += n
    return counts


def unanswered_remote_lines(katalogs: Any, answers: Mapping[str, Any]) -> list[str]:
    """One line per remote source (``cross:`` entry, autoscale condition) nothing answers here."""
    from orkestra_trio.katalog.edges import katalog_edges

    readers: dict[tuple[str, str, str, str], list[str]] = {}
    for edge in katalog_edges(katalogs.crds.values()):
        if edge.remote and edge.as_ not in answers:
            key = (edge.observer, edge.observed, edge.where, edge.as_)
            what = "cross: entry" if edge.via == "cross" else "autoscale condition"
            readers.setdefault(key, []).append(what)
    return [
        f"box {observer} reads {observed} from {where} ({' and '.join(whats)} {as_!r}), which "
        "nothing answers in a simulation: every read is 'unavailable'; answer it with "
        f"--cross {as_}=FILE.yaml"
        for (observer, observed, where, as_), whats in readers.items()
    ]


def _read_cross_answers(katalogs: Any, flags: list[str]) -> dict[str, Any]:
    """``--cross AS=FILE.yaml`` flags as {as: object}, each AS a remote entry of the Katalog."""
    from orkestra_trio.commands.render import _read_single_object
    from orkestra_trio.katalog import KatalogError
    from orkestra_trio.katalog.edges import katalog_edges

    names = sorted({edge.as_ for edge in katalog_edges(katalogs.crds.values()) if edge.remote})
    answers: dict[str, Any] = {}
    for flag in flags:
        name, sep, path = flag.partition("=")
        if not sep or not name or not path:
            raise UserError(f"--cross {flag!r}: expected AS=FILE.yaml")
        if name not in names:
            raise UserError(
                f"--cross {name}: no remote cross: entry is named {name!r} "
                f"(remote entries: {', '.join(names) or 'none'})"
            )
        try:
            answers[name] = _read_single_object(path)[0]
        except KatalogError as exc:
            raise UserError(str(exc)) from None
    return answers


class _FileAnswers:
    """The remote reader of a simulation: ``--cross`` answers by ``as`` name, else unavailable."""

    def __init__(self, answers: Mapping[str, Any]) -> None:
        self.answers = dict(answers)

    async def read(
        self, entry: Any, *, name: str, namespace: str, context: Mapping[str, Any]
    ) -> dict[str, Any]:
        return self._answer(entry.as_)

    async def read_source(
        self,
        crd: str,
        source: Any,
        *,
        name: str = "",
        namespace: str = "",
        context: Mapping[str, Any],
    ) -> tuple[dict[str, Any], str | None]:
        return self._answer(crd), None

    def _answer(self, as_: str) -> dict[str, Any]:
        from orkestra_trio.katalog.render import cross_answer
        from orkestra_trio.runtime.remote import unavailable_answer

        obj = self.answers.get(as_)
        return cross_answer(obj) if obj is not None else unavailable_answer()


def _failing_boxes(kat: KatalogHandle) -> list[str]:
    lines = []
    for name in kat.boxes:
        health = kat.health(name)
        if health.consecutive_fails:
            lines.append(
                f"box {name}: {health.state.value}, {health.consecutive_fails} failure(s) in a "
                f"row: {health.last_error}"
            )
    return lines


def _check_cr(katalogs: Any, cr: Mapping[str, Any]) -> None:
    """A CR without a name, or that no box reconciles, is a mistake: say so before running."""
    metadata = cr.get("metadata")
    if not isinstance(metadata, Mapping) or not metadata.get("name"):
        raise UserError(f"a CR of kind {cr.get('kind')!r} has no metadata.name")
    for crd in katalogs.crds.values():
        types = crd.api_types
        if (
            crd.operator_box is not None
            and cr.get("apiVersion") == types.api_version
            and cr.get("kind") == types.kind
        ):
            return
    raise UserError(
        f"no box of the Katalog reconciles {cr.get('apiVersion')} {cr.get('kind')} "
        f"{metadata.get('name')!r}"
    )


def _box_of(kat: KatalogHandle, cr: Mapping[str, Any]) -> str:
    for name in kat.boxes:
        types = kat.box(name).crd.api_types
        if cr.get("apiVersion") == types.api_version and cr.get("kind") == types.kind:
            return name
    raise AssertionError(f"no box for {cr.get('kind')} (checked before the run)")


def _snapshot(cluster: TestCluster) -> Snapshot:
    store = cluster.server.store
    seen: Snapshot = {}
    for resource in store.resources():
        plural = resource[1]
        if plural in ("customresourcedefinitions", "namespaces"):
            continue
        for (namespace, name), stored in store.iter_objects(resource):
            seen[(plural, namespace, name)] = (str(stored.obj.get("kind")), str(stored.rv))
    return seen


def _changes(before: Snapshot, after: Snapshot) -> list[tuple[str, bool]]:
    """One ``+``/``-``/``~`` line per object created, deleted or changed; True for an Event."""
    lines: list[tuple[str, bool]] = []
    for key in sorted(after.keys() | before.keys()):
        plural, namespace, name = key
        where = f"{namespace}/{name}" if namespace else name
        if key not in before:
            line = f"+ {after[key][0]} {where}"
        elif key not in after:
            line = f"- {before[key][0]} {where}"
        elif before[key][1] != after[key][1]:
            line = f"~ {after[key][0]} {where}"
        else:
            continue
        lines.append((line, plural == "events"))
    return lines


def _statuses(kat: KatalogHandle, crs: list[dict[str, Any]]) -> list[str]:
    lines = []
    for cr in crs:
        box = _box_of(kat, cr)
        metadata = cr.get("metadata") or {}
        name = str(metadata.get("name"))
        namespace = str(metadata.get("namespace") or "default")
        current = kat.cr(box, name, namespace)
        if current is None:
            lines.append(f"status {cr.get('kind')} {name}: (gone)")
            continue
        status = dict(current.get("status") or {})
        ready = next(
            (c for c in status.pop("conditions", None) or () if c.get("type") == "Ready"), None
        )
        status.pop("observedGeneration", None)
        parts = []
        if ready is not None:
            text = f"Ready={ready.get('status')}"
            if ready.get("status") != "True" and ready.get("message"):
                text += f" ({ready.get('message')})"
            parts.append(text)
        parts.extend(f"{k}={v}" for k, v in sorted(status.items()))
        lines.append(f"status {cr.get('kind')} {name}: {', '.join(parts) or '(none yet)'}")
    return lines
