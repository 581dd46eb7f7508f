"""Where the cluster is and how to prove who we are: kubeconfig and in-cluster.

``find_config`` picks the configuration the way users expect from kubectl:
an explicit ``--kubeconfig`` file, else ``$KUBECONFIG`` (several files, merged
with the first definition of each name winning, as kubectl merges them), else
``~/.kube/config``, else the in-cluster service account, else None, which the
runtime reads as "no cluster configured: start the embedded API server".

Loading produces one frozen ``KubeConfig`` with everything resolved (relative
paths made absolute against the file that named them, base64 decoded), so
the rest of the client never sees kubeconfig syntax. A broken kubeconfig is a
user mistake: the ``ConfigError`` names file:line:col and the field, never a
traceback from deep inside a YAML or base64 decoder.
"""

from __future__ import annotations

import base64
import binascii
import contextlib
import os
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import attrs
import yaml

from .errors import ConfigError

IN_CLUSTER_ROOT = "/var/run/secrets/kubernetes.io/serviceaccount"
#: Names another folder holding a pod's service-account files (token, ca.crt,
#: namespace): to run exactly as a pod would outside one (tests, debugging).
SERVICE_ACCOUNT_DIR_ENV = "ORKESTRA_SERVICE_ACCOUNT_DIR"

_Loader: Any = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


@attrs.frozen
class ExecConfig:
    """A client-go credential plugin: a command that prints an ExecCredential."""

    command: str
    args: tuple[str, ...] = ()
    env: tuple[tuple[str, str], ...] = ()
    api_version: str = "client.authentication.k8s.io/v1"
    install_hint: str = ""
    provide_cluster_info: bool = False
    where: str = ""  # "file:line:col" of the exec block, for error messages


@attrs.frozen
class KubeConfig:
    """Everything needed to reach and authenticate to one API server."""

    server: str
    namespace: str = "default"
    ca_data: bytes | None = None
    ca_file: str | None = None
    insecure_skip_tls_verify: bool = False
    tls_server_name: str | None = None
    client_cert_data: bytes | None = None
    client_cert_file: str | None = None
    client_key_data: bytes | None = None
    client_key_file: str | None = None
    token: str | None = None
    token_file: str | None = None
    username: str | None = None
    password: str | None = None
    exec: ExecConfig | None = None
    context: str = ""
    source: str = ""  # the file(s) or "in-cluster", for messages
    #: How it was found: "--kubeconfig", "$KUBECONFIG", "~/.kube/config" or "in-cluster".
    origin: str = ""

    def describe_origin(self) -> str:
        """Where this configuration came from, for a banner or an error message.

        ``$KUBECONFIG=/a/b, context dev``; ``~/.kube/config (/home/u/.kube/config),
        context kind``; ``in-cluster service account``.
        """
        if self.origin == "in-cluster":
            return "in-cluster service account"
        if self.origin == "--kubeconfig":
            where = f"--kubeconfig {self.source}"
        elif self.origin == "$KUBECONFIG":
            where = f"$KUBECONFIG={self.source}"
        else:
            where = f"{self.origin} ({self.source})" if self.origin else self.source
        return f"{where}, context {self.context}" if self.context else where

    @property
    def is_tls(self) -> bool:
        return self.server.startswith("https://")


# --- YAML with positions --------------------------------------------------


@attrs.frozen
class _Doc:
    """One kubeconfig file: its data and the line:col of every value in it."""

    path: str
    data: Any
    marks: Mapping[tuple[str | int, ...], tuple[int, int]]

    def where(self, keypath: tuple[str | int, ...]) -> str:
        # Walk up to the nearest node we have a position for.
        for cut in range(len(keypath), -1, -1):
            mark = self.marks.get(keypath[:cut])
            if mark is not None:
                return f"{self.path}:{mark[0]}:{mark[1]}"
        return f"{self.path}:1:1"

    def error(self, keypath: tuple[str | int, ...], message: str) -> ConfigError:
        field = _field_name(keypath)
        return ConfigError(f"{self.where(keypath)}: {field}: {message}" if field else message)


def _field_name(keypath: tuple[str | int, ...]) -> str:
    out = ""
    for part in keypath:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else part)
    return out


