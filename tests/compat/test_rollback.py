"""`rollBackOnError` / `rollback` and `.previous` (ORKESTRA-LANGUAGE 1.4, 1.5, 1.7, 2.6), on the
embedded API server: a CR whose new spec keeps failing gets its children back at the last
known-good spec, says so in its Ready condition and in the box's health, and leaves rollback
once its spec changes again. Its spec is never rewritten."""

from pathlib import Path

import pytest
import trio
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from loopback_http import serving
from orkestra_trio.katalog import KatalogError, load_katalog
from orkestra_trio.katalog.rollback import (
    PREVIOUS_SPEC_ANNOTATION,
    ROLLBACK_GENERATION_ANNOTATION,
    decode_spec,
)
from orkestra_trio.oncop import RemoteReader, http_client
from orkestra_trio.testing import open_test_cluster, run_katalog

HEAD = """\
apiVersion: orkestra.orkspace.io/v1
kind: Katalog
metadata: {name: rollback}
spec:
  crds:
"""
# rollBackOnError: the box's own entries, re-rendered with .spec the known-good spec.
# The status field fails on a non-numeric replicas after the ConfigMap was applied.
DERIVED = """\
    app:
      apiTypes: {group: rollback.example.com, version: v1, kind: App, plural: apps}
      operatorBox:
        rollBackOnError: true
        rollback:
          trigger: {consecutiveFailures: 2}
        onReconcile:
          configMaps:
            - name: "{{ .metadata.name }}-config"
              data:
                image: "{{ .spec.image }}"
                replicas: "{{ .spec.replicas }}"
                previousImage: "{{ .previous.spec.image }}"
                rolledBack: "{{ .health.rollbackActive }}"
        status:
          fields:
            - {path: replicas, value: "{{ .spec.replicas }}", type: int}
"""
# An explicit onRollback: its own entries, over the CR as it is, .previous.spec at hand.
EXPLICIT = """\
    site:
      apiTypes: {group: rollback.example.com, version: v1, kind: Site, plural: sites}
      operatorBox:
        rollback:
          onRollback:
            configMaps:
              - name: "{{ .metadata.name }}-config"
                data:
                  image: "{{ .previous.spec.image }}"
                  refused: "{{ .spec.image }}"
        onReconcile:
          configMaps:
            - name: "{{ .metadata.name }}-config"
              data: {image: "{{ .spec.image }}"}
        status:
          fields:
            - {path: replicas, value: "{{ .spec.replicas }}", type: int}
"""


def _ready(kat, box: str, name: str) -> dict:
    conditions = kat.status(box, name).get("conditions") or []
    return next(c for c in conditions if c["type"] == "Ready")


async def _rolled_back(kat, box: str, total: int) -> None:
    with trio.fail_after(120):
        await kat.box(box).health.wait_until(lambda s: s.rollback_total == total)
    await kat.wait_steady()


async def test_rollback_on_error_restores_the_known_good_children_until_the_spec_changes(
    autojump_clock, tmp_path: Path
):
    path = tmp_path / "katalog.yaml"
    path.write_text(HEAD + DERIVED)
    async with open_test_cluster() as cluster, run_katalog(path, cluster) as kat:
        await kat.apply(kat.manifest("app", "web", {"image": "a:1", "replicas": 1}))
        await kat.wait_steady()
        await kat.apply(kat.manifest("app", "web", {"image": "b:2", "replicas": 2}))
        await kat.wait_steady()
        good = kat.child("app", "web", "ConfigMap", "web-config")["data"]
        assert good == {
            "image": "b:2",
            "replicas": "2",
            "previousImage": "b:2",
            "rolledBack": "false",
        }
        annotations = kat.cr("app", "web")["metadata"]["annotations"]
        assert decode_spec(annotations[PREVIOUS_SPEC_ANNOTATION]) == {"image": "b:2", "replicas": 2}
        assert kat.health("app").to_json()["rollbackActive"] is False

        # A spec whose reconcile fails after its ConfigMap was applied (the status field).
        await kat.apply(kat.manifest("app", "web", {"image": "c:3", "replicas": "many"}))
        await _rolled_back(kat, "app", 1)
        cr = kat.cr("app", "web")
        assert cr["spec"] == {"image": "c:3", "replicas": "many"}  # never rewritten
        assert cr["metadata"]["annotations"][ROLLBACK_GENERATION_ANNOTATION] == str(
            cr["metadata"]["generation"]
        )
        restored = kat.child("app", "web", "ConfigMap", "web-config")["data"]
        assert restored == {
            "image": "b:2",
            "replicas": "2",
            "previousImage": "b:2",
            "rolledBack": "true",
        }
        ready = _ready(kat, "app", "web")
        assert (ready["status"], ready["reason"]) == ("False", "RolledBack")
        assert "last known-good spec" in ready["message"]
        assert kat.status("app", "web")["replicas"] == 2  # the declared fields keep their values
        health = kat.health("app").to_json()
        assert (health["rollbackActive"], health["rollbackTotal"]) == (True, 1)
        assert "AppRolledBack" in {e["reason"] for e in kat.events("app", "web")}

        # Steady while rolled back: nothing is written again.
        writes = cluster.write_count()
        await kat.advance(60)
        await kat.wait_steady()
        assert cluster.write_count() == writes

        # A good spec: rollback ends, it becomes the known-good one.
        await kat.apply(kat.manifest("app", "web", {"image": "d:4", "replicas": 4}))
        with trio.fail_after(60):
            await kat.box("app").health.wait_until(lambda s: s.rolled_back == 0)
        await kat.wait_steady()
        assert kat.child("app", "web", "ConfigMap", "web-config")["data"] == {
            "image": "d:4",
            "replicas": "4",
            "previousImage": "d:4",
            "rolledBack": "false",
        }
        assert kat.ready("app", "web")
        annotations = kat.cr("app", "web")["metadata"]["annotations"]
        assert ROLLBACK_GENERATION_ANNOTATION not in annotations
        assert decode_spec(annotations[PREVIOUS_SPEC_ANNOTATION]) == {"image": "d:4", "replicas": 4}
        health = kat.health("app").to_json()
        assert (health["rollbackActive"], health["rollbackTotal"]) == (False, 1)


