"""In-process admission and conversion hooks: the embedded server's webhooks, without HTTP.

A real API server calls admission webhooks (MutatingWebhookConfiguration,
ValidatingWebhookConfiguration) and a CRD's conversion webhook over TLS. The
embedded server runs in the same process as whoever would serve them, so it
takes plain callables instead: an :data:`AdmissionHook` per resource (or for
every resource: ``"*"``, as a webhook whose objectSelector does the choosing),
called on the operations it was added for (CREATE and UPDATE unless told;
DELETE too) of the object (not of its subresources) before it is stored or
deleted,
and a :data:`Converter` per custom kind, called when an object is served in a
version other than the one it was written in, and to store a write in the
storage version. This module knows nothing of who registers them (the
runtime's boxes do).

A hook that denies answers 400 ``admission webhook "<name>" denied the
request: <message>`` as kube-apiserver does; a hook that raises answers 500
``failed calling webhook`` with failurePolicy Fail and is passed over with
Ignore; warnings become Warning headers.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping
from typing import Any

import attrs

from orkestra_trio.apiserver.status import ApiError

log = logging.getLogger(__name__)


@attrs.frozen
class AdmissionRequest:
    """What an admission hook is asked about (the fields of an AdmissionReview request)."""

    operation: str  # CREATE, UPDATE or DELETE
    group: str
    version: str
    kind: str
    plural: str
    namespace: str
    name: str
    #: The object to store; on DELETE the stored object (kube sends it as oldObject).
    object: Mapping[str, Any]
    old_object: Mapping[str, Any] | None = None


@attrs.frozen
class AdmissionResponse:
    """A hook's answer: allowed or not (``message`` says why), the object to store instead
    (a mutation; None: as given) and warnings for the client."""

    allowed: bool = True
    message: str = ""
    patched: Mapping[str, Any] | None = None
    warnings: tuple[str, ...] = ()


AdmissionHook = Callable[[AdmissionRequest], AdmissionResponse]
#: ``converter(obj, version)``: ``obj`` (any version of its kind) as ``version``.
Converter = Callable[[Mapping[str, Any], str], Mapping[str, Any]]


#: Registered for every resource (``add(name, ANY, ANY, ...)``).
ANY = "*"


@attrs.frozen
class _Hook:
    name: str
    hook: AdmissionHook
    operations: frozenset[str]
    failure_policy: str


class AdmissionHooks:
    """The hooks registered with one server, by (group, plural) and by (group, kind)."""

    def __init__(self) -> None:
        self._hooks: dict[tuple[str, str], list[_Hook]] = {}
        self._converters: dict[tuple[str, str], Converter] = {}

    def add(
        self,
        name: str,
        group: str,
        plural: str,
        hook: AdmissionHook,
        *,
        operations: tuple[str, ...] = ("CREATE", "UPDATE"),
        failure_policy: str = "Fail",
    ) -> Callable[[], None]:
        """Call ``hook`` on ``operations`` of ``plural.group`` (``ANY``, ``ANY``: of every
        resource); returns the remover. ``failure_policy`` Ignore: a hook that raises is
        passed over."""
        entry = _Hook(name, hook, frozenset(operations), failure_policy)
        self._hooks.setdefault((group, plural), []).append(entry)

        def remove() -> None:
            hooks = self._hooks.get((group, plural), [])
            if any(h is entry for h in hooks):
                hooks[:] = [h for h in hooks if h is not entry]

        return remove

    def add_converter(self, group: str, kind: str, converter: Converter) -> Callable[[], None]:
        """Convert objects of ``kind.group`` between versions with ``converter``."""
        self._converters[(group, kind)] = converter

        def remove() -> None:
            if self._converters.get((group, kind)) is converter:
                del self._converters[(group, kind)]

        return remove

    def _for(self, group: str, plural: str, operation: str) -> list[_Hook]:
        hooks = [*self._hooks.get((group, plural), ()), *self._hooks.get((ANY, ANY), ())]
        return [entry for entry in hooks if operation in entry.operations]

    def admit(self, request: AdmissionRequest, warnings: list[str]) -> Mapping[str, Any]:
        """The object to store: each hook's mutation in turn; raises ApiError on a denial
        (on DELETE: the object, unchanged, when every hook lets it go)."""
        obj = request.object
        for entry in self._for(request.group, request.plural, request.operation):
            try:
                response = entry.hook(attrs.evolve(request, object=obj))
            except Exception as exc:
                log.exception("admission hook %s failed", entry.name)
                if entry.failure_policy == "Ignore":  # as kube passes over such a webhook
                    continue
                raise ApiError(
                    500,
                    f'Internal error occurred: failed calling webhook "{entry.name}": {exc}',
                    reason="InternalError",
                ) from None
            warnings.extend(response.warnings)
            if not response.allowed:
                raise ApiError(
                    400,
                    f'admission webhook "{entry.name}" denied the request: '
                    f"{response.message or 'without explanation'}",
                    reason="BadRequest",
                )
            if response.patched is not None and request.operation != "DELETE":
                obj = response.patched
        return obj

    def has_hooks(self, group: str, plural: str, operation: str = "") -> bool:
        """Any hook on ``plural.group`` (for ``operation``, when given)?"""
        if operation:
            return bool(self._for(group, plural, operation))
        return bool(self._hooks.get((group, plural)) or self._hooks.get((ANY, ANY)))

    def converter(self, group: str, kind: str) -> Converter | None:
        return self._converters.get((group, kind))
