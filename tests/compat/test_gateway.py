"""Orkestra's gateway API and serve over real HTTP, on the embedded API server.

katalogs/gateway.yaml: a Katalog with ``gateway.api`` (three tokens: two from
the environment, one from a Secret) and a ``website`` CRD with ``serve``
(targets ``site`` and alias ``preview``, fields with path/value/values/default/
enum/required, a label field, serve.tokens). The gateway's app is served by
hypercorn on 127.0.0.1 (a free port) and called with httpx; the box reconciles
what it applies and reads ``.request`` and the serve template functions.
Waits are bounded and end on what the test observes.
"""

from __future__ import annotations

import base64
import datetime
import json
from functools import partial
from pathlib import Path

import httpx
import pytest
import trio

from k8s_objects import crd, spec_schema
from loopback_http import serving
from orkestra_trio.katalog.errors import KatalogError
from orkestra_trio.katalog.loader import load_katalog, load_katalogs
from orkestra_trio.kube import open_kube_client
from orkestra_trio.testing import open_test_cluster, run_katalog
from orkestra_trio.web.gateway import (
    GatewayApi,
    GatewayTokenError,
    load_tokens,
    refresh_tokens,
    rotate_tokens,
)

KATALOG = Path(__file__).parent / "katalogs" / "gateway.yaml"
CI, READER, PLATFORM = "ci-secret-value", "reader-secret-value", "platform-secret-value"
PROVENANCE = "orkestra.orkspace.io/serve-"


@pytest.fixture
def token_env(monkeypatch):
    monkeypatch.setenv("ORK_TEST_GATEWAY_CI", CI)
    monkeypatch.setenv("ORK_TEST_GATEWAY_READER", READER)


def bearer(token):
    return {"Authorization": f"Bearer {token}"}


async def until(predicate, within=30.0):
    """Poll ``predicate`` (cheap, in-process) until it holds; fail after ``within`` seconds."""
    with trio.fail_after(within):
        while not predicate():
            await trio.sleep(0.02)


