"""Bearer credentials that change while the operator runs.

An operator lives for months; its credentials do not. The in-cluster token is
a projected file the kubelet rewrites every hour or so, and exec plugins
(cloud login helpers) hand out tokens with an expiry. Each class here is an
``httpx.Auth`` so that every request, including each watch reconnect, carries
a current token, and a 401 triggers one re-read/re-run and one retry of that
request before it surfaces as ``Unauthorized``.
"""

from __future__ import annotations

import datetime
import json
import os
import time
from collections.abc import AsyncGenerator, Generator
from typing import Any

import httpx
import trio

from .config import ExecConfig, KubeConfig
from .errors import ConfigError

# Re-read a token file at most this often (client-go uses a minute); a 401
# forces a re-read at once anyway.
TOKEN_FILE_REFRESH_SECONDS = 60.0
# Treat an exec credential as expired this long before its stated expiry, so
# a request in flight does not arrive with a token that just lapsed.
EXPIRY_MARGIN_SECONDS = 10.0


class StaticTokenAuth(httpx.Auth):
    """A fixed bearer token from the kubeconfig."""

    def __init__(self, token: str):
        self._header = f"Bearer {token}"

    @property
    def header(self) -> str:
        """The Authorization header value (a fixed token needs no flow around the request)."""
        return self._header

    def auth_flow(self, request: httpx.Request) -> Generator[httpx.Request, httpx.Response, None]:
        request.headers["Authorization"] = self._header
        yield request


class TokenFileAuth(httpx.Auth):
    """A bearer token read from a file that may be rotated underneath us."""

    def __init__(self, path: str, *, refresh_seconds: float = TOKEN_FILE_REFRESH_SECONDS):
        self._path = path
        self._refresh = refresh_seconds
        self._token = ""
        self._read_at = -float("inf")

    def _current(self, *, force: bool = False) -> str:
        now = time.monotonic()
        if force or not self._token or now - self._read_at >= self._refresh:
            try:
                with open(self._path, encoding="utf-8") as f:
                    token = f.read().strip()
            except OSError as exc:
                if self._token:
                    return self._token  # keep the last good token during a rotation hiccup
                raise ConfigError(
                    f"{self._path}: cannot read token file: {exc.strerror or exc}"
                ) from None
            self._token = token
            self._read_at = now
        return self._token

    def auth_flow(self, request: httpx.Request) -> Generator[httpx.Request, httpx.Response, None]:
        token = self._current()
        request.headers["Authorization"] = f"Bearer {token}"
        response = yield request
        if response.status_code == 401:
            fresh = self._current(force=True)
            if fresh != token:
                request.headers["Authorization"] = f"Bearer {fresh}"
                yield request


