"""The KatalogRegistry: every informer of the runtime, every box, and who reads whom.

Three jobs, all about sharing without coupling:

* **Informers.** One informer per (kind, namespace, label selector), started
  in the registry's own nursery, which owns every informer's lifetime. A
  box's child informers select its own children by the box label, so two
  boxes with Deployment children each have their own Deployment cache (the
  seed: boxes share no informer caches); a CRD's informer is its box's, and
  other boxes only read it through ``cross:``.
* **Boxes.** A reference to every box, for health pages and for ``cross:``
  reads. Boxes never reference each other; they go through the registry.
* **Cross reads.** A same-process ``cross:`` entry is an in-memory lookup in
  the observed CRD's informer cache (the seeds: "zero-cost for same-binary
  operatorBoxes"). The registry remembers which CR of which box read which
  object during its last reconcile, and when that object changes it enqueues
  those CRs again, so an App notices its database became Ready without a
  resync. Remote sources (ONCOP over HTTP) plug in through
  :class:`RemoteCrossReader`; until one is given they answer "not found"
  with an ``error`` field.
"""

from __future__ import annotations

import functools
import logging
from collections.abc import Mapping
from functools import partial
from typing import Any, Protocol

import trio

from orkestra_trio.katalog import CrossEntry, KatalogSet
from orkestra_trio.katalog.labelselector import LabelSelector, parse_label_selector
from orkestra_trio.katalog.render import cross_answer
from orkestra_trio.katalog.secrets import secret_text
from orkestra_trio.kube import KubeClient, NotFound, ResourceRef, WatchOptions

from .informer import Change, Informer, InformerKey, ObjectKey
from .loopshare import LoopShare
from .readers import ReadIndex
from .remote import read_remote, remote_target
from .workqueue import WorkQueue

logger = logging.getLogger(__name__)

#: (observed CRD key, namespace, name); name "" stands for "any object of that namespace".
CrossTarget = tuple[str, str, str]
#: (observing box name, CR key)
Reader = tuple[str, ObjectKey]


class RemoteCrossReader(Protocol):
    """The seam for remote ``cross:`` sources (ONCOP, raw endpoints): the ONCOP layer fills it."""

    async def read(
        self, entry: CrossEntry, *, name: str, namespace: str, context: Mapping[str, Any]
    ) -> dict[str, Any]: ...


class RegisteredBox(Protocol):
    """What the registry needs of a box (:class:`~.box.Box` is the one).

    Spelled out here because a box is built on the registry: this module must
    not import the box back.
    """

    @property
    def name(self) -> str: ...

    @property
    def queue(self) -> WorkQueue[ObjectKey]: ...

    def metrics_json(self) -> Mapping[str, Any]:
        """The box's ONCOP metrics (another box's autoscale may read them)."""
        ...


@functools.lru_cache(maxsize=256)
def _label_selector(text: str) -> LabelSelector:
    """The parsed ``labelSelector`` of a cross entry (checked at load: it parses)."""
    return parse_label_selector(text)


