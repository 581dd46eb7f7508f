"""TLS and credentials against a real TLS server on 127.0.0.1 (trustme CA, hypercorn).

The server is a stand-in that echoes what it received: this file tests the
client's transport layer (certificates, tokens, exec plugins), not API
semantics.
"""

import base64
import datetime
import json
import os
import ssl
import stat
import sys
import textwrap
from contextlib import asynccontextmanager

import httpx
import pytest
import trio
import trustme
from hypercorn.config import Config
from hypercorn.trio import serve
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from orkestra_trio.kube import (
    ConfigError,
    KubeConfig,
    RetryPolicy,
    TransportError,
    Unauthorized,
    find_config,
    load_kubeconfig,
    open_kube_client,
)


def make_app(valid_tokens: set[str] | None = None) -> Starlette:
    async def get_cm(request: Request) -> JSONResponse:
        auth = request.headers.get("authorization", "")
        if valid_tokens is not None and auth.removeprefix("Bearer ") not in valid_tokens:
            return JSONResponse(
                {
                    "kind": "Status",
                    "status": "Failure",
                    "code": 401,
                    "reason": "Unauthorized",
                    "message": "Unauthorized",
                },
                status_code=401,
            )
        return JSONResponse(
            {
                "apiVersion": "v1",
                "kind": "ConfigMap",
                "metadata": {"name": request.path_params["name"], "namespace": "default"},
                "data": {"auth": auth},
            }
        )

    return Starlette(routes=[Route("/api/v1/namespaces/default/configmaps/{name}", get_cm)])


@asynccontextmanager
async def tls_server(app, ca: trustme.CA, *, require_client_cert: bool = False):
    server_cert = ca.issue_cert("127.0.0.1", "localhost")
    with (
        server_cert.private_key_and_cert_chain_pem.tempfile() as pem,
        ca.cert_pem.tempfile() as ca_file,
    ):
        config = Config()
        config.bind = ["127.0.0.1:0"]
        config.certfile = pem
        config.keyfile = pem
        config.accesslog = None
        config.errorlog = None
        config.graceful_timeout = 0.1
        if require_client_cert:
            config.ca_certs = ca_file
            config.verify_mode = ssl.CERT_REQUIRED
        stop = trio.Event()
        async with trio.open_nursery() as nursery:
            binds = await nursery.start(
                lambda task_status: serve(
                    app, config, shutdown_trigger=stop.wait, task_status=task_status
                )
            )
            port = int(binds[0].rsplit(":", 1)[1])
            try:
                yield f"https://127.0.0.1:{port}"
            finally:
                stop.set()


CM = ("v1", "ConfigMap")


async def test_ca_data_verifies_the_server_and_token_is_sent():
    ca = trustme.CA()
    async with tls_server(make_app(), ca) as url:
        cfg = KubeConfig(server=url, ca_data=ca.cert_pem.bytes(), token="s3cret")
        async with open_kube_client(cfg) as kube:
            cm = await kube.get(CM, "x")
        assert cm["data"]["auth"] == "Bearer s3cret"


async def test_unknown_ca_fails_and_insecure_skip_verify_connects():
    ca, other = trustme.CA(), trustme.CA()
    async with tls_server(make_app(), ca) as url:
        cfg = KubeConfig(server=url, ca_data=other.cert_pem.bytes())
        async with open_kube_client(cfg) as kube:
            with pytest.raises(TransportError) as info:
                await kube.get(CM, "x")
            assert "get v1 ConfigMap default/x" in str(info.value)
        async with open_kube_client(KubeConfig(server=url, insecure_skip_tls_verify=True)) as kube:
            assert (await kube.get(CM, "x"))["metadata"]["name"] == "x"


