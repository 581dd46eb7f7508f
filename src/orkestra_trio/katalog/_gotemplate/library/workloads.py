"""Readers of workloads: replicas and rollouts, ReplicaSets, StatefulSets, pods, Jobs, CronJobs.

A "pods" argument may be a list of Pods, a map of them by name (as
``.children.<group>`` holds children), or a single Pod; or a child that
``enrich`` gave its pods (``_pods``, a Service's ``_backingPods``): Orkestra's
pod summaries (``{name, ip, phase, ready, node, containers...}``), which every
pod reader reads as well as a Pod. Likewise a Deployment enriched with
``_replicaSets``, a StatefulSet with ``_pvcs`` and a CronJob with ``_lastJob``
need no second argument.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from orkestra_trio.katalog._gotemplate.functions import template_function
from orkestra_trio.katalog._gotemplate.library._common import at, integer, items, obj, text
from orkestra_trio.katalog._gotemplate.library.objects import (
    generation,
    labels,
    name,
    owner_reference,
)
from orkestra_trio.katalog._gotemplate.values import is_mapping

# -- replicas -------------------------------------------------------------------------


def _count(value: Any, *path: str, default: int = 0) -> int:
    return integer(at(value, *path), "replicas", default)


@template_function("desiredReplicas")
def desired_replicas(value: Any) -> int:
    return _count(value, "spec", "replicas", default=1) if obj(value) else 0


@template_function("availableReplicas")
def available_replicas(value: Any) -> int:
    return _count(value, "status", "availableReplicas")


@template_function("updatedReplicas")
def updated_replicas(value: Any) -> int:
    return _count(value, "status", "updatedReplicas")


@template_function("allReplicasReady")
def all_replicas_ready(value: Any) -> bool:
    return bool(obj(value)) and _count(value, "status", "readyReplicas") >= desired_replicas(value)


@template_function("replicasReady")
def replicas_ready(value: Any) -> bool:
    return all_replicas_ready(value)


@template_function("rolloutComplete")
def rollout_complete(value: Any) -> bool:
    """Deployment-style: the latest spec observed, every replica updated and available."""
    if not obj(value):
        return False
    want = desired_replicas(value)
    return (
        _count(value, "status", "observedGeneration") >= generation(value)
        and updated_replicas(value) >= want
        and available_replicas(value) >= want
        and _count(value, "status", "replicas", default=want) <= want
    )


# -- replicasets --------------------------------------------------------------------


def _owned_by(replica_set: Any, deployment: Any) -> bool:
    uid = text(at(deployment, "metadata", "uid"))
    refs = items(at(replica_set, "metadata", "ownerReferences"))
    return any(
        is_mapping(r)
        and r.get("kind") == "Deployment"
        and (r.get("uid") == uid if uid else r.get("name") == name(deployment))
        for r in refs
    )


def _replica_sets(deployment: Any, given: tuple[Any, ...]) -> list[Mapping[str, Any]]:
    """The ReplicaSets ``deployment`` owns among those given (else its ``_replicaSets``)."""
    replica_sets = given[0] if given else obj(deployment).get("_replicaSets")
    owned = [rs for rs in items(replica_sets) if is_mapping(rs) and _owned_by(rs, deployment)]
    return sorted(owned, key=_revision)


def _revision(replica_set: Any) -> int:
    note = at(replica_set, "metadata", "annotations", "deployment.kubernetes.io/revision")
    return integer(note, "revision", 0)


@template_function("deploymentReplicaSets")
def deployment_replica_sets(deployment: Any, *replica_sets: Any) -> list[str]:
    return [name(rs) for rs in _replica_sets(deployment, replica_sets)]


@template_function("deploymentReplicaSetCount")
def deployment_replica_set_count(deployment: Any, *replica_sets: Any) -> int:
    return len(_replica_sets(deployment, replica_sets))


@template_function("oldDeploymentReplicaSets")
def old_deployment_replica_sets(deployment: Any, *replica_sets: Any) -> list[str]:
    """Every owned ReplicaSet but the newest revision."""
    return [name(rs) for rs in _replica_sets(deployment, replica_sets)[:-1]]


@template_function("replicaSetOwnerKind")
def replica_set_owner_kind(value: Any) -> str:
    return text(owner_reference(value).get("kind"))


@template_function("replicaSetOwnerName")
def replica_set_owner_name(value: Any) -> str:
    return text(owner_reference(value).get("name"))


# -- statefulsets -------------------------------------------------------------------


@template_function("statefulSetCurrentRevision")
def stateful_set_current_revision(value: Any) -> str:
    return text(at(value, "status", "currentRevision"))


@template_function("statefulSetUpdateRevision")
def stateful_set_update_revision(value: Any) -> str:
    return text(at(value, "status", "updateRevision"))


@template_function("statefulSetPVCCount")
def stateful_set_pvc_count(value: Any) -> int:
    """Its claims (``enrich: [pvcs]``), else its volumeClaimTemplates."""
    if "_pvcs" in obj(value):
        return len(items(obj(value)["_pvcs"]))
    return len(items(at(value, "spec", "volumeClaimTemplates")))


# -- pods -----------------------------------------------------------------------------


def _pods(value: Any) -> list[Mapping[str, Any]]:
    if is_mapping(value):
        for key in ("_pods", "_backingPods"):  # a child enrich gave its pods
            if key in value:
                return [p for p in items(value[key]) if is_mapping(p)]
        if "metadata" in value or "status" in value:
            return [value]
    return [p for p in items(value) if is_mapping(p)]


def _summary(pod: Mapping[str, Any]) -> bool:
    """An enrich pod summary (``{name, ip, phase, ready...}``), not a Pod."""
    return "metadata" not in pod and "phase" in pod


def _statuses(pod: Mapping[str, Any]) -> list[Mapping[str, Any]]:
    if _summary(pod):
        return [c for c in items(pod.get("containers")) if is_mapping(c)]
    status = obj(pod.get("status"))
    return [
        s
        for key in ("initContainerStatuses", "containerStatuses")
        for s in items(status.get(key))
        if is_mapping(s)
    ]


def _pod_ready(pod: Mapping[str, Any]) -> bool:
    if _summary(pod):
        return pod.get("ready") is True
    conditions = items(at(pod, "status", "conditions"))
    return any(
        is_mapping(c) and c.get("type") == "Ready" and c.get("status") == "True" for c in conditions
    )


@template_function("podCount")
def pod_count(value: Any) -> int:
    return len(_pods(value))


@template_function("readyPodCount")
def ready_pod_count(value: Any) -> int:
    return sum(1 for pod in _pods(value) if _pod_ready(pod))


@template_function("podNames")
def pod_names(value: Any) -> list[str]:
    return [name(pod) for pod in _pods(value)]


@template_function("podIPs")
def pod_ips(value: Any) -> list[str]:
    return [ip for ip in (_pod_field(pod, "ip", "podIP") for pod in _pods(value)) if ip]


def _pod_field(pod: Mapping[str, Any], summary_key: str, *path: str) -> str:
    """A field of a pod summary, or of a Pod at ``status.<path>`` / ``spec.<path>``."""
    if _summary(pod):
        return text(pod.get(summary_key))
    return text(at(pod, "status", *path) or at(pod, "spec", *path))


@template_function("podNodes")
def pod_nodes(value: Any) -> list[str]:
    return sorted(
        {node for node in (_pod_field(p, "node", "nodeName") for p in _pods(value)) if node}
    )


@template_function("podPhases")
def pod_phases(value: Any) -> list[str]:
    return [_pod_field(pod, "phase", "phase") for pod in _pods(value)]


@template_function("backingPodCount")
def backing_pod_count(value: Any) -> int:
    """How many pods back a Service (the pods given: those its selector matches)."""
    return pod_count(value)


@template_function("backingPodNames")
def backing_pod_names(value: Any) -> list[str]:
    return pod_names(value)


@template_function("podByOrdinal")
def pod_by_ordinal(value: Any, ordinal: Any) -> Mapping[str, Any]:
    """The StatefulSet pod whose name ends in ``-<ordinal>``; {} when there is none."""
    suffix = f"-{integer(ordinal, 'podByOrdinal')}"
    return next((pod for pod in _pods(value) if name(pod).endswith(suffix)), {})


@template_function("podMaxRestarts")
def pod_max_restarts(value: Any) -> int:
    counts = [
        integer(s.get("restartCount"), "restarts", 0) for p in _pods(value) for s in _statuses(p)
    ]
    return max(counts, default=0)


def _reasons(pod: Mapping[str, Any]) -> list[str]:
    if _summary(pod):
        return [
            text(c.get(key))
            for c in _statuses(pod)
            for key in ("reason", "lastReason")
            if c.get(key)
        ]
    out = []
    for container in _statuses(pod):
        for key in ("state", "lastState"):
            for phase in ("waiting", "terminated"):
                reason = at(container, key, phase, "reason")
                if reason:
                    out.append(text(reason))
    return out


@template_function("podContainerReasons")
def pod_container_reasons(value: Any) -> list[str]:
    return sorted({reason for pod in _pods(value) for reason in _reasons(pod)})


@template_function("podContainerState")
def pod_container_state(value: Any) -> str:
    """running, waiting or terminated: the first container's state ("" when unknown)."""
    for pod in _pods(value):
        if _summary(pod):
            first = next(iter(_statuses(pod)), {})
            return text(first.get("state")).lower()
        for container in _statuses(pod):
            for state in ("running", "waiting", "terminated"):
                if at(container, "state", state) is not None:
                    return state
    return ""