async def test_on_rollback_renders_previous_beside_the_failing_spec(autojump_clock, tmp_path):
    path = tmp_path / "katalog.yaml"
    path.write_text(HEAD + EXPLICIT)
    async with open_test_cluster() as cluster, run_katalog(path, cluster) as kat:
        await kat.apply(kat.manifest("site", "s", {"image": "good:1", "replicas": 1}))
        await kat.wait_steady()
        # Default trigger: 3 consecutive failures.
        await kat.apply(kat.manifest("site", "s", {"image": "bad:2", "replicas": "x"}))
        await _rolled_back(kat, "site", 1)
        data = kat.child("site", "s", "ConfigMap", "s-config")["data"]
        assert data == {"image": "good:1", "refused": "bad:2"}
        assert _ready(kat, "site", "s")["reason"] == "RolledBack"


async def test_a_box_without_rollback_writes_no_annotation(autojump_clock, tmp_path):
    path = tmp_path / "katalog.yaml"
    plain = (
        HEAD
        + DERIVED.replace("        rollBackOnError: true\n", "", 1)
        .replace("        rollback:\n          trigger: {consecutiveFailures: 2}\n", "", 1)
        # A field of a missing root fails as in Go: the root itself renders empty.
        .replace("{{ .previous.spec.image }}", "{{ .previous }}", 1)
    )
    path.write_text(plain)
    async with open_test_cluster() as cluster, run_katalog(path, cluster) as kat:
        await kat.apply(kat.manifest("app", "web", {"image": "a:1", "replicas": 1}))
        await kat.wait_steady()
        annotations = kat.cr("app", "web")["metadata"].get("annotations") or {}
        assert PREVIOUS_SPEC_ANNOTATION not in annotations
        # .previous is no context root here: it renders empty, as any missing key
        # (and .previous.spec.image would fail the reconcile, as in Go).
        assert kat.child("app", "web", "ConfigMap", "web-config")["data"]["previousImage"] == ""


@pytest.mark.parametrize(
    ("box", "line", "message"),
    [
        ("        rollback: {}\n", 9, "rollback has nothing to apply: give onRollback"),
        (
            "        rollBackOnError: true\n"
            "        rollback: {trigger: {consecutiveFailures: 0}}\n"
            "        onReconcile: {configMaps: [{data: {a: b}}]}\n",
            10,
            "consecutiveFailures: must be at least 1, got 0",
        ),
        (
            "        rollBackOnError: true\n"
            "        rollback: {trigger: {withinDuration: soon}}\n"
            "        onReconcile: {configMaps: [{data: {a: b}}]}\n",
            10,
            "withinDuration",
        ),
        ("        rollBackOnError: yes please\n", 9, "rollBackOnError: expected true or false"),
        (
            "        rollBackOnError: true\n        onCreate: {configMaps: [{data: {a: b}}]}\n",
            9,
            "rollBackOnError has nothing to re-apply",
        ),
        (
            "        rollback:\n          onRollback:\n            external: [{name: f, url: 'http://x/'}]\n",
            11,
            "external",
        ),
    ],
)
def test_bad_rollback_shapes_are_one_line_naming_file_line_and_field(tmp_path, box, line, message):
    path = tmp_path / "k.yaml"
    path.write_text(
        HEAD
        + "    web:\n"
        + "      apiTypes: {group: d.example.com, version: v1, kind: Web, plural: webs}\n"
        + "      operatorBox:\n"
        + box
    )
    with pytest.raises(KatalogError) as caught:
        load_katalog(path)
    issues = [str(issue) for issue in caught.value.issues]
    assert len(issues) == 1, issues
    assert "\n" not in issues[0]
    assert issues[0].startswith(f"{path}:{line}:"), issues[0]
    assert message in issues[0], issues[0]


