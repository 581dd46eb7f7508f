"""Suite-wide rules.

Tests that drive an outside tool (kubectl of a conformance version, headless
Chromium) skip on a developer's machine that lacks it, with a reason that
starts with ``TOOL_MISSING``. In CI (``CI`` set, as ``.ci/run`` runs) such a
skip is turned into a failure: a CI machine that silently lost a tool would
otherwise stay green while testing less.
"""

from __future__ import annotations

import os
from collections.abc import Iterator

import pytest
from hypothesis import settings
from hypothesis.database import DirectoryBasedExampleDatabase

#: The prefix of every skip reason that means "an outside tool is not installed".
TOOL_MISSING = "tool missing:"


def _cache_dir() -> str:
    return os.environ.get("XDG_CACHE_HOME") or os.path.expanduser("~/.cache")


# Hypothesis keeps its examples in the user's cache, not in the checkout (in CI: nowhere).
settings.register_profile(
    "orkestra",
    database=None
    if os.environ.get("CI", "").lower() not in ("", "0", "false", "no")
    else DirectoryBasedExampleDatabase(os.path.join(_cache_dir(), "orkestra-trio", "hypothesis")),
)
settings.load_profile("orkestra")


def _in_ci() -> bool:
    return os.environ.get("CI", "").lower() not in ("", "0", "false", "no")


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]) -> Iterator[None]:
    outcome = yield
    report = outcome.get_result()  # type: ignore[attr-defined]
    if not (report.skipped and _in_ci() and isinstance(report.longrepr, tuple)):
        return
    reason = str(report.longrepr[2]).removeprefix("Skipped: ")
    if reason.startswith(TOOL_MISSING):
        report.outcome = "failed"
        report.longrepr = f"{reason} (CI is set: a missing tool fails the run)"


@pytest.fixture(autouse=True, scope="session")
def _no_outside_cluster_or_home(tmp_path_factory: pytest.TempPathFactory) -> Iterator[None]:
    """Keep the suite off the machine's own cluster settings and home folder.

    A developer's ``~/.kube/config`` or ``$KUBECONFIG`` would otherwise steer
    every test that starts the runtime towards a real cluster. Caches that
    tools keep between runs (the fetched kubectl 1.20) stay where they are:
    ``XDG_CACHE_HOME`` is pinned to the real cache before ``HOME`` moves.
    """
    real_cache = _cache_dir()
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("XDG_CACHE_HOME", real_cache)
        patch.setenv("HOME", str(tmp_path_factory.mktemp("home")))
        for name in ("KUBECONFIG", "KUBERNETES_SERVICE_HOST", "KUBERNETES_SERVICE_PORT"):
            patch.delenv(name, raising=False)
        yield