@template_function("hasCrashingPod")
def has_crashing_pod(value: Any) -> bool:
    """A container restarted more than twice."""
    return pod_max_restarts(value) > 2


def _detector(function: str, *wanted: str) -> None:
    def detect(value: Any) -> bool:
        return any(reason in wanted for pod in _pods(value) for reason in _reasons(pod))

    detect.__doc__ = f"A container is (or was last) in {' or '.join(wanted)}."
    template_function(function)(detect)


_ERRORS = {
    "podCrashLoopDetected": ("CrashLoopBackOff",),
    "podOOMKilledDetected": ("OOMKilled",),
    "podImagePullBackOffDetected": ("ImagePullBackOff",),
    "podErrImagePullDetected": ("ErrImagePull",),
    "podInvalidImageNameDetected": ("InvalidImageName",),
    "podCreateContainerErrorDetected": ("CreateContainerError", "CreateContainerConfigError"),
    "podRunContainerErrorDetected": ("RunContainerError",),
    "podPostStartHookErrorDetected": ("PostStartHookError",),
    "podPreStartHookErrorDetected": ("PreStartHookError",),
}
for _function, _reasons_wanted in _ERRORS.items():
    _detector(_function, *_reasons_wanted)
_detector("podErrorDetected", *(r for wanted in _ERRORS.values() for r in wanted))


