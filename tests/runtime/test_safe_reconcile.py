"""safe_reconcile: failures and timeouts are results; outer cancellation and base exceptions propagate."""

import pytest
import trio
import trio.testing

from orkestra_trio.runtime.safe import (
    DONE,
    FailureKind,
    Outcome,
    describe_exception,
    safe_reconcile,
)


async def test_success_returns_the_outcome_and_the_duration(
    autojump_clock: trio.testing.MockClock,
) -> None:
    async def reconcile(key: str) -> Outcome:
        await trio.sleep(1.5)
        return Outcome(requeue_after=60)

    result = await safe_reconcile(reconcile, "ns/a", timeout=30)
    assert result.ok and result.failure is None
    assert result.key == "ns/a"
    assert result.outcome.requeue_after == 60
    assert result.duration == pytest.approx(1.5)


async def test_returning_none_means_done() -> None:
    async def reconcile(key: str) -> None:
        return None

    result = await safe_reconcile(reconcile, "k", timeout=None)
    assert result.ok and result.outcome is DONE


async def test_an_exception_becomes_a_failure() -> None:
    async def reconcile(key: str) -> None:
        raise ValueError(f"template error in {key}")

    result = await safe_reconcile(reconcile, "k", timeout=1, with_traceback=True)
    assert not result.ok and result.failure is not None
    assert result.failure.kind is FailureKind.EXCEPTION
    assert result.failure.error == "ValueError: template error in k"
    assert "raise ValueError" in result.failure.traceback


async def test_no_traceback_is_formatted_unless_asked_for() -> None:
    # Formatting one costs more than a failed reconcile: only debug logging pays for it.
    async def reconcile(key: str) -> None:
        raise ValueError("boom")

    result = await safe_reconcile(reconcile, "k", timeout=1)
    assert result.failure is not None
    assert result.failure.error == "ValueError: boom"
    assert result.failure.traceback == ""


async def test_a_hang_past_the_timeout_becomes_a_timeout_failure(
    autojump_clock: trio.testing.MockClock,
) -> None:
    async def reconcile(key: str) -> None:
        await trio.sleep_forever()

    result = await safe_reconcile(reconcile, "k", timeout=30)
    assert result.failure is not None
    assert result.failure.kind is FailureKind.TIMEOUT
    assert result.failure.error == "reconcile timed out after 30s"
    assert result.duration == pytest.approx(30)
    # The caller goes on normally: no stray cancellation leaks out.
    await trio.sleep(1)


async def test_an_exception_group_from_an_inner_nursery_becomes_one_failure() -> None:
    async def fail(msg: str) -> None:
        raise RuntimeError(msg)

    async def reconcile(key: str) -> None:
        async with trio.open_nursery() as nursery:
            nursery.start_soon(fail, "apply deployment")
            nursery.start_soon(fail, "apply service")

    result = await safe_reconcile(reconcile, "k", timeout=5)
    assert result.failure is not None
    assert result.failure.kind is FailureKind.EXCEPTION
    assert result.failure.error.startswith("ExceptionGroup: ")
    assert "RuntimeError: apply deployment" in result.failure.error
    assert "RuntimeError: apply service" in result.failure.error


async def test_an_exception_raised_while_timing_out_is_reported_as_the_exception(
    autojump_clock: trio.testing.MockClock,
) -> None:
    async def reconcile(key: str) -> None:
        try:
            await trio.sleep_forever()
        finally:
            raise OSError("cleanup failed")

    result = await safe_reconcile(reconcile, "k", timeout=1)
    assert result.failure is not None
    assert result.failure.kind is FailureKind.EXCEPTION
    assert "OSError: cleanup failed" in result.failure.error


async def test_outer_cancellation_propagates(autojump_clock: trio.testing.MockClock) -> None:
    after: list[str] = []

    async def reconcile(key: str) -> None:
        await trio.sleep(100)

    with trio.move_on_after(1) as outer:
        await safe_reconcile(reconcile, "k", timeout=50)
        after.append("returned")  # must not run: the shutdown must reach us
    assert outer.cancelled_caught
    assert after == []


async def test_outer_cancellation_through_an_inner_nursery_that_also_fails_propagates(
    autojump_clock: trio.testing.MockClock, caplog: pytest.LogCaptureFixture
) -> None:
    async def child_failing_on_cancel() -> None:
        try:
            await trio.sleep_forever()
        finally:
            raise ValueError("raised during shutdown")

    async def reconcile(key: str) -> None:
        async with trio.open_nursery() as nursery:
            nursery.start_soon(child_failing_on_cancel)
            nursery.start_soon(trio.sleep_forever)

    with trio.move_on_after(1) as outer:
        await safe_reconcile(reconcile, "k", timeout=50)
        pytest.fail("safe_reconcile returned during an outer cancellation")
    assert outer.cancelled_caught
    # Only the cancellation propagated; the ordinary failure was logged, not lost.
    assert "ValueError: raised during shutdown" in caplog.text


async def test_outer_cancellation_at_the_same_instant_as_the_timeout_propagates(
    autojump_clock: trio.testing.MockClock,
) -> None:
    async def reconcile(key: str) -> None:
        await trio.sleep_forever()

    with trio.move_on_after(5) as outer:
        await safe_reconcile(reconcile, "k", timeout=5)
        pytest.fail("the outer cancellation was swallowed")
    assert outer.cancelled_caught


async def test_base_exceptions_propagate() -> None:
    async def reconcile(key: str) -> None:
        raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        await safe_reconcile(reconcile, "k", timeout=1)


def test_describe_exception_names_nested_leaves() -> None:
    group = ExceptionGroup("outer", [ValueError("a"), ExceptionGroup("inner", [KeyError("b")])])
    assert (
        describe_exception(group) == "ExceptionGroup: ValueError: a; ExceptionGroup: KeyError: 'b'"
    )
    assert describe_exception(RuntimeError()) == "RuntimeError"