def _read_doc(path: str) -> _Doc:
    try:
        text = Path(path).read_text(encoding="utf-8")
    except OSError as exc:
        raise ConfigError(f"{path}: cannot read kubeconfig: {exc.strerror or exc}") from None
    except UnicodeDecodeError as exc:
        raise ConfigError(
            f"{path}: not a kubeconfig: byte {exc.start} is not UTF-8 text (a binary file?)"
        ) from None
    try:
        node = yaml.compose(text, Loader=_Loader)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f"{path}:{mark.line + 1}:{mark.column + 1}" if mark else path
        problem = getattr(exc, "problem", None) or str(exc)
        raise ConfigError(f"{where}: invalid YAML: {problem}") from None
    marks: dict[tuple[str | int, ...], tuple[int, int]] = {}
    data = _to_python(node, (), marks) if node is not None else {}
    if data is None:
        data = {}
    if not isinstance(data, dict):
        raise ConfigError(f"{path}:1:1: a kubeconfig must be a mapping")
    return _Doc(path=path, data=data, marks=marks)


def _to_python(
    node: yaml.Node,
    keypath: tuple[str | int, ...],
    marks: dict[tuple[str | int, ...], tuple[int, int]],
) -> Any:
    marks[keypath] = (node.start_mark.line + 1, node.start_mark.column + 1)
    if isinstance(node, yaml.MappingNode):
        out: dict[str, Any] = {}
        for key_node, value_node in node.value:
            key = str(key_node.value)
            out[key] = _to_python(value_node, (*keypath, key), marks)
        return out
    if isinstance(node, yaml.SequenceNode):
        return [_to_python(child, (*keypath, i), marks) for i, child in enumerate(node.value)]
    # Scalars: let the safe constructor resolve the tag (bools, ints, nulls).
    loader = _Loader("")
    try:
        return loader.construct_object(node, deep=True)
    finally:
        loader.dispose()


# --- kubeconfig merging and resolution ------------------------------------


@attrs.frozen
class _Named:
    """A cluster, user or context entry together with the file that defined it."""

    doc: _Doc
    keypath: tuple[str | int, ...]
    body: Mapping[str, Any]


def _collect(docs: Sequence[_Doc], section: str, inner: str) -> dict[str, _Named]:
    found: dict[str, _Named] = {}
    for doc in docs:
        entries = doc.data.get(section) or []
        if not isinstance(entries, list):
            raise doc.error((section,), "must be a list")
        for i, entry in enumerate(entries):
            if not isinstance(entry, dict):
                raise doc.error((section, i), "must be a mapping with name and " + inner)
            name = entry.get("name")
            if not isinstance(name, str) or not name:
                raise doc.error((section, i, "name"), "a non-empty name is required")
            body = entry.get(inner) or {}
            if not isinstance(body, dict):
                raise doc.error((section, i, inner), "must be a mapping")
            # kubectl's merge rule: the first file that defines a name wins.
            found.setdefault(name, _Named(doc, (section, i, inner), body))
    return found


