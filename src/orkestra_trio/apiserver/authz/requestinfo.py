"""From an HTTP request to RBAC attributes, the way kube's RequestInfoFactory reads URLs.

Only the URL and method count (never the body or the served kinds), so a
request is authorized before anything is parsed or looked up:

* ``/api/v1/...`` and ``/apis/<group>/<version>/...`` are resource requests;
  ``namespaces/<ns>/<plural>[/<name>[/<sub>]]`` or ``<plural>[/<name>[/<sub>]]``;
  ``/namespaces/<name>`` is the namespace object itself;
* the verb: GET a collection is ``list`` (``watch`` with ``watch=true`` or a
  ``/watch/`` prefix), GET a name ``get``, POST ``create``, PUT ``update``,
  PATCH ``patch``, DELETE ``delete`` or ``deletecollection``;
* any other path (discovery roots, ``/version``, ``/healthz``) is a
  non-resource request with the lower-cased HTTP method as verb.
"""

from __future__ import annotations

from collections.abc import Mapping

from .rbac import Attributes

_TRUE = frozenset({"1", "t", "T", "TRUE", "true", "True"})
_NAMED_VERBS = {
    "GET": "get",
    "PUT": "update",
    "PATCH": "patch",
    "DELETE": "delete",
    "POST": "create",
}
_COLLECTION_VERBS = {"GET": "list", "POST": "create", "DELETE": "deletecollection"}


def request_attributes(method: str, path: str, query: Mapping[str, str]) -> Attributes:
    """The authorizer's view of one request."""
    parts = [p for p in path.split("/") if p]
    if len(parts) >= 2 and parts[0] == "api":
        group, rest = "", parts[2:]
    elif len(parts) >= 3 and parts[0] == "apis":
        group, rest = parts[1], parts[3:]
    else:
        rest = []
    if not rest:
        return Attributes(verb=method.lower(), resource_request=False, path=path)
    watch = rest[0] == "watch"
    if watch:
        rest = rest[1:]
    namespace = ""
    if len(rest) >= 2 and rest[0] == "namespaces":
        if len(rest) == 2 or (len(rest) == 3 and rest[2] in ("status", "finalize")):
            # The namespace object itself: /namespaces/<name>[/status].
            namespace = rest[1]
            rest = ["namespaces", rest[1], *rest[2:]]
        else:
            namespace = rest[1]
            rest = rest[2:]
    resource = rest[0] if rest else ""
    name = rest[1] if len(rest) > 1 else ""
    subresource = rest[2] if len(rest) > 2 else ""
    method = method.upper()
    if name:
        verb = _NAMED_VERBS.get(method, method.lower())
        if watch and verb == "get":
            verb = "watch"
    else:
        verb = _COLLECTION_VERBS.get(method, method.lower())
        if verb == "list" and (watch or query.get("watch") in _TRUE):
            verb = "watch"
    return Attributes(
        verb=verb,
        api_group=group,
        resource=resource,
        subresource=subresource,
        namespace=namespace,
        name=name,
        path=path,
    )