# -- jobs and cronjobs --------------------------------------------------------------


@template_function("jobActive")
def job_active(value: Any) -> int:
    return integer(at(value, "status", "active"), "jobActive", 0)


@template_function("jobSucceeded")
def job_succeeded(value: Any) -> int:
    return integer(at(value, "status", "succeeded"), "jobSucceeded", 0)


@template_function("jobFailed")
def job_failed(value: Any) -> int:
    return integer(at(value, "status", "failed"), "jobFailed", 0)


def _job_pods(job: Any, given: tuple[Any, ...], phase: str) -> list[str]:
    """The pods of ``phase`` among those given (by their job-name label), else the Job's
    own (``enrich: [pods]``: ``_pods``, already its)."""
    if not given:
        return [name(pod) for pod in _pods(obj(job).get("_pods")) if pod.get("phase") == phase]
    job_name = name(job)
    return [
        name(pod)
        for pod in _pods(given[0])
        if labels(pod).get("job-name") == job_name and _pod_field(pod, "phase", "phase") == phase
    ]


@template_function("jobActivePodNames")
def job_active_pod_names(job: Any, *pods: Any) -> list[str]:
    return _job_pods(job, pods, "Running")


@template_function("jobSucceededPodNames")
def job_succeeded_pod_names(job: Any, *pods: Any) -> list[str]:
    return _job_pods(job, pods, "Succeeded")


