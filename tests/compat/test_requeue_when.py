"""`requeue: {after, when, or}` on the embedded server (ORKESTRA-LANGUAGE 1.4, 2.3): a CR is
reconciled again after the rendered duration, only while the conditions hold; in the list
form, the shortest delay among the rules that hold."""

from pathlib import Path
from typing import Any

import trio

from orkestra_trio.testing import open_test_cluster, run_katalog


def katalog(requeue: str) -> str:
    """A Poller box whose ``requeue:`` is ``requeue`` (YAML indented under it)."""
    return f"""\
apiVersion: orkestra.orkspace.io/v1
kind: Katalog
metadata: {{name: requeue}}
spec:
  crds:
    poller:
      apiTypes: {{group: requeue.example.com, version: v1, kind: Poller, plural: pollers}}
      operatorBox:
        requeue:
{requeue}
        status:
          fields:
            - {{path: seen, value: "yes"}}
"""


async def reconciles_in(
    tmp_path: Path, requeue: str, specs: dict[str, dict[str, Any]], seconds: float
) -> dict[str, int]:
    """How many times each CR of ``specs`` is reconciled in ``seconds`` after it settled."""
    path = tmp_path / "katalog.yaml"
    path.write_text(katalog(requeue))
    async with open_test_cluster() as cluster, run_katalog(path, cluster) as kat:
        for name, spec in specs.items():
            await kat.apply(kat.manifest("poller", name, spec))
        await kat.wait_steady()

        def runs(name: str) -> int:
            return len(kat.log.of("poller", ("default", name)))

        before = {name: runs(name) for name in specs}
        await trio.sleep(seconds)
        return {name: runs(name) - before[name] for name in specs}


async def test_requeue_after_repeats_only_while_when_and_or_hold(autojump_clock, tmp_path: Path):
    requeue = """\
          after: "{{ .spec.every }}"
          when: [{field: spec.poll, equals: "yes"}]
          or: [{field: spec.tier, equals: gold}, {field: spec.tier, equals: silver}]"""
    specs = {
        "fast": {"every": "10s", "poll": "yes", "tier": "gold"},
        "slow": {"every": "30s", "poll": "yes", "tier": "silver"},
        "off": {"every": "10s", "poll": "no", "tier": "gold"},
        "bronze": {"every": "10s", "poll": "yes", "tier": "bronze"},
    }
    again = await reconciles_in(tmp_path, requeue, specs, 65)
    # 10 s apart: 6 in 65 s; 30 s apart: 2; when or or failing: none.
    assert again == {"fast": 6, "slow": 2, "off": 0, "bronze": 0}


async def test_requeue_list_form_takes_the_shortest_rule_that_holds(autojump_clock, tmp_path: Path):
    # Orkestra's list form: several rules; of those whose conditions hold, the
    # shortest delay wins, whatever their order.
    requeue = """\
          - after: 30s
          - after: "{{ .spec.every }}"
            when: [{field: spec.phase, equals: Pending}]"""
    specs = {
        "pending": {"every": "10s", "phase": "Pending"},
        "ready": {"every": "10s", "phase": "Ready"},
        "slow-pending": {"every": "1m", "phase": "Pending"},
    }
    again = await reconciles_in(tmp_path, requeue, specs, 65)
    # Pending: 10 s beats 30 s (6 in 65 s); Ready: only the 30 s rule holds (2);
    # a 1 m rule that holds loses to 30 s.
    assert again == {"pending": 6, "ready": 2, "slow-pending": 2}
