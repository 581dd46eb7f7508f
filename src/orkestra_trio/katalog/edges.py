"""Who observes whom: every cross-operator dependency a Katalog declares.

Two declarations make one box read another operator (the seeds: "the
dependency is visible: it appears in the Katalog ... and it's visible in the
Control Center"):

* each ``cross:`` entry (``via="cross"``);
* each autoscale condition with a ``source:`` of its own (``via="autoscale"``):
  the autoscaler polls that source every ``interval``, whatever the box's
  ``cross:`` entries say. A condition without a source reads through a
  ``cross:`` entry, which is an edge already.

``validate`` counts these edges, the Control Center draws them and ``/katalog``
lists them; all three call :func:`katalog_edges`.
"""

from __future__ import annotations

import re
from collections.abc import Iterable

import attrs

from orkestra_trio.katalog.model import CrdEntry, CrossEntry, CrossSource

# The first ``cross.<name>`` of a condition's field, dotted path or template.
_CROSS_NAME = re.compile(r"(?:^|[\s.({])cross\.([A-Za-z_][A-Za-z0-9_-]*)")


def cross_name(field: str) -> str | None:
    """The ``<name>`` of the first ``cross.<name>`` a condition field reads, if any."""
    match = _CROSS_NAME.search(field)
    return match.group(1) if match else None


@attrs.frozen
class Edge:
    """Box ``observer`` reads CRD ``observed`` (``.cross.<as_>``), in-process or over ``source``."""

    observer: str
    observed: str
    as_: str
    source: CrossSource | None
    via: str  # "cross" | "autoscale"

    @property
    def remote(self) -> bool:
        return self.source is not None

    @property
    def where(self) -> str:
        """``same-process``, or the remote host or endpoint read over HTTP."""
        if self.source is None:
            return "same-process"
        if self.source.host is not None:
            return self.source.host
        endpoint = self.source.endpoint
        return endpoint.source if endpoint is not None else "endpoint"


def box_edges(crd: CrdEntry) -> list[Edge]:
    """The edges of one CRD's box, ``cross:`` entries first, in Katalog order."""
    box = crd.operator_box
    if box is None:
        return []
    # A labelSelector entry names no CRD: it has no edge of its own in the graph.
    edges = [
        Edge(crd.key, entry.crd, entry.as_, entry.source, "cross")
        for entry in box.cross
        if entry.label_selector is None
    ]
    if box.autoscale is None:
        return edges
    named: dict[str, CrossEntry] = {entry.as_: entry for entry in box.cross}
    for condition in box.autoscale.conditions:
        for item in (*condition.when, *condition.or_):
            as_ = cross_name(item.field)
            if not isinstance(item.source, CrossSource) or as_ is None:
                continue  # nothing read over a source of its own
            # The name after cross. is a cross: entry's (its CRD), else a CRD key.
            observed = named[as_].crd if as_ in named else as_
            edge = Edge(crd.key, observed, as_, item.source, "autoscale")
            if edge not in edges:
                edges.append(edge)
    return edges


def katalog_edges(crds: Iterable[CrdEntry]) -> list[Edge]:
    """Every edge of ``crds``, box by box."""
    return [edge for crd in crds for edge in box_edges(crd)]
