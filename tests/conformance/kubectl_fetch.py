"""kubectl 1.20 for the conformance suite: Debian's kubernetes-client package, unpacked.

The bundled kubectl binaries start at 1.27; 1.20 is the oldest client the
design names (KUBE-API.md), and it behaves differently (no --subresource, no
fieldValidation). Installing the package would clash with the kubectl
dispatcher, so it is downloaded with ``apt-get download`` and unpacked with
``dpkg -x`` into a user cache folder. Tests only use the cached copy (they
never reach the network); run this file once to fill the cache:

    python tests/conformance/kubectl_fetch.py
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

DOWNLOAD_TIMEOUT = 60.0


def cache_dir() -> Path:
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "orkestra-trio" / "kubectl-1.20"


def cached_kubectl_120() -> Path | None:
    """The unpacked kubectl 1.20, if it was fetched before (env ORKESTRA_KUBECTL_1_20 wins)."""
    override = os.environ.get("ORKESTRA_KUBECTL_1_20")
    candidate = Path(override) if override else cache_dir() / "usr" / "bin" / "kubectl"
    return candidate if os.access(candidate, os.X_OK) else None


def fetch() -> Path:
    """Download and unpack Debian's kubernetes-client into the cache; its kubectl path."""
    if shutil.which("apt-get") is None or shutil.which("dpkg") is None:
        raise SystemExit("apt-get and dpkg are needed to fetch kubectl 1.20")
    target = cache_dir()
    with tempfile.TemporaryDirectory() as download:
        subprocess.run(
            ["apt-get", "download", "kubernetes-client"],
            cwd=download,
            check=True,
            timeout=DOWNLOAD_TIMEOUT,
        )
        debs = sorted(Path(download).glob("kubernetes-client_*.deb"))
        if not debs:
            raise SystemExit("apt-get download produced no kubernetes-client .deb")
        target.mkdir(parents=True, exist_ok=True)
        subprocess.run(["dpkg", "-x", str(debs[0]), str(target)], check=True, timeout=60)
    kubectl = target / "usr" / "bin" / "kubectl"
    version = subprocess.run(
        [str(kubectl), "version", "--client", "--short"],
        capture_output=True,
        text=True,
        timeout=30,
    )
    if "v1.20" not in version.stdout:
        raise SystemExit(f"unexpected kubectl version: {version.stdout or version.stderr}")
    return kubectl


if __name__ == "__main__":
    if sys.argv[1:] == ["--check"]:  # exit 0 when the cache already holds it
        found = cached_kubectl_120()
        print(found or "kubectl 1.20 is not in the cache")
        sys.exit(0 if found else 1)
    print(fetch())
    sys.exit(0)
