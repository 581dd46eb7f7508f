"""A remote ``cross:`` source slower than ``reconciler.timeout`` still lands (virtual time).

The whole chain is real: API server, runtime, ONCOP reader, its cache and HTTP
client. The remote end is a small ASGI app in the same Trio loop that answers
after a few seconds, reached through an in-process transport, so the autojump
clock makes the seconds exact and instant. Before the fix the fetch was
cancelled with every reconcile that ran out of time: Ready=False forever.
"""

from __future__ import annotations

import json
from typing import Any

import httpx
import pytest
import trio

from orkestra_trio.kube.transport import open_asgi_transport
from orkestra_trio.oncop.reader import RemoteReader
from orkestra_trio.testing import open_test_cluster, run_katalog

TIMEOUT = 1.0

KATALOG = f"""\
apiVersion: orkestra.orkspace.io/v1
kind: Katalog
metadata: {{name: slow}}
spec:
  crds:
    app:
      apiTypes: {{group: slow.example.com, version: v1, kind: App, plural: apps}}
      operatorBox:
        reconciler: {{timeout: {TIMEOUT:g}s, queue: {{failureThreshold: 100}}}}
        cross:
          - crd: quota
            source:
              endpoint: "http://quota.test/status/{{{{ .metadata.name }}}}"
              cacheFor: 60s
            as: quota
        status:
          fields:
            - path: quota
              value: "{{{{ .cross.quota.status.phase }}}}"
"""


class SlowRemote:
    """An HTTP endpoint answering every GET after ``delay`` seconds; counts requests."""

    def __init__(self, delay: float) -> None:
        self.delay = delay
        self.requests = 0

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        assert scope["type"] == "http"
        self.requests += 1
        await trio.sleep(self.delay)
        body = json.dumps(
            {"name": scope["path"].rsplit("/", 1)[-1], "status": {"phase": "Granted"}}
        )
        await send(
            {
                "type": "http.response.start",
                "status": 200,
                "headers": [(b"content-type", b"application/json")],
            }
        )
        await send({"type": "http.response.body", "body": body.encode()})


# 3 s: the case. 13 s: the answer lands between two retries of the CR
# (backoff 2.56 s by then), so only the re-enqueue on arrival makes it Ready at once.
@pytest.mark.parametrize("answer_after", [3.0, 13.0])
async def test_a_remote_slower_than_the_timeout_lands_and_the_cr_gets_ready(
    autojump_clock, tmp_path, answer_after
):
    path = tmp_path / "slow.yaml"
    path.write_text(KATALOG)
    remote = SlowRemote(answer_after)
    async with (
        open_asgi_transport(remote) as transport,
        httpx.AsyncClient(transport=transport) as http,
        trio.open_nursery() as nursery,
    ):
        # time_limit: the HTTP read itself may take longer than a reconcile.
        reader = RemoteReader(http, time_limit=30.0)
        await nursery.start(reader.run)
        async with open_test_cluster() as cluster, run_katalog(path, cluster, remote=reader) as kat:
            reader.on_change = kat.runtime.registry.remote_changed
            start = trio.current_time()
            await kat.apply(kat.manifest("app", "a", {}))
            with trio.fail_after(30):
                while not kat.ready("app", "a"):
                    await trio.sleep(0.1)  # virtual time: each step is instant
            took = trio.current_time() - start
            assert kat.status("app", "a")["quota"] == "Granted"
            # Ready as soon as the answer is there (plus a reconcile): the CR is
            # re-enqueued when it lands, not left to its backoff. The remote was
            # asked once, not once per attempt.
            assert answer_after <= took < answer_after + 0.5
            assert remote.requests == 1
            # The reconciles before the answer ran out of time; what followed succeeded.
            results = [r.result for r in kat.log.of("app")]
            first_ok = results.index("ok")
            assert set(results[:first_ok]) == {"cancelled"} and set(results[first_ok:]) == {"ok"}
        nursery.cancel_scope.cancel()
