"""``run`` with a Katalog that turns the gateway API on: the port it opens, end to end.

The runtime runs as a process on the embedded API server; the test posts an
intent to the gateway's loopback port (``--gateway-listen 127.0.0.1:0``, a
free port named in the banner) and reads the CR back through the same API.
"""

from __future__ import annotations

import base64
import ssl
import subprocess
import sys

import httpx
import pytest
import trio
import trustme

from runtime_banner import read_banner, reap, stop

KATALOG = """\
apiVersion: orkestra.orkspace.io/v1
kind: Katalog
metadata: {name: gw}
gateway:
  api:
    enabled: true
    auth: {tokens: [{name: ci, token: "${GW_TOKEN}"}]}
spec:
  crds:
    note:
      apiTypes: {group: gw.example.com, version: v1, kind: Note, plural: notes}
      serve: {enabled: true, namespace: default, fields: {text: {required: true}}}
      operatorBox:
        onReconcile:
          configMaps: [{name: "{{ .metadata.name }}", data: {text: "{{ .request.text }}"}}]
"""


def start(tmp_path, env, *extra: str, katalog: str = KATALOG):
    (tmp_path / "k.yaml").write_text(katalog)
    return trio.lowlevel.open_process(
        [
            sys.executable,
            "-m",
            "orkestra_trio",
            str(tmp_path / "k.yaml"),
            "--listen",
            "127.0.0.1:0",
            "--gateway-listen",
            "127.0.0.1:0",
            "--kubeconfig-out",
            str(tmp_path / "kubeconfig"),
            *extra,
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        cwd=tmp_path,
        env={"PATH": "/usr/bin:/bin", "HOME": str(tmp_path), **env},
    )


@pytest.mark.slow
async def test_run_serves_the_gateway_api_on_its_own_loopback_port(tmp_path):
    process = await start(tmp_path, {"GW_TOKEN": "s3cret"})
    lines: list[str] = []
    try:
        banner = await read_banner(process.stdout, lines, timeout=30)
        url = banner["gateway"].split()[0]
        assert url.startswith("http://127.0.0.1:")
        auth = {"Authorization": "Bearer s3cret"}
        async with httpx.AsyncClient(base_url=url, trust_env=False) as client:
            intent = {"target": "note", "name": "hello", "text": "hi"}
            assert (await client.post("/api/v1/apply", json=intent)).status_code == 401
            applied = await client.post("/api/v1/apply", json=intent, headers=auth)
            assert applied.status_code == 201, applied.text
            got = await client.get(applied.json()["pollUrl"], headers=auth)
            assert got.json()["spec"] == {"text": "hi"}
        assert await stop(process, within=15) == 0
    finally:
        await reap(process)


@pytest.mark.slow
async def test_a_gateway_token_without_its_variable_stops_the_start_in_one_line(tmp_path):
    process = await start(tmp_path, {})
    try:
        with trio.fail_after(30):
            code = await process.wait()
        err = (await process.stderr.receive_some(65536)).decode()
        assert code != 0
        assert "gateway token 'ci': environment variable GW_TOKEN" in err
        assert "Traceback" not in err
    finally:
        await reap(process)


@pytest.mark.slow
async def test_the_gateway_serves_over_tls_with_a_certificate(tmp_path):
    ca = trustme.CA()
    issued = ca.issue_cert("127.0.0.1")
    issued.cert_chain_pems[0].write_to_path(str(tmp_path / "tls.crt"))
    issued.private_key_pem.write_to_path(str(tmp_path / "tls.key"))
    ca.cert_pem.write_to_path(str(tmp_path / "ca.crt"))
    process = await start(
        tmp_path,
        {"GW_TOKEN": "s3cret"},
        "--gateway-cert",
        str(tmp_path / "tls.crt"),
        "--gateway-key",
        str(tmp_path / "tls.key"),
    )
    lines: list[str] = []
    try:
        banner = await read_banner(process.stdout, lines, timeout=30)
        url = banner["gateway"].split()[0]
        assert url.startswith("https://127.0.0.1:")
        auth = {"Authorization": "Bearer s3cret"}
        context = ssl.create_default_context(cafile=str(tmp_path / "ca.crt"))
        trusted = httpx.AsyncClient(base_url=url, verify=context, trust_env=False)
        async with trusted as client:
            intent = {"target": "note", "name": "hello", "text": "hi"}
            applied = await client.post("/api/v1/apply", json=intent, headers=auth)
            assert applied.status_code == 201, applied.text
        # A client that does not trust the certificate never gets to send its token.
        async with httpx.AsyncClient(base_url=url, trust_env=False) as client:
            with pytest.raises(httpx.ConnectError):
                await client.get("/api/v1/schema", headers=auth)
        assert await stop(process, within=15) == 0
    finally:
        await reap(process)


@pytest.mark.slow
async def test_a_gateway_certificate_without_its_key_is_one_line(tmp_path):
    (tmp_path / "tls.crt").write_text("not a certificate")
    process = await start(
        tmp_path, {"GW_TOKEN": "s3cret"}, "--gateway-cert", str(tmp_path / "tls.crt")
    )
    try:
        with trio.fail_after(30):
            code = await process.wait()
        err = (await process.stderr.receive_some(65536)).decode()
        assert code != 0
        assert "--gateway-cert needs --gateway-key too" in err
        assert "Traceback" not in err
    finally:
        await reap(process)


@pytest.mark.slow
async def test_run_makes_a_missing_secret_ref_token_and_keeps_it_rotating(tmp_path):
    """A secretRef token with rotateAfter: the Secret is made at start (read back through
    --kubeconfig-out), its token opens the gateway, and the rotation task stops with it."""
    from orkestra_trio.kube import open_kube_client
    from orkestra_trio.kube.config import load_kubeconfig

    katalog = KATALOG.replace(
        '{tokens: [{name: ci, token: "${GW_TOKEN}"}]}',
        "{tokens: [{name: ci, secretRef: {name: gw-token, key: token, rotateAfter: 90d}}]}",
    )
    assert katalog != KATALOG
    process = await start(tmp_path, {}, katalog=katalog)
    lines: list[str] = []
    try:
        banner = await read_banner(process.stdout, lines, timeout=30)
        url = banner["gateway"].split()[0]
        assert "/api/v1/raw-schema" in banner["gateway"]
        config = load_kubeconfig(str(tmp_path / "kubeconfig"))
        async with open_kube_client(config) as kube:
            secret = await kube.get(("v1", "Secret"), "gw-token", namespace="default")
        token = base64.b64decode(secret["data"]["token"]).decode()
        async with httpx.AsyncClient(base_url=url, trust_env=False) as client:
            raw = await client.get(
                "/api/v1/raw-schema",
                params={"kind": "Note"},
                headers={"Authorization": f"Bearer {token}"},
            )
            assert raw.status_code == 200, raw.text
            assert raw.json()["apiVersion"] == "gw.example.com/v1"
        assert await stop(process, within=15) == 0
    finally:
        await reap(process)


@pytest.mark.slow
async def test_a_runtime_of_serve_only_crds_stops_on_sigterm(tmp_path):
    # No operatorBox, so no box: the health log once spun on an empty nursery,
    # at 100 % CPU and deaf to SIGTERM.
    katalog = KATALOG.split("      operatorBox:")[0]
    process = await start(tmp_path, {"GW_TOKEN": "s3cret"}, katalog=katalog)
    lines: list[str] = []
    try:
        banner = await read_banner(process.stdout, lines, timeout=30)
        assert banner["gateway"].startswith("http://127.0.0.1:")
        assert await stop(process, within=15) == 0
    finally:
        await reap(process)
