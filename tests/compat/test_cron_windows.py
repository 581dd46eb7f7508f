"""The ``cron`` + ``duration`` condition on the embedded server (ORKESTRA-LANGUAGE.md 1.12).

Katalog: katalogs/cron-windows.yaml. The window is a function of the clock
alone; the plan asks to be reconciled again at its next edge, so the child
comes and goes with no event on the CR. Time is Trio's MockClock (the
runtime's clock follows it), so four minutes pass at once.
"""

from pathlib import Path

from orkestra_trio.testing import open_test_cluster, run_katalog

KATALOG = Path(__file__).parent / "katalogs" / "cron-windows.yaml"


async def test_a_cron_window_opens_and_closes_by_itself(autojump_clock):
    async with open_test_cluster() as cluster, run_katalog(KATALOG, cluster) as kat:
        await kat.apply(kat.manifest("shift", "night", {"team": "ops"}))
        await kat.wait_steady()
        generation = kat.cr("shift", "night")["metadata"]["generation"]

        seen = []
        for _ in range(4):
            child = kat.child("shift", "night", "ConfigMap", "night-on-duty")
            status = kat.status("shift", "night")
            seen.append(child is not None)
            # The status field and the child agree: both read the same window.
            assert status["onDuty"] == ("yes" if child is not None else "no"), status
            if child is not None:
                assert child["data"] == {"team": "ops"}
                labels = child["metadata"]["labels"]
                assert labels["orkestra.orkspace.io/owner"] == "night"
                assert child["metadata"]["ownerReferences"][0]["kind"] == "Shift"
            # One minute on, one minute off: every minute the answer flips.
            await kat.advance(60)

        assert seen in ([True, False, True, False], [False, True, False, True]), seen
        # Nobody touched the CR: the flips came from the plan's requeues.
        assert kat.cr("shift", "night")["metadata"]["generation"] == generation
        creates = cluster.request_count("create", "configmaps")
        deletes = cluster.request_count("delete", "configmaps")
        assert creates >= 2 and deletes >= 2, (creates, deletes)


async def test_a_box_gated_by_a_cron_window_opens_by_itself(autojump_clock):
    """Gated, the plan still asks to look again at the window's next edge."""
    async with open_test_cluster() as cluster, run_katalog(KATALOG, cluster) as kat:
        # The shift's status tells where the runtime's clock is: step to the start of a
        # closed minute (the window's end), so the batch CR comes while it stays closed.
        await kat.apply(kat.manifest("shift", "probe", {"team": "ops"}))
        await kat.wait_steady()
        for wanted in ("yes", "no"):
            for _ in range(61):
                if kat.status("shift", "probe")["onDuty"] == wanted:
                    break
                await kat.advance(1)
        assert kat.status("shift", "probe")["onDuty"] == "no"

        await kat.apply(kat.manifest("batch", "nightly"))
        await kat.wait_steady()
        assert kat.child("batch", "nightly", "ConfigMap", "nightly-ran") is None
        assert kat.health("batch").state.value == "gated", kat.health("batch")
        # The next minute opens the window: reconciled by the gated plan's requeue.
        await kat.advance(60)
        child = kat.child("batch", "nightly", "ConfigMap", "nightly-ran")
        assert child is not None and child["data"] == {"ran": "yes"}
        assert kat.ready("batch", "nightly")
