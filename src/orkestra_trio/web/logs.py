"""Log lines an operator can grep: one per event that matters, the box and CR key in each.

The events that matter: a box starting, a reconcile error, a health change,
a box restart. Code that logs one passes the box and the CR key as
``extra={"box": ..., "key": ...}`` (plain data: the runtime does not import
this module); the formatters here put both in every line, ``-`` when a line
has none, so ``grep 'box=app'`` or ``jq 'select(.box == "app")'`` finds
everything about one box.

``--log-format text`` writes::

    2026-01-01T12:00:03.120Z WARNING box=app key=default/shop reconcile failed: ...

``--log-format json`` writes one JSON object per line with ``time``,
``level``, ``logger``, ``box``, ``key``, ``event`` (when given) and
``message`` (plus ``error`` with the traceback, if any).

Health changes are logged by :func:`log_health_changes`, a task that
follows every box's health state machine: the boxes stay unaware of it.
"""

from __future__ import annotations

import json
import logging
import sys
import time
from collections.abc import Iterable, Mapping
from typing import IO, Any, Protocol

from orkestra_trio.runtime.health import HealthSnapshot, HealthState
from orkestra_trio.runtime.informer import format_key

logger = logging.getLogger("orkestra_trio.health")

LOG_FORMATS = ("text", "json")


def _timestamp(record: logging.LogRecord) -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(record.created)) + (
        f".{int(record.msecs):03d}Z"
    )


def _fields(record: logging.LogRecord) -> tuple[str, str]:
    box = getattr(record, "box", None)
    return (str(box) if box else "-"), format_key(getattr(record, "key", None))


class TextFormatter(logging.Formatter):
    """``<time> <LEVEL> box=<box> key=<key> <message>``."""

    def format(self, record: logging.LogRecord) -> str:
        box, key = _fields(record)
        line = f"{_timestamp(record)} {record.levelname} box={box} key={key} {record.getMessage()}"
        if record.exc_info:
            line += "\n" + self.formatException(record.exc_info)
        return line


class JsonFormatter(logging.Formatter):
    """One JSON object per line."""

    def format(self, record: logging.LogRecord) -> str:
        box, key = _fields(record)
        entry: dict[str, Any] = {
            "time": _timestamp(record),
            "level": record.levelname.lower(),
            "logger": record.name,
            "box": box,
            "key": key,
        }
        event = getattr(record, "event", None)
        if event:
            entry["event"] = str(event)
        entry["message"] = record.getMessage()
        if record.exc_info:
            entry["error"] = self.formatException(record.exc_info)
        return json.dumps(entry)


def formatter(log_format: str) -> logging.Formatter:
    """The formatter for ``--log-format`` (ValueError naming the choices otherwise)."""
    if log_format == "text":
        return TextFormatter()
    if log_format == "json":
        return JsonFormatter()
    raise ValueError(f"--log-format must be one of {', '.join(LOG_FORMATS)}, not {log_format!r}")


def setup_logging(
    log_format: str, *, stream: IO[str] | None = None, level: int = logging.INFO
) -> logging.Handler:
    """Route every log line through one handler on ``stream`` (stderr by default)."""
    handler = logging.StreamHandler(stream if stream is not None else sys.stderr)
    handler.setFormatter(formatter(log_format))
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level)
    # httpx and hypercorn log every request at INFO: far too chatty for an operator.
    logging.getLogger("httpx").setLevel(logging.WARNING)
    logging.getLogger("hypercorn.access").setLevel(logging.WARNING)
    return handler


class HealthSource(Protocol):
    """What :func:`log_health_changes` follows (satisfied by :class:`~.view.RuntimeView`)."""

    @property
    def stopping(self) -> bool: ...

    def health_versions(self) -> tuple[int, ...]: ...

    async def wait_health_changed(self, seen: tuple[int, ...]) -> None: ...

    def health_snapshots(self) -> Iterable[HealthSnapshot]: ...


def health_change_line(before: HealthSnapshot | None, after: HealthSnapshot) -> str | None:
    """The message for a state change (None when the state did not change)."""
    if before is not None and before.state is after.state:
        return None
    if before is None or before.state is HealthState.NOT_STARTED:
        if after.state is HealthState.NOT_STARTED:
            return None
        return f"box started: {after.state.value}"
    message = f"health {before.state.value} -> {after.state.value}"
    if after.state is HealthState.DEGRADED and after.blind:
        message += f": {after.blind}"
    elif after.state is HealthState.DEGRADED and after.last_error:
        message += f" after {after.consecutive_fails} failures in a row: {after.last_error}"
    if after.state is HealthState.NOT_STARTED:
        # A crash records its error; a clean stop keeps the old one (it is history).
        crashed = after.last_error != before.last_error and bool(after.last_error)
        message += f" ({after.last_error})" if crashed else " (stopped)"
    return message


def _level(state: HealthState, stopping: bool) -> int:
    # Boxes going back to "not started" while the runtime stops is the normal way out.
    if state is HealthState.DEGRADED or (state is HealthState.NOT_STARTED and not stopping):
        return logging.WARNING
    return logging.INFO


async def log_health_changes(source: HealthSource) -> None:
    """Log one line per box health state change, until cancelled."""
    known: Mapping[str, HealthSnapshot] = {}
    while True:
        seen = source.health_versions()
        current = {snap.name: snap for snap in source.health_snapshots()}
        for name, snap in current.items():
            message = health_change_line(known.get(name), snap)
            if message is not None:
                logger.log(
                    _level(snap.state, source.stopping),
                    message,
                    extra={"box": name, "key": None, "event": "health"},
                )
        known = current
        await source.wait_health_changed(seen)
