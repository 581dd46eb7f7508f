"""Before the boxes start on a real cluster: does it answer, and does it serve every box's kind?

The first mistakes of a newcomer are a cluster that is not up (a stopped
kind cluster, a VPN that is down, a kubeconfig left over from an earlier
run) and a CRD that was never applied. Left to the boxes, both show as a box
crashing and restarting in a loop with a traceback each time. Here each is
one line that names the cause and where the configuration came from:

* the cluster is probed with ``GET /version`` and retried with a capped,
  jittered backoff, one warning line per failed attempt, for as long as it
  takes (in a pod the API server may well come back);
* a kind no box can watch stops the start with :class:`CrdMissing`, which
  says how to install it (``kubectl apply -f`` its ``crdFile``, or
  ``--install-crds``).

The decisions (:func:`retry_line`, :func:`missing_crds_message`) are pure;
the two coroutines are the effects.
"""

from __future__ import annotations

import logging
import random
from collections.abc import Awaitable, Callable, Sequence

import trio

from orkestra_trio.katalog import CrdEntry, KatalogSet
from orkestra_trio.kube import ApiError, KubeClient, KubeError, NotFound, TransportError

from .backoff import JitteredBackoff

logger = logging.getLogger(__name__)

#: Waits between probes of an unreachable cluster: 0.5 s doubling, never more than 30 s.
CLUSTER_BACKOFF = JitteredBackoff(base=0.5, cap=30.0, jitter=0.2)


class CrdMissing(Exception):
    """Some box's kind is not served by the cluster; the message says how to install it."""


def retry_line(where: str, error: BaseException, attempt: int, delay: float, hint: str) -> str:
    """The one line logged for a failed probe of the cluster."""
    cause = error.cause if isinstance(error, TransportError) else error
    reason = str(cause) or type(cause).__name__
    line = f"cluster {where} unreachable: {reason}; attempt {attempt}, next in {delay:.1f}s"
    return f"{line} ({hint})" if hint else line


async def wait_for_cluster(
    probe: Callable[[], Awaitable[object]],
    where: str,
    *,
    hint: str = "",
    backoff: JitteredBackoff = CLUSTER_BACKOFF,
    rng: random.Random | None = None,
) -> int:
    """Call ``probe`` until it stops failing at transport level; returns the attempts it took.

    Any HTTP answer counts as reachable (a 401 or 403 on ``/version`` is the
    boxes' business, and their errors name it); only a failure to talk to the
    server at all is retried here.
    """
    attempt = 0
    while True:
        attempt += 1
        try:
            await probe()
        except ApiError:
            return attempt
        except TransportError as exc:
            delay = backoff.delay(attempt - 1, rng)
            logger.warning(
                retry_line(where, exc, attempt, delay, hint), extra={"event": "unreachable"}
            )
            await trio.sleep(delay)
        else:
            return attempt


def missing_crds_message(missing: Sequence[CrdEntry], where: str) -> str:
    """One line: which kinds the cluster lacks, and the two ways to install them."""
    names = ", ".join(f"{c.api_types.plural}.{c.api_types.group}" for c in missing)
    files = [str(c.crd_file) for c in missing if c.crd_file is not None]
    how = f"kubectl apply -f {' -f '.join(files)}" if files else "install the CRDs"
    plural = "s" if len(missing) > 1 else ""
    return (
        f"cluster {where} does not serve the CRD{plural} {names}: {how}, or run with "
        "--install-crds to let the runtime install them, or --embedded to use the embedded "
        "API server"
    )


async def check_crds(kube: KubeClient, katalogs: KatalogSet, where: str) -> None:
    """Raise :class:`CrdMissing` when the cluster serves not every box's kind."""
    missing: list[CrdEntry] = []
    for crd in katalogs.crds.values():
        if crd.operator_box is None:
            continue
        types = crd.api_types
        try:
            await kube.resource((types.api_version, types.kind))
        except NotFound:
            missing.append(crd)
        except KubeError:
            # Not ours to judge (RBAC on discovery, a flaky server): the box
            # reports it with its own retries.
            continue
    if missing:
        raise CrdMissing(missing_crds_message(missing, where))
