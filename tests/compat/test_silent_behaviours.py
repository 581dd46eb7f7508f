"""The three behaviours that used to be silently wrong for Orkestra Katalogs (issue 17).

* ``custom[].metadata.name`` names the child (two custom entries no longer collide);
* plain-text Secret ``data`` is stored base64-encoded, as Kubernetes requires;
* a custom child whose CRD the cluster lacks fails that reconcile with a clear
  error; the box keeps running and recovers once the CRD is installed.
"""

import base64
from pathlib import Path

from k8s_objects import crd
from orkestra_trio.katalog import load_katalog
from orkestra_trio.katalog.render import build_context, render_reconcile_children
from orkestra_trio.runtime.health import HealthState
from orkestra_trio.testing import open_test_cluster, run_katalog

KATALOG = """\
apiVersion: orkestra.orkspace.io/v1
kind: Katalog
metadata: {name: silent}
spec:
  crds:
    app:
      apiTypes: {group: compat.example.com, version: v1, kind: App, plural: apps}
      operatorBox:
        reconciler: {queue: {failureThreshold: 1}}
        onReconcile:
          secrets:
            - name: "{{ .metadata.name }}-creds"
              data: {password: "s3cret {{ .metadata.name }}"}
          custom:
            - apiVersion: monitoring.example.com/v1
              kind: Monitor
              metadata: {name: "{{ .metadata.name }}-metrics"}
              spec: {port: http}
            - apiVersion: monitoring.example.com/v1
              kind: Monitor
              metadata: {name: "{{ .metadata.name }}-logs"}
              spec: {port: logs}
"""

MONITOR_CRD = crd("monitors", "Monitor", group="monitoring.example.com")


def _katalog(tmp_path: Path) -> Path:
    path = tmp_path / "silent.yaml"
    path.write_text(KATALOG)
    return path


def _cr(name: str) -> dict:
    return {
        "apiVersion": "compat.example.com/v1",
        "kind": "App",
        "metadata": {"name": name, "namespace": "default", "uid": "u1"},
        "spec": {},
    }


def test_custom_metadata_name_names_the_child(tmp_path):
    box = load_katalog(_katalog(tmp_path)).crds["app"].operator_box
    children = render_reconcile_children(box, build_context(_cr("web")))
    custom = [c for c in children if c.group == "custom"]
    assert [c.name for c in custom] == ["web-metrics", "web-logs"]
    assert [c.manifest["metadata"]["name"] for c in custom] == ["web-metrics", "web-logs"]


def test_plain_secret_data_is_base64_encoded(tmp_path):
    box = load_katalog(_katalog(tmp_path)).crds["app"].operator_box
    [secret] = [
        c for c in render_reconcile_children(box, build_context(_cr("web"))) if c.group == "secrets"
    ]
    encoded = secret.manifest["data"]["password"]
    assert base64.b64decode(encoded, validate=True) == b"s3cret web"


async def test_missing_custom_crd_fails_the_reconcile_not_the_box(autojump_clock, tmp_path):
    async with open_test_cluster() as cluster, run_katalog(_katalog(tmp_path), cluster) as kat:
        await kat.apply(kat.manifest("app", "web", {}))
        snap = await kat.box("app").health.wait_until(lambda s: s.state is HealthState.DEGRADED)
        assert "does not serve kind Monitor in monitoring.example.com/v1" in (snap.last_error or "")
        assert "install its CRD" in (snap.last_error or "")
        # The box never restarted: it is the reconcile that failed.
        assert kat.box("app").supervisor.restarts == 0
        ready = next(
            c for c in kat.cr("app", "web")["status"]["conditions"] if c["type"] == "Ready"
        )
        assert ready["status"] == "False" and "Monitor" in ready["message"]
        # The Secret went through before the custom children: stored encoded.
        secret = kat.child("app", "web", "Secret", "web-creds")
        assert base64.b64decode(secret["data"]["password"]) == b"s3cret web"

        await cluster.kube.create(MONITOR_CRD)
        await kat.box("app").health.wait_until(lambda s: s.state is HealthState.HEALTHY)
        await kat.wait_steady()
        assert kat.ready("app", "web")
        monitors = await cluster.kube.list(
            ("monitoring.example.com/v1", "Monitor"), namespace="default"
        )
        names = sorted(m["metadata"]["name"] for m in monitors.items)
        assert names == ["web-logs", "web-metrics"]
