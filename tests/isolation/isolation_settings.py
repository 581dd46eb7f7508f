"""Hypothesis settings of the isolation suite: ``ci`` (default) and ``HYPOTHESIS_PROFILE=deep``.

Applied to this suite's tests only (``SUITE_SETTINGS`` as a decorator), never
loaded globally, so other suites keep their own settings.
"""

from __future__ import annotations

import os

from hypothesis import HealthCheck, Phase, register_random, settings

from orkestra_trio.kube import retry as kube_retry

# The client's retry jitter comes from its own Random: hand it to hypothesis so
# that an example replays with the same waits (a failure reproduces and shrinks).
register_random(kube_retry._RNG)

_COMMON = {
    "deadline": None,  # wall time per example varies with the machine's load
    "suppress_health_check": [
        HealthCheck.too_slow,
        HealthCheck.data_too_large,
        HealthCheck.function_scoped_fixture,  # autojump_clock: one clock, restarted per example
    ],
    "print_blob": True,
    # The explain phase re-runs a failure dozens of times to list covered lines:
    # a minute of CI for little; the shrunk steps already tell the story.
    "phases": [Phase.explicit, Phase.reuse, Phase.generate, Phase.target, Phase.shrink],
}

settings.register_profile("ci", max_examples=250, **_COMMON)
settings.register_profile("deep", max_examples=2000, **_COMMON)

PROFILE = os.environ.get("HYPOTHESIS_PROFILE", "ci")
if PROFILE not in ("ci", "deep"):
    PROFILE = "ci"
SUITE_SETTINGS = settings.get_profile(PROFILE)
