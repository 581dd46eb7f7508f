"""Remote ``cross:`` reads as the registry sees them: answers, watch keys and failure news.

A remote source (ONCOP ``source.host`` or a raw ``source.endpoint``) is not
watched the way an informer is: the ONCOP layer caches each answer under a
key and tells us, through ``on_change(key)``, when a refreshed answer differs.
The registry records such reads as the pseudo target ``("", "oncop", key)``
next to its same-process targets, so one bookkeeping (who read what during
its last reconcile) serves both, and :meth:`KatalogRegistry.remote_changed`
enqueues the readers of a changed key.

This module is the runtime's half of that contract; the runtime never
imports the ONCOP package itself (``commands/run.py`` plugs a
:class:`~orkestra_trio.oncop.reader.RemoteReader` in).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any, Protocol, runtime_checkable

from orkestra_trio.katalog import CrossEntry
from orkestra_trio.katalog.model import CrossSource
from orkestra_trio.katalog.render import cross_answer

#: The "CRD" and "namespace" parts of a remote read's registry target; the name is the cache key.
REMOTE_TARGET_CRD = ""
REMOTE_TARGET_NAMESPACE = "oncop"


@runtime_checkable
class KeyedRemoteReader(Protocol):
    """A remote reader that also says under which key it caches an answer (ONCOP's reader)."""

    async def read_with_key(
        self, entry: CrossEntry, *, name: str, namespace: str, context: Mapping[str, Any]
    ) -> tuple[dict[str, Any], str | None]: ...


@runtime_checkable
class SourceReader(Protocol):
    """A remote reader that can read a bare ``source:`` (autoscale conditions need it)."""

    async def read_source(
        self,
        crd: str,
        source: CrossSource,
        *,
        name: str = "",
        namespace: str = "",
        context: Mapping[str, Any],
    ) -> tuple[dict[str, Any], str | None]: ...


def remote_target(key: str) -> tuple[str, str, str]:
    """The registry target standing for the remote answer cached under ``key``."""
    return (REMOTE_TARGET_CRD, REMOTE_TARGET_NAMESPACE, key)


def unavailable_answer() -> dict[str, Any]:
    """The answer of a remote entry in a runtime that has no remote reader."""
    answer = cross_answer(None)
    answer["error"] = "remote cross sources are not available in this runtime"
    return answer


async def read_remote(
    remote: Any,
    entry: CrossEntry,
    *,
    name: str,
    namespace: str,
    context: Mapping[str, Any],
    announce: Callable[[tuple[str, str, str]], None] | None = None,
) -> tuple[dict[str, Any], tuple[str, str, str] | None]:
    """One remote entry's answer and the target to remember (None: nothing to watch).

    ``announce(target)`` is called before the wait when the reader supports it
    (``read_announced``, ONCOP's reader): the target is known before the
    answer, so a read cut short by the reconcile's deadline still counts.
    A reader without keys (the bare ``RemoteCrossReader`` seam) still answers;
    its CRs are then only reconciled again by their own triggers.
    """
    if remote is None:
        return unavailable_answer(), None
    read_announced = getattr(remote, "read_announced", None) if announce is not None else None
    if read_announced is not None and announce is not None:
        tell = announce  # narrowed for the closure

        def announce_key(key: str) -> None:
            tell(remote_target(key))

        answer, key = await read_announced(
            entry, name=name, namespace=namespace, context=context, announce=announce_key
        )
        return cross_answer(answer), (remote_target(key) if key is not None else None)
    if isinstance(remote, KeyedRemoteReader):
        answer, key = await remote.read_with_key(
            entry, name=name, namespace=namespace, context=context
        )
        return cross_answer(answer), (remote_target(key) if key is not None else None)
    return cross_answer(
        await remote.read(entry, name=name, namespace=namespace, context=context)
    ), None