def load_kubeconfig(paths: str | Sequence[str], *, context: str | None = None) -> KubeConfig:
    """Load and merge kubeconfig files, resolve the context, return one KubeConfig."""
    if isinstance(paths, str):
        paths = [paths]
    docs = [_read_doc(os.path.abspath(os.path.expanduser(p))) for p in paths]
    files = ", ".join(d.path for d in docs)
    clusters = _collect(docs, "clusters", "cluster")
    users = _collect(docs, "users", "user")
    contexts = _collect(docs, "contexts", "context")

    if context is None:
        for doc in docs:
            current = doc.data.get("current-context")
            if current:
                context = str(current)
                break
        else:
            raise ConfigError(
                f"{files}: current-context is not set; set it (kubectl config use-context NAME)"
                " or choose a context explicitly"
            )
    ctx = contexts.get(context)
    if ctx is None:
        known = ", ".join(sorted(contexts)) or "none"
        raise ConfigError(f'{files}: context "{context}" not found (contexts: {known})')

    cluster_name = ctx.body.get("cluster")
    if not cluster_name:
        raise ctx.doc.error((*ctx.keypath, "cluster"), "the context names no cluster")
    cluster = clusters.get(str(cluster_name))
    if cluster is None:
        raise ctx.doc.error(
            (*ctx.keypath, "cluster"), f'cluster "{cluster_name}" is not defined in {files}'
        )
    user_name = ctx.body.get("user")
    user: _Named | None = None
    if user_name:
        user = users.get(str(user_name))
        if user is None:
            raise ctx.doc.error(
                (*ctx.keypath, "user"), f'user "{user_name}" is not defined in {files}'
            )

    c = cluster.body
    server = c.get("server")
    if not isinstance(server, str) or not server:
        raise cluster.doc.error((*cluster.keypath, "server"), "a server URL is required")
    server = server.rstrip("/")
    if not server.startswith(("http://", "https://")):
        raise cluster.doc.error(
            (*cluster.keypath, "server"), f"{server!r} is not an http:// or https:// URL"
        )
    values: dict[str, Any] = {
        "server": server,
        "namespace": str(ctx.body.get("namespace") or "default"),
        "context": context,
        "source": files,
        "insecure_skip_tls_verify": bool(c.get("insecure-skip-tls-verify", False)),
        "tls_server_name": c.get("tls-server-name") or None,
        "ca_data": _b64(cluster, "certificate-authority-data"),
        "ca_file": _path(cluster, "certificate-authority"),
    }
    if user is not None:
        u = user.body
        values.update(
            client_cert_data=_b64(user, "client-certificate-data"),
            client_cert_file=_path(user, "client-certificate"),
            client_key_data=_b64(user, "client-key-data"),
            client_key_file=_path(user, "client-key"),
            token=_str(user, "token"),
            token_file=_path(user, "tokenFile"),
            username=_str(user, "username"),
            password=_str(user, "password"),
            exec=_exec(user),
        )
        if "auth-provider" in u:
            raise user.doc.error(
                (*user.keypath, "auth-provider"),
                "auth-provider plugins are not supported; use an exec credential plugin",
            )
    return KubeConfig(**values)


def _str(entry: _Named, key: str) -> str | None:
    value = entry.body.get(key)
    if value is None or value == "":
        return None
    if not isinstance(value, str):
        raise entry.doc.error((*entry.keypath, key), "must be a string")
    return value


def _b64(entry: _Named, key: str) -> bytes | None:
    value = _str(entry, key)
    if value is None:
        return None
    try:
        return base64.b64decode(value.strip(), validate=False)
    except (binascii.Error, ValueError):
        raise entry.doc.error((*entry.keypath, key), "is not valid base64") from None


def _path(entry: _Named, key: str) -> str | None:
    value = _str(entry, key)
    if value is None:
        return None
    # kubectl resolves relative paths against the file that contains them.
    return os.path.normpath(
        os.path.join(os.path.dirname(entry.doc.path), os.path.expanduser(value))
    )


def _exec(user: _Named) -> ExecConfig | None:
    spec = user.body.get("exec")
    if spec is None:
        return None
    keypath = (*user.keypath, "exec")
    if not isinstance(spec, dict):
        raise user.doc.error(keypath, "must be a mapping")
    command = spec.get("command")
    if not isinstance(command, str) or not command:
        raise user.doc.error((*keypath, "command"), "a command is required")
    api_version = str(spec.get("apiVersion") or "")
    if api_version not in (
        "client.authentication.k8s.io/v1",
        "client.authentication.k8s.io/v1beta1",
    ):
        raise user.doc.error(
            (*keypath, "apiVersion"),
            f"{api_version or 'missing'}: expected client.authentication.k8s.io/v1 or v1beta1",
        )
    if os.sep in command and not os.path.isabs(command):
        command = os.path.normpath(os.path.join(os.path.dirname(user.doc.path), command))
    args = spec.get("args") or []
    if not isinstance(args, list):
        raise user.doc.error((*keypath, "args"), "must be a list of strings")
    env_list = spec.get("env") or []
    if not isinstance(env_list, list):
        raise user.doc.error((*keypath, "env"), "must be a list of {name, value}")
    env: list[tuple[str, str]] = []
    for i, item in enumerate(env_list):
        if not isinstance(item, dict) or "name" not in item:
            raise user.doc.error((*keypath, "env", i), "must be a mapping with name and value")
        env.append((str(item["name"]), str(item.get("value", ""))))
    return ExecConfig(
        command=command,
        args=tuple(str(a) for a in args),
        env=tuple(env),
        api_version=api_version,
        install_hint=str(spec.get("installHint") or ""),
        provide_cluster_info=bool(spec.get("provideClusterInfo", False)),
        where=user.doc.where(keypath),
    )