async def test_client_certificate_from_kubeconfig_data_and_files(tmp_path):
    ca = trustme.CA()
    client = ca.issue_cert("orkestra-user")
    async with tls_server(make_app(), ca, require_client_cert=True) as url:
        # Without a client certificate the handshake is refused (with TLS 1.3
        # the client only sees a disconnect, which it would retry: don't).
        no_cert = KubeConfig(server=url, ca_data=ca.cert_pem.bytes())
        async with open_kube_client(no_cert, retry=RetryPolicy(max_attempts=1)) as kube:
            with pytest.raises(TransportError):
                await kube.get(CM, "x")
        # Inline data in a kubeconfig.
        key_pem = client.private_key_pem.bytes()
        cert_pem = client.cert_chain_pems[0].bytes()
        b64 = lambda data: base64.b64encode(data).decode()  # noqa: E731
        (tmp_path / "config").write_text(
            textwrap.dedent(f"""\
            current-context: x
            clusters: [{{name: c, cluster: {{server: "{url}", certificate-authority-data: "{b64(ca.cert_pem.bytes())}"}}}}]
            users: [{{name: u, user: {{client-certificate-data: "{b64(cert_pem)}", client-key-data: "{b64(key_pem)}"}}}}]
            contexts: [{{name: x, context: {{cluster: c, user: u}}}}]
            """)
        )
        async with open_kube_client(load_kubeconfig(str(tmp_path / "config"))) as kube:
            assert (await kube.get(CM, "x"))["metadata"]["name"] == "x"
        # Files, relative to the kubeconfig.
        (tmp_path / "pki").mkdir()
        (tmp_path / "pki" / "ca.crt").write_bytes(ca.cert_pem.bytes())
        (tmp_path / "pki" / "client.crt").write_bytes(cert_pem)
        (tmp_path / "pki" / "client.key").write_bytes(key_pem)
        (tmp_path / "config2").write_text(
            textwrap.dedent(f"""\
            current-context: x
            clusters: [{{name: c, cluster: {{server: "{url}", certificate-authority: pki/ca.crt}}}}]
            users: [{{name: u, user: {{client-certificate: pki/client.crt, client-key: pki/client.key}}}}]
            contexts: [{{name: x, context: {{cluster: c, user: u}}}}]
            """)
        )
        async with open_kube_client(load_kubeconfig(str(tmp_path / "config2"))) as kube:
            assert (await kube.get(CM, "x"))["metadata"]["name"] == "x"


async def test_half_a_client_certificate_is_a_config_error():
    with pytest.raises(ConfigError, match="not both"):
        async with open_kube_client(
            KubeConfig(server="https://127.0.0.1:1", client_cert_data=b"x")
        ):
            pass


async def test_rotating_token_file_is_reread_on_401(tmp_path):
    token_file = tmp_path / "token"
    token_file.write_text("old\n")
    valid = {"old"}
    ca = trustme.CA()
    async with tls_server(make_app(valid), ca) as url:
        cfg = KubeConfig(server=url, ca_data=ca.cert_pem.bytes(), token_file=str(token_file))
        async with open_kube_client(cfg) as kube:
            assert (await kube.get(CM, "x"))["data"]["auth"] == "Bearer old"
            # The kubelet rotates the token; the server stops accepting the old one.
            token_file.write_text("new\n")
            valid.clear()
            valid.add("new")
            assert (await kube.get(CM, "x"))["data"]["auth"] == "Bearer new"
            valid.clear()
            with pytest.raises(Unauthorized, match="get v1 ConfigMap default/x"):
                await kube.get(CM, "x")


PLUGIN = """\
import json, os, sys, pathlib
counter = pathlib.Path(sys.argv[1])
n = int(counter.read_text()) + 1 if counter.exists() else 1
counter.write_text(str(n))
info = json.loads(os.environ["KUBERNETES_EXEC_INFO"])
pathlib.Path(sys.argv[1] + ".info").write_text(json.dumps(info))
if os.environ.get("PLUGIN_FAIL"):
    sys.stderr.write("login required\\n")
    sys.exit(3)
status = {"token": "tok-%d" % n}
expiry = os.environ.get("PLUGIN_EXPIRY")
if expiry:
    status["expirationTimestamp"] = expiry
print(json.dumps({"apiVersion": info["apiVersion"], "kind": "ExecCredential", "status": status}))
"""


def exec_kubeconfig(tmp_path, url, ca_pem, *, expiry="", fail=False, api_version="v1"):
    plugin = tmp_path / "plugin.py"
    plugin.write_text(PLUGIN)
    wrapper = tmp_path / "get-token"
    wrapper.write_text(f'#!/bin/sh\nexec {sys.executable} {plugin} "$@"\n')
    wrapper.chmod(wrapper.stat().st_mode | stat.S_IEXEC)
    env = [f'{{name: PLUGIN_EXPIRY, value: "{expiry}"}}']
    if fail:
        env.append('{name: PLUGIN_FAIL, value: "1"}')
    b64ca = base64.b64encode(ca_pem).decode()
    (tmp_path / "config").write_text(
        textwrap.dedent(f"""\
        current-context: x
        clusters: [{{name: c, cluster: {{server: "{url}", certificate-authority-data: "{b64ca}"}}}}]
        users:
        - name: u
          user:
            exec:
              apiVersion: client.authentication.k8s.io/{api_version}
              command: ./get-token
              args: ["{tmp_path / "count"}"]
              env: [{", ".join(env)}]
              provideClusterInfo: true
              installHint: "install get-token"
        contexts: [{{name: x, context: {{cluster: c, user: u}}}}]
        """)
    )
    return load_kubeconfig(str(tmp_path / "config"))


