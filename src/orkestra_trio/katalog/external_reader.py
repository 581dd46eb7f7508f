"""Reading external calls: ``preReconcile.external`` and ``external`` in onCreate/onReconcile.

Orkestra's shape (ORKESTRA-LANGUAGE.md 1.6): ``{name, url, method, body,
token, headers, timeout, expectedStatus, continueOnError, when, or, sleep,
retryBackoff, fires.reconcile, protocol}``. The load-time checks are the
ones a cross ``source.endpoint`` gets: the URL's scheme and host are written
literally (a CR cannot aim the runtime at another host), the token is a
literal or an environment variable reference (``$NAME``), and only
``protocol: http`` is taken, the other protocols being refused with the reason.
"""

from __future__ import annotations

import re
from typing import Any

import attrs

from orkestra_trio.katalog import orkestra_keys
from orkestra_trio.katalog.condition_reader import ConditionReader
from orkestra_trio.katalog.conditions import Condition
from orkestra_trio.katalog.model import (
    EXTERNAL_METHODS,
    RESOURCE_GROUPS,
    ExternalCall,
    RemoteReconciler,
    RetryBackoff,
)
from orkestra_trio.katalog.reading import Shape, describe
from orkestra_trio.katalog.yamlsource import KeyPath

_CALL_KEYS = (
    "name",
    "url",
    "method",
    "body",
    "token",
    "tokenFrom",
    "auth",
    "headers",
    "timeout",
    "expectedStatus",
    "continueOnError",
    "when",
    "or",
    "sleep",
    "retryBackoff",
    "fires",
    "protocol",
    "cacheFor",
)
_REMOTE_KEYS = ("type", "endpoint", "timeout", "managedResources", "auth")
#: Orkestra's other protocols: each needs a client this runtime does not carry.
_OTHER_PROTOCOLS = ("prometheus", "redis", "postgres", "mongo", "kafka", "grpc")
_CALL_NAME = Shape(re.compile(r"[A-Za-z_][A-Za-z0-9_]*"), "a name such as featureFlags")
#: The longest an external call may wait for its answer (a reconcile is bounded anyway).
MAX_CALL_TIMEOUT = 300.0