class KatalogRegistry:
    """Owns the informers (in ``nursery``) and indexes boxes and cross reads."""

    def __init__(
        self,
        kube: KubeClient,
        katalogs: KatalogSet,
        nursery: trio.Nursery,
        *,
        watch_options: WatchOptions | None = None,
        namespace: str = "",
        remote: RemoteCrossReader | None = None,
    ) -> None:
        self.kube = kube
        self.katalogs = katalogs
        self.namespace = namespace
        self.remote = remote
        if remote is not None and hasattr(remote, "secrets"):
            # auth.secretRef tokens: the remote reader asks this registry's Secret caches.
            remote.secrets = self.secret_value
        self._secret_informers: dict[tuple[str, str], Informer] = {}
        self._nursery = nursery
        self._watch_options = watch_options
        self._informers: dict[InformerKey, Informer] = {}
        #: Each informer's run (cancelled by the last :meth:`release`) and its users.
        self._scopes: dict[InformerKey, trio.CancelScope] = {}
        self._users: dict[InformerKey, int] = {}
        self._boxes: dict[str, RegisteredBox] = {}
        self._cr_informers: dict[str, Informer] = {}
        self._reads: ReadIndex[Reader, CrossTarget] = ReadIndex()
        #: Every box's share of the loop (attribution and the fair-share gate).
        self.loop_share = LoopShare()

    # -------------------------------------------------------------- informers

    async def informer(
        self,
        ref: ResourceRef,
        *,
        label_selector: str = "",
        field_selector: str = "",
        cached: bool = True,
        namespace: str | None = None,
    ) -> Informer:
        """The shared informer for ``ref`` (started on first use).

        ``cached=False``: an informer that only notifies, for a subscriber that
        keeps its own (smaller) store. ``namespace``: one namespace instead of the
        runtime's watched ones (a CRD entry's own ``namespace``).
        """
        info = await self.kube.resource(ref)
        if not info.namespaced:
            namespace = ""
        elif namespace is None:
            namespace = self.namespace
        key = InformerKey(
            info.api_version, info.kind, namespace, label_selector, field_selector, cached
        )
        informer = self._informers.get(key)
        if informer is None:
            informer = Informer(
                self.kube,
                info,
                namespace=namespace,
                label_selector=label_selector,
                field_selector=field_selector,
                cached=cached,
                options=self._watch_options,
            )
            self._informers[key] = informer
            self._scopes[key] = scope = trio.CancelScope()
            self._nursery.start_soon(
                _run_until_cancelled, informer, scope, name=f"informer {informer.describe()}"
            )
        self._users[key] = self._users.get(key, 0) + 1
        return informer

    def release(self, informer: Informer) -> None:
        """One user of ``informer`` (a call of :meth:`informer`) is done with it; the last
        one's release stops it (a cache opened for one object no CR reads any more)."""
        key = informer.key
        users = self._users.get(key, 0) - 1
        if users > 0:
            self._users[key] = users
            return
        self._users.pop(key, None)
        if self._informers.get(key) is informer:
            del self._informers[key]
            self._scopes.pop(key).cancel()

    async def watch_secret(self, namespace: str, name: str) -> Informer:
        """Keep one Secret in a cache (``auth.secretRef`` tokens): one object, field-selected."""
        informer = await self.informer(
            ("v1", "Secret"), field_selector=f"metadata.name={name}", namespace=namespace
        )
        self._secret_informers[(namespace, name)] = informer
        return informer

    def secret_value(self, namespace: str, name: str, key: str) -> str | None:
        """A key of a Secret :meth:`watch_secret` keeps, decoded; None when absent."""
        informer = self._secret_informers.get((namespace, name))
        secret = informer.get(namespace, name) if informer is not None else None
        return None if secret is None else secret_text(secret, key)

    async def cr_informer(self, crd_key: str) -> Informer:
        """The informer of a CRD of the Katalog set (its CRs), shared by its box and its observers."""
        informer = self._cr_informers.get(crd_key)
        if informer is None:
            crd = self.katalogs.crds[crd_key]
            types = crd.api_types
            # labelSelector/fieldSelector: the box's CRs are the objects they select
            # (an operator over a built-in kind owns a labelled subset of it).
            informer = await self.informer(
                (types.api_version, types.kind),
                namespace=crd.namespace or None,
                label_selector=crd.label_selector,
                field_selector=crd.field_selector,
            )
            if crd_key not in self._cr_informers:
                self._cr_informers[crd_key] = informer
                informer.subscribe(lambda change: self._observed_changed(crd_key, change))
        return informer

    @property
    def informers(self) -> list[Informer]:
        return list(self._informers.values())

    # ------------------------------------------------------------------ boxes

    def register(self, box: RegisteredBox) -> None:
        if box.name in self._boxes:
            raise ValueError(f"box {box.name!r} is already registered")
        self._boxes[box.name] = box

    def box(self, name: str) -> RegisteredBox:
        return self._boxes[name]

    @property
    def boxes(self) -> list[RegisteredBox]:
        return list(self._boxes.values())

    # ------------------------------------------------------------ cross reads

    async def read_cross(
        self,
        entry: CrossEntry,
        *,
        name: str,
        namespace: str,
        context: Mapping[str, Any],
        reader: Reader | None = None,
    ) -> tuple[dict[str, Any], CrossTarget | None]:
        """The answer for one ``cross:`` entry, and what was read (for re-enqueueing).

        Same-process: a lookup in the observed CRD's cache, never cached
        itself, always current. The answer is a fresh dict whose spec/status
        are the cached objects (read-only).

        Remote: when the remote reader announces the answer's key before it
        waits, ``reader`` (the reading box and CR) is recorded as reading it
        then, so a reconcile that runs out of time waiting is re-enqueued when
        the answer lands (the cache finishes the fetch in its own scope).
        """
        if not entry.same_process:
            return await read_remote(
                self.remote,
                entry,
                name=name,
                namespace=namespace,
                context=context,
                announce=partial(self.add_read, *reader) if reader is not None else None,
            )
        if entry.label_selector is not None:
            return await self._read_by_labels(entry, namespace=namespace, context=context)
        crd = self.katalogs.crds[entry.crd]
        if not crd.namespaced:
            namespace = ""
        if not crd.cross_access and (reader is None or reader[0] != entry.crd):
            # Orkestra's in-process read honours the observed CRD's crossAccess:
            # another box reads not found (loading warned at the entry).
            return _not_found(name, namespace), None
        informer = await self.cr_informer(entry.crd)
        if name:
            obj = informer.get(namespace, name)
            answer = cross_answer(obj) if obj is not None else _not_found(name, namespace)
            return answer, (entry.crd, namespace, name)
        labels = entry.selector.labels
        wanted = {k: v.render(context) for k, v in labels.items()} if labels else {}
        for obj in sorted(informer.objects(), key=lambda o: str(o["metadata"].get("name"))):
            metadata = obj.get("metadata") or {}
            if crd.namespaced and metadata.get("namespace") != namespace:
                continue
            have = metadata.get("labels") or {}
            if all(have.get(k) == v for k, v in wanted.items()):
                return cross_answer(obj), (entry.crd, namespace, "")
        return cross_answer(None), (entry.crd, namespace, "")

    async def _read_by_labels(
        self, entry: CrossEntry, *, namespace: str, context: Mapping[str, Any]
    ) -> tuple[dict[str, Any], CrossTarget | None]:
        """Orkestra's ``labelSelector`` entry: the first CR, over the Katalogs' CRDs that allow
        cross access (in Katalog order, then by name), whose labels match the selector and
        ``selector.matchLabels``, in ``namespace`` (cluster-scoped CRs: anywhere). Memory only.

        Its target is the matched CRD's namespace, so a change there reconciles the
        reader again; a CR that starts matching in another CRD is seen at the reader's
        next reconcile.
        """
        assert entry.label_selector is not None
        selector = _label_selector(entry.label_selector)
        labels = entry.selector.labels
        wanted = {k: v.render(context) for k, v in labels.items()} if labels else {}
        for key, crd in self.katalogs.crds.items():
            if not crd.cross_access or not crd.enabled:
                continue
            try:
                informer = await self.cr_informer(key)
            except NotFound:
                continue  # its CRD is not served (yet): nothing of it can match
            where = namespace if crd.namespaced else ""
            for obj in sorted(informer.objects(), key=lambda o: str(o["metadata"].get("name"))):
                metadata = obj.get("metadata") or {}
                if crd.namespaced and metadata.get("namespace") != namespace:
                    continue
                have = metadata.get("labels") or {}
                if selector.matches(have) and all(have.get(k) == v for k, v in wanted.items()):
                    return cross_answer(obj), (key, where, "")
        return cross_answer(None), None

    def record_reads(self, box: str, key: ObjectKey, targets: frozenset[CrossTarget]) -> None:
        """Remember what ``box``'s CR ``key`` read during its last reconcile (replacing before)."""
        self._reads.record((box, key), targets)

    def add_read(self, box: str, key: ObjectKey, target: CrossTarget) -> None:
        """``box``'s CR ``key`` reads ``target`` too (kept until its next :meth:`record_reads`)."""
        self._reads.add((box, key), target)

    def forget_reader(self, box: str, key: ObjectKey) -> None:
        """The CR is gone: it reads nothing any more."""
        self._reads.forget((box, key))

    def readers_of(self, target: CrossTarget) -> frozenset[Reader]:
        return self._reads.readers_of(target)

    def remote_changed(self, key: str) -> None:
        """A remote answer cached under ``key`` changed: enqueue the CRs that last read it.

        The ONCOP reader's ``on_change`` (see :mod:`.remote`).
        """
        for box_name, reader_key in self.readers_of(remote_target(key)):
            box = self._boxes.get(box_name)
            if box is not None:
                box.queue.add(reader_key)

    def _observed_changed(self, crd_key: str, change: Change) -> None:
        namespace, name = change.key
        for target in ((crd_key, namespace, name), (crd_key, namespace, "")):
            for box_name, key in self.readers_of(target):
                box = self._boxes.get(box_name)
                if box is not None:
                    box.queue.add(key)


async def _run_until_cancelled(informer: Informer, scope: trio.CancelScope) -> None:
    with scope:
        await informer.run()


def _not_found(name: str, namespace: str) -> dict[str, Any]:
    """Orkestra's not-found answer names what was looked for (its name and namespace)."""
    return {**cross_answer(None), "name": name, "namespace": namespace}
