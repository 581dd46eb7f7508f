"""Where a remote ``cross:`` entry is read from: URL inference and safe endpoint templating.

ONCOP's promise is that a Katalog says *what* to observe and never *where* it
lives at path level: from ``source.host`` plus ``type``, ``crd`` and the
rendered ``selector`` we build the path (:func:`oncop_path`). The raw
``source.endpoint`` form lets the author write the URL, but only its path and
query may depend on the observed CR: the scheme and host are fixed when the
Katalog is loaded, so no value a user puts into a CR can aim the runtime at
another host. We enforce that twice:

* every value a template substitutes is percent-encoded as one path segment
  or query value (``/``, ``?``, ``#``, ``@``, ``:`` and spaces included), so
  ``@evil``, ``//other`` or ``http://x`` stay inside the path;
* the finished URL is parsed again and must still have the load-time scheme,
  host and port.

The result is a :class:`RemoteTarget`, whose ``key`` is the cache key of
ONCOP.md: ``<type>:<crd>:<namespace>:<name>:<host-or-endpoint>``.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any
from urllib.parse import quote

import attrs
import httpx

from orkestra_trio.katalog.model import CrossEntry, CrossSource, Text
from orkestra_trio.katalog.template import (
    TemplateRenderError,
    TemplateSyntaxError,
    compile_template,
)

#: Types whose answer concerns one CR (their URL needs a name and a namespace).
CR_SCOPED_TYPES = frozenset({"cr", "events"})

#: The namespace segment used for cluster-scoped CRs (servers ignore it for them).
CLUSTER_NAMESPACE = "_"

# scheme://authority at the start of an endpoint (the loader accepted only these).
_AUTHORITY = re.compile(r"[A-Za-z][A-Za-z0-9+.-]*://[^/?#]*")


class TargetError(ValueError):
    """The entry cannot be turned into a URL for this CR (an empty name, a render error...)."""


@attrs.frozen
class RemoteTarget:
    """One remote read, fully resolved: what to GET and under which cache key."""

    type: str
    crd: str
    namespace: str
    name: str
    #: ``source.host`` for ONCOP, the load-time ``scheme://host[:port]`` for an endpoint.
    base: str
    url: str
    #: True for a raw ``endpoint`` (the answer is used as is, not as an ONCOP shape).
    raw: bool = False

    @property
    def key(self) -> str:
        """The cache key: ``<type>:<crd>:<namespace>:<name>:<host-or-endpoint>``."""
        where = self.url if self.raw else self.base
        return f"{self.type}:{self.crd}:{self.namespace}:{self.name}:{where}"


def segment(value: str) -> str:
    """``value`` as exactly one URL path segment (or query value), percent-encoded.

    ``.`` and ``..`` are encoded too: HTTP clients remove dot segments, which
    would let a value climb out of the path the author wrote.
    """
    encoded = quote(value, safe="")
    if encoded in (".", ".."):
        return encoded.replace(".", "%2E")
    return encoded


def oncop_path(type_: str, crd: str, namespace: str = "", name: str = "") -> str:
    """The ONCOP path of ``type_`` (ONCOP.md's table); every part is one escaped segment."""
    base = f"/katalog/{segment(crd)}"
    if type_ in ("metrics", "info"):
        return base
    if type_ == "health":
        return f"{base}/health"
    if type_ not in CR_SCOPED_TYPES:
        raise TargetError(f"unknown ONCOP type {type_!r}")
    if not name:
        raise TargetError(f"type {type_} needs a name: selector.name rendered empty")
    path = f"{base}/cr/{segment(namespace or CLUSTER_NAMESPACE)}/{segment(name)}"
    return f"{path}/events" if type_ == "events" else path


def oncop_target(crd: str, source: CrossSource, *, name: str, namespace: str) -> RemoteTarget:
    """The target of an ONCOP (``source.host``) entry, ``name``/``namespace`` already rendered.

    health, metrics and info concern the whole CRD: their key leaves the
    namespace and name out, so every CR observing them shares one request.
    """
    if source.host is None:
        raise TargetError("not an ONCOP source (no host)")
    type_ = source.type
    if type_ not in CR_SCOPED_TYPES:
        namespace = name = ""
    path = oncop_path(type_, crd, namespace, name)
    return RemoteTarget(
        type=type_,
        crd=crd,
        namespace=namespace,
        name=name,
        base=source.host,
        url=source.host + path,
    )


def endpoint_target(
    crd: str,
    source: CrossSource,
    context: Mapping[str, Any],
    *,
    name: str = "",
    namespace: str = "",
) -> RemoteTarget:
    """The target of a raw ``source.endpoint``: path and query rendered, values escaped."""
    if source.endpoint is None:
        raise TargetError("not an endpoint source (no endpoint)")
    base, url = render_endpoint(source.endpoint, context)
    return RemoteTarget(
        type=source.type,
        crd=crd,
        namespace=namespace,
        name=name,
        base=base,
        url=url,
        raw=True,
    )


def render_endpoint(
    text: Text, context: Mapping[str, Any], *, what: str = "endpoint"
) -> tuple[str, str]:
    """(``scheme://host[:port]``, the whole URL) of an endpoint rendered for one CR.

    Only the path and query are rendered, every substituted value escaped as
    one segment, and the result must keep the load-time scheme, host and port.
    """
    match = _AUTHORITY.match(text.source)
    if match is None or "{{" in match.group(0):  # the loader refuses these; be safe anyway
        raise TargetError(f"{what} {text.source!r} has no literal scheme://host")
    base = match.group(0)
    rest = text.source[match.end() :]
    if text.is_template:
        try:
            template = compile_template(rest, name=text.where or f"<{what}>")
            rest = template.render(escaped_context(context))
        except (TemplateRenderError, TemplateSyntaxError) as error:
            raise TargetError(f"{what} template: {error}") from error
    if rest and rest[0] not in "/?#":
        raise TargetError(f"{what} path must start with '/' or '?', got {rest[:40]!r}")
    url = base + rest
    check_same_origin(base, url)
    return base, url


def resolve(
    entry: CrossEntry, *, name: str, namespace: str, context: Mapping[str, Any]
) -> RemoteTarget:
    """The target of a remote entry for one CR (``name``/``namespace`` rendered by the caller)."""
    source = entry.source
    if source is None:
        raise TargetError(f"cross entry {entry.as_!r} is same-process (no source)")
    if source.host is not None:
        return oncop_target(entry.crd, source, name=name, namespace=namespace)
    return endpoint_target(entry.crd, source, context, name=name, namespace=namespace)


def check_same_origin(base: str, url: str) -> None:
    """Raise :class:`TargetError` unless ``url`` has the scheme, host and port of ``base``."""
    try:
        want, got = httpx.URL(base), httpx.URL(url)
    except (httpx.InvalidURL, ValueError) as error:
        raise TargetError(f"invalid URL {url!r}: {error}") from error
    if (want.scheme, want.host, want.port) != (got.scheme, got.host, got.port) or got.userinfo:
        raise TargetError(f"the rendered endpoint {url!r} leaves {base!r}")


def escaped_context(value: Any) -> Any:
    """A copy of a template context whose strings are escaped URL segments.

    Kubernetes names, namespaces and numbers are unchanged by the escaping, so
    ordinary templates render as before; only characters that would change
    the URL's structure are encoded.
    """
    if isinstance(value, str):
        return segment(value)
    if isinstance(value, Mapping):
        return {key: escaped_context(item) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [escaped_context(item) for item in value]
    return value
