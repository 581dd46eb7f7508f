"""The isolation suite's fixtures (its hypothesis settings live in isolation_settings.py)."""

from __future__ import annotations

import logging

import pytest


@pytest.fixture(autouse=True)
def _quiet_failure_logs():
    """Injected faults make the runtime log a warning per failed reconcile: thousands per run.

    Keep errors; the failing step and the property say what went wrong.
    """
    logger = logging.getLogger("orkestra_trio")
    previous = logger.level
    logger.setLevel(logging.ERROR)
    yield
    logger.setLevel(previous)


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    """How often each fault kind was injected over the run (kinds are drawn evenly)."""
    from isolation_model import FAULT_COUNTS, FAULT_KINDS

    total = sum(FAULT_COUNTS.values())
    if not total:
        return
    terminalreporter.section("isolation faults injected, by kind")
    for kind in FAULT_KINDS:
        count = FAULT_COUNTS[kind]
        terminalreporter.write_line(f"{kind:12} {count:6} {100 * count / total:5.1f} %")
    least, most = min(FAULT_COUNTS[k] for k in FAULT_KINDS), max(FAULT_COUNTS.values())
    terminalreporter.write_line(f"{total} faults; most/least {most / max(1, least):.2f}")
