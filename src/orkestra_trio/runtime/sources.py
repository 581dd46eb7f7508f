"""The objects a box copies (``fromSecret``, ``fromConfigMap``): cached by informers of their
own, read by the plan.

A copying entry reads a Secret or ConfigMap the box does not own, so the
box's child informers (its own children, by label) do not hold it. This
module gives the box an informer per
:class:`~orkestra_trio.katalog.copies.SourceScope` its Katalog names, as
narrow as the Katalog allows: a literal name is one object (field selector
``metadata.name``), a literal ``fromNamespace`` one namespace, otherwise the
namespaces the runtime watches. No label selector: the sources are not ours.
The pipeline reads the objects a CR copies from these caches (no request)
and records who read what; a change of a source re-enqueues the CRs that
copied it, as ``cross:`` reads do.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from functools import partial
from typing import Any

from orkestra_trio.katalog.copies import SourceRef, SourceScope

from .informer import Change, Informer, ObjectKey
from .readers import ReadIndex
from .registry import KatalogRegistry


class CopySources:
    """One box's source informers and the index of which CR copied which object."""

    def __init__(self, scopes: Iterable[SourceScope]) -> None:
        self.scopes = tuple(scopes)
        self.informers: list[tuple[SourceScope, Informer]] = []
        self._reads: ReadIndex[ObjectKey, SourceRef] = ReadIndex()

    async def start(self, registry: KatalogRegistry, notify: Callable[[ObjectKey], None]) -> None:
        """Get (or share) an informer per scope; ``notify`` is told the CRs to reconcile."""
        for scope in self.scopes:
            informer = await registry.informer(
                ("v1", scope.kind),
                field_selector=f"metadata.name={scope.name}" if scope.name else "",
                namespace=scope.namespace,
            )
            informer.subscribe(partial(self._changed, scope.kind, notify=notify))
            self.informers.append((scope, informer))

    @property
    def caches(self) -> list[Informer]:
        """The informers, for the box's sync waits and error reports."""
        return [informer for _, informer in self.informers]

    def read(self, key: ObjectKey, refs: Iterable[SourceRef]) -> dict[SourceRef, Any]:
        """The objects ``refs`` from the caches (None: not there), remembered as ``key``'s reads."""
        refs = tuple(refs)
        self._reads.record(key, refs)
        return {ref: self._cached(ref) for ref in refs}

    def forget(self, key: ObjectKey) -> None:
        self._reads.forget(key)

    def _cached(self, ref: SourceRef) -> Mapping[str, Any] | None:
        kind, namespace, name = ref
        for scope, informer in self.informers:
            if (
                scope.kind != kind
                or scope.name not in (None, name)
                or scope.namespace not in (None, namespace)
            ):
                continue
            found = informer.get(namespace, name)
            if found is not None:
                return found
        return None

    def _changed(self, kind: str, change: Change, *, notify: Callable[[ObjectKey], None]) -> None:
        for key in self._reads.readers_of((kind, *change.key)):
            notify(key)
