"""`observe.events` (ORKESTRA-LANGUAGE 1.4, 1.15), on the embedded server: an events.k8s.io
Event that matches a watch's reason/type/regarding reconciles its CR, whose templates read
it as `.events.<name>`; others are ignored."""

from pathlib import Path

import pytest

from orkestra_trio.katalog import KatalogError, load_katalogs
from orkestra_trio.testing import open_test_cluster, run_katalog

KATALOG = """\
apiVersion: orkestra.orkspace.io/v1
kind: Katalog
metadata: {name: observe-events}
spec:
  crds:
    site:
      apiTypes: {group: events.example.com, version: v1, kind: Site, plural: sites}
      operatorBox:
        observe:
          events:
            imagePullFailed:
              reason: Failed
              type: Warning
              regarding: {kind: Pod}
              keyFrom: {label: app}
            paused:
              reason: Paused
              regarding: {kind: Site}
        status:
          fields:
            - path: lastFailure
              value: "{{ .events.imagePullFailed.note }}"
              when: [{field: events.imagePullFailed.reason, exists: true}]
            - path: pausedBy
              value: "{{ .events.paused.reportingController }}"
              when: [{field: events.paused.reason, exists: true}]
"""


def event(name: str, reason: str, regarding: dict, *, labels=None, type_="Warning") -> dict:
    return {
        "apiVersion": "events.k8s.io/v1",
        "kind": "Event",
        "metadata": {"name": name, "namespace": "default", "labels": labels or {}},
        "eventTime": "2026-12-04T06:00:00.000000Z",
        "reason": reason,
        "type": type_,
        "action": "Pulling",
        "note": f"{reason} on {regarding['name']}",
        "reportingController": "kubelet",
        "reportingInstance": "node-1",
        "regarding": {"namespace": "default", **regarding},
    }


async def test_matching_events_reach_their_cr_as_events_name(autojump_clock, tmp_path: Path):
    path = tmp_path / "katalog.yaml"
    path.write_text(KATALOG)
    async with open_test_cluster() as cluster, run_katalog(path, cluster) as kat:
        for name in ("a", "b"):
            await kat.apply(kat.manifest("site", name))
        await kat.wait_steady()
        assert "lastFailure" not in kat.status("site", "a")

        pod = {"apiVersion": "v1", "kind": "Pod", "name": "a-web-1"}
        await kat.kube.create(event("e1", "Failed", pod, labels={"app": "a"}))
        await kat.kube.create(event("e2", "Scheduled", pod, labels={"app": "b"}))  # no reason
        site_b = {"apiVersion": "events.example.com/v1", "kind": "Site", "name": "b"}
        await kat.kube.create(event("e3", "Paused", site_b, type_="Normal"))
        await kat.wait_steady()

        assert kat.status("site", "a")["lastFailure"] == "Failed on a-web-1"
        assert "lastFailure" not in kat.status("site", "b")
        assert kat.status("site", "b")["pausedBy"] == "kubelet"  # the Event's regarding is b
        assert "pausedBy" not in kat.status("site", "a")


def test_an_event_watch_needs_an_identifier_name(tmp_path: Path):
    path = tmp_path / "katalog.yaml"
    path.write_text(KATALOG.replace("imagePullFailed:\n", "image-pull:\n", 1))
    with pytest.raises(KatalogError) as caught:
        load_katalogs([path])
    assert any("image-pull" in str(issue) for issue in caught.value.issues)