def runs(tmp_path):
    return int((tmp_path / "count").read_text())


@pytest.mark.parametrize("api_version", ["v1", "v1beta1"])
async def test_exec_plugin_token_is_cached_until_expiry(tmp_path, api_version):
    ca = trustme.CA()
    later = (datetime.datetime.now(datetime.UTC) + datetime.timedelta(hours=1)).strftime(
        "%Y-%m-%dT%H:%M:%SZ"
    )
    async with tls_server(make_app(), ca) as url:
        cfg = exec_kubeconfig(
            tmp_path, url, ca.cert_pem.bytes(), expiry=later, api_version=api_version
        )
        async with open_kube_client(cfg) as kube:
            async with trio.open_nursery() as nursery:
                for _ in range(5):
                    nursery.start_soon(kube.get, CM, "x")
            assert (await kube.get(CM, "x"))["data"]["auth"] == "Bearer tok-1"
    assert runs(tmp_path) == 1  # one plugin run for six concurrent requests
    info = json.loads((tmp_path / "count.info").read_text())
    assert info["apiVersion"] == f"client.authentication.k8s.io/{api_version}"
    assert info["spec"]["cluster"]["server"] == url


async def test_exec_plugin_reruns_when_expired_and_on_401(tmp_path):
    ca = trustme.CA()
    past = "2000-01-01T00:00:00Z"
    valid = {"tok-1", "tok-2", "tok-4"}
    async with tls_server(make_app(valid), ca) as url:
        cfg = exec_kubeconfig(tmp_path, url, ca.cert_pem.bytes(), expiry=past)
        async with open_kube_client(cfg) as kube:
            assert (await kube.get(CM, "x"))["data"]["auth"] == "Bearer tok-1"
            assert (await kube.get(CM, "x"))["data"]["auth"] == "Bearer tok-2"  # expired → re-run
            # tok-3 is rejected with 401: the plugin runs once more and the request is repeated.
            assert (await kube.get(CM, "x"))["data"]["auth"] == "Bearer tok-4"
    assert runs(tmp_path) == 4


async def test_exec_plugin_failure_is_a_config_error_naming_the_file(tmp_path):
    ca = trustme.CA()
    async with tls_server(make_app(), ca) as url:
        cfg = exec_kubeconfig(tmp_path, url, ca.cert_pem.bytes(), fail=True)
        async with open_kube_client(cfg) as kube:
            with pytest.raises(ConfigError) as info:
                await kube.get(CM, "x")
    message = str(info.value)
    assert str(tmp_path / "config") in message and "exited with 3" in message
    assert "login required" in message


async def test_missing_exec_command_mentions_install_hint(tmp_path):
    ca = trustme.CA()
    cfg = exec_kubeconfig(tmp_path, "https://127.0.0.1:1", ca.cert_pem.bytes())
    os.unlink(tmp_path / "get-token")
    async with open_kube_client(cfg) as kube:
        with pytest.raises(ConfigError, match="install get-token"):
            await kube.get(CM, "x")


async def test_plain_http_url_config():
    # A bare URL (the embedded server on loopback) needs no TLS and no credentials.
    transport = httpx.MockTransport(
        lambda request: httpx.Response(200, json={"kind": "ConfigMap", "seen": str(request.url)})
    )
    async with open_kube_client("http://127.0.0.1:9/", transport=transport) as kube:
        got = await kube.get(CM, "x", namespace="ns")
    assert got["seen"] == "http://127.0.0.1:9/api/v1/namespaces/ns/configmaps/x"


async def test_in_cluster_service_account_over_tls(tmp_path):
    ca = trustme.CA()
    (tmp_path / "ca.crt").write_bytes(ca.cert_pem.bytes())
    (tmp_path / "token").write_text("sa-token-1\n")
    (tmp_path / "namespace").write_text("default\n")
    async with tls_server(make_app({"sa-token-1", "sa-token-2"}), ca) as url:
        port = url.rsplit(":", 1)[1]
        env = {"KUBERNETES_SERVICE_HOST": "127.0.0.1", "KUBERNETES_SERVICE_PORT": port}
        cfg = find_config(env=env, home=str(tmp_path / "nohome"), incluster_root=str(tmp_path))
        assert cfg is not None and cfg.source == "in-cluster"
        async with open_kube_client(cfg) as kube:
            assert (await kube.get(CM, "x"))["data"]["auth"] == "Bearer sa-token-1"
            (tmp_path / "token").write_text("sa-token-2\n")  # the kubelet rotated it
            # Within the refresh period the cached token is still used (and still valid).
            assert (await kube.get(CM, "x"))["data"]["auth"] == "Bearer sa-token-1"
