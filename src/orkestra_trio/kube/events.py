"""Kubernetes Events that aggregate instead of piling up.

A reconcile that fails every few seconds would create thousands of Event
objects. Like client-go's correlator, the recorder gives an event a name
derived from what it says (object, reason, message, type, component), so a
repeat finds the existing Event and bumps its ``count`` and
``lastTimestamp`` instead of creating another one: ``kubectl describe``
then shows "(x42 over 10m)".
"""

from __future__ import annotations

import datetime
import hashlib
from collections import OrderedDict
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from .errors import AlreadyExists, NotFound

if TYPE_CHECKING:
    from .client import KubeClient

JSON = dict[str, Any]
EVENT = ("v1", "Event")


def now_time() -> str:
    """metav1.Time: RFC 3339 at second precision, UTC."""
    return datetime.datetime.now(datetime.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def object_reference(obj: Mapping[str, Any]) -> JSON:
    """The ObjectReference of ``obj`` as events and owner links use it."""
    meta = obj.get("metadata") or {}
    ref: JSON = {
        "apiVersion": obj.get("apiVersion", ""),
        "kind": obj.get("kind", ""),
        "name": meta.get("name", ""),
    }
    if meta.get("namespace"):
        ref["namespace"] = meta["namespace"]
    if meta.get("uid"):
        ref["uid"] = meta["uid"]
    return ref


def event_name(ref: Mapping[str, Any], reason: str, message: str, type: str, component: str) -> str:
    """A stable name for one distinct event, so repeats land on the same object."""
    key = "\x00".join(
        str(x)
        for x in (
            ref.get("kind"),
            ref.get("namespace"),
            ref.get("name"),
            ref.get("uid"),
            reason,
            message,
            type,
            component,
        )
    )
    digest = hashlib.sha256(key.encode()).hexdigest()[:16]
    return f"{str(ref.get('name', 'object'))[:200]}.{digest}"


class EventRecorder:
    """Records core/v1 Events for one component, aggregating repeats by count."""

    def __init__(
        self,
        kube: KubeClient,
        component: str = "orkestra",
        *,
        instance: str = "",
        cache_size: int = 4096,
    ):
        self.kube = kube
        self.component = component
        self.instance = instance or component
        self._counts: OrderedDict[tuple[str, str], int] = OrderedDict()
        self._cache_size = cache_size

    async def record(
        self,
        involved: Mapping[str, Any],
        *,
        reason: str,
        message: str,
        type: str = "Normal",
        action: str = "",
    ) -> JSON:
        """Create the event, or bump the count of the identical one already there."""
        ref = object_reference(involved)
        namespace = str(ref.get("namespace") or "default")  # cluster-scoped objects → default
        name = event_name(ref, reason, message, type, self.component)
        key = (namespace, name)
        now = now_time()
        count = self._counts.get(key)
        if count is not None:
            try:
                return await self._bump(namespace, name, count + 1, now)
            except NotFound:
                pass  # the event expired (events have a TTL): create it again
        body: JSON = {
            "apiVersion": "v1",
            "kind": "Event",
            "metadata": {"name": name, "namespace": namespace},
            "involvedObject": ref,
            "reason": reason,
            "message": message,
            "type": type,
            "count": 1,
            "firstTimestamp": now,
            "lastTimestamp": now,
            "source": {"component": self.component},
            "reportingComponent": self.component,
            "reportingInstance": self.instance,
        }
        if action:
            body["action"] = action
        try:
            created = await self.kube.create(body, namespace=namespace)
        except AlreadyExists:
            existing = await self.kube.get(EVENT, name, namespace=namespace)
            return await self._bump(namespace, name, int(existing.get("count") or 1) + 1, now)
        self._remember(key, 1)
        return created

    async def _bump(self, namespace: str, name: str, count: int, now: str) -> JSON:
        result = await self.kube.merge_patch(
            EVENT, name, {"count": count, "lastTimestamp": now}, namespace=namespace
        )
        self._remember((namespace, name), int(result.get("count") or count))
        return result

    def _remember(self, key: tuple[str, str], count: int) -> None:
        self._counts[key] = count
        self._counts.move_to_end(key)
        while len(self._counts) > self._cache_size:
            self._counts.popitem(last=False)
