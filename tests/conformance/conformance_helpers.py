"""Helpers for the conformance suite: the apiserver process, kubectl runs, bounded waits.

Every wait here polls an observable condition (a log line, /readyz, a
process's output) with a deadline, never a fixed sleep.
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
from kubectl_fetch import cached_kubectl_120

from k8s_objects import crd

START_TIMEOUT = 20.0
STOP_TIMEOUT = 10.0

# The kubectl versions every kubectl test runs with: 1.20 (Debian's package,
# fetched once by kubectl_fetch.py), the oldest and the newest bundled binary.
KUBECTL_VERSIONS = ["1.20", "1.27", "1.33"]


def wait_until(
    condition: Callable[[], Any], *, timeout: float = 10.0, what: str = "condition"
) -> Any:
    """Poll ``condition`` until it returns something truthy; fail after ``timeout``."""
    deadline = time.monotonic() + timeout
    delay = 0.01
    while True:
        result = condition()
        if result:
            return result
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout} s waiting for {what}")
        time.sleep(delay)
        delay = min(delay * 2, 0.2)


class ApiServerProcess:
    """``python -m orkestra_trio apiserver`` running as a child process."""

    def __init__(self, workdir: Path, extra_args: tuple[str, ...] = ()) -> None:
        self.workdir = workdir
        self.extra_args = extra_args
        self.kubeconfig = workdir / "kubeconfig"
        self.stdout_path = workdir / "apiserver.out"
        self.stderr_path = workdir / "apiserver.err"
        self.url = ""
        self._proc: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        with self.stdout_path.open("wb") as out, self.stderr_path.open("wb") as err:
            self._proc = subprocess.Popen(
                [
                    sys.executable,
                    "-m",
                    "orkestra_trio",
                    "apiserver",
                    "--listen",
                    "127.0.0.1:0",
                    "--kubeconfig-out",
                    str(self.kubeconfig),
                    *self.extra_args,
                ],
                stdout=out,
                stderr=err,
                stdin=subprocess.DEVNULL,
                cwd=self.workdir,
            )
        self.url = wait_until(self._announced_url, timeout=START_TIMEOUT, what="the server's URL")
        wait_until(self._ready, timeout=START_TIMEOUT, what="/readyz")
        assert self.kubeconfig.is_file()

    def _announced_url(self) -> str | None:
        assert self._proc is not None
        if self._proc.poll() is not None:
            raise AssertionError(f"apiserver exited early: {self.logs()}")
        for line in self.stdout_path.read_text().splitlines():
            if line.startswith("serving the Kubernetes API on "):
                return line.rsplit(" ", 1)[1]
        return None

    def _ready(self) -> bool:
        try:
            return httpx.get(f"{self.url}/readyz", timeout=2).status_code == 200
        except httpx.TransportError:
            return False

    def logs(self) -> str:
        return f"stdout:\n{self.stdout_path.read_text()}\nstderr:\n{self.stderr_path.read_text()}"

    def stop(self) -> int:
        """SIGTERM, then the exit code (killing it if it overstays)."""
        assert self._proc is not None
        if self._proc.poll() is None:
            self._proc.send_signal(signal.SIGTERM)
        try:
            return self._proc.wait(timeout=STOP_TIMEOUT)
        except subprocess.TimeoutExpired:
            self._proc.kill()
            self._proc.wait()
            raise AssertionError(f"apiserver ignored SIGTERM for {STOP_TIMEOUT} s") from None


def kubectl_binary(version: str) -> Path | None:
    """The kubectl binary of ``version``, or None when this machine lacks it."""
    if version == "1.20":
        return cached_kubectl_120()
    on_path = shutil.which("kubectl")
    if on_path is None:
        return None
    candidate = Path(os.path.realpath(on_path)).parent / f"kubectl.{version}"
    return candidate if os.access(candidate, os.X_OK) else None


class Kubectl:
    """One kubectl version pointed at the test server, with its own discovery cache."""

    def __init__(self, version: str, binary: Path, kubeconfig: Path, cache_dir: Path) -> None:
        self.version = version
        self.minor = int(version.split(".")[1])
        self.binary = binary
        self.kubeconfig = kubeconfig
        self.cache_dir = cache_dir
        # For names that must differ between versions sharing one server.
        self.tag = version.replace(".", "")

    def argv(self, *args: str) -> list[str]:
        return [
            str(self.binary),
            f"--kubeconfig={self.kubeconfig}",
            f"--cache-dir={self.cache_dir}",
            *args,
        ]

    def run(
        self, *args: str, stdin: str | None = None, timeout: float = 20.0, check: bool = True
    ) -> subprocess.CompletedProcess[str]:
        proc = subprocess.run(
            self.argv(*args),
            input=stdin,
            capture_output=True,
            text=True,
            timeout=timeout,
        )
        if check and proc.returncode != 0:
            raise AssertionError(
                f"kubectl {self.version} {' '.join(args)} exited {proc.returncode}\n"
                f"stdout: {proc.stdout}\nstderr: {proc.stderr}"
            )
        return proc

    def start(self, *args: str) -> Background:
        return Background(
            subprocess.Popen(
                self.argv(*args),
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
                stdin=subprocess.DEVNULL,
            )
        )


class Background:
    """A kubectl left running (get -w, delete): read its output with bounded waits."""

    def __init__(self, proc: subprocess.Popen[bytes]) -> None:
        self.proc = proc
        self.output = b""
        assert proc.stdout is not None
        os.set_blocking(proc.stdout.fileno(), False)

    def _drain(self) -> None:
        assert self.proc.stdout is not None
        while chunk := self.proc.stdout.read(65536):
            self.output += chunk

    def wait_for_output(self, needle: str, *, timeout: float = 10.0) -> str:
        """All output so far, once it contains ``needle``."""

        def seen() -> bool:
            self._drain()
            if needle.encode() in self.output:
                return True
            if self.proc.poll() is not None:
                self._drain()
                raise AssertionError(f"kubectl ended ({self.proc.returncode}): {self.text}")
            return False

        wait_until(seen, timeout=timeout, what=f"{needle!r} in kubectl's output")
        return self.text

    @property
    def text(self) -> str:
        return self.output.decode(errors="replace")

    def finish(self, timeout: float = 10.0) -> int:
        """Wait for it to exit on its own; its exit code."""
        code = self.proc.wait(timeout=timeout)
        self._drain()
        return code

    def stop(self) -> None:
        """End it (if still running) and release its pipes."""
        if self.proc.poll() is None:
            self.proc.terminate()
        try:
            self.proc.wait(timeout=5)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
        self._drain()
        for pipe in (self.proc.stdout, self.proc.stderr):
            if pipe is not None:
                pipe.close()

    def stderr(self) -> str:
        assert self.proc.stderr is not None
        return self.proc.stderr.read().decode(errors="replace")

    def __enter__(self) -> Background:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.stop()


def simple_crd(
    group: str, kind: str, spec: dict[str, Any], status: dict[str, Any]
) -> dict[str, Any]:
    """A namespaced v1 CRD with a status subresource and the given spec/status schemas."""
    schema = {"type": "object", "properties": {"spec": spec, "status": status}}
    return crd(kind.lower() + "s", kind, group=group, schema=schema, status=True)


def serve_crd(http: httpx.Client, crd: dict[str, Any]) -> str:
    """Create ``crd`` and wait until it is served; the collection's path in ``default``."""
    answer = http.post("/apis/apiextensions.k8s.io/v1/customresourcedefinitions", json=crd)
    assert answer.status_code == 201, answer.text
    spec = crd["spec"]
    path = f"/apis/{spec['group']}/v1/namespaces/default/{spec['names']['plural']}"
    wait_until(lambda: http.get(path).status_code == 200, timeout=10, what=f"{path} to be served")
    return path
