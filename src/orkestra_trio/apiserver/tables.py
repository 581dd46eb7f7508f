"""Server-side printing: the ``meta.k8s.io/v1`` Table that ``kubectl get`` shows.

kubectl asks for ``application/json;as=Table;v=v1;g=meta.k8s.io`` and prints
whatever columns the server sends; it does not compute them itself.  So the
columns here are the ones a real server's printers produce for each built-in
(pods: Name, Ready, Status, Restarts, Age ...), custom resources get their
CRD's ``additionalPrinterColumns`` (evaluated with the small JSONPath subset
CRDs use) and anything else gets Name and Age.

Ages follow Kubernetes' human-duration rounding (``5m3s`` under ten minutes,
``3h12m`` under eight hours, ``4d2h`` under eight days ...), because users
compare them with what a real cluster prints.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Mapping, Sequence
from datetime import UTC, datetime
from typing import Any

from orkestra_trio.apiserver.kinds import ResourceKind

Obj = Mapping[str, Any]

_NAME_DESCRIPTION = (
    "Name must be unique within a namespace. Is required when creating resources, although some "
    "resources may allow a client to request the generation of an appropriate name "
    "automatically. Name is primarily intended for creation idempotence and configuration "
    "definition. Cannot be updated."
)
_AGE_DESCRIPTION = (
    "CreationTimestamp is a timestamp representing the server time when this object was "
    "created. It is not guaranteed to be set in happens-before order across separate "
    "operations. Clients may not set this value. It is represented in RFC3339 form and is in "
    "UTC."
)


# --------------------------------------------------------------------------
# durations and timestamps


def human_duration(seconds: float) -> str:
    """Kubernetes' ``duration.HumanDuration``: the age format kubectl prints."""
    secs = int(seconds)
    if secs < -1:
        return "<invalid>"
    if secs < 0:
        return "0s"
    if secs < 120:
        return f"{secs}s"
    minutes = secs // 60
    if minutes < 10:
        rest = secs % 60
        return f"{minutes}m" if rest == 0 else f"{minutes}m{rest}s"
    if minutes < 180:
        return f"{minutes}m"
    hours = secs // 3600
    if hours < 8:
        rest = minutes % 60
        return f"{hours}h" if rest == 0 else f"{hours}h{rest}m"
    if hours < 48:
        return f"{hours}h"
    if hours < 24 * 8:
        rest = hours % 24
        return f"{hours // 24}d" if rest == 0 else f"{hours // 24}d{rest}h"
    if hours < 24 * 365 * 2:
        return f"{hours // 24}d"
    if hours < 24 * 365 * 8:
        days = (hours // 24) % 365
        years = hours // 24 // 365
        return f"{years}y" if days == 0 else f"{years}y{days}d"
    return f"{hours // 24 // 365}y"


def parse_time(value: Any) -> datetime | None:
    """An RFC 3339 timestamp as an aware datetime, or None."""
    if not isinstance(value, str) or not value:
        return None
    try:
        parsed = datetime.fromisoformat(value.replace("Z", "+00:00").replace("z", "+00:00"))
    except ValueError:
        return None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


def age(timestamp: Any, now: datetime) -> str:
    """The AGE cell: ``<unknown>`` without a timestamp, as the real printers do."""
    when = parse_time(timestamp)
    if when is None:
        return "<unknown>"
    return human_duration((now - when).total_seconds())


# --------------------------------------------------------------------------
# the JSONPath subset of additionalPrinterColumns

_SEGMENT_RE = re.compile(
    r"""\.(?P<key>[A-Za-z0-9_\-$]+)
      | \[(?P<index>-?\d+|\*)\]
      | \[\?\(@\.(?P<fkey>[A-Za-z0-9_\-.]+)\s*(?P<fop>==|!=)\s*(?P<fval>"[^"]*"|'[^']*'|[^)\s]+)\s*\)\]
      | \[['"](?P<qkey>[^'"]+)['"]\]
    """,
    re.VERBOSE,
)


class JSONPathError(ValueError):
    """A column path outside the supported subset."""


def compile_jsonpath(path: str) -> list[tuple[str, Any]]:
    """Parse ``.spec.x``, ``.items[0]``, ``[*]``, ``[?(@.type=="Ready")]``, ``['a.b']``."""
    text = path.strip()
    if text.startswith("{") and text.endswith("}"):
        text = text[1:-1].strip()
    if text.startswith("$"):
        text = text[1:]
    steps: list[tuple[str, Any]] = []
    pos = 0
    while pos < len(text):
        m = _SEGMENT_RE.match(text, pos)
        if not m:
            raise JSONPathError(f"unrecognized column definition {path!r}")
        if m.group("key") is not None:
            steps.append(("key", m.group("key")))
        elif m.group("qkey") is not None:
            steps.append(("key", m.group("qkey")))
        elif m.group("index") is not None:
            idx = m.group("index")
            steps.append(("all", None) if idx == "*" else ("index", int(idx)))
        else:
            raw = m.group("fval")
            value: Any = raw[1:-1] if raw[0] in "\"'" else _literal(raw)
            steps.append(("filter", (m.group("fkey").split("."), m.group("fop"), value)))
        pos = m.end()
    return steps


def _literal(raw: str) -> Any:
    try:
        return json.loads(raw)
    except ValueError:
        return raw


def _dig(value: Any, keys: Sequence[str]) -> Any:
    for key in keys:
        if not isinstance(value, Mapping):
            return None
        value = value.get(key)
    return value


def evaluate_jsonpath(obj: Any, steps: Sequence[tuple[str, Any]]) -> list[Any]:
    """All values the path selects (missing keys select nothing)."""
    current = [obj]
    for op, arg in steps:
        nxt: list[Any] = []
        for value in current:
            if op == "key":
                if isinstance(value, Mapping) and arg in value:
                    nxt.append(value[arg])
            elif op == "index":
                if isinstance(value, list) and -len(value) <= arg < len(value):
                    nxt.append(value[arg])
            elif op == "all":
                if isinstance(value, list):
                    nxt.extend(value)
                elif isinstance(value, Mapping):
                    nxt.extend(value.values())
            elif op == "filter" and isinstance(value, list):
                keys, fop, want = arg
                for item in value:
                    have = _dig(item, keys)
                    if (have == want) == (fop == "=="):
                        nxt.append(item)
        current = nxt
    return current


def _text(value: Any) -> str:
    if isinstance(value, str):
        return value
    if isinstance(value, bool):
        return "true" if value else "false"
    return json.dumps(value, separators=(",", ":"))


def _custom_cell(column_type: str, value: Any, now: datetime) -> Any:
    """A CRD column cell, converted per column type as the CRD table convertor does."""
    if value is None:
        return None
    if column_type == "string":
        return _text(value)
    if column_type == "integer":
        if isinstance(value, bool):
            return None
        if isinstance(value, int):
            return value
        if isinstance(value, float):
            return int(value)
        return None
    if column_type == "number":
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            return None
        return float(value)
    if column_type == "boolean":
        return value if isinstance(value, bool) else None
    if column_type == "date":
        if not isinstance(value, str):
            return None
        return "<invalid>" if parse_time(value) is None else age(value, now)
    return None


# --------------------------------------------------------------------------
# column definitions


def _col(
    name: str, ctype: str = "string", description: str = "", *, fmt: str = "", priority: int = 0
) -> dict[str, Any]:
    return {
        "name": name,
        "type": ctype,
        "format": fmt,
        "description": description,
        "priority": priority,
    }


_NAME = _col("Name", "string", _NAME_DESCRIPTION, fmt="name")
_AGE = _col("Age", "string", _AGE_DESCRIPTION)
# The wide-output (priority 1) columns of the workload controllers.
_CONTAINERS = _col("Containers", "string", "Names of each container in the template.", priority=1)
_IMAGES = _col(
    "Images", "string", "Images referenced by each container in the template.", priority=1
)
_SELECTOR = _col("Selector", "string", "Label selector for pods.", priority=1)
# Every workload (deployments, replicasets, jobs; statefulsets without the
# selector) ends its table with these, in this order.
_TEMPLATE_COLUMNS = [_AGE, _CONTAINERS, _IMAGES, _SELECTOR]

Row = Callable[[Obj, datetime], list[Any]]


def _meta(obj: Obj) -> Mapping[str, Any]:
    return obj.get("metadata") or {}


def _name(obj: Obj) -> str:
    return str(_meta(obj).get("name", ""))


def _obj_age(obj: Obj, now: datetime) -> str:
    return age(_meta(obj).get("creationTimestamp"), now)


def _get(obj: Any, *keys: str, default: Any = None) -> Any:
    value = _dig(obj, keys)
    return default if value is None else value


def _pod_template_spec(obj: Obj) -> Mapping[str, Any]:
    spec = _get(obj, "spec", "template", "spec")
    return spec if isinstance(spec, Mapping) else {}


def _containers(spec: Mapping[str, Any]) -> str:
    return ",".join(str(c.get("name", "")) for c in spec.get("containers") or ())


def _images(spec: Mapping[str, Any]) -> str:
    return ",".join(str(c.get("image", "")) for c in spec.get("containers") or ())


def _selector_text(selector: Any) -> str:
    if not isinstance(selector, Mapping) or not selector:
        return "<none>"
    parts = [f"{k}={v}" for k, v in sorted((selector.get("matchLabels") or {}).items())]
    ops = {"In": "in", "NotIn": "notin"}
    for expr in selector.get("matchExpressions") or ():
        key, op = expr.get("key"), expr.get("operator")
        if op in ops:
            parts.append(f"{key} {ops[op]} ({','.join(sorted(expr.get('values') or ()))})")
        elif op == "Exists":
            parts.append(str(key))
        elif op == "DoesNotExist":
            parts.append(f"!{key}")
    return ",".join(parts) if parts else "<none>"


def _pod_status(obj: Obj) -> str:
    status = obj.get("status") or {}
    reason = str(status.get("reason") or status.get("phase") or "Pending")
    for cs in status.get("containerStatuses") or ():
        state = cs.get("state") or {}
        if state.get("waiting", {}).get("reason"):
            reason = state["waiting"]["reason"]
        elif state.get("terminated", {}).get("reason"):
            reason = state["terminated"]["reason"]
    if _meta(obj).get("deletionTimestamp"):
        reason = "Terminating"
    return reason


def _pod_row(obj: Obj, now: datetime) -> list[Any]:
    spec = obj.get("spec") or {}
    status = obj.get("status") or {}
    statuses = status.get("containerStatuses") or ()
    total = len(spec.get("containers") or ())
    ready = sum(1 for cs in statuses if cs.get("ready"))
    restarts = sum(int(cs.get("restartCount") or 0) for cs in statuses)
    gates = spec.get("readinessGates") or ()
    return [
        _name(obj),
        f"{ready}/{total}",
        _pod_status(obj),
        str(restarts),
        _obj_age(obj, now),
        status.get("podIP") or "<none>",
        spec.get("nodeName") or "<none>",
        status.get("nominatedNodeName") or "<none>",
        f"0/{len(gates)}" if gates else "<none>",
    ]


def _ready_of_desired(obj: Obj) -> str:
    spec = obj.get("spec") or {}
    status = obj.get("status") or {}
    return f"{int(status.get('readyReplicas') or 0)}/{int(spec.get('replicas', 1) or 0)}"


def _template_cells(obj: Obj, now: datetime) -> list[Any]:
    """The cells under ``_TEMPLATE_COLUMNS``, which end every workload's table."""
    template = _pod_template_spec(obj)
    return [
        _obj_age(obj, now),
        _containers(template),
        _images(template),
        _selector_text(_get(obj, "spec", "selector")),
    ]


def _deployment_row(obj: Obj, now: datetime) -> list[Any]:
    status = obj.get("status") or {}
    return [
        _name(obj),
        _ready_of_desired(obj),
        int(status.get("updatedReplicas") or 0),
        int(status.get("availableReplicas") or 0),
        *_template_cells(obj, now),
    ]


def _statefulset_row(obj: Obj, now: datetime) -> list[Any]:
    # kubectl shows no selector for statefulsets: the last template cell is dropped.
    return [_name(obj), _ready_of_desired(obj), *_template_cells(obj, now)[:-1]]


def _replicaset_row(obj: Obj, now: datetime) -> list[Any]:
    spec = obj.get("spec") or {}
    status = obj.get("status") or {}
    return [
        _name(obj),
        int(spec.get("replicas", 1) or 0),
        int(status.get("replicas") or 0),
        int(status.get("readyReplicas") or 0),
        *_template_cells(obj, now),
    ]


def _job_status(obj: Obj) -> str:
    for cond in _get(obj, "status", "conditions", default=()):
        if cond.get("status") == "True" and cond.get("type") in ("Complete", "Failed"):
            return str(cond["type"])
    if _meta(obj).get("deletionTimestamp"):
        return "Terminating"
    if _get(obj, "spec", "suspend"):
        return "Suspended"
    return "Running"


def _job_row(obj: Obj, now: datetime) -> list[Any]:
    spec = obj.get("spec") or {}
    status = obj.get("status") or {}
    completions = spec.get("completions")
    succeeded = int(status.get("succeeded") or 0)
    if completions is not None:
        done = f"{succeeded}/{completions}"
    else:
        parallelism = int(spec.get("parallelism", 1) or 0)
        done = f"{succeeded}/1 of {parallelism}" if parallelism > 1 else f"{succeeded}/1"
    start = parse_time(status.get("startTime"))
    end = parse_time(status.get("completionTime")) or now
    duration = human_duration((end - start).total_seconds()) if start else ""
    return [_name(obj), _job_status(obj), done, duration, *_template_cells(obj, now)]


def _cronjob_row(obj: Obj, now: datetime) -> list[Any]:
    spec = obj.get("spec") or {}
    status = obj.get("status") or {}
    last = status.get("lastScheduleTime")
    return [
        _name(obj),
        str(spec.get("schedule", "")),
        spec.get("timeZone") or "<none>",
        "True" if spec.get("suspend") else "False",
        len(status.get("active") or ()),
        age(last, now) if last else "<none>",
        _obj_age(obj, now),
    ]


def _service_ports(spec: Mapping[str, Any]) -> str:
    parts = []
    for port in spec.get("ports") or ():
        text = f"{port.get('port')}"
        if port.get("nodePort"):
            text += f":{port['nodePort']}"
        parts.append(f"{text}/{port.get('protocol', 'TCP')}")
    return ",".join(parts) if parts else "<none>"


def _service_row(obj: Obj, now: datetime) -> list[Any]:
    spec = obj.get("spec") or {}
    stype = spec.get("type") or "ClusterIP"
    external = ",".join(spec.get("externalIPs") or ())
    ingress = _get(obj, "status", "loadBalancer", "ingress", default=())
    lb = ",".join(str(i.get("ip") or i.get("hostname") or "") for i in ingress)
    if stype == "ExternalName":
        external = str(spec.get("externalName", ""))
    elif stype == "LoadBalancer":
        external = ",".join(x for x in (lb, external) if x) or "<pending>"
    selector = spec.get("selector") or {}
    return [
        _name(obj),
        stype,
        spec.get("clusterIP") or "<none>",
        external or "<none>",
        _service_ports(spec),
        _obj_age(obj, now),
        ",".join(f"{k}={v}" for k, v in sorted(selector.items())) or "<none>",
    ]


def _endpoints_row(obj: Obj, now: datetime) -> list[Any]:
    addresses = []
    for subset in obj.get("subsets") or ():
        ports = [p.get("port") for p in subset.get("ports") or ()] or [None]
        for addr in subset.get("addresses") or ():
            for port in ports:
                ip = addr.get("ip", "")
                addresses.append(f"{ip}:{port}" if port is not None else str(ip))
    shown = ",".join(addresses[:3]) + (
        f" + {len(addresses) - 3} more..." if len(addresses) > 3 else ""
    )
    return [_name(obj), shown or "<none>", _obj_age(obj, now)]


def _event_row(obj: Obj, now: datetime) -> list[Any]:
    involved = obj.get("involvedObject") or obj.get("regarding") or {}
    series = obj.get("series") or {}
    last = (
        series.get("lastObservedTime")
        or obj.get("lastTimestamp")
        or obj.get("eventTime")
        or _meta(obj).get("creationTimestamp")
    )
    first = obj.get("firstTimestamp") or obj.get("eventTime") or _meta(obj).get("creationTimestamp")
    source = obj.get("source") or obj.get("deprecatedSource") or {}
    component = (
        source.get("component") or obj.get("reportingComponent") or obj.get("reportingController")
    )
    return [
        age(last, now),
        obj.get("type", ""),
        obj.get("reason", ""),
        f"{str(involved.get('kind', '')).lower()}/{involved.get('name', '')}",
        involved.get("fieldPath", ""),
        str(component or ""),
        obj.get("message") or obj.get("note") or "",
        age(first, now),
        int(obj.get("count") or series.get("count") or 1),
        _name(obj),
    ]


def _crd_row(obj: Obj, now: datetime) -> list[Any]:
    created = parse_time(_meta(obj).get("creationTimestamp"))
    return [_name(obj), created.strftime("%Y-%m-%dT%H:%M:%SZ") if created else "<unknown>"]


def _row_of(*cells: Callable[[Obj, datetime], Any]) -> Row:
    """A row printer from one function per cell, for kinds whose cells are one-liners."""

    def row(obj: Obj, now: datetime) -> list[Any]:
        return [cell(obj, now) for cell in cells]

    return row


def _name_cell(obj: Obj, now: datetime) -> str:
    return _name(obj)


_EVENT_COLUMNS = [
    _col("Last Seen", "string", "The last time the event was observed"),
    _col("Type", "string", "Type of this event (Normal, Warning)"),
    _col("Reason", "string", "The reason for the event"),
    _col("Object", "string", "The object this event is about"),
    _col("Subobject", "string", "The subobject this event is about", priority=1),
    _col("Source", "string", "The component that reported this event", priority=1),
    _col("Message", "string", "A human-readable description of the event"),
    _col("First Seen", "string", "The first time the event was observed", priority=1),
    _col("Count", "integer", "The number of times this event has occurred", priority=1),
    _col("Name", "string", _NAME_DESCRIPTION, fmt="name", priority=1),
]

_PRINTERS: dict[tuple[str, str], tuple[list[dict[str, Any]], Row]] = {
    ("", "pods"): (
        [
            _NAME,
            _col(
                "Ready",
                "string",
                "The aggregate readiness state of this pod for accepting traffic.",
            ),
            _col("Status", "string", "The aggregate status of the containers in this pod."),
            _col(
                "Restarts",
                "string",
                "The number of times the containers in this pod have been restarted and when the last container in this pod has restarted.",
            ),
            _AGE,
            _col("IP", "string", "IP address allocated to the pod.", priority=1),
            _col("Node", "string", "Name of the node this pod is running on.", priority=1),
            _col(
                "Nominated Node",
                "string",
                "Name of the node this pod is nominated to run on.",
                priority=1,
            ),
            _col("Readiness Gates", "string", "The readiness gates of this pod.", priority=1),
        ],
        _pod_row,
    ),
    ("apps", "deployments"): (
        [
            _NAME,
            _col("Ready", "string", "Number of the pod with ready state"),
            _col(
                "Up-to-date",
                "integer",
                "Total number of non-terminated pods targeted by this deployment that have the desired template spec.",
            ),
            _col(
                "Available",
                "integer",
                "Total number of available pods (ready for at least minReadySeconds) targeted by this deployment.",
            ),
            *_TEMPLATE_COLUMNS,
        ],
        _deployment_row,
    ),
    ("apps", "statefulsets"): (
        [
            _NAME,
            _col("Ready", "string", "Number of the pod with ready state"),
            *_TEMPLATE_COLUMNS[:-1],
        ],
        _statefulset_row,
    ),
    ("apps", "replicasets"): (
        [
            _NAME,
            _col("Desired", "integer", "Number of desired pods."),
            _col("Current", "integer", "Number of actual replicas."),
            _col("Ready", "integer", "The number of ready replicas for this replica set."),
            *_TEMPLATE_COLUMNS,
        ],
        _replicaset_row,
    ),
    ("batch", "jobs"): (
        [
            _NAME,
            _col("Status", "string", "Status of the job."),
            _col("Completions", "string", "The completion status of the job."),
            _col("Duration", "string", "Time required to complete the job."),
            *_TEMPLATE_COLUMNS,
        ],
        _job_row,
    ),
    ("batch", "cronjobs"): (
        [
            _NAME,
            _col("Schedule", "string", "The schedule in Cron format."),
            _col("Timezone", "string", "The time zone for the schedule."),
            _col("Suspend", "boolean", "Whether further executions are suspended."),
            _col("Active", "integer", "The number of currently running jobs."),
            _col("Last Schedule", "string", "When the job was last successfully scheduled."),
            _AGE,
        ],
        _cronjob_row,
    ),
    ("", "services"): (
        [
            _NAME,
            _col("Type", "string", "Determines how the Service is exposed."),
            _col("Cluster-IP", "string", "The IP address of the service."),
            _col("External-IP", "string", "The list of external IP addresses of the service."),
            _col("Port(s)", "string", "The list of ports that are exposed by this service."),
            _AGE,
            _col(
                "Selector",
                "string",
                "Route service traffic to pods with label keys and values matching this selector.",
                priority=1,
            ),
        ],
        _service_row,
    ),
    ("", "endpoints"): (
        [_NAME, _col("Endpoints", "string", "Endpoints of the resource."), _AGE],
        _endpoints_row,
    ),
    ("", "namespaces"): (
        [_NAME, _col("Status", "string", "The status of the namespace"), _AGE],
        _row_of(_name_cell, lambda o, now: _get(o, "status", "phase", default="Active"), _obj_age),
    ),
    ("", "configmaps"): (
        [_NAME, _col("Data", "integer", "Number of data items in the ConfigMap."), _AGE],
        _row_of(
            _name_cell,
            lambda o, now: len(o.get("data") or {}) + len(o.get("binaryData") or {}),
            _obj_age,
        ),
    ),
    ("", "secrets"): (
        [
            _NAME,
            _col("Type", "string", "The type of the secret."),
            _col("Data", "integer", "Number of data items in the secret."),
            _AGE,
        ],
        _row_of(
            _name_cell,
            lambda o, now: o.get("type") or "Opaque",
            lambda o, now: len(o.get("data") or {}),
            _obj_age,
        ),
    ),
    ("", "serviceaccounts"): (
        [
            _NAME,
            _col(
                "Secrets",
                "string",
                "Secrets is a list of the secrets in the same namespace that pods running using this ServiceAccount are allowed to use.",
            ),
            _AGE,
        ],
        _row_of(_name_cell, lambda o, now: str(len(o.get("secrets") or ())), _obj_age),
    ),
    ("coordination.k8s.io", "leases"): (
        [_NAME, _col("Holder", "string", "The holder of the lease."), _AGE],
        _row_of(
            _name_cell,
            lambda o, now: _get(o, "spec", "holderIdentity", default="<none>"),
            _obj_age,
        ),
    ),
    ("networking.k8s.io", "ingresses"): (
        [
            _NAME,
            _col(
                "Class",
                "string",
                "The name of the IngressClass resource that should be used for ingress",
            ),
            _col(
                "Hosts",
                "string",
                "Hosts that incoming requests are matched against before the ingress rule",
            ),
            _col(
                "Address",
                "string",
                "Address is a list containing ingress points for the load-balancer",
            ),
            _col("Ports", "string", "Ports of TLS configurations that open"),
            _AGE,
        ],
        _row_of(
            _name_cell,
            lambda o, now: _get(o, "spec", "ingressClassName", default="<none>"),
            lambda o, now: (
                ",".join(
                    str(r.get("host"))
                    for r in _get(o, "spec", "rules", default=())
                    if r.get("host")
                )
                or "*"
            ),
            lambda o, now: ",".join(
                str(i.get("ip") or i.get("hostname") or "")
                for i in _get(o, "status", "loadBalancer", "ingress", default=())
            ),
            lambda o, now: "80, 443" if _get(o, "spec", "tls") else "80",
            _obj_age,
        ),
    ),
    ("", "events"): (_EVENT_COLUMNS, _event_row),
    ("events.k8s.io", "events"): (_EVENT_COLUMNS, _event_row),
    ("apiextensions.k8s.io", "customresourcedefinitions"): (
        [_NAME, _col("Created At", "date", _AGE_DESCRIPTION)],
        _crd_row,
    ),
}

_ACCESS_MODES = {
    "ReadWriteOnce": "RWO",
    "ReadOnlyMany": "ROX",
    "ReadWriteMany": "RWX",
    "ReadWriteOncePod": "RWOP",
}


def _access_modes(obj: Obj) -> str:
    modes = _get(obj, "spec", "accessModes", default=()) or ()
    return ",".join(_ACCESS_MODES.get(str(m), str(m)) for m in modes)


def _count(*keys: str) -> Callable[[Obj, datetime], Any]:
    return lambda o, now: _get(o, "status", *keys, default=0) or 0


def _hpa_targets(obj: Obj) -> str:
    metrics = _get(obj, "spec", "metrics", default=()) or ()
    shown = []
    for metric in metrics:
        target = (metric.get("resource") or {}).get("target") or {}
        utilization = target.get("averageUtilization")
        name = (metric.get("resource") or {}).get("name", "")
        if utilization is not None:
            shown.append(f"{name}: <unknown>/{utilization}%")
        else:
            shown.append(
                "<unknown>/" + str(target.get("averageValue") or target.get("value") or "")
            )
    return ", ".join(shown) or "<none>"


def _daemonset_row(obj: Obj, now: datetime) -> list[Any]:
    status = obj.get("status") or {}
    counts = [
        status.get(key) or 0
        for key in (
            "desiredNumberScheduled",
            "currentNumberScheduled",
            "numberReady",
            "updatedNumberScheduled",
            "numberAvailable",
        )
    ]
    selector = _pod_template_spec(obj).get("nodeSelector") or {}
    shown = ",".join(f"{k}={v}" for k, v in sorted(selector.items())) or "<none>"
    return [_name(obj), *counts, shown, *_template_cells(obj, now)]


def _node_status(obj: Obj) -> str:
    for cond in _get(obj, "status", "conditions", default=()) or ():
        if cond.get("type") == "Ready":
            return "Ready" if cond.get("status") == "True" else "NotReady"
    return "Unknown"


# The kinds added for issue 15, with the columns kubectl shows for them on a cluster.
_PRINTERS.update(
    {
        ("apps", "daemonsets"): (
            [
                _NAME,
                _col(
                    "Desired",
                    "integer",
                    "The number of nodes that should be running the daemon pod.",
                ),
                _col("Current", "integer", "The number of nodes running at least one daemon pod."),
                _col("Ready", "integer", "The number of nodes running the daemon pod and ready."),
                _col(
                    "Up-to-date", "integer", "The number of nodes running the updated daemon pod."
                ),
                _col(
                    "Available", "integer", "The number of nodes running the daemon pod, available."
                ),
                _col("Node Selector", "string", "NodeSelector of the pod template."),
                *_TEMPLATE_COLUMNS,
            ],
            _daemonset_row,
        ),
        ("", "persistentvolumeclaims"): (
            [
                _NAME,
                _col("Status", "string", "The phase of the claim."),
                _col("Volume", "string", "The volume bound to the claim."),
                _col("Capacity", "string", "The capacity of the bound volume."),
                _col("Access Modes", "string", "The access modes of the claim."),
                _col("StorageClass", "string", "The storage class of the claim."),
                _AGE,
            ],
            _row_of(
                _name_cell,
                lambda o, now: _get(o, "status", "phase", default="Pending"),
                lambda o, now: _get(o, "spec", "volumeName", default=""),
                lambda o, now: _get(o, "status", "capacity", "storage", default=""),
                lambda o, now: _access_modes(o) if _get(o, "status", "phase") == "Bound" else "",
                lambda o, now: _get(o, "spec", "storageClassName", default="<unset>"),
                _obj_age,
            ),
        ),
        ("", "persistentvolumes"): (
            [
                _NAME,
                _col("Capacity", "string", "The capacity of the volume."),
                _col("Access Modes", "string", "The access modes of the volume."),
                _col("Reclaim Policy", "string", "What happens to the volume when released."),
                _col("Status", "string", "The phase of the volume."),
                _col("Claim", "string", "The claim bound to the volume."),
                _col("StorageClass", "string", "The storage class of the volume."),
                _AGE,
            ],
            _row_of(
                _name_cell,
                lambda o, now: _get(o, "spec", "capacity", "storage", default=""),
                lambda o, now: _access_modes(o),
                lambda o, now: _get(o, "spec", "persistentVolumeReclaimPolicy", default="Retain"),
                lambda o, now: _get(o, "status", "phase", default="Pending"),
                lambda o, now: (
                    f"{ref.get('namespace')}/{ref.get('name')}"
                    if (ref := _get(o, "spec", "claimRef"))
                    else ""
                ),
                lambda o, now: _get(o, "spec", "storageClassName", default=""),
                _obj_age,
            ),
        ),
        ("autoscaling", "horizontalpodautoscalers"): (
            [
                _NAME,
                _col("Reference", "string", "The scale target of the autoscaler."),
                _col("Targets", "string", "The metrics and their targets."),
                _col("MinPods", "string", "The lower limit of replicas."),
                _col("MaxPods", "integer", "The upper limit of replicas."),
                _col("Replicas", "integer", "The current number of replicas."),
                _AGE,
            ],
            _row_of(
                _name_cell,
                lambda o, now: (
                    f"{_get(o, 'spec', 'scaleTargetRef', 'kind', default='')}/"
                    f"{_get(o, 'spec', 'scaleTargetRef', 'name', default='')}"
                ),
                lambda o, now: _hpa_targets(o),
                lambda o, now: str(_get(o, "spec", "minReplicas", default=1)),
                lambda o, now: _get(o, "spec", "maxReplicas", default=0),
                _count("currentReplicas"),
                _obj_age,
            ),
        ),
        ("policy", "poddisruptionbudgets"): (
            [
                _NAME,
                _col(
                    "Min Available", "string", "The minimum number of pods that must be available."
                ),
                _col("Max Unavailable", "string", "The maximum number of unavailable pods."),
                _col("Allowed Disruptions", "integer", "How many pods may be disrupted now."),
                _AGE,
            ],
            _row_of(
                _name_cell,
                lambda o, now: str(_get(o, "spec", "minAvailable", default="N/A")),
                lambda o, now: str(_get(o, "spec", "maxUnavailable", default="N/A")),
                _count("disruptionsAllowed"),
                _obj_age,
            ),
        ),
        ("networking.k8s.io", "networkpolicies"): (
            [_NAME, _col("Pod-Selector", "string", "The pods the policy applies to."), _AGE],
            _row_of(
                _name_cell,
                lambda o, now: (
                    "<none>"
                    if not _get(o, "spec", "podSelector")
                    else _selector_text(_get(o, "spec", "podSelector"))
                ),
                _obj_age,
            ),
        ),
        ("", "nodes"): (
            [
                _NAME,
                _col("Status", "string", "The readiness of the node."),
                _col("Roles", "string", "The roles of the node."),
                _AGE,
                _col("Version", "string", "The kubelet version of the node."),
            ],
            _row_of(
                _name_cell,
                lambda o, now: _node_status(o),
                lambda o, now: (
                    ",".join(
                        sorted(
                            k.rpartition("/")[2]
                            for k in (o["metadata"].get("labels") or {})
                            if k.startswith("node-role.kubernetes.io/")
                        )
                    )
                    or "<none>"
                ),
                _obj_age,
                lambda o, now: _get(o, "status", "nodeInfo", "kubeletVersion", default=""),
            ),
        ),
    }
)


# The column a CRD gets when it declares none (the API server defaults it).
_DEFAULT_CRD_COLUMNS: tuple[Mapping[str, Any], ...] = (
    {"name": "Age", "type": "date", "jsonPath": ".metadata.creationTimestamp"},
)


def _custom_columns(kind: ResourceKind) -> tuple[list[dict[str, Any]], Row]:
    specs = kind.printer_columns or _DEFAULT_CRD_COLUMNS
    columns = [_NAME]
    paths: list[tuple[str, list[tuple[str, Any]] | None]] = []
    for spec in specs:
        json_path = str(spec.get("jsonPath", ""))
        columns.append(
            _col(
                str(spec.get("name", "")),
                str(spec.get("type", "string")),
                str(
                    spec.get("description")
                    or f"Custom resource definition column (in JSONPath format): {json_path}"
                ),
                fmt=str(spec.get("format", "")),
                priority=int(spec.get("priority", 0) or 0),
            )
        )
        try:
            paths.append((str(spec.get("type", "string")), compile_jsonpath(json_path)))
        except JSONPathError:
            paths.append((str(spec.get("type", "string")), None))

    def row(obj: Obj, now: datetime) -> list[Any]:
        cells: list[Any] = [_name(obj)]
        for ctype, steps in paths:
            found = evaluate_jsonpath(obj, steps) if steps is not None else []
            cells.append(_custom_cell(ctype, found[0], now) if found else None)
        return cells

    return columns, row


def _generic(kind: ResourceKind) -> tuple[list[dict[str, Any]], Row]:
    return [_NAME, _AGE], _row_of(_name_cell, _obj_age)


def printer_for(kind: ResourceKind) -> tuple[list[dict[str, Any]], Row]:
    """Column definitions and the row function for ``kind``."""
    if kind.is_custom:
        return _custom_columns(kind)
    printer = _PRINTERS.get((kind.group, kind.plural))
    return printer if printer is not None else _generic(kind)


def _row_object(obj: Obj, include_object: str | None) -> Any:
    if include_object == "None":
        return None
    if include_object == "Object":
        return obj
    return {
        "kind": "PartialObjectMetadata",
        "apiVersion": "meta.k8s.io/v1",
        "metadata": dict(_meta(obj)),
    }


def to_table(
    kind: ResourceKind,
    objects: Sequence[Obj],
    *,
    include_object: str | None = "Metadata",
    resource_version: str = "",
    continue_token: str = "",
    now: datetime | None = None,
    include_headers: bool = True,
) -> dict[str, Any]:
    """A ``meta.k8s.io/v1`` Table for ``objects`` of ``kind``.

    ``include_object`` is the ``includeObject`` query parameter (None,
    Metadata — the default — or Object).  ``include_headers=False`` leaves
    out the column definitions, as a real server does after the first event
    of a Table watch.
    """
    when = now or datetime.now(UTC)
    columns, row = printer_for(kind)
    if not resource_version and len(objects) == 1:
        resource_version = str(_meta(objects[0]).get("resourceVersion", ""))
    metadata: dict[str, Any] = {"resourceVersion": resource_version}
    if continue_token:
        metadata["continue"] = continue_token
    return {
        "kind": "Table",
        "apiVersion": "meta.k8s.io/v1",
        "metadata": metadata,
        "columnDefinitions": [dict(c) for c in columns] if include_headers else [],
        "rows": [
            {"cells": row(obj, when), "object": _row_object(obj, include_object or "Metadata")}
            for obj in objects
        ],
    }


def table_row_event(
    kind: ResourceKind,
    event_type: str,
    obj: Obj,
    *,
    include_object: str | None = "Metadata",
    include_headers: bool = True,
    now: datetime | None = None,
) -> dict[str, Any]:
    """A watch event carrying a one-row Table, as ``kubectl get -w`` receives them."""
    return {
        "type": event_type,
        "object": to_table(
            kind, [obj], include_object=include_object, include_headers=include_headers, now=now
        ),
    }