async def test_gateway_api_applies_intents_the_box_reconciles(token_env):
    katalogs = load_katalogs([KATALOG])
    async with open_test_cluster() as cluster, run_katalog(katalogs, cluster) as kat:
        await cluster.kube.apply(
            {
                "apiVersion": "v1",
                "kind": "Secret",
                "metadata": {"name": "gateway-platform-token", "namespace": "default"},
                "data": {"token": base64.b64encode(PLATFORM.encode()).decode()},
            }
        )
        await cluster.kube.apply(
            {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "payments"}}
        )
        async with open_kube_client(cluster.url, transport=cluster.transport) as kube:
            tokens = await load_tokens(kube, katalogs, namespace="default")
            assert tokens == {"ci": CI, "reader": READER, "platform": PLATFORM}
            app = GatewayApi(katalogs, kube, tokens).app()
            async with serving(app) as url, httpx.AsyncClient(base_url=url) as client:
                intent = {
                    "target": "preview",
                    "name": "shop",
                    "host": "shop.example",
                    "image": "nginx:1.20",
                    "size": "large",
                    "team": "payments",
                }
                # No token, a wrong token: 401, nothing written.
                assert (await client.post("/api/v1/apply", json=intent)).status_code == 401
                wrong = await client.post("/api/v1/apply", json=intent, headers=bearer("nope"))
                assert wrong.status_code == 401
                # A token serve.tokens does not grant this target: 403.
                denied = await client.post("/api/v1/apply", json=intent, headers=bearer(READER))
                assert denied.status_code == 403
                assert kat.cr("website", "shop", "payments") is None

                # Target mode through the alias: created (201), answered as Orkestra does.
                created = await client.post("/api/v1/apply", json=intent, headers=bearer(CI))
                assert created.status_code == 201, created.text
                answer = created.json()
                assert answer["accepted"] is True and answer["status"] == "applied"
                assert (answer["name"], answer["namespace"], answer["kind"]) == (
                    "shop",
                    "payments",
                    "Website",
                )
                assert answer["pollUrl"] == "/api/v1/resources/Website/payments/shop"
                cr = kat.cr("website", "shop", "payments")
                assert cr["spec"] == {
                    "host": "shop.example",
                    "image": {"repository": "nginx", "tag": "1.20"},
                    "replicas": 3,
                    "tier": "standard",
                }
                assert cr["metadata"]["labels"]["team"] == "payments"
                notes = cr["metadata"]["annotations"]
                assert notes[PROVENANCE + "target"] == "site"
                assert notes[PROVENANCE + "alias"] == "preview"
                assert notes[PROVENANCE + "source"] == ""
                assert json.loads(notes[PROVENANCE + "intent"])["size"] == "large"
                managers = {m["manager"] for m in cr["metadata"]["managedFields"]}
                assert "orkestra-gateway" in managers

                # The box reconciles it: .request is the intent, the serve functions read
                # the provenance.
                await until(lambda: kat.child("website", "shop", "ConfigMap", "shop", "payments"))
                data = kat.child("website", "shop", "ConfigMap", "shop", "payments")["data"]
                assert data == {
                    "host": "shop.example",
                    "requested": "large",
                    "target": "site",
                    "alias": "preview",
                    "direct": "false",
                }

                # Again: an update (200), the CR changed in place.
                again = await client.post(
                    "/api/v1/apply", json={**intent, "size": "small"}, headers=bearer(CI)
                )
                assert again.status_code == 200
                await until(lambda: kat.cr("website", "shop", "payments")["spec"]["replicas"] == 1)

                # Violations: the serve fields' own checks, then the admission rules.
                bad = await client.post(
                    "/api/v1/apply",
                    json={"target": "site", "name": "bad", "size": "huge"},
                    headers=bearer(CI),
                )
                assert bad.status_code == 422
                body = bad.json()
                assert body["accepted"] is False and body["status"] == "rejected"
                assert [v["field"] for v in body["violations"]] == ["spec.host", "spec.replicas"]
                too_many = await client.post(
                    "/api/v1/apply",
                    json={
                        "apiVersion": "gw.example.com/v1",
                        "kind": "Website",
                        "metadata": {"name": "big"},
                        "spec": {"host": "big.example", "replicas": 9},
                    },
                    headers=bearer(PLATFORM),
                )
                assert too_many.status_code == 422
                assert too_many.json()["violations"] == [
                    {"field": "spec.replicas", "message": "at most 5 replicas", "severity": "error"}
                ]
                assert kat.cr("website", "bad") is None and kat.cr("website", "big") is None

                # Full CR mode: provenance stamped, namespace from serve.namespace.
                full = await client.post(
                    "/api/v1/apply",
                    json={
                        "apiVersion": "gw.example.com/v1",
                        "kind": "Website",
                        "metadata": {"name": "blog"},
                        "spec": {"host": "blog.example", "replicas": 1},
                    },
                    headers=bearer(PLATFORM),
                )
                assert full.status_code == 201, full.text
                blog = kat.cr("website", "blog")
                assert blog["metadata"]["annotations"][PROVENANCE + "alias"] == ""

                # The schema: the form, fields in order, hints and the ignored field gone.
                schema = await client.get("/api/v1/schema/site", headers=bearer(READER))
                assert schema.status_code == 200
                form = schema.json()
                assert form["target"] == "site" and form["kind"] == "Website"
                names = [f["name"] for f in form["fields"]]
                assert names[:3] == ["host", "image", "size"] and "team" in names
                host = form["fields"][0]
                assert host["label"] == "Host name" and host["required"] is True
                assert form["fields"][2]["enum"] == ["small", "large"]
                # The alias declares its own tokens: the reader is not among them.
                preview = {"target": "preview"}
                hidden = await client.get("/api/v1/schema", params=preview, headers=bearer(READER))
                assert hidden.status_code == 403
                by_target = await client.get("/api/v1/schema", params=preview, headers=bearer(CI))
                assert by_target.json()["fields"] == form["fields"]
                # The catalog lists the targets the caller's token may see.
                catalog = (await client.get("/api/v1/schema", headers=bearer(READER))).json()
                assert [e["target"] for e in catalog["items"]] == ["site"]
                catalog = (await client.get("/api/v1/schema", headers=bearer(CI))).json()
                assert {e["target"] for e in catalog["items"]} == {"site", "preview"}
                unauthenticated = await client.get("/api/v1/schema/site")
                assert unauthenticated.status_code == 401

                # Resources: read, list, delete (the reader may read, not delete).
                got = await client.get(
                    "/api/v1/resources/Website/payments/shop", headers=bearer(READER)
                )
                assert got.status_code == 200 and got.json()["spec"]["host"] == "shop.example"
                listed = await client.get(
                    "/api/v1/resources/website/payments", headers=bearer(READER)
                )
                assert [i["metadata"]["name"] for i in listed.json()["items"]] == ["shop"]
                forbidden = await client.delete(
                    "/api/v1/resources/Website/payments/shop", headers=bearer(READER)
                )
                assert forbidden.status_code == 403
                deleted = await client.delete(
                    "/api/v1/resources/Website/payments/shop", headers=bearer(PLATFORM)
                )
                assert deleted.status_code == 200
                await until(lambda: kat.cr("website", "shop", "payments") is None)
                missing = await client.get(
                    "/api/v1/resources/Website/payments/shop", headers=bearer(READER)
                )
                assert missing.status_code == 404


