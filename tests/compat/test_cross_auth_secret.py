"""Cross `source.auth.secretRef` (ORKESTRA-LANGUAGE 1.8) on the embedded server: the bearer
token is a key of a Secret the box keeps in a one-object cache, read on every request, and
a real HTTP service on a loopback port checks it."""

from __future__ import annotations

import base64
from pathlib import Path

import pytest
import trio
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from loopback_http import serving
from orkestra_trio.deploy.rbac import derive_rights
from orkestra_trio.katalog import KatalogError, load_katalogs
from orkestra_trio.oncop import RemoteReader, http_client
from orkestra_trio.testing import open_test_cluster, run_katalog

KATALOG = """\
apiVersion: orkestra.orkspace.io/v1
kind: Katalog
metadata: {name: auth-secret}
spec:
  crds:
    app:
      apiTypes: {group: auth.example.com, version: v1, kind: App, plural: apps}
      operatorBox:
        observe:
          cross:
            - crd: database
              as: db
              selector: {name: "{{ .metadata.name }}"}
              source:
                endpoint: "URL/db/{{ .metadata.name }}"
                cacheFor: 1s
                auth:
                  secretRef: {namespace: default, name: db-token, key: token}
        status:
          fields:
            - {path: dbPhase, value: "{{ .cross.db.status.phase }}"}
            - {path: dbError, value: "{{ .cross.db.error }}"}
"""


def app(seen: list[str]) -> Starlette:
    async def database(request: Request) -> JSONResponse:
        seen.append(request.headers.get("authorization", ""))
        if request.headers.get("authorization") != "Bearer s3cret":
            return JSONResponse({"error": "unauthorized"}, status_code=401)
        name = request.path_params["name"]
        return JSONResponse({"name": name, "status": {"phase": "Up"}})

    return Starlette(routes=[Route("/db/{name}", database)])


async def test_the_token_is_read_from_the_secret(tmp_path: Path):
    seen: list[str] = []
    async with serving(app(seen)) as url, http_client() as http, trio.open_nursery() as nursery:
        reader = RemoteReader(http, environ={})
        await nursery.start(reader.run)
        path = tmp_path / "katalog.yaml"
        path.write_text(KATALOG.replace("URL", url))
        async with open_test_cluster() as cluster, run_katalog(path, cluster, remote=reader) as kat:
            reader.on_change = kat.runtime.registry.remote_changed
            token = base64.b64encode(b"s3cret").decode()
            await kat.kube.create(
                {
                    "apiVersion": "v1",
                    "kind": "Secret",
                    "metadata": {"name": "db-token", "namespace": "default"},
                    "data": {"token": token},
                }
            )
            with trio.fail_after(10):  # the box's one-Secret cache catches up
                while kat.runtime.registry.secret_value("default", "db-token", "token") is None:
                    await trio.sleep(0.01)
            await kat.apply(kat.manifest("app", "shop"))
            with trio.fail_after(20):
                while (kat.status("app", "shop") or {}).get("dbPhase") != "Up":
                    await trio.sleep(0.05)
            assert seen and set(seen) == {"Bearer s3cret"}
            nursery.cancel_scope.cancel()


def test_a_secret_ref_names_namespace_name_and_key(tmp_path: Path):
    path = tmp_path / "katalog.yaml"
    text = KATALOG.replace("URL", "http://127.0.0.1:1")
    path.write_text(text.replace(", key: token", ""))
    with pytest.raises(KatalogError) as caught:
        load_katalogs([path])
    assert any("key" in str(i) and "secretRef" in str(i) for i in caught.value.issues)
    path.write_text(text)
    source = load_katalogs([path]).crds["app"].operator_box.cross[0].source
    assert source is not None and source.token_secret == ("default", "db-token", "token")


def test_manifests_grant_reading_the_token_secret(tmp_path: Path):
    path = tmp_path / "katalog.yaml"
    path.write_text(KATALOG.replace("URL", "http://127.0.0.1:1"))
    rights = derive_rights(load_katalogs([path]))
    verbs = {(g.api_group, g.resource): g.verbs for g in rights.cluster}
    assert {"get", "list", "watch"} <= verbs[("", "secrets")]
