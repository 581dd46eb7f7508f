"""Issue 7: a failure in one box never stalls another, as a hypothesis stateful property.

Four boxes (alpha, beta, gamma observing alpha through ``cross:``, delta
reading a remote source)
run on the embedded API server in the test's Trio loop under the autojump
clock. Hypothesis draws a program of steps (``isolation_model.steps``): CR
applies and deletes in any box, one fault at a time aimed at one box, its
lifting, time passing. ``Checker`` asserts the properties after every step
(see ``isolation_model``'s docstring). A counterexample shrinks to a short
list of one-line steps, printed as ``Draw n (step k): fault hang in beta``.

The async ``@given(st.data())`` pattern: each example is one ``trio.run``
(pytest-trio) with virtual time, so minutes of faults cost milliseconds.
``HYPOTHESIS_PROFILE=deep`` runs thousands of programs.
"""

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st
from isolation_model import (
    BOXES,
    FAULT_KINDS,
    Advance,
    Apply,
    Checker,
    Delete,
    Inject,
    Lift,
    fault_boxes,
    steps,
)
from isolation_settings import SUITE_SETTINGS

from orkestra_trio.testing import FakeRemoteSource, open_test_cluster, run_katalog

KATALOG = Path(__file__).parent / "katalogs" / "isolation.yaml"
MAX_STEPS = 12


@asynccontextmanager
async def checked_katalog() -> AsyncIterator[Checker]:
    """The four boxes running, calibrated; the final checks when the block ends well."""
    remote = FakeRemoteSource()  # delta's ONCOP source, which the program may take down
    async with (
        open_test_cluster() as cluster,
        run_katalog(KATALOG, cluster, remote=remote) as kat,
    ):
        checker = Checker(kat)
        await checker.start()
        yield checker
        await checker.finish()


@SUITE_SETTINGS
@given(st.data())
async def test_a_faulty_box_never_stalls_the_others(autojump_clock, data):
    async with checked_katalog() as checker:
        count = data.draw(st.integers(1, MAX_STEPS), label="steps")
        for i in range(count):
            step = data.draw(steps(checker.model), label=f"step {i}")
            await checker.run(step)


@pytest.mark.parametrize("fault", FAULT_KINDS)
async def test_every_fault_kind(autojump_clock, fault):
    """Each kind once, whatever hypothesis drew: CRs in every box, the fault, more
    CRs while it lasts, its lifting, a delete, time for the backoffs to pass."""
    boxes = fault_boxes(fault)
    box = boxes[FAULT_KINDS.index(fault) % len(boxes)]
    async with checked_katalog() as checker:
        for b in BOXES:
            await checker.run(Apply(b, "x", 1))
        await checker.run(Inject(box, fault))
        for b in BOXES:
            await checker.run(Apply(b, "y", 2))
        await checker.run(Advance(10.0))
        if checker.model.fault is not None:  # flood and crash are over when injected
            await checker.run(Lift())
        await checker.run(Delete(box, "x"))
        await checker.run(Advance(60.0))
