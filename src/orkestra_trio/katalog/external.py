"""External calls as templates see them: the ``.external.<name>`` answer and what counts as failed.

The calls themselves are made by the runtime *before* the reconcile is
planned, like ``cross:`` reads, so that the plan stays a pure function of
what was read. This module holds the decisions that need no I/O:

* whether a call runs for a CR (its ``when``/``or``, and its block's);
* the answer shape: ``{called, status, body, headers, error}``, where
  ``body`` is the parsed JSON when the answer is JSON, else its text;
* whether an answer fails the reconcile (an ``error``: no answer, or a
  status outside ``expectedStatus``, any 2xx by default) unless the call
  says ``continueOnError``.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from typing import Any

from orkestra_trio.katalog.conditions import conditions_hold
from orkestra_trio.katalog.model import ExternalCall
from orkestra_trio.katalog.render import RenderError, describe_cr

JSON = dict[str, Any]


def not_called() -> JSON:
    """The answer of a call whose conditions did not hold (or that its phase skipped)."""
    return {"called": False, "status": 0, "body": {}, "headers": {}, "error": ""}


def failed(error: str) -> JSON:
    """The answer of a call that got no HTTP answer (refused, timed out, too large...)."""
    return {"called": True, "status": 0, "body": {}, "headers": {}, "error": error}


def answered(
    status: int,
    headers: Mapping[str, str],
    body: bytes,
    *,
    url: str,
    expected: Iterable[int] = (),
) -> JSON:
    """The answer of a call that got one: ``error`` says when the status is not the expected."""
    wanted = tuple(expected)
    ok = status in wanted if wanted else 200 <= status < 300
    error = "" if ok else f"HTTP {status} from {url}, expected {_expected_text(wanted)}"
    return {
        "called": True,
        "status": status,
        "body": _decoded(body),
        "headers": dict(headers),
        "error": error,
    }


def call_applies(call: ExternalCall, context: Mapping[str, Any]) -> bool:
    """Do the call's own ``when``/``or`` and its block's hold for this CR?"""
    return conditions_hold(call.block_when, call.block_or, context) and conditions_hold(
        call.when, call.or_, context
    )


def call_failure(
    call: ExternalCall, answer: Mapping[str, Any], context: Mapping[str, Any]
) -> RenderError | None:
    """The error that fails the reconcile for ``answer``; None when it passes (or may fail)."""
    error = str(answer.get("error") or "")
    if not error or call.continue_on_error:
        return None
    return RenderError(
        f"external call {call.name}: {error}", where=str(call.location), cr=describe_cr(context)
    )


def with_external(context: Mapping[str, Any], answers: Mapping[str, Any]) -> dict[str, Any]:
    """``context`` with ``.external`` set to ``answers`` (the calls made so far)."""
    return {**context, "external": dict(answers)}


def _decoded(body: bytes) -> Any:
    if not body.strip():
        return {}
    text = body.decode("utf-8", errors="replace")
    try:
        return json.loads(text)
    except ValueError:
        return text


def _expected_text(wanted: tuple[int, ...]) -> str:
    if not wanted:
        return "2xx"
    return " or ".join(str(status) for status in wanted)
