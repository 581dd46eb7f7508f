"""The process a CPU-heavy box plans in (see :mod:`.planner`): a plain loop, no Trio.

It reads frames from stdin and answers on stdout. A frame is a 4-byte
big-endian length and a pickle. The first frame is the box's CRD entry (its
templates pickle as their source and compile again here); the child answers
``("ready", None)``. Every later frame is ``(id, op, observed)``, where ``op``
names a pure planning function of :mod:`orkestra_trio.katalog.plan`. The
answer is ``(id, "ok", result)`` or ``(id, "error", exception)``. EOF on stdin
ends the process.

Both ends are this package, so pickle is the codec: the frames never leave the
pipe between the runtime and its own child.
"""

from __future__ import annotations

import contextlib
import os
import pickle
import struct
import sys
from collections.abc import Callable
from functools import partial
from typing import Any, BinaryIO

import attrs

from orkestra_trio.katalog.model import CrdEntry
from orkestra_trio.katalog.plan import Observed, plan_outcome, plan_reconcile

#: What the parent may ask: the plans a reconcile computes.
OPERATIONS: dict[str, Callable[[CrdEntry, Observed], Any]] = {
    "reconcile": plan_reconcile,
    "reconcile_children": partial(plan_reconcile, outcome=False),
    "outcome": plan_outcome,
}
#: Niceness of the child: when the machine is short of CPU, the runtime's own
#: loop (every other box) goes first, not the heavy box's templates.
NICENESS = 5
FRAME = struct.Struct(">I")


class PlanFailed(Exception):
    """An error raised in the child that does not pickle, passed on as its text."""


def read_frame(stream: BinaryIO) -> bytes | None:
    """One frame's payload, or None at EOF."""
    head = stream.read(FRAME.size)
    if len(head) < FRAME.size:
        return None
    (size,) = FRAME.unpack(head)
    payload = stream.read(size)
    return payload if len(payload) == size else None


def encode_frame(payload: bytes) -> bytes:
    return FRAME.pack(len(payload)) + payload


def answer(request_id: int, operation: str, crd: CrdEntry, observed: Observed) -> bytes:
    """The pickled answer to one request; what cannot pickle goes as its text."""
    try:
        result: tuple[str, Any] = ("ok", OPERATIONS[operation](crd, observed))
    except Exception as exc:
        result = ("error", exc)
    try:
        return pickle.dumps((request_id, *result))
    except Exception:
        status, value = result
        error = getattr(value, "error", None) if status == "ok" else value
        if status == "ok" and error is not None:
            value = attrs.evolve(value, error=PlanFailed(str(error)))
        else:
            status, value = "error", PlanFailed(f"{type(value).__name__}: {value}")
        return pickle.dumps((request_id, status, value))


def main() -> None:
    requests, answers = sys.stdin.buffer, sys.stdout.buffer
    # Stray prints (a template function's bug) must not corrupt the frames.
    sys.stdout = sys.stderr
    with contextlib.suppress(OSError):  # not permitted: plan at the same priority
        os.nice(NICENESS)
    first = read_frame(requests)
    if first is None:
        return
    crd: CrdEntry = pickle.loads(first)
    answers.write(encode_frame(pickle.dumps(("ready", None))))
    answers.flush()
    while (frame := read_frame(requests)) is not None:
        request_id, operation, observed = pickle.loads(frame)
        answers.write(encode_frame(answer(request_id, operation, crd, observed)))
        answers.flush()


if __name__ == "__main__":
    main()
