"""The real thing: ``python -m orkestra_trio katalogs/website.yaml`` plus kubectl, as a user runs it."""

from __future__ import annotations

import json
import shutil
import signal
import subprocess
import sys
from pathlib import Path

import httpx
import pytest
import trio

from orkestra_trio.cli import main
from runtime_banner import read_banner

ROOT = Path(__file__).parents[2]
KATALOG = ROOT / "katalogs" / "website.yaml"

CR = """\
apiVersion: demo.example.com/v1
kind: Website
metadata:
  name: shop
  namespace: default
spec:
  replicas: 1
"""


@pytest.mark.slow
@pytest.mark.skipif(shutil.which("kubectl") is None, reason="tool missing: kubectl")
async def test_run_website_then_kubectl_apply_then_sigterm(tmp_path):
    (tmp_path / "cr.yaml").write_text(CR)
    kubeconfig = tmp_path / "kubeconfig"
    process = await trio.lowlevel.open_process(
        [
            sys.executable,
            "-m",
            "orkestra_trio",
            str(KATALOG),
            "--listen",
            "127.0.0.1:0",
            "--kubeconfig-out",
            str(kubeconfig),
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        cwd=tmp_path,
        env={"PATH": "/usr/bin:/bin", "HOME": str(tmp_path)},
    )
    lines: list[str] = []
    try:
        banner = await read_banner(process.stdout, lines, timeout=20)
        assert banner["kubeconfig"] == str(kubeconfig)
        assert banner["box website"].startswith("Website.demo.example.com/v1, 2 workers")
        http_url = banner["http"].split()[0]
        kubectl = [
            "kubectl",
            "--kubeconfig",
            str(kubeconfig),
            "--cache-dir",
            str(tmp_path / "cache"),
        ]
        applied = await trio.run_process(
            [*kubectl, "apply", "-f", str(tmp_path / "cr.yaml")], capture_stdout=True
        )
        assert b"website.demo.example.com/shop created" in applied.stdout

        ready = ""
        with trio.fail_after(20):
            while ready != "True":
                got = await trio.run_process(
                    [*kubectl, "get", "website", "shop", "-o", "json"], capture_stdout=True
                )
                status = json.loads(got.stdout).get("status") or {}
                ready = next(
                    (c["status"] for c in status.get("conditions") or () if c["type"] == "Ready"),
                    "",
                )
                if ready != "True":
                    await trio.sleep(0.1)
        got = await trio.run_process(
            [*kubectl, "get", "deployment", "shop", "-o", "json"], capture_stdout=True
        )
        deployment = json.loads(got.stdout)
        assert deployment["metadata"]["ownerReferences"][0]["name"] == "shop"

        async with httpx.AsyncClient(base_url=http_url, trust_env=False) as client:
            assert (await client.get("/ready")).status_code == 200
            health = await client.get("/health")
            assert health.status_code == 200
            boxes = health.json()["boxes"]
            assert "website" in boxes["healthy"] + boxes["pending"]

        process.send_signal(signal.SIGTERM)
        with trio.fail_after(15):
            code = await process.wait()
            rest = await process.stdout.receive_some(65536)
        assert code == 0
        assert b"stopped" in rest
    finally:
        if process.returncode is None:
            process.kill()
            await process.wait()
        await process.stdout.aclose()


def test_bare_form_is_run(capsys):
    # A first argument ending in .yaml means `run`; a Katalog that does not load is a clean error.
    assert main(["does-not-exist.yaml"]) == 1
    assert "does-not-exist.yaml" in capsys.readouterr().err


def test_user_mistakes_are_one_line_messages(tmp_path, capsys):
    # An ephemeral --listen: the default port may be taken by another job on this machine.
    argv = ["run", str(KATALOG), "--listen", "127.0.0.1:0"]
    assert main([*argv, "--kubeconfig", str(tmp_path / "nope")]) == 1
    assert "--kubeconfig" in capsys.readouterr().err
    assert main(["run", str(KATALOG), "--listen", "nonsense"]) == 1
    assert "--listen" in capsys.readouterr().err


def test_a_busy_listen_port_is_a_clean_error(tmp_path, capsys, monkeypatch):
    import logging
    import socket

    monkeypatch.setenv("HOME", str(tmp_path))
    monkeypatch.delenv("KUBECONFIG", raising=False)
    root = logging.getLogger()
    saved = root.handlers[:], root.level
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        try:
            code = main(
                [
                    str(KATALOG),
                    "--listen",
                    f"127.0.0.1:{port}",
                    "--kubeconfig-out",
                    str(tmp_path / "kc"),
                ]
            )
        finally:
            root.handlers[:], level = saved
            root.setLevel(level)
    assert code == 1
    assert f"--listen 127.0.0.1:{port}: cannot serve" in capsys.readouterr().err