async def test_a_direct_apply_has_no_provenance_and_an_empty_request(token_env):
    async with open_test_cluster() as cluster, run_katalog(KATALOG, cluster) as kat:
        await kat.apply(kat.manifest("website", "direct", {"host": "d.example", "replicas": 1}))
        await until(lambda: kat.child("website", "direct", "ConfigMap", "direct"))
        data = kat.child("website", "direct", "ConfigMap", "direct")["data"]
        assert data["direct"] == "true" and data["target"] == "" and data["requested"] == ""


async def test_a_token_without_a_value_is_a_clear_error(monkeypatch):
    monkeypatch.delenv("ORK_TEST_GATEWAY_CI", raising=False)
    katalogs = load_katalogs([KATALOG])
    async with (
        open_test_cluster() as cluster,
        open_kube_client(cluster.url, transport=cluster.transport) as kube,
    ):
        with pytest.raises(GatewayTokenError, match="ORK_TEST_GATEWAY_CI"):
            await load_tokens(kube, katalogs, namespace="default")


HEAD = "apiVersion: orkestra.orkspace.io/v1\nkind: Katalog\nmetadata: {name: g}\n"
CRD = (
    "spec:\n  crds:\n    site:\n"
    "      apiTypes: {group: g.example.com, version: v1, kind: Site, plural: sites}\n"
)
API = "gateway: {api: {enabled: true, auth: {tokens: [{name: ci, token: '${CI}'}]}}}\n"


@pytest.mark.parametrize(
    ("text", "line", "expected"),
    [
        (HEAD + "gateway: {api: {enabled: true}}\n" + CRD, 4, "at least one token"),
        (
            HEAD
            + "gateway: {api: {enabled: true, auth: {tokens: [{name: ci, token: abc}]}}}\n"
            + CRD,
            4,
            "token: ${VARIABLE}",
        ),
        (
            HEAD
            + "gateway:\n  api:\n    enabled: true\n    auth:\n      tokens:\n"
            + "        - name: gh\n          oidc: {issuer: 'http://evil.example'}\n"
            + CRD,
            10,
            "must be an https URL",
        ),
        (
            HEAD
            + "gateway:\n  api:\n    enabled: true\n    auth:\n      tokens:\n"
            + "        - name: ops\n"
            + "          secretRef: {name: s, key: k, rotateAfter: soon}\n"
            + CRD,
            10,
            "rotateAfter",
        ),
        (HEAD + "gateway:\n  webhooks: {}\n" + CRD, 5, "webhook intake"),
        (HEAD + "gateway:\n  clusters: []\n" + CRD, 5, "gateway.clusters"),
        (
            HEAD + CRD + "      serve: {enabled: true, namespace: default}\n",
            8,
            "gateway.api.enabled",
        ),
        (HEAD + API + CRD + "      serve: {enabled: true}\n", 9, "serve.namespace is required"),
        (
            HEAD + API + CRD + "      serve: {enabled: true, namespace: d, tokens: {cd: {}}}\n",
            9,
            "token 'cd' is not declared",
        ),
        (
            HEAD + API + CRD + "      serve: {enabled: true, namespace: d, config: {}}\n",
            9,
            "response shaping",
        ),
        (
            HEAD
            + API
            + CRD
            + "      serve: {enabled: true, namespace: d, modes: {target: false, cr: false}}\n",
            9,
            "at least one mode",
        ),
    ],
)
def test_gateway_and_serve_mistakes_are_one_line_errors(tmp_path, text, line, expected):
    path = tmp_path / "k.yaml"
    path.write_text(text)
    with pytest.raises(KatalogError) as caught:
        load_katalog(path)
    message = str(caught.value)
    assert expected in message
    assert f"k.yaml:{line}:" in message


