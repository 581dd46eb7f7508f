"""`.health` and `.metrics` in templates carry Orkestra's fields (ORKESTRA-LANGUAGE 1.5, 1.11).

Orkestra documents `.health` as `healthy, state, ..., failedReconciles, consecutiveFails,
errorRatePercent, ..., hasUnhealthyDeps` and `.metrics` as `queueDepth, workers,
autoscaleActive, workersBusyPercent, workersIdlePercent, ...`; an autoscale condition may
read `metrics.workersIdlePercent`.
"""

import re
from pathlib import Path

import trio

from orkestra_trio.testing import BoxFault, open_test_cluster, run_katalog

KATALOG = """\
apiVersion: orkestra.orkspace.io/v1
kind: Katalog
metadata: {name: health-context}
spec:
  crds:
    site:
      apiTypes: {group: context.example.com, version: v1, kind: Site, plural: sites}
      operatorBox:
        reconciler: {workers: 4}
        runtime:
          autoscale:
            interval: 1s
            cooldown: 1h
            conditions:
              when: [{field: metrics.workersIdlePercent, greaterThanOrEqual: "0"}]
            do: {workers: 5}
        status:
          fields:
            - {path: healthy, value: "{{ .health.healthy }}"}
            - {path: degraded, value: "{{ .health.degraded }}"}
            - {path: failed, value: "{{ .health.failedReconciles }}"}
            - {path: total, value: "{{ .health.totalReconciles }}"}
            - {path: errorRate, value: "{{ .health.errorRatePercent }}"}
            - {path: unhealthyDeps, value: "{{ .health.hasUnhealthyDeps }}"}
            - {path: unhealthyDependencies, value: "{{ .health.hasUnhealthyDependencies }}"}
            - {path: httpStatus, value: "{{ .health.status }}"}
            - {path: uptime, value: "{{ .health.uptime }}"}
            - {path: uptimeSeconds, value: "{{ durationSeconds .health.uptime }}"}
            - {path: startedAt, value: "{{ .health.startedAt }}"}
            - {path: lastReconcile, value: "{{ .health.lastReconcile }}"}
            - {path: resourceCount, value: "{{ .health.resourceCount }}"}
            - {path: queueDepth, value: "{{ .health.queueDepth }}"}
            - {path: errorRateAlias, value: "{{ .health.errorRate }}"}
            - {path: busy, value: "{{ .metrics.workersBusyPercent }}"}
            - {path: idle, value: "{{ .metrics.workersIdlePercent }}"}
            - {path: autoscaleActive, value: "{{ .metrics.autoscaleActive }}"}
            - {path: workers, value: "{{ .metrics.workers }}"}
"""


async def test_health_and_metrics_carry_orkestras_fields(autojump_clock, tmp_path: Path):
    path = tmp_path / "katalog.yaml"
    path.write_text(KATALOG)
    async with open_test_cluster() as cluster, run_katalog(path, cluster) as kat:
        # Two reconciles fail, then the box recovers.
        kat.inject("site", BoxFault.raises("boom"))
        await kat.apply(kat.manifest("site", "a", {"v": "1"}))
        with trio.fail_after(60):
            while kat.box("site").health.consecutive_fails < 2:
                await trio.sleep(0.01)
        kat.lift("site")
        await kat.wait_steady()
        await trio.sleep(3)  # a few autoscale intervals: its condition holds from the first
        await kat.apply(kat.manifest("site", "a", {"v": "2"}))
        await kat.wait_steady()
        status = kat.status("site", "a")
        # Rendered during the fourth reconcile: three finished before it, two of them failed.
        assert (status["failed"], status["total"], status["errorRate"]) == ("2", "3", "66.7")
        assert (status["healthy"], status["degraded"]) == ("true", "false")
        assert status["unhealthyDeps"] == status["unhealthyDependencies"] == "false"
        # Orkestra's CRDHealthResponse fields: the HTTP status /health answers with,
        # the start as an RFC 3339 time, the uptime as a Go duration.
        assert status["httpStatus"] == "200"
        assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ", status["startedAt"])
        assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ", status["lastReconcile"])
        assert re.fullmatch(r"(\d+h)?(\d+m)?\d+s", status["uptime"])
        assert float(status["uptimeSeconds"]) >= 3  # the box ran through the three sleeps
        assert (status["resourceCount"], status["queueDepth"]) == ("1", "0")
        assert status["errorRateAlias"] == status["errorRate"]
        # The rendering reconcile is the one busy worker of five: 20 % busy, 80 % idle;
        # the override (workers: 5) holds since the condition read workersIdlePercent.
        assert int(status["workers"]) == 5
        assert (status["busy"], status["idle"]) == ("20", "80")
        assert status["autoscaleActive"] == "true"
