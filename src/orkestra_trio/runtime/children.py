"""Apply a CR's rendered children: create what is missing, correct drift, delete what turned off.

The rules (KATALOG.md):

* onCreate children are created when absent and then left alone (unless the
  entry says ``reconcile: true``);
* onReconcile children are applied every cycle: when the cached child no
  longer contains what the Katalog declares, it is patched back;
* an onReconcile child whose ``when`` stopped holding is deleted, if this CR
  owns it;
* **a cycle where nothing drifted writes nothing.**

The last rule is why drift is judged by :func:`contains`: the desired
manifest must be a *subset* of the cached object. The API server adds fields
of its own (uid, resourceVersion, status, defaults such as a Deployment's
strategy); those are not drift. Only a field the Katalog declares with a
different value is. The cache is the informer's, so the check costs no
request.
"""

from __future__ import annotations

import base64
import contextlib
import logging
from collections.abc import Awaitable, Callable, Mapping
from typing import Any

import attrs
import trio

from orkestra_trio.katalog import RESOURCE_GROUPS, OperatorBox
from orkestra_trio.katalog.render import RenderedChild
from orkestra_trio.kube import AlreadyExists, Conflict, KubeClient, NotFound

from .informer import object_key
from .informer import owner_uid as owner_of

logger = logging.getLogger(__name__)

#: Finds the cached child (or fetches it when its kind has no informer): (apiVersion, kind, ns, name).
ChildLookup = Callable[[str, str, str, str], Awaitable[Mapping[str, Any] | None]]


class ChildConflict(Exception):
    """A child's name is taken by an object another controller owns: we do not take it over."""


@attrs.define
class ApplyReport:
    """What one apply did, for Events, metrics and the status context."""

    created: list[str] = attrs.field(factory=list)
    patched: list[str] = attrs.field(factory=list)
    deleted: list[str] = attrs.field(factory=list)
    #: The children as they stand after the apply (server answers for what we wrote).
    observed: list[Mapping[str, Any]] = attrs.field(factory=list)

    @property
    def writes(self) -> int:
        return len(self.created) + len(self.patched) + len(self.deleted)

    def summary(self) -> str:
        parts = []
        for verb, names in (
            ("created", self.created),
            ("updated", self.patched),
            ("deleted", self.deleted),
        ):
            if names:
                parts.append(f"{verb} {', '.join(names)}")
        return "; ".join(parts)


#: Value types compared by equality alone (bool is not among them: ``True == 1``).
_PLAIN = frozenset({str, int, float, type(None)})


def contains(actual: Any, desired: Any) -> bool:
    """Does ``actual`` hold everything ``desired`` states? (the drift test)

    Mappings: every desired key must be contained in the actual value; keys
    the server added are ignored. An empty desired mapping or list matches a
    missing field (the server drops empty values). Lists: same length,
    element by element. Scalars: equal (1 == 1.0).
    """
    # Every reconcile walks each child's whole manifest: exact types (JSON's) first,
    # the ABCs only for what is neither, and loops rather than generators.
    desired_type = type(desired)
    if desired_type in _PLAIN and type(actual) in _PLAIN:
        return bool(actual == desired)
    if desired_type is dict or isinstance(desired, Mapping):
        if actual is None:
            return not desired
        if not (type(actual) is dict or isinstance(actual, Mapping)):
            return False
        get = actual.get
        for key, value in desired.items():  # noqa: SIM110 (a generator costs a frame per key)
            if not contains(get(key), value):
                return False
        return True
    if desired_type is list or desired_type is tuple or isinstance(desired, list | tuple):
        if actual is None:
            return not desired
        if not isinstance(actual, list | tuple) or len(actual) != len(desired):
            return False
        for a, d in zip(actual, desired, strict=True):  # noqa: SIM110 (as above)
            if not contains(a, d):
                return False
        return True
    if isinstance(desired, bool) or isinstance(actual, bool):
        return desired is actual
    return bool(actual == desired)


def comparable(manifest: Mapping[str, Any]) -> dict[str, Any]:
    """The desired manifest as the server stores it, for :func:`contains`.

    A Secret's ``stringData`` is write-only: the server folds it into
    base64 ``data``, so compare it that way.
    """
    result = dict(manifest)
    if manifest.get("kind") == "Secret" and manifest.get("apiVersion") == "v1":
        string_data = result.pop("stringData", None)
        if isinstance(string_data, Mapping):
            data = dict(result.get("data") or {})
            for key, value in string_data.items():
                data[key] = base64.b64encode(str(value).encode()).decode()
            result["data"] = data
    return result


def describe_child(child: RenderedChild) -> str:
    return f"{child.kind} {child.name}"


