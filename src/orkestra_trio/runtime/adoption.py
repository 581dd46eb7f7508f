"""Children made before boxes labelled theirs: found once at box start and given the label.

Each box caches only the children that carry its box label
(:data:`~orkestra_trio.katalog.manifests.BOX_LABEL`), so that two boxes with
Deployment children do not each hold the other's. Children created by an
earlier version carry no box label: left alone, the box would never see them
(a create would meet AlreadyExists on every reconcile, a prune or a deletion
would miss them). So when a box starts, it lists once, per child kind, the
children managed by orkestra that carry no box label, and labels those whose
owner is one of its CRs. One list per kind per start, and nothing to patch
once every child is labelled.

:func:`ours` decides (pure); :func:`adopt_children` lists and patches.
"""

from __future__ import annotations

import logging
from collections.abc import Collection, Iterable, Mapping
from typing import Any

from orkestra_trio.katalog.manifests import BOX_LABEL, MANAGED_BY_LABEL, MANAGED_BY_VALUE
from orkestra_trio.kube import ALL_NAMESPACES, Forbidden, KubeClient, KubeError, NotFound

from .informer import owner_uid

logger = logging.getLogger(__name__)

#: Children managed by orkestra that no box has labelled yet.
UNLABELLED = f"{MANAGED_BY_LABEL}={MANAGED_BY_VALUE},!{BOX_LABEL}"


def ours(obj: Mapping[str, Any], cr_uids: Collection[str]) -> bool:
    """Whether ``obj`` is a child of one of the box's CRs (``cr_uids``): uids are unique,
    so its owner's uid (controller reference, else owner-uid label) says it."""
    return owner_uid(obj) in cr_uids


async def adopt_children(
    kube: KubeClient,
    child_kinds: Iterable[tuple[str, str]],
    *,
    cr_uids: Collection[str],
    box_label: str,
    box: str,
    namespace: str = ALL_NAMESPACES,
) -> int:
    """Label the box's unlabelled children; returns how many were labelled.

    Best effort: a kind that may not be listed or patched (least-privilege
    RBAC grants ``patch`` only on kinds the box reconciles) is logged and
    skipped; its children stay reachable through their owner, as before.
    """
    adopted = 0
    for api_version, kind in child_kinds:
        try:
            listed = await kube.list(
                (api_version, kind), namespace=namespace, label_selector=UNLABELLED
            )
        except (NotFound, Forbidden) as exc:
            logger.info(
                "box %s: children of kind %s not checked for a box label: %s", box, kind, exc
            )
            continue
        for obj in listed.items:
            if not ours(obj, cr_uids):
                continue
            metadata = obj.get("metadata") or {}
            try:
                await kube.merge_patch(
                    (api_version, kind),
                    str(metadata.get("name") or ""),
                    {"metadata": {"labels": {BOX_LABEL: box_label}}},
                    namespace=str(metadata.get("namespace") or "") or None,
                )
            except NotFound:
                continue  # deleted meanwhile
            except KubeError as exc:
                logger.warning(
                    "box %s: could not label %s %s as its own: %s",
                    box,
                    kind,
                    metadata.get("name"),
                    exc,
                    extra={"box": box},
                )
                break
            adopted += 1
    if adopted:
        logger.info(
            "box %s: labelled %d children made before boxes labelled theirs",
            box,
            adopted,
            extra={"box": box},
        )
    return adopted