OIDC_KATALOG = """\
apiVersion: orkestra.orkspace.io/v1
kind: Katalog
metadata: {{name: oidc}}
gateway:
  api:
    enabled: true
    auth:
      tokens:
        - name: ci
          oidc: {{issuer: "{issuer}", audience: gateway, allow: {{repository: org/app}}}}
spec:
  crds:
    note:
      apiTypes: {{group: oidc.example.com, version: v1, kind: Note, plural: notes}}
      serve: {{enabled: true, namespace: default}}
      operatorBox:
        onReconcile:
          configMaps: [{{name: "{{{{ .metadata.name }}}}", data: {{by: "{{{{ getServeSource . }}}}"}}}}]
"""


def issuer_app(keys, fetches):
    """An OIDC provider's two documents: discovery and the key set (counted)."""
    from starlette.applications import Starlette
    from starlette.responses import JSONResponse
    from starlette.routing import Route

    async def discovery(request):
        base = str(request.base_url).rstrip("/")
        return JSONResponse({"issuer": base, "jwks_uri": f"{base}/keys"})

    async def jwks(request):
        fetches.append(1)
        return JSONResponse({"keys": [k.jwk() for k in keys]})

    return Starlette(
        routes=[
            Route("/.well-known/openid-configuration", discovery),
            Route("/keys", jwks),
        ]
    )


async def test_an_oidc_id_token_verified_against_a_loopback_jwks(tmp_path):
    import time

    from jwt_keys import SigningKey
    from orkestra_trio.web.oidc import OidcVerifier

    signer, stranger = SigningKey("k1", "ES256"), SigningKey("k2", "ES256")
    fetches: list[int] = []
    async with (
        serving(issuer_app([signer], fetches)) as issuer,
        httpx.AsyncClient(trust_env=False) as http,
    ):
        path = tmp_path / "k.yaml"
        path.write_text(OIDC_KATALOG.format(issuer=issuer))
        katalogs = load_katalogs([path])
        (token,) = katalogs.katalogs[0].gateway.tokens

        def id_token(key=signer, **extra):
            claims = {
                "iss": issuer,
                "aud": "gateway",
                "sub": "repo:org/app:ref:refs/heads/main",
                "repository": "org/app",
                "exp": time.time() + 300,
                **extra,
            }
            return key.sign(claims)

        async with (
            open_test_cluster() as cluster,
            run_katalog(katalogs, cluster) as kat,
            open_kube_client(cluster.url, transport=cluster.transport) as kube,
        ):
            api = GatewayApi(katalogs, kube, {}, oidc=OidcVerifier([token], http))
            async with serving(api.app()) as url, httpx.AsyncClient(base_url=url) as client:
                intent = {"target": "note", "name": "n1", "text": "hi"}

                async def post(jwt):
                    return await client.post("/api/v1/apply", json=intent, headers=bearer(jwt))

                applied = await post(id_token())
                assert applied.status_code == 201, applied.text
                # serve-source: the verified subject, read back by getServeSource.
                cr = kat.cr("note", "n1")
                source = cr["metadata"]["annotations"][PROVENANCE + "source"]
                assert source == "repo:org/app:ref:refs/heads/main"
                await until(lambda: kat.child("note", "n1", "ConfigMap", "n1"))
                assert kat.child("note", "n1", "ConfigMap", "n1")["data"]["by"] == source
                # Refused: another repository, another audience, expired, unknown key.
                assert (await post(id_token(repository="org/other"))).status_code == 401
                assert (await post(id_token(aud="someone-else"))).status_code == 401
                assert (await post(id_token(exp=time.time() - 600))).status_code == 401
                before = len(fetches)
                for _ in range(3):
                    assert (await post(id_token(key=stranger))).status_code == 401
                # An unknown key makes at most one new fetch of the key set.
                assert len(fetches) - before <= 1