class ExecCredentialAuth(httpx.Auth):
    """Tokens from a client-go exec credential plugin, cached until they expire."""

    def __init__(self, spec: ExecConfig, *, server: str = "", ca_data: bytes | None = None):
        self._spec = spec
        self._server = server
        self._ca_data = ca_data
        self._token: str | None = None
        self._expires: float | None = None  # wall-clock epoch seconds
        self._lock = trio.Lock()
        self.runs = 0  # how many times the plugin ran (tests and metrics)

    def sync_auth_flow(
        self, request: httpx.Request
    ) -> Generator[httpx.Request, httpx.Response, None]:
        raise RuntimeError("exec credential plugins need the async client")

    async def async_auth_flow(
        self, request: httpx.Request
    ) -> AsyncGenerator[httpx.Request, httpx.Response]:
        token = await self._get_token()
        request.headers["Authorization"] = f"Bearer {token}"
        response = yield request
        if response.status_code == 401:
            # The server rejected a token we believed valid (revoked, clock skew):
            # run the plugin again, once.
            fresh = await self._get_token(invalidate=token)
            request.headers["Authorization"] = f"Bearer {fresh}"
            yield request

    def _valid(self) -> bool:
        if self._token is None:
            return False
        return self._expires is None or time.time() < self._expires - EXPIRY_MARGIN_SECONDS

    async def _get_token(self, *, invalidate: str | None = None) -> str:
        async with self._lock:  # one plugin run for many concurrent requests
            if invalidate is not None and self._token == invalidate:
                self._token = None
            if not self._valid():
                self._token, self._expires = await self._run()
            assert self._token is not None
            return self._token

    async def _run(self) -> tuple[str, float | None]:
        spec = self._spec
        info: dict[str, Any] = {
            "apiVersion": spec.api_version,
            "kind": "ExecCredential",
            "spec": {"interactive": False},
        }
        if spec.provide_cluster_info:
            cluster: dict[str, Any] = {"server": self._server}
            if self._ca_data:
                cluster["certificate-authority-data"] = self._ca_data.decode("ascii", "replace")
            info["spec"]["cluster"] = cluster
        env = dict(os.environ)
        env.update(spec.env)
        env["KUBERNETES_EXEC_INFO"] = json.dumps(info)
        where = spec.where or spec.command
        self.runs += 1
        try:
            result = await trio.run_process(
                [spec.command, *spec.args],
                capture_stdout=True,
                capture_stderr=True,
                check=False,
                env=env,
            )
        except OSError as exc:
            hint = f" ({spec.install_hint.strip()})" if spec.install_hint else ""
            raise ConfigError(
                f"{where}: exec: cannot run {spec.command!r}: {exc.strerror or exc}{hint}"
            ) from None
        if result.returncode != 0:
            stderr = result.stderr.decode("utf-8", "replace").strip()[-500:]
            raise ConfigError(
                f"{where}: exec: {spec.command!r} exited with {result.returncode}: {stderr}"
            )
        return parse_exec_credential(result.stdout, spec)


def parse_exec_credential(stdout: bytes, spec: ExecConfig) -> tuple[str, float | None]:
    """(token, expiry as epoch seconds or None) from a plugin's ExecCredential output."""
    where = spec.where or spec.command
    try:
        cred = json.loads(stdout)
    except ValueError:
        raise ConfigError(f"{where}: exec: {spec.command!r} did not print JSON") from None
    if not isinstance(cred, dict) or cred.get("kind") != "ExecCredential":
        raise ConfigError(f"{where}: exec: output is not an ExecCredential")
    if cred.get("apiVersion") != spec.api_version:
        raise ConfigError(
            f"{where}: exec: plugin answered apiVersion {cred.get('apiVersion')!r},"
            f" expected {spec.api_version!r}"
        )
    status = cred.get("status") or {}
    token = status.get("token") if isinstance(status, dict) else None
    if not isinstance(token, str) or not token:
        if isinstance(status, dict) and status.get("clientCertificateData"):
            raise ConfigError(
                f"{where}: exec: client certificates from exec plugins are not supported;"
                " only tokens"
            )
        raise ConfigError(f"{where}: exec: the ExecCredential status has no token")
    expiry = status.get("expirationTimestamp")
    return token, (parse_timestamp(expiry, where) if expiry else None)


def parse_timestamp(text: Any, where: str = "") -> float:
    """RFC 3339 time ("2024-01-01T00:00:00Z") as epoch seconds."""
    try:
        value = datetime.datetime.fromisoformat(str(text).replace("Z", "+00:00"))
    except ValueError:
        raise ConfigError(f"{where}: exec: bad expirationTimestamp {text!r}") from None
    if value.tzinfo is None:
        value = value.replace(tzinfo=datetime.UTC)
    return value.timestamp()


def auth_for(config: KubeConfig) -> httpx.Auth | None:
    """The httpx.Auth that carries ``config``'s credentials (None: certificates or nothing)."""
    if config.exec is not None:
        return ExecCredentialAuth(config.exec, server=config.server, ca_data=config.ca_data)
    if config.token:
        return StaticTokenAuth(config.token)
    if config.token_file:
        return TokenFileAuth(config.token_file)
    if config.username and config.password:
        return httpx.BasicAuth(config.username, config.password)
    return None
