"""Before the boxes start on a real cluster: does it answer at all?

A newcomer's first mistake is often a cluster that is not up (a stopped
kind cluster, a VPN that is down, a kubeconfig left over from an earlier
run). Left to the boxes, it shows as every box crashing and restarting in a
loop. Here the cluster is probed with ``GET /version`` and retried with a
capped, jittered backoff, one warning line per failed attempt naming the
server and where its configuration came from, for as long as it takes (in a
pod the API server may well come back). A TLS handshake that fails is not
retried: a certificate the client does not trust (or a client certificate the
server refuses) stays wrong until the kubeconfig changes, so it is one
:class:`~orkestra_trio.kube.ConfigError` line, as kubectl does. A CRD the cluster lacks is the
box's own business: its supervisor retries, one line each
(:func:`~orkestra_trio.runtime.box.crd_missing_message`).

:func:`retry_line` decides the words; :func:`wait_for_cluster` is the effect.
"""

from __future__ import annotations

import logging
import random
from collections.abc import Awaitable, Callable

import trio

from orkestra_trio.kube import ApiError, ConfigError, TransportError

from .backoff import JitteredBackoff

logger = logging.getLogger(__name__)

#: Waits between probes of an unreachable cluster: 0.5 s doubling, never more than 30 s.
CLUSTER_BACKOFF = JitteredBackoff(base=0.5, cap=30.0, jitter=0.2)


def retry_line(where: str, error: BaseException, attempt: int, delay: float, hint: str) -> str:
    """The one line logged for a failed probe of the cluster."""
    cause = error.cause if isinstance(error, TransportError) else error
    reason = str(cause) or type(cause).__name__
    line = f"cluster {where} unreachable: {reason}; attempt {attempt}, next in {delay:.1f}s"
    return f"{line} ({hint})" if hint else line


def tls_failure_line(where: str, error: TransportError) -> str:
    """The one line that ends the start when the TLS handshake with the cluster fails."""
    reason = str(error.cause) or type(error.cause).__name__
    return (
        f"cluster {where}: TLS handshake failed: {reason} (check the kubeconfig's "
        "certificate-authority(-data) and client certificate)"
    )


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
    server at all is retried here, except a failed TLS handshake, which raises
    :class:`~orkestra_trio.kube.ConfigError`.
    """
    attempt = 0
    while True:
        attempt += 1
        try:
            await probe()
        except ApiError:
            return attempt
        except TransportError as exc:
            if exc.tls_failure:
                raise ConfigError(tls_failure_line(where, exc)) from None
            delay = backoff.delay(attempt - 1, rng)
            logger.warning(
                retry_line(where, exc, attempt, delay, hint), extra={"event": "unreachable"}
            )
            await trio.sleep(delay)
        else:
            return attempt
