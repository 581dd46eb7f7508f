"""Authentication and TLS on the embedded server, over real HTTPS on loopback."""

import ssl
import subprocess
import sys
from pathlib import Path

import httpx
import pytest
import yaml

from orkestra_trio.apiserver import open_apiserver
from orkestra_trio.apiserver.security import SecurityError
from orkestra_trio.kube import load_kubeconfig, open_kube_client


def _tokens(tmp_path: Path) -> Path:
    path = tmp_path / "tokens.csv"
    path.write_text('alice-token,alice,uid-alice,"devs"\n')
    return path


async def test_token_file_guards_everything_but_probes(tmp_path: Path) -> None:
    async with open_apiserver(
        workload_simulation=False, token_auth_file=_tokens(tmp_path)
    ) as server:
        assert server.url.startswith("https://")
        assert server.ca_pem is not None
        context = ssl.create_default_context(cadata=server.ca_pem.decode())
        async with httpx.AsyncClient(base_url=server.url, verify=context, timeout=10) as client:
            anonymous = await client.get("/api/v1/namespaces")
            assert anonymous.status_code == 401
            assert anonymous.json()["reason"] == "Unauthorized"
            assert anonymous.json()["message"] == "Unauthorized"
            for path in ("/apis", "/openapi/v2", "/api/v1/namespaces/default/secrets"):
                assert (await client.get(path)).status_code == 401, path
            wrong = await client.get("/api/v1/namespaces", headers={"Authorization": "Bearer nope"})
            assert wrong.status_code == 401
            alice = {"Authorization": "Bearer alice-token"}
            assert (await client.get("/api/v1/namespaces", headers=alice)).status_code == 200
            for path in ("/healthz", "/readyz", "/livez", "/version"):
                assert (await client.get(path)).status_code == 200, path


async def test_kubeconfig_carries_ca_and_admin_token(tmp_path: Path) -> None:
    async with open_apiserver(
        workload_simulation=False, token_auth_file=_tokens(tmp_path)
    ) as server:
        path = server.write_kubeconfig(tmp_path / "kc.yaml")
        assert path.stat().st_mode & 0o077 == 0  # a credential: owner only
        config = load_kubeconfig(str(path))
        assert config.token == server.admin_token and config.ca_data is not None
        async with open_kube_client(config) as kube:
            namespaces = await kube.list(("v1", "Namespace"))
            assert "default" in {ns["metadata"]["name"] for ns in namespaces.items}


async def test_beyond_loopback_needs_authentication() -> None:
    with pytest.raises(SecurityError, match="needs authentication"):
        async with open_apiserver(host="0.0.0.0", workload_simulation=False):
            pass


WEBSITE = str(Path(__file__).parents[2] / "katalogs" / "website.yaml")


@pytest.mark.parametrize(
    "args",
    [
        ["apiserver", "--listen", "0.0.0.0:0"],
        ["apiserver", "--listen", "[::]:0"],
        ["apiserver", "--token-auth-file", "/nonexistent/tokens.csv"],
        ["apiserver", "--tls-cert-file", "/nonexistent/cert.pem"],
        ["run", WEBSITE, "--apiserver-listen", "0.0.0.0:0", "--listen", "127.0.0.1:0"],
        ["run", WEBSITE, "--apiserver-token-auth-file", "/nonexistent/t.csv"],
    ],
)
def test_cli_refuses_in_one_line(args: list[str], tmp_path: Path) -> None:
    result = subprocess.run(
        [sys.executable, "-m", "orkestra_trio", *args],
        capture_output=True,
        text=True,
        timeout=60,
        cwd=tmp_path,
    )
    assert result.returncode == 1
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("orkestra_trio: --"), result.stderr
    if "0.0.0.0" in args[-1] or "0.0.0.0" in " ".join(args):
        assert "needs authentication" in lines[0]


def test_kubeconfig_without_auth_is_unchanged(tmp_path: Path) -> None:
    from orkestra_trio.apiserver.kubeconfig import write_kubeconfig

    path = write_kubeconfig(tmp_path / "kc.yaml", "http://127.0.0.1:1")
    doc = yaml.safe_load(path.read_text())
    assert doc["users"][0]["user"] == {}
    assert "certificate-authority-data" not in doc["clusters"][0]["cluster"]
