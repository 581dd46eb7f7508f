"""Cross-operator edges: cross: entries and autoscale conditions with a source of their own."""

from orkestra_trio.katalog import load_katalog
from orkestra_trio.katalog.edges import katalog_edges

KATALOG = """\
apiVersion: orkestra.orkspace.io/v1
kind: Katalog
metadata: {name: edges}
spec:
  crds:
    processor:
      apiTypes: {group: x.io, version: v1, kind: Processor, plural: processors}
      operatorBox:
        cross:
          - crd: loader
            as: feed
            selector: {name: "{{ .metadata.name }}"}
            source: {host: "http://127.0.0.1:9"}
        autoscale:
          conditions:
            # Its own source: an edge, to the CRD of the cross: entry named feed.
            - when:
                - field: cross.feed.metrics.queueDepth
                  greaterThan: "60"
                  source: {endpoint: "http://127.0.0.1:7/q"}
              override: {workers: 4}
            # The same read again: no second edge.
            - or:
                - field: "{{ .cross.feed.metrics.queueDepth }}"
                  greaterThan: "90"
                  source: {endpoint: "http://127.0.0.1:7/q"}
              override: {workers: 8}
            # Through the cross: entry (no source of its own): that entry is the edge.
            - when: [{field: cross.feed.metrics.queueDepth, greaterThan: "10"}]
              override: {workers: 2}
            # Not a cross read at all.
            - when: [{field: metrics.queueDepth, greaterThan: "10"}]
              override: {workers: 3}
    quota:
      apiTypes: {group: x.io, version: v1, kind: Quota, plural: quotas}
      operatorBox:
        autoscale:
          conditions:
            - when:
                - field: cross.limits.metrics.queueDepth
                  greaterThan: "1"
                  source: {host: "http://127.0.0.1:8"}
              override: {workers: 2}
"""


def test_autoscale_sources_are_edges(tmp_path):
    path = tmp_path / "edges.yaml"
    path.write_text(KATALOG)
    edges = katalog_edges(load_katalog(path).crds.values())
    assert [(e.observer, e.observed, e.as_, e.via, e.where) for e in edges] == [
        ("processor", "loader", "feed", "cross", "http://127.0.0.1:9"),
        ("processor", "loader", "feed", "autoscale", "http://127.0.0.1:7/q"),
        # No cross: entry of that name: the name is the observed CRD's key.
        ("quota", "limits", "limits", "autoscale", "http://127.0.0.1:8"),
    ]
    assert all(edge.remote for edge in edges)
