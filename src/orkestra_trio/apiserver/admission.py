"""In-process admission and conversion hooks: the embedded server's webhooks, without HTTP.

A real API server calls admission webhooks (MutatingWebhookConfiguration,
ValidatingWebhookConfiguration) and a CRD's conversion webhook over TLS. The
embedded server runs in the same process as whoever would serve them, so it
takes plain callables instead: an :data:`AdmissionHook` per resource, called on
CREATE and UPDATE of the object (not of its subresources) before it is stored,
and a :data:`Converter` per custom kind, called when an object is served in a
version other than the one it was written in, and to store a write in the
storage version. This module knows nothing of who registers them (the
runtime's boxes do).

A hook that denies answers 400 ``admission webhook "<name>" denied the
request: <message>`` as kube-apiserver does; a hook that raises answers 500
``failed calling webhook`` (failurePolicy: Fail); warnings become Warning
headers.
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

    operation: str  # CREATE or UPDATE
    group: str
    version: str
    kind: str
    plural: str
    namespace: str
    name: str
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


class AdmissionHooks:
    """The hooks registered with one server, by (group, plural) and by (group, kind)."""

    def __init__(self) -> None:
        self._hooks: dict[tuple[str, str], list[tuple[str, AdmissionHook]]] = {}
        self._converters: dict[tuple[str, str], Converter] = {}

    def add(self, name: str, group: str, plural: str, hook: AdmissionHook) -> Callable[[], None]:
        """Call ``hook`` on every CREATE and UPDATE of ``plural.group``; returns the remover."""
        entry = (name, hook)
        self._hooks.setdefault((group, plural), []).append(entry)

        def remove() -> None:
            hooks = self._hooks.get((group, plural), [])
            if entry in hooks:
                hooks.remove(entry)

        return remove

    def add_converter(self, group: str, kind: str, converter: Converter) -> Callable[[], None]:
        """Convert objects of ``kind.group`` between versions with ``converter``."""
        self._converters[(group, kind)] = converter

        def remove() -> None:
            if self._converters.get((group, kind)) is converter:
                del self._converters[(group, kind)]

        return remove

    def admit(self, request: AdmissionRequest, warnings: list[str]) -> Mapping[str, Any]:
        """The object to store: each hook's mutation in turn; raises ApiError on a denial."""
        obj = request.object
        for name, hook in list(self._hooks.get((request.group, request.plural), ())):
            try:
                response = hook(attrs.evolve(request, object=obj))
            except Exception as exc:  # failurePolicy: Fail, as a broken webhook would
                log.exception("admission hook %s failed", name)
                raise ApiError(
                    500,
                    f'Internal error occurred: failed calling webhook "{name}": {exc}',
                    reason="InternalError",
                ) from None
            warnings.extend(response.warnings)
            if not response.allowed:
                raise ApiError(
                    400,
                    f'admission webhook "{name}" denied the request: '
                    f"{response.message or 'without explanation'}",
                    reason="BadRequest",
                )
            if response.patched is not None:
                obj = response.patched
        return obj

    def has_hooks(self, group: str, plural: str) -> bool:
        return bool(self._hooks.get((group, plural)))

    def converter(self, group: str, kind: str) -> Converter | None:
        return self._converters.get((group, kind))