@template_function("jobFailedPodNames")
def job_failed_pod_names(job: Any, *pods: Any) -> list[str]:
    return _job_pods(job, pods, "Failed")


@template_function("jobFirstExitCode")
def job_first_exit_code(pods: Any) -> int:
    """The exit code of the first terminated container among the pods (-1 when none)."""
    for pod in _pods(pods):
        if _summary(pod):
            code = pod.get("exitCode")
            if isinstance(code, int) and code >= 0:
                return code
            continue
        for container in _statuses(pod):
            for state in ("state", "lastState"):
                code = at(container, state, "terminated", "exitCode")
                if code is not None:
                    return integer(code, "jobFirstExitCode", -1)
    return -1


@template_function("cronJobActiveCount")
def cron_job_active_count(value: Any) -> int:
    return len(items(at(value, "status", "active")))


@template_function("cronJobLastScheduleTime")
def cron_job_last_schedule_time(value: Any) -> str:
    return text(at(value, "status", "lastScheduleTime"))


@template_function("cronJobLastSuccessTime")
def cron_job_last_success_time(value: Any) -> str:
    return text(at(value, "status", "lastSuccessfulTime"))


def _jobs_of(cron_job: Any, jobs: Any) -> list[Mapping[str, Any]]:
    owner = name(cron_job)
    owned = [
        j
        for j in items(jobs)
        if is_mapping(j)
        and any(
            is_mapping(r) and r.get("kind") == "CronJob" and r.get("name") == owner
            for r in items(at(j, "metadata", "ownerReferences"))
        )
    ]
    return sorted(owned, key=lambda j: text(at(j, "metadata", "creationTimestamp")))


@template_function("cronJobLastJobName")
def cron_job_last_job_name(cron_job: Any, *jobs: Any) -> str:
    """The newest Job of the CronJob (from ``jobs`` when given, else its ``_lastJob``,
    else its active list)."""
    if jobs:
        owned = _jobs_of(cron_job, jobs[0])
        return name(owned[-1]) if owned else ""
    if "_lastJob" in obj(cron_job):
        return name(obj(cron_job)["_lastJob"])
    active = items(at(cron_job, "status", "active"))
    return text(obj(active[-1]).get("name")) if active else ""


@template_function("cronJobLastJobSucceeded")
def cron_job_last_job_succeeded(cron_job: Any, *jobs: Any) -> bool:
    """Its newest Job succeeded (of ``jobs`` when given, else its ``_lastJob``)."""
    if not jobs:
        return job_succeeded(obj(cron_job).get("_lastJob")) > 0
    owned = _jobs_of(cron_job, jobs[0])
    return bool(owned) and job_succeeded(owned[-1]) > 0


@template_function("cronJobLastSuccessfulJobName")
def cron_job_last_successful_job_name(cron_job: Any, *jobs: Any) -> str:
    """Its newest succeeded Job (of ``jobs`` when given, else its ``_lastSuccessfulJob``)."""
    if not jobs:
        return name(obj(cron_job).get("_lastSuccessfulJob"))
    done = [j for j in _jobs_of(cron_job, jobs[0]) if job_succeeded(j) > 0]
    return name(done[-1]) if done else ""
