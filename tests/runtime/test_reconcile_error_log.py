"""The reconcile-error log line names the CR as people write it: ``namespace/name``."""

from __future__ import annotations

import logging

import trio
from runtime_helpers import eventually, holds

from orkestra_trio.kube import open_kube_client
from orkestra_trio.runtime.runtime import open_runtime

KATALOG = """\
apiVersion: orkestra.orkspace.io/v1
kind: Katalog
metadata: {name: logs}
spec:
  crds:
    broken:
      apiTypes: {group: logs.example.com, version: v1, kind: Broken, plural: brokens}
      operatorBox:
        status:
          fields:
            - path: size
              value: "not a number"
              type: int
"""


async def test_reconcile_error_line_prints_namespace_slash_name(tmp_path, caplog):
    path = tmp_path / "logs.yaml"
    path.write_text(KATALOG)
    caplog.set_level(logging.WARNING, logger="orkestra_trio.runtime.workers")
    async with open_runtime(path, embedded=True) as rt, open_kube_client(rt.server_url) as kube:
        with trio.fail_after(10):
            await rt.wait_ready()
        await kube.create({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "team-a"}})
        await kube.create(
            {
                "apiVersion": "logs.example.com/v1",
                "kind": "Broken",
                "metadata": {"name": "b1", "namespace": "team-a"},
                "spec": {},
            }
        )

        def error_lines():
            return [
                r
                for r in caplog.records
                if getattr(r, "event", None) == "reconcile_error" and r.levelno == logging.WARNING
            ]

        await eventually(lambda: holds(error_lines()), what="a reconcile-error log line")
        message = error_lines()[0].getMessage()
        assert "reconcile of team-a/b1 failed" in message, message
        assert "('" not in message
