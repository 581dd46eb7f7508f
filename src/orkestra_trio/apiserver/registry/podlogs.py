"""``GET pods/<name>/log`` for Pods no kubelet runs: an immediate, honest answer.

On a cluster the API server proxies the log request to the Pod's kubelet.
Nothing runs here, yet ``kubectl logs`` (and ``-f``, and ``deploy/x``) must
answer at once rather than hang until a timeout: a running container answers
one line saying it is simulated; the errors for a Pod that is not running, a
missing or ambiguous container and ``--previous`` follow kube's wording.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from orkestra_trio.apiserver.status import bad_request


def _container_names(pod: Mapping[str, Any]) -> list[str]:
    spec = pod.get("spec") or {}
    return [str(c.get("name", "")) for c in spec.get("containers") or () if isinstance(c, Mapping)]


def log_text(
    pod: Mapping[str, Any],
    container: str | None,
    *,
    previous: bool = False,
    timestamps: bool = False,
    tail_lines: int | None = None,
) -> str:
    """The log body for ``container`` of ``pod`` (400 ApiError as kube words it)."""
    name = str(pod["metadata"]["name"])
    containers = _container_names(pod)
    init = [
        str(c.get("name", ""))
        for c in (pod.get("spec") or {}).get("initContainers") or ()
        if isinstance(c, Mapping)
    ]
    if not container:
        if len(containers) != 1:
            choices = " ".join(containers)
            raise bad_request(
                f"a container name must be specified for pod {name}, choose one of: [{choices}]"
            )
        container = containers[0]
    if container not in containers and container not in init:
        raise bad_request(f"container {container} is not valid for pod {name}")
    if previous:
        raise bad_request(f'previous terminated container "{container}" in pod "{name}" not found')
    status = pod.get("status") or {}
    if status.get("phase") == "Pending":
        raise bad_request(
            f'container "{container}" in pod "{name}" is waiting to start: ContainerCreating'
        )
    if tail_lines is not None and tail_lines <= 0:
        return ""
    line = (
        f"orkestra_trio: container {container!r} of pod {name!r} is simulated by the "
        "embedded API server and writes no output\n"
    )
    if timestamps:
        started = str(status.get("startTime") or "")
        line = f"{started.replace('Z', '.000000000Z')} {line}"
    return line
