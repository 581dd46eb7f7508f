"""pods/<name>/log answers at once: a simulated line, or kube's refusals."""

import pytest

from orkestra_trio.apiserver.registry.podlogs import log_text
from orkestra_trio.apiserver.status import ApiError


def pod(*containers, phase="Running"):
    return {
        "metadata": {"name": "p"},
        "spec": {"containers": [{"name": c, "image": "busybox"} for c in containers]},
        "status": {"phase": phase, "startTime": "2026-01-01T00:00:00Z"},
    }


def refusal(*args, **kwargs):
    with pytest.raises(ApiError) as error:
        log_text(*args, **kwargs)
    assert error.value.code == 400
    return error.value.message


def test_a_running_container_answers_one_line():
    text = log_text(pod("web"), None)
    assert text.count("\n") == 1 and "web" in text
    assert log_text(pod("web"), "web", timestamps=True).startswith("2026-01-01T00:00:00")
    assert log_text(pod("web"), None, tail_lines=0) == ""


def test_refusals():
    assert "choose one of: [a b]" in refusal(pod("a", "b"), None)
    assert "not valid" in refusal(pod("a"), "b")
    assert "waiting to start" in refusal(pod("a", phase="Pending"), None)
    assert "previous terminated" in refusal(pod("a"), "a", previous=True)
