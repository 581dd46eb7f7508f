"""A box's admission rules at admission time: on the embedded API server, and what the
webhook server of a real cluster reads.

With ``webhooks: {validation, mutation, operations}`` on a CRD, the embedded
server calls the box's rules on every listed operation before it stores a
CR, as Orkestra's webhook server would. The decision is
:func:`orkestra_trio.katalog.admission.admission_decision`, the same one
the HTTPS webhook server (:mod:`orkestra_trio.webhook`) takes on a real
cluster: mutated first, then validated, a denial refused with the rule's
message, warnings sent back as Warning headers. ``unique`` reads the box's
informer cache. ``conversion.paths`` becomes the kind's converter.

A Katalog's ``security:`` adds the protection hooks
(:mod:`orkestra_trio.katalog.security` decides): deletion protection on
every DELETE (and, with strictMode, every UPDATE) of any resource, namespace
protection on CREATE and UPDATE of the Katalog's CRs; with the failurePolicy
the block names, as the webhook configurations of a real cluster have.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Iterable, Mapping
from contextlib import AsyncExitStack
from typing import TYPE_CHECKING, Any

import trio

from orkestra_trio.katalog import CrdEntry, KatalogSet
from orkestra_trio.katalog.admission import (
    admission_decision,
    admitting_crds,
    convert,
    converting_crds,
    webhook_name,
)
from orkestra_trio.katalog.protection import (
    NamespaceGuard,
    deletion_protection,
    namespace_guards,
    namespace_webhook_name,
    protected_crd_names,
)
from orkestra_trio.katalog.security import (
    DELETION_WEBHOOK,
    STRICT_MODE_WEBHOOK,
    deletion_denial,
    namespace_denial,
    strict_mode_denial,
)

if TYPE_CHECKING:
    from orkestra_trio.apiserver import ApiServer
    from orkestra_trio.apiserver.admission import AdmissionRequest, AdmissionResponse

    from .box import Box
    from .registry import KatalogRegistry

#: How long a webhook request waits for the CRs' informer to list (kube's webhook
#: timeout is 10 s by default; the manifests set it).
PEERS_SYNC_TIMEOUT = 5.0


def admission_hook(
    crd: CrdEntry, peers: Callable[[], Iterable[Mapping[str, Any]]]
) -> Callable[[AdmissionRequest], AdmissionResponse]:
    """The hook that runs ``crd``'s rules at admission; ``peers()``: the box's CRs."""
    from orkestra_trio.apiserver.admission import AdmissionResponse

    admission = crd.admission

    def hook(request: AdmissionRequest) -> AdmissionResponse:
        outcome = admission_decision(admission, request.operation, request.object, peers=peers())
        if outcome is None:
            return AdmissionResponse()
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
    for crd in admitting_crds(katalogs):
        box = boxes.get(crd.key)
        if box is not None:
            hook = admission_hook(crd, _peers_of(box))
            types = crd.api_types
            policy = katalogs.security_of(crd.key).webhooks.failure_policy
            add = apiserver.admission.add(
                webhook_name(crd), types.group, types.plural, hook, failure_policy=policy
            )
            stack.callback(add)
    install_protection(stack, apiserver, katalogs)
    for crd in converting_crds(katalogs):
        conversion = crd.admission.conversion

        def converter(
            obj: Mapping[str, Any], version: str, conversion: Any = conversion
        ) -> Mapping[str, Any]:
            return convert(conversion, obj, version)

        types = crd.api_types
        stack.callback(apiserver.admission.add_converter(types.group, types.kind, converter))


def install_protection(stack: AsyncExitStack, apiserver: ApiServer, katalogs: KatalogSet) -> None:
    """Register the hooks of the Katalogs' deletion and namespace protection."""
    from orkestra_trio.apiserver.admission import ANY, AdmissionResponse

    def verdict(message: str | None) -> AdmissionResponse:
        return AdmissionResponse() if message is None else AdmissionResponse(False, message)

    deletion = deletion_protection(katalogs)
    if deletion is not None:
        crd_names = protected_crd_names(katalogs)

        def on_delete(request: AdmissionRequest) -> AdmissionResponse:
            return verdict(deletion_denial(request.kind, request.object, crd_names))

        stack.callback(
            apiserver.admission.add(
                DELETION_WEBHOOK,
                ANY,
                ANY,
                on_delete,
                operations=("DELETE",),
                failure_policy=deletion.failure_policy,
            )
        )
        if deletion.strict_mode:

            def on_update(request: AdmissionRequest) -> AdmissionResponse:
                denial = strict_mode_denial(request.kind, request.old_object, request.object)
                return verdict(denial)

            stack.callback(
                apiserver.admission.add(
                    STRICT_MODE_WEBHOOK,
                    ANY,
                    ANY,
                    on_update,
                    operations=("UPDATE",),
                    failure_policy=deletion.failure_policy,
                )
            )
    for guard in namespace_guards(katalogs):
        types = guard.crd.api_types
        stack.callback(
            apiserver.admission.add(
                namespace_webhook_name(guard.crd),
                types.group,
                types.plural,
                _namespace_hook(guard, verdict),
                failure_policy=guard.settings.failure_policy,
            )
        )


def _namespace_hook(
    guard: NamespaceGuard, verdict: Callable[[str | None], AdmissionResponse]
) -> Callable[[AdmissionRequest], AdmissionResponse]:
    def hook(request: AdmissionRequest) -> AdmissionResponse:
        namespace = request.namespace or str(
            (request.object.get("metadata") or {}).get("namespace") or ""
        )
        kind = guard.crd.api_types.kind
        return verdict(namespace_denial(kind, namespace, guard.restricted, guard.allowed))

    return hook


def _peers_of(box: Box) -> Callable[[], Iterable[Mapping[str, Any]]]:
    def peers() -> Iterable[Mapping[str, Any]]:
        # Before the box's informer has listed, there is nothing to compare with.
        informer = box.cr_informer
        return () if informer is None else informer.objects()

    return peers


def webhook_peers(
    registry: KatalogRegistry,
) -> Callable[[CrdEntry], Awaitable[Iterable[Mapping[str, Any]]]]:
    """The CRs ``unique`` compares with, for the webhook server: the CRD's informer.

    The informer is the one the box reads (shared through the registry). A
    replica that does not run the box (``--leader-elect per-box``) starts it at
    the first request that needs it and waits for its list, so that every
    replica behind the Service answers alike; one that cannot list in time
    raises, and kube applies the webhook's failurePolicy.
    """

    async def peers(crd: CrdEntry) -> Iterable[Mapping[str, Any]]:
        informer = await registry.cr_informer(crd.key)
        with trio.move_on_after(PEERS_SYNC_TIMEOUT):
            await informer.synced.wait()
        if not informer.synced.is_set():
            raise RuntimeError(f"the informer of {crd.api_types.plural} has not listed yet")
        return list(informer.objects())

    return peers