REFUSED = """\
    shop:
      apiTypes: {group: rollback.example.com, version: v1, kind: Shop, plural: shops}
      operatorBox:
        rollBackOnError: true
        rollback:
          trigger: {consecutiveFailures: 1}
        onReconcile:
          configMaps:
            - {name: "{{ .metadata.name }}", data: {image: "{{ .spec.image }}"}}
          services:
            - {name: "{{ .metadata.name }}-{{ .spec.flavor }}", port: 80}
"""


async def test_rollback_after_a_child_the_server_refuses(autojump_clock, tmp_path):
    path = tmp_path / "katalog.yaml"
    path.write_text(HEAD + REFUSED)
    async with open_test_cluster() as cluster, run_katalog(path, cluster) as kat:
        await kat.apply(kat.manifest("shop", "s", {"image": "web:1", "flavor": "plain"}))
        await kat.wait_steady()
        # The ConfigMap (applied first) takes web:2; the Service's name is refused (422).
        await kat.apply(kat.manifest("shop", "s", {"image": "web:2", "flavor": "Not_A_Name"}))
        await _rolled_back(kat, "shop", 1)
        assert kat.child("shop", "s", "ConfigMap", "s")["data"] == {"image": "web:1"}
        assert kat.child("shop", "s", "Service", "s-plain") is not None
        assert _ready(kat, "shop", "s")["reason"] == "RolledBack"
        assert "ShopReconcileError" in {e["reason"] for e in kat.events("shop", "s")}


HANGS = """\
    feed:
      apiTypes: {group: rollback.example.com, version: v1, kind: Feed, plural: feeds}
      operatorBox:
        rollBackOnError: true
        rollback:
          trigger: {consecutiveFailures: 1}
        reconciler: {timeout: 2s}
        onReconcile:
          external:
            - {name: source, url: "URL/source/{{ .spec.source }}"}
          configMaps:
            - name: "{{ .metadata.name }}"
              data: {source: "{{ .spec.source }}", items: "{{ .external.source.body.items }}"}
"""


async def _source(request: Request) -> JSONResponse:
    if request.path_params["name"] == "stuck":
        await trio.sleep_forever()  # the new spec's call never answers
    return JSONResponse({"items": request.path_params["name"]})


async def test_a_reconcile_that_times_out_counts_and_the_rollback_calls_as_the_known_good_spec(
    tmp_path,
):
    app = Starlette(routes=[Route("/source/{name}", _source)])
    async with (
        serving(app) as url,
        http_client() as http,
        trio.open_nursery() as nursery,
        open_test_cluster() as cluster,
    ):
        reader = RemoteReader(http)
        await nursery.start(reader.run)
        path = tmp_path / "katalog.yaml"
        path.write_text(HEAD + HANGS.replace("URL", url))
        async with run_katalog(path, cluster, remote=reader) as kat:
            reader.on_change = kat.runtime.registry.remote_changed
            await kat.apply(kat.manifest("feed", "f", {"source": "good"}))
            with trio.fail_after(20):
                while not kat.ready("feed", "f"):
                    await trio.sleep(0.05)
            await kat.apply(kat.manifest("feed", "f", {"source": "stuck"}))
            with trio.fail_after(20):
                await kat.box("feed").health.wait_until(lambda s: s.rolled_back == 1)
                while _ready(kat, "feed", "f")["reason"] != "RolledBack":
                    await trio.sleep(0.05)
            # The rolled-back reconcile asked the source as the known-good spec did.
            data = kat.child("feed", "f", "ConfigMap", "f")["data"]
            assert data == {"source": "good", "items": "good"}
            assert "timed out" in (kat.health("feed").last_error or "")
            nursery.cancel_scope.cancel()
