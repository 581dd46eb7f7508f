"""A box's external calls for one CR, made before its reconcile is planned (like ``cross:`` reads).

Order (ORKESTRA-LANGUAGE.md 1.6, 1.9): ``preReconcile.external``, then the
calls of the onCreate block, then those of onReconcile, each in declared
order; each call's template context holds the answers before it. The calls
of onCreate/onReconcile are made only while the box's gate (its
``when``/``or`` with ``reconcileGate``) holds, which the preReconcile
answers may decide.

When a request is sent:

* **GET** has no side effects: its answer comes through the remote reader's
  cache (``cacheFor``, 30 s by default), refreshed in the background, and a
  changed answer reconciles the CRs that read it (``fires.reconcile``, on
  unless set to false), as for a cross ``source.endpoint``.
* **POST, PUT, PATCH, DELETE** have side effects, so they are not repeated
  every reconcile: an onReconcile call is sent when its rendered request
  (method, URL, headers, body) differs from the last one that got an
  expected answer for this CR; an onCreate call is sent once per CR; a
  preReconcile call is treated as onReconcile. Until then the remembered
  answer is what templates see. The memory is the runtime's (a restart sends
  each once more); a failed call is not remembered, so the next reconcile
  (after the usual backoff) sends it again.

The HTTP side is the remote reader's (``oncop/calls.py``), reached through
the :class:`ExternalCaller` seam, so the runtime never imports ONCOP itself.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any, Protocol, runtime_checkable

import trio

from orkestra_trio.katalog.conditions import conditions_hold
from orkestra_trio.katalog.external import (
    call_applies,
    call_failure,
    failed,
    not_called,
    with_external,
)
from orkestra_trio.katalog.model import ExternalCall, OperatorBox, RemoteReconciler

from .informer import ObjectKey
from .remote import remote_target

JSON = dict[str, Any]


@runtime_checkable
class ExternalCaller(Protocol):
    """The remote reader's external-call half (``oncop.reader.RemoteReader``)."""

    def prepare_call(
        self, call: ExternalCall, context: Mapping[str, Any], *, time_limit: float
    ) -> Any: ...

    async def send_call(
        self, prepared: Any, *, announce: Callable[[str], None] | None = None
    ) -> tuple[JSON, str | None]: ...


@runtime_checkable
class RemoteReconcileCaller(ExternalCaller, Protocol):
    """The remote reader's remote-reconciler half (``oncop.reader.RemoteReader``)."""

    def prepare_remote_reconcile(
        self,
        remote: RemoteReconciler,
        cr: Mapping[str, Any],
        prepared_cr: Mapping[str, Any],
        context: Mapping[str, Any],
        *,
        time_limit: float,
    ) -> Any: ...


UNAVAILABLE = "external calls are not available in this runtime (no HTTP client was given)"


class ExternalCalls:
    """The external calls of one box, and what its CRs' non-GET calls last sent."""

    def __init__(self, box: OperatorBox, *, time_limit: float) -> None:
        self.calls = box.external
        self.box = box
        #: The longest one call may take: the box's reconcile timeout.
        self.time_limit = time_limit
        #: (CR, call name) -> (fingerprint of the request sent, its answer), for non-GET calls.
        self._sent: dict[tuple[ObjectKey, str], tuple[str, JSON]] = {}

    def forget(self, key: ObjectKey) -> None:
        """The CR is gone: drop what its calls sent."""
        for slot in [slot for slot in self._sent if slot[0] == key]:
            del self._sent[slot]

    async def run(
        self,
        caller: Any,
        key: ObjectKey,
        context: Mapping[str, Any],
        *,
        announce: Callable[[tuple[str, str, str]], None] | None = None,
        admitted: bool = True,
    ) -> tuple[JSON, frozenset[tuple[str, str, str]]]:
        """Each call's answer by name, and the cached GET answers read (registry targets).

        ``admitted`` False (the admission rules deny the CR): only preReconcile's
        calls are made. Raises the call's
        :class:`~orkestra_trio.katalog.render.RenderError` when one fails without
        ``continueOnError``.
        """
        answers: JSON = {}
        reads: set[tuple[str, str, str]] = set()
        gate_open: bool | None = None
        for call in self.calls:
            here = with_external(context, answers)
            if call.phase != "preReconcile":
                if gate_open is None:
                    gate_open = admitted and conditions_hold(self.box.when, self.box.or_, here)
                if not gate_open:
                    answers[call.name] = not_called()
                    continue
            if not call_applies(call, here):
                answers[call.name] = not_called()
                continue
            answer, target = await self._one(caller, call, key, here, announce)
            answers[call.name] = answer
            if target is not None:
                reads.add(target)
            error = call_failure(call, answer, here)
            if error is not None:
                raise error
        return answers, frozenset(reads)

    async def reconcile_remotely(
        self,
        caller: Any,
        cr: Mapping[str, Any],
        prepared_cr: Mapping[str, Any],
        context: Mapping[str, Any],
    ) -> JSON | None:
        """The remote reconciler's answer for this CR (None: the box has none).

        Sent on every reconcile while the box's gate holds: it is the reconcile.
        """
        remote = self.box.remote
        if remote is None:
            return None
        if not conditions_hold(self.box.when, self.box.or_, context):
            return failed("not called: the box's when/or do not hold")
        if not isinstance(caller, RemoteReconcileCaller):
            return failed(UNAVAILABLE)
        prepared = caller.prepare_remote_reconcile(
            remote, cr, prepared_cr, context, time_limit=self.time_limit
        )
        if isinstance(prepared, str):
            return failed(prepared)
        answer, _ = await caller.send_call(prepared)
        return answer

    async def _one(
        self,
        caller: Any,
        call: ExternalCall,
        key: ObjectKey,
        context: Mapping[str, Any],
        announce: Callable[[tuple[str, str, str]], None] | None,
    ) -> tuple[JSON, tuple[str, str, str] | None]:
        if not isinstance(caller, ExternalCaller):
            return failed(UNAVAILABLE), None
        prepared = caller.prepare_call(call, context, time_limit=self.time_limit)
        if isinstance(prepared, str):
            return failed(prepared), None
        if prepared.method == "GET":
            tell = None
            if call.fires_reconcile and announce is not None:
                told = announce

                def tell(cache_key: str) -> None:
                    told(remote_target(cache_key))

            answer, cache_key = await caller.send_call(prepared, announce=tell)
            watched = call.fires_reconcile and cache_key is not None
            return answer, (remote_target(cache_key) if watched and cache_key else None)
        slot = (key, call.name)
        remembered = self._sent.get(slot)
        if remembered is not None and (
            call.phase == "onCreate" or remembered[0] == prepared.fingerprint
        ):
            return remembered[1], None
        answer, _ = await caller.send_call(prepared)
        if not answer.get("error"):
            self._sent[slot] = (prepared.fingerprint, answer)
        if call.sleep:
            await trio.sleep(call.sleep)
        return answer, None
