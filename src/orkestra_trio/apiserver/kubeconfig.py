"""A kubeconfig for the embedded server, so kubectl and other clients work as is.

By default the server speaks plain HTTP on loopback and accepts
unauthenticated requests, so the file names a cluster by URL, an empty user,
and one context, ``orkestra-embedded``, whose namespace is ``default``. With
authentication on, the cluster carries the serving certificate to trust and
the user the generated admin token; the file is then readable by its owner
only.

By default the commands write it to a state directory
(``$XDG_STATE_HOME/orkestra_trio``, else ``~/.local/state/orkestra_trio``)
rather than the working directory, so that running the quick start inside a
repository leaves no file behind. Two embedded runs at the same time each
claim their own file there (:func:`claim_default_kubeconfig`): the second
writes ``kubeconfig-2``, so the first one's kubectl never lands on the other
server.
"""

from __future__ import annotations

import base64
import fcntl
import os
from collections.abc import Mapping
from pathlib import Path
from typing import IO

import yaml

CONTEXT = "orkestra-embedded"


def state_dir(env: Mapping[str, str] | None = None) -> Path:
    """Where the commands keep files that are not the user's: the XDG state directory."""
    env = os.environ if env is None else env
    home = env.get("HOME") or os.path.expanduser("~")
    base = env.get("XDG_STATE_HOME") or os.path.join(home, ".local", "state")
    return Path(base) / "orkestra_trio"


def default_kubeconfig_path(name: str, env: Mapping[str, str] | None = None) -> Path:
    """``<state dir>/<name>``: the kubeconfig a command writes when not told where."""
    return state_dir(env) / name


#: How many runs at once may each claim a kubeconfig of their own in the state directory.
MAX_CLAIMS = 100


def claim_default_kubeconfig(
    name: str, env: Mapping[str, str] | None = None
) -> tuple[Path, IO[bytes] | None]:
    """The state-directory kubeconfig this process may write, and the lock that holds it.

    Each run holds an exclusive ``flock`` on ``<file>.lock`` for as long as it
    keeps the returned file open (the kernel drops it when the process ends,
    ``kill -9`` included, so a crashed run never leaves a stale claim). A run
    that finds ``<name>`` held takes ``<name>-2``, then ``-3``... When the
    state directory cannot be written, the plain default is returned unlocked
    and the write itself reports the problem.
    """
    folder = state_dir(env)
    try:
        folder.mkdir(parents=True, exist_ok=True)
        for number in range(1, MAX_CLAIMS + 1):
            path = folder / (name if number == 1 else f"{name}-{number}")
            lock = open(path.with_name(path.name + ".lock"), "ab")  # noqa: SIM115 - held by the caller
            try:
                fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                lock.close()
                continue
            return path, lock
    except OSError:
        pass
    return folder / name, None


def kubeconfig_dict(
    url: str,
    *,
    namespace: str = "default",
    ca_pem: bytes | None = None,
    token: str | None = None,
) -> dict[str, object]:
    cluster: dict[str, object] = {"server": url}
    if ca_pem is not None:
        cluster["certificate-authority-data"] = base64.b64encode(ca_pem).decode()
    user: dict[str, object] = {} if token is None else {"token": token}
    return {
        "apiVersion": "v1",
        "kind": "Config",
        "preferences": {},
        "clusters": [{"name": CONTEXT, "cluster": cluster}],
        "users": [{"name": CONTEXT, "user": user}],
        "contexts": [
            {
                "name": CONTEXT,
                "context": {"cluster": CONTEXT, "user": CONTEXT, "namespace": namespace},
            }
        ],
        "current-context": CONTEXT,
    }


def write_kubeconfig(
    path: str | os.PathLike[str],
    url: str,
    *,
    namespace: str = "default",
    ca_pem: bytes | None = None,
    token: str | None = None,
) -> Path:
    """Write the kubeconfig atomically (a reader never sees half a file)."""
    target = Path(path)
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = target.with_name(target.name + ".tmp")
    text = yaml.safe_dump(
        kubeconfig_dict(url, namespace=namespace, ca_pem=ca_pem, token=token), sort_keys=False
    )
    # A token is a credential: only the owner may read the file.
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600 if token else 0o644)
    with os.fdopen(fd, "w", encoding="utf-8") as f:
        if token:
            os.fchmod(f.fileno(), 0o600)
        f.write(text)
    os.replace(tmp, target)
    return target