async def apply_children(
    kube: KubeClient,
    children: list[RenderedChild],
    *,
    owner_uid: str,
    lookup: ChildLookup,
) -> ApplyReport:
    """Bring the cluster in line with ``children`` (already in apply order)."""
    report = ApplyReport()
    for child in children:
        if child.present:
            await _pause(child)
        cached = await lookup(child.api_version, child.kind, child.namespace, child.name)
        if not child.present:
            owned = cached is not None and bool(owner_uid) and owner_of(cached) == owner_uid
            if child.phase == "onReconcile" and cached is not None and owned:
                await _delete(kube, child, cached)
                report.deleted.append(describe_child(child))
            continue
        manifest = child.manifest
        assert manifest is not None
        if cached is None:
            report.observed.append(await _create(kube, child, manifest))
            report.created.append(describe_child(child))
            continue
        owner = owner_of(cached)
        if owner and owner_uid and owner != owner_uid:
            raise ChildConflict(
                f"{describe_child(child)} in namespace {child.namespace or '-'} exists and is "
                f"controlled by another owner (uid {owner}); not taking it over"
            )
        if child.reconcile and not contains(cached, comparable(manifest)):
            patched = await _correct(kube, child, manifest)
            report.patched.append(describe_child(child))
            report.observed.append(patched)
        else:
            report.observed.append(cached)
    return report


async def _correct(
    kube: KubeClient, child: RenderedChild, manifest: Mapping[str, Any]
) -> Mapping[str, Any]:
    """Patch a drifted child back: a merge patch (it takes every field it states, as
    Orkestra's forced apply does), or with ``forceConflict: false`` a server-side apply
    that fails on fields another field manager owns."""
    if child.force_conflict:
        return await kube.merge_patch(
            (child.api_version, child.kind),
            child.name,
            manifest,
            namespace=child.namespace or None,
        )
    try:
        return await kube.apply(manifest, namespace=child.namespace or None, force=False)
    except Conflict as exc:
        raise ChildConflict(
            f"{describe_child(child)}: another field manager owns a field the Katalog sets "
            f"(forceConflict: false, so it is not taken over): {exc.message}"
        ) from None


async def _pause(child: RenderedChild) -> None:
    """Orkestra's entry ``sleep``: a delay at the start of this entry's part of every
    reconcile that renders it, written or not, as Orkestra injects it (for latency
    simulation and autoscale tests, a steady-state reconcile must be slow too)."""
    if child.sleep > 0:
        await trio.sleep(child.sleep)


def prunable_kinds(box: OperatorBox) -> frozenset[tuple[str, str]]:
    """(apiVersion, kind) whose owned children a reconcile may prune.

    Kinds of onReconcile groups only: an onCreate child is the user's to keep
    once created, so a kind that onCreate also creates is never pruned.
    """

    def kinds(resources: Mapping[str, Any]) -> set[tuple[str, str]]:
        found = set()
        for group in resources:
            if group != "custom":
                info = RESOURCE_GROUPS[group]
                found.add((info.api_version, info.kind))
        return found

    return frozenset(kinds(box.on_reconcile) - kinds(box.on_create))


async def prune_orphans(
    kube: KubeClient,
    owned: list[Mapping[str, Any]],
    children: list[RenderedChild],
    kinds: frozenset[tuple[str, str]],
    report: ApplyReport,
) -> None:
    """Delete owned children of ``kinds`` that no entry renders any more.

    A ``forEach`` list that shrank leaves children nobody declares: they go,
    as an onReconcile child whose ``when`` turned false goes.
    """
    declared = {(c.api_version, c.kind, c.namespace, c.name) for c in children}
    for obj in owned:
        pair = (str(obj.get("apiVersion") or ""), str(obj.get("kind") or ""))
        namespace, name = object_key(obj)
        if pair not in kinds or (*pair, namespace, name) in declared:
            continue
        uid = str((obj.get("metadata") or {}).get("uid") or "") or None
        with contextlib.suppress(NotFound):
            await kube.delete(
                pair,
                name,
                namespace=namespace or None,
                propagation_policy="Background",
                uid=uid,
            )
        report.deleted.append(f"{pair[1]} {name}")


async def _create(
    kube: KubeClient, child: RenderedChild, manifest: Mapping[str, Any]
) -> Mapping[str, Any]:
    try:
        return await kube.create(manifest, namespace=child.namespace or None)
    except AlreadyExists:
        # Our cache lags behind a create of ours (or of someone else): read it;
        # the watch event that follows brings the next reconcile.
        return await kube.get(
            (child.api_version, child.kind), child.name, namespace=child.namespace or None
        )


async def _delete(kube: KubeClient, child: RenderedChild, cached: Mapping[str, Any]) -> None:
    uid = str((cached.get("metadata") or {}).get("uid") or "") or None
    with contextlib.suppress(NotFound):  # already gone: what we wanted
        await kube.delete(
            (child.api_version, child.kind),
            child.name,
            namespace=child.namespace or None,
            propagation_policy="Background",
            uid=uid,
        )