# --- in-cluster -------------------------------------------------------------


def load_incluster(
    env: Mapping[str, str] | None = None, root: str | None = None
) -> KubeConfig | None:
    """The pod's service account, or None when not running inside a cluster.

    ``root`` (default ``$ORKESTRA_SERVICE_ACCOUNT_DIR``, else the kubelet's
    mount point) holds ``token``, ``ca.crt`` and ``namespace``.
    """
    env = os.environ if env is None else env
    root = _incluster_root(env, root)
    host = env.get("KUBERNETES_SERVICE_HOST")
    port = env.get("KUBERNETES_SERVICE_PORT")
    token_file = os.path.join(root, "token")
    if not host or not port or not os.path.exists(token_file):
        return None
    if ":" in host and not host.startswith("["):
        host = f"[{host}]"  # IPv6 literal
    namespace = "default"
    with contextlib.suppress(OSError):
        namespace = Path(root, "namespace").read_text(encoding="utf-8").strip() or "default"
    ca_file = os.path.join(root, "ca.crt")
    return KubeConfig(
        server=f"https://{host}:{port}",
        namespace=namespace,
        ca_file=ca_file if os.path.exists(ca_file) else None,
        # The kubelet rotates the projected token: keep the path, re-read it.
        token_file=token_file,
        context="in-cluster",
        source="in-cluster",
        origin="in-cluster",
    )


def _incluster_root(env: Mapping[str, str], root: str | None) -> str:
    return root if root is not None else env.get(SERVICE_ACCOUNT_DIR_ENV) or IN_CLUSTER_ROOT


def running_in_pod(env: Mapping[str, str] | None = None, root: str | None = None) -> bool:
    """True inside a Kubernetes pod: the service environment and the account's token are there."""
    env = os.environ if env is None else env
    root = _incluster_root(env, root)
    has_service = bool(env.get("KUBERNETES_SERVICE_HOST") and env.get("KUBERNETES_SERVICE_PORT"))
    return has_service and os.path.exists(os.path.join(root, "token"))


def find_config(
    kubeconfig: str | None = None,
    *,
    context: str | None = None,
    env: Mapping[str, str] | None = None,
    home: str | None = None,
    incluster_root: str | None = None,
) -> KubeConfig | None:
    """Explicit kubeconfig → $KUBECONFIG → ~/.kube/config → in-cluster → None."""
    env = os.environ if env is None else env
    if kubeconfig:
        return _load_from(kubeconfig, context, "--kubeconfig")
    listed = [p for p in env.get("KUBECONFIG", "").split(os.pathsep) if p]
    # kubectl skips files of $KUBECONFIG that do not exist.
    existing = [p for p in listed if os.path.exists(os.path.expanduser(p))]
    if existing:
        return _load_from(existing, context, "$KUBECONFIG")
    home_dir = home if home is not None else os.path.expanduser("~")
    default = os.path.join(home_dir, ".kube", "config")
    if os.path.exists(default):
        return _load_from(default, context, "~/.kube/config")
    found = load_incluster(env, incluster_root)
    if found is not None and context:
        raise ConfigError(
            f'context "{context}" was asked for, but no kubeconfig was found '
            "(only the in-cluster service account)"
        )
    return found


def _load_from(paths: str | Sequence[str], context: str | None, origin: str) -> KubeConfig:
    """Load, and name the origin in the config and in any error (why was this file read?)."""
    try:
        config = load_kubeconfig(paths, context=context)
    except ConfigError as exc:
        raise ConfigError(f"{origin}: {exc}") from None
    return attrs.evolve(config, origin=origin)
