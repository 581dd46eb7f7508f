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