class ExternalCallReader(ConditionReader):
    """A :class:`ConditionReader` that also reads external calls."""

    def external_calls(
        self,
        parent: dict[str, Any],
        path: KeyPath,
        phase: str,
        *,
        block_when: tuple[Condition, ...] = (),
        block_or: tuple[Condition, ...] = (),
        taken: dict[str, KeyPath] | None = None,
    ) -> tuple[ExternalCall, ...]:
        """The calls of ``parent['external']``; ``taken`` holds the names read so far (one box)."""
        taken = {} if taken is None else taken
        out: list[ExternalCall] = []
        for index, item in enumerate(self.items(parent, path, "external")):
            here = (*path, "external", index)
            call = self.external_call(item, here, phase)
            if call is None:
                continue
            if call.name in taken:
                self.report(
                    (*here, "name"),
                    f"external call {call.name!r} is already declared at "
                    f"{'.'.join(map(str, taken[call.name]))}; .external.<name> must be unique",
                )
                continue
            taken[call.name] = here
            if block_when or block_or:
                call = _with_block(call, block_when, block_or)
            out.append(call)
        return tuple(out)

    def hook_calls(
        self, parent: dict[str, Any], path: KeyPath, taken: dict[str, KeyPath]
    ) -> tuple[ExternalCall, ...]:
        """``hooks: {external: [...]}``: HTTP hooks are external calls; Go hooks are refused."""
        hooks = self.section(parent, path, "hooks", allowed=None)
        if hooks is None:
            return ()
        here = (*path, "hooks")
        for key in hooks:
            if key != "external":
                self.report((*here, key), orkestra_keys.GO_HOOKS, at_key=True)
        return self.external_calls(hooks, here, "hooks", taken=taken)

    def remote_reconciler(
        self, parent: dict[str, Any], path: KeyPath, *, templates: bool
    ) -> RemoteReconciler | None:
        """``remote: {type: http, endpoint, timeout, managedResources, auth}`` (1.13)."""
        m = self.section(parent, path, "remote", allowed=_REMOTE_KEYS, required=("endpoint",))
        if m is None:
            return None
        here = (*path, "remote")
        kind = m.get("type", "http")
        if kind != "http":
            self.report(
                (*here, "type"),
                f"a remote reconciler of type {kind} is not supported by orkestra_trio: "
                "only type: http",
            )
        endpoint = self.endpoint(m, here) if m.get("endpoint") is not None else None
        header = "Authorization"
        auth = m.get("auth")
        if isinstance(auth, dict) and "header" in auth:
            header = self.string(auth, (*here, "auth"), "header", required=True) or header
            m = {**m, "auth": {k: v for k, v in auth.items() if k != "header"}}
        token, token_env = self.token(m, here)
        timeout = self.duration(m, here, "timeout", 10.0)
        if timeout is None or timeout <= 0 or timeout > MAX_CALL_TIMEOUT:
            self.report((*here, "timeout"), f"must be between 0s and {MAX_CALL_TIMEOUT:g}s")
            timeout = 10.0
        managed: list[tuple[str, str]] = []
        for index, item in enumerate(self.items(m, here, "managedResources")):
            kind_of = self.managed_kind(item, (*here, "managedResources", index))
            if kind_of is not None and kind_of not in managed:
                managed.append(kind_of)
        if endpoint is None:
            return None
        return RemoteReconciler(
            endpoint=endpoint,
            timeout=timeout,
            managed=tuple(managed),
            token=token,
            token_from_env=token_env,
            header=header,
            templates=templates,
            location=self.location(here, at_key=True),
        )

    def managed_kind(self, value: Any, path: KeyPath) -> tuple[str, str] | None:
        """``{group, plural}`` of a built-in kind, or ``{apiVersion, kind}``: (apiVersion, kind)."""
        m = self.mapping(value, path, allowed=("group", "plural", "version", "apiVersion", "kind"))
        if m is None:
            return None
        if m.get("apiVersion") is not None or m.get("kind") is not None:
            api_version = self.string(m, path, "apiVersion", required=True)
            kind = self.string(m, path, "kind", required=True)
            if not (api_version and kind):
                self.report(path, "give apiVersion and kind together")
                return None
            return api_version, kind
        group = str(m.get("group") or "")
        plural = self.string(m, path, "plural", required=True)
        for info in RESOURCE_GROUPS.values():
            info_group = info.api_version.rpartition("/")[0]
            if plural == info.plural and group in (info_group, "core" if not info_group else ""):
                return info.api_version, info.kind
        self.report(
            path,
            f"{group or 'core'}/{plural} is not a built-in kind: name a custom kind with "
            "apiVersion and kind",
        )
        return None

    def external_call(self, value: Any, path: KeyPath, phase: str) -> ExternalCall | None:
        m = self.mapping(value, path, allowed=_CALL_KEYS, required=("name", "url"))
        if m is None:
            return None
        name = self.string(m, path, "name", required=True, shape=_CALL_NAME)
        protocol = m.get("protocol")
        if protocol is not None and protocol != "http":
            if protocol in _OTHER_PROTOCOLS:
                self.report(
                    (*path, "protocol"),
                    f"protocol {protocol} is not supported by orkestra_trio: only http calls "
                    f"are made (a {protocol} client is not part of the runtime; put an HTTP "
                    "endpoint in front of it)",
                )
            else:
                self.string(m, path, "protocol", choices=("http", *_OTHER_PROTOCOLS))
            return None
        url = self.endpoint(m, path, "url") if m.get("url") is not None else None
        method = (self.string(m, path, "method") or "GET").upper()
        if method not in EXTERNAL_METHODS:
            self.report(
                (*path, "method"), f"must be one of {', '.join(EXTERNAL_METHODS)}, got {method!r}"
            )
            method = "GET"
        body: Any = None
        if m.get("body") is not None:
            if method == "GET":
                self.report((*path, "body"), "a GET call sends no body; write method: POST or PUT")
            body = self.freeze(m["body"], (*path, "body"))
        token, token_env = self.token(m, path)
        timeout = self.duration(m, path, "timeout", 10.0)
        if timeout is None or timeout <= 0 or timeout > MAX_CALL_TIMEOUT:
            self.report((*path, "timeout"), f"must be between 0s and {MAX_CALL_TIMEOUT:g}s")
            timeout = 10.0
        cache_for = self.duration(m, path, "cacheFor", 30.0)
        fires = self.section(m, path, "fires", allowed=("reconcile",))
        if url is None or not name:
            return None
        return ExternalCall(
            name=name,
            phase=phase,
            url=url,
            method=method,
            body=body,
            headers=self.text_map(m, path, "headers"),
            token=token,
            token_from_env=token_env,
            timeout=timeout,
            expected_status=self.expected_status(m, path),
            continue_on_error=self.boolean(m, path, "continueOnError", False),
            when=self.conditions(m, path, "when"),
            or_=self.conditions(m, path, "or"),
            sleep=self.duration(m, path, "sleep", 0.0) or 0.0,
            retry=self.retry_backoff(m, path),
            cache_for=30.0 if cache_for is None else cache_for,
            fires_reconcile=self.boolean(fires, (*path, "fires"), "reconcile", True)
            if fires is not None
            else True,
            location=self.location(path),
        )

    def expected_status(self, m: dict[str, Any], path: KeyPath) -> tuple[int, ...]:
        value = m.get("expectedStatus")
        if value is None:
            return ()
        values = value if isinstance(value, list) else [value]
        out: list[int] = []
        for index, item in enumerate(values):
            here = (
                (*path, "expectedStatus", index)
                if isinstance(value, list)
                else (*path, "expectedStatus")
            )
            if isinstance(item, bool) or not isinstance(item, int) or not 100 <= item <= 599:
                self.report(here, f"expected an HTTP status such as 200, got {describe(item)}")
                continue
            out.append(item)
        return tuple(out)

    def retry_backoff(self, m: dict[str, Any], path: KeyPath) -> RetryBackoff:
        """``retryBackoff: 1s`` (three attempts, starting at 1s) or the mapping form."""
        value = m.get("retryBackoff")
        if value is None:
            return RetryBackoff()
        here = (*path, "retryBackoff")
        if not isinstance(value, dict):
            initial = self.duration(m, path, "retryBackoff", 0.5)
            return RetryBackoff(initial=0.5 if initial is None else initial, max_attempts=3)
        r = self.mapping(value, here, allowed=("initial", "max", "multiplier", "maxAttempts"))
        assert r is not None
        multiplier = r.get("multiplier", 2.0)
        if (
            isinstance(multiplier, bool)
            or not isinstance(multiplier, int | float)
            or multiplier < 1
        ):
            self.report(
                (*here, "multiplier"),
                f"expected a number of at least 1, got {describe(multiplier)}",
            )
            multiplier = 2.0
        initial = self.duration(r, here, "initial", 0.5)
        longest = self.duration(r, here, "max", 30.0)
        return RetryBackoff(
            initial=0.5 if initial is None else initial,
            max=30.0 if longest is None else longest,
            multiplier=float(multiplier),
            max_attempts=self.integer(r, here, "maxAttempts", 3, minimum=1, maximum=10),
        )


def _with_block(
    call: ExternalCall, when: tuple[Condition, ...], or_: tuple[Condition, ...]
) -> ExternalCall:
    return attrs.evolve(call, block_when=when, block_or=or_)