WEBSITE_SPEC = {
    "type": "object",
    "required": ["host"],
    "properties": {
        "host": {"type": "string", "description": "where it answers"},
        "replicas": {"type": "integer", "maximum": 5},
        "internal": {"type": "string"},
    },
}


def website_crd():
    """The Website CRD as an operator team would install it: v1 stored, v1beta1 served too."""
    made = crd("websites", "Website", group="gw.example.com", schema=spec_schema(WEBSITE_SPEC))
    beta = {**made["spec"]["versions"][0], "name": "v1beta1", "storage": False}
    beta["schema"] = {"openAPIV3Schema": spec_schema({"type": "object"})}
    made["spec"]["versions"].insert(0, beta)
    return made


async def test_raw_schema_answers_the_crds_own_openapi_schema(token_env):
    katalogs = load_katalogs([KATALOG])
    async with (
        open_test_cluster() as cluster,
        open_kube_client(cluster.url, transport=cluster.transport) as kube,
    ):
        tokens = await load_tokens(kube, katalogs, namespace="default")
        app = GatewayApi(katalogs, kube, tokens).app()
        async with serving(app) as url, httpx.AsyncClient(base_url=url) as client:

            async def raw(token=READER, **params):
                return await client.get("/api/v1/raw-schema", params=params, headers=bearer(token))

            assert (await client.get("/api/v1/raw-schema?kind=Website")).status_code == 401
            missing = await raw()
            assert missing.status_code == 400
            assert missing.json()["error"] == "missing parameter"
            unknown = await raw(kind="Gadget")
            assert unknown.status_code == 404 and unknown.json()["error"] == "kind not found"
            not_installed = await raw(kind="Website")
            assert not_installed.status_code == 404
            assert not_installed.json()["error"] == "CRD not found"

            await cluster.kube.apply(website_crd())
            mismatch = await raw(kind="Website", apiVersion="gw.example.com/v2")
            assert mismatch.status_code == 400
            assert mismatch.json() == {
                "error": "apiVersion mismatch",
                "message": "kind 'Website' found, but apiVersion 'gw.example.com/v2' did not "
                "match the stored version 'gw.example.com/v1'",
                "kind": "Website",
                "apiVersion": "gw.example.com/v1",
            }
            found = await raw(kind="Website", apiVersion="gw.example.com/v1")
            assert found.status_code == 200, found.text
            # The storage version's spec schema as stored, serve's ignore not applied;
            # serve.labels ride along as Orkestra's field configuration spells them.
            assert found.json() == {
                "kind": "Website",
                "apiVersion": "gw.example.com/v1",
                "spec": {"properties": WEBSITE_SPEC["properties"], "required": ["host"]},
                "labels": {"team": {"label": "Team", "type": "string"}},
            }
            # serve.tokens decide (the schema class's get); by kind, case aside.
            assert (await raw(CI, kind="website")).status_code == 200
            # The platform token's Secret did not exist: the gateway made it, token and all.
            made, _ = await secret_token_of(kube, "gateway-platform-token")
            assert tokens["platform"] == made
            assert (await raw(made, kind="Website")).status_code == 200


ROTATING = """\
apiVersion: orkestra.orkspace.io/v1
kind: Katalog
metadata: {name: rotating}
gateway:
  api:
    enabled: true
    auth:
      tokens:
        - name: ops
          secretRef: {name: ops-token, key: token, rotateAfter: 90d}
        - name: viewer
          token: "${ORK_TEST_GATEWAY_READER}"
spec:
  crds:
    note:
      apiTypes: {group: rot.example.com, version: v1, kind: Note, plural: notes}
      serve:
        enabled: true
        namespace: default
        tokens:
          ops: {permissions: {global: ["*"]}}
          viewer: {permissions: {resources: [get]}}
"""


async def secret_token_of(kube, name="ops-token"):
    secret = await kube.get(("v1", "Secret"), name, namespace="default")
    notes = secret["metadata"].get("annotations") or {}
    return base64.b64decode(secret["data"]["token"]).decode(), notes


