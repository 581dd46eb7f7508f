"""A box's admission rules at admission time, on the embedded API server.

With ``webhooks: {validation, mutation, operations}`` on a CRD, the embedded
server calls the box's rules (:func:`orkestra_trio.katalog.admission.run_rules`)
on every listed operation before it stores a CR, as Orkestra's webhook server
would: mutated first, then validated (kube runs mutating webhooks before
validating ones), a denial refused with the rule's message, warnings sent
back as Warning headers. ``unique`` reads the box's informer cache. A CR on
its way out (``deletionTimestamp`` set) is let through: its finalizers must
come off whatever it holds. ``conversion.paths`` becomes the kind's converter.

On a real cluster there is no webhook server (it needs TLS and a
ValidatingWebhookConfiguration): the rules run at reconcile only there
(docs/katalog.md).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from contextlib import AsyncExitStack
from typing import TYPE_CHECKING, Any

from orkestra_trio.katalog import CrdEntry, KatalogSet
from orkestra_trio.katalog.admission import convert, run_rules

if TYPE_CHECKING:
    from orkestra_trio.apiserver import ApiServer
    from orkestra_trio.apiserver.admission import AdmissionRequest, AdmissionResponse

    from .box import Box


def admission_hook(
    crd: CrdEntry, peers: Callable[[], Iterable[Mapping[str, Any]]]
) -> Callable[[AdmissionRequest], AdmissionResponse]:
    """The hook that runs ``crd``'s rules at admission; ``peers()``: the box's CRs."""
    from orkestra_trio.apiserver.admission import AdmissionResponse

    admission = crd.admission
    webhooks = admission.webhooks

    def hook(request: AdmissionRequest) -> AdmissionResponse:
        if request.operation not in webhooks.operations:
            return AdmissionResponse()
        if (request.object.get("metadata") or {}).get("deletionTimestamp"):
            return AdmissionResponse()
        outcome = run_rules(
            admission,
            request.object,
            peers=peers(),
            mutate=webhooks.mutation,
            validate=webhooks.validation,
            mutate_first=True,
        )
        if outcome.denials:
            return AdmissionResponse(
                allowed=False, message="; ".join(outcome.denials), warnings=outcome.warnings
            )
        patched = outcome.cr if outcome.patch is not None else None
        return AdmissionResponse(patched=patched, warnings=outcome.warnings)

    return hook


def install_admission(
    stack: AsyncExitStack, apiserver: ApiServer, katalogs: KatalogSet, boxes: Mapping[str, Box]
) -> None:
    """Register the hooks and converters of ``katalogs`` with the embedded server, removed
    when ``stack`` unwinds."""
    for crd in katalogs.crds.values():
        if not crd.enabled:
            continue  # listed, not run: neither its rules nor its conversion
        types = crd.api_types
        webhooks = crd.admission.webhooks
        box = boxes.get(crd.key)
        if box is not None and (webhooks.validation or webhooks.mutation):
            hook = admission_hook(crd, _peers_of(box))
            name = f"orkestra-{crd.key}.{types.group}"
            stack.callback(apiserver.admission.add(name, types.group, types.plural, hook))
        conversion = crd.admission.conversion
        if conversion is not None and conversion.paths:

            def converter(
                obj: Mapping[str, Any], version: str, conversion: Any = conversion
            ) -> Mapping[str, Any]:
                return convert(conversion, obj, version)

            stack.callback(apiserver.admission.add_converter(types.group, types.kind, converter))


def _peers_of(box: Box) -> Callable[[], Iterable[Mapping[str, Any]]]:
    def peers() -> Iterable[Mapping[str, Any]]:
        # Before the box's informer has listed, there is nothing to compare with.
        informer = box.cr_informer
        return () if informer is None else informer.objects()

    return peers
