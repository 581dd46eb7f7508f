"""``python -m orkestra_trio KATALOG --log-format json``: the surface and the logs of a real process."""

from __future__ import annotations

import json
import subprocess
import sys

import httpx
import pytest
import trio
from web_helpers import CROSS_SAME_BINARY, eventually

from runtime_banner import read_http_url, reap, stop


@pytest.mark.slow
async def test_json_logs_token_and_control_center_of_a_real_run(tmp_path):
    (tmp_path / "token").write_text("s3cret\n")
    stderr = (tmp_path / "stderr.log").open("wb")
    process = await trio.lowlevel.open_process(
        [
            sys.executable,
            "-m",
            "orkestra_trio",
            str(CROSS_SAME_BINARY),
            "--listen",
            "127.0.0.1:0",
            "--log-format",
            "json",
            "--oncop-token-file",
            str(tmp_path / "token"),
            "--kubeconfig-out",
            str(tmp_path / "kubeconfig"),
        ],
        stdout=subprocess.PIPE,
        stderr=stderr,
        cwd=tmp_path,
        env={"PATH": "/usr/bin:/bin", "HOME": str(tmp_path)},
    )
    try:
        url = await read_http_url(process.stdout)
        async with httpx.AsyncClient(base_url=url) as http:

            async def ready():
                return (await http.get("/ready")).status_code == 200

            await eventually(ready, timeout=20, what="/ready")
            assert (await http.get("/katalog")).status_code == 401
            auth = {"Authorization": "Bearer s3cret"}
            assert (await http.get("/katalog", headers=auth)).json()["name"] == "shop"
            assert (await http.get("/ui/")).status_code == 401
            assert (await http.get("/metrics")).status_code == 401
            page = await http.get("/ui/", headers=auth)
            assert page.status_code == 200 and "Control Center" in page.text
            metrics = (await http.get("/metrics", headers=auth)).text
            assert (
                'controller_runtime_reconcile_total{controller="app",result="success"}' in metrics
            )

            def started_lines() -> list[dict]:
                entries = [
                    json.loads(line) for line in (tmp_path / "stderr.log").read_text().splitlines()
                ]
                return [e for e in entries if e.get("event") == "health"]

            async def both_started():
                boxes = {
                    e["box"] for e in started_lines() if e["message"].startswith("box started")
                }
                return boxes == {"app", "managed-database"}

            await eventually(both_started, timeout=10, what="a start line per box")
        assert await stop(process) == 0
    finally:
        await reap(process)
        stderr.close()
    for line in (tmp_path / "stderr.log").read_text().splitlines():
        entry = json.loads(line)  # every line is JSON...
        assert {"time", "level", "logger", "box", "key", "message"} <= set(
            entry
        )  # ...with box and key