async def test_a_missing_token_secret_is_made_and_rotated_after_rotate_after(tmp_path, token_env):
    path = tmp_path / "k.yaml"
    path.write_text(ROTATING)
    katalogs = load_katalogs([path])
    start = datetime.datetime(2030, 1, 1, tzinfo=datetime.UTC)
    async with (
        open_test_cluster() as cluster,
        open_kube_client(cluster.url, transport=cluster.transport) as kube,
    ):
        # No Secret ops-token: the gateway makes it, with a new random token.
        tokens = await load_tokens(kube, katalogs, namespace="default", now=start)
        first, notes = await secret_token_of(kube)
        assert tokens["ops"] == first and len(first) == 36
        assert notes["orkestra.orkspace.io/generated-at"] == "2030-01-01T00:00:00Z"
        await cluster.kube.apply(crd("notes", "Note", group="rot.example.com"))
        api = GatewayApi(katalogs, kube, tokens)
        async with serving(api.app()) as url, httpx.AsyncClient(base_url=url) as client:
            # A token serve.tokens gives no schema right may not read the raw schema.
            refused = await client.get(
                "/api/v1/raw-schema", params={"kind": "Note"}, headers=bearer(READER)
            )
            assert refused.status_code == 403
            assert refused.json()["error"] == "permission denied"

            async def list_notes(token):
                return await client.get("/api/v1/resources/note/default", headers=bearer(token))

            assert (await list_notes(first)).status_code == 200
            assert (await list_notes(READER)).status_code == 403  # get only, not list
            # Before rotateAfter: the Secret is read again and kept.
            later = start + datetime.timedelta(days=30)
            due = await refresh_tokens(kube, katalogs, api, namespace="default", now=later)
            assert due == datetime.timedelta(days=60).total_seconds()
            assert (await secret_token_of(kube))[0] == first
            assert (await list_notes(first)).status_code == 200
            # Past it: a new token in the Secret and in force; the old one is refused.
            rotated_at = start + datetime.timedelta(days=91)
            due = await refresh_tokens(kube, katalogs, api, namespace="default", now=rotated_at)
            assert due == datetime.timedelta(days=90).total_seconds()
            second, notes = await secret_token_of(kube)
            assert second != first
            assert notes["orkestra.orkspace.io/generated-at"] == "2030-04-02T00:00:00Z"
            assert (await list_notes(second)).status_code == 200
            assert (await list_notes(first)).status_code == 401
            # A token someone else put in the Secret (another replica rotated it) is
            # taken up at the next read.
            await kube.apply(
                {
                    "apiVersion": "v1",
                    "kind": "Secret",
                    "metadata": {"name": "ops-token", "namespace": "default"},
                    "data": {"token": base64.b64encode(b"set-by-hand").decode()},
                },
                force=True,
            )
            again = rotated_at + datetime.timedelta(days=1)
            await refresh_tokens(kube, katalogs, api, namespace="default", now=again)
            assert (await list_notes("set-by-hand")).status_code == 200
            assert (await list_notes(second)).status_code == 401


async def test_the_rotation_task_gives_a_new_token_when_it_falls_due(
    tmp_path, token_env, autojump_clock
):
    path = tmp_path / "k.yaml"
    path.write_text(ROTATING.replace("rotateAfter: 90d", "rotateAfter: 1h"))
    katalogs = load_katalogs([path])
    start = datetime.datetime(2030, 1, 1, tzinfo=datetime.UTC)
    began = trio.current_time()

    def wall():
        return start + datetime.timedelta(seconds=trio.current_time() - began)

    async with (
        open_test_cluster() as cluster,
        open_kube_client(cluster.url, transport=cluster.transport) as kube,
    ):
        tokens = await load_tokens(kube, katalogs, namespace="default", now=wall())
        api = GatewayApi(katalogs, kube, tokens)
        first = tokens["ops"]
        async with trio.open_nursery() as nursery:
            nursery.start_soon(
                partial(rotate_tokens, kube, katalogs, api, namespace="default", wall=wall)
            )
            await trio.sleep(59 * 60)
            assert (await secret_token_of(kube))[0] == first
            assert dict(api.tokens)["ops"] == first.encode()
            await trio.sleep(2 * 60)
            second = (await secret_token_of(kube))[0]
            assert second != first
            assert dict(api.tokens)["ops"] == second.encode()
            nursery.cancel_scope.cancel()
