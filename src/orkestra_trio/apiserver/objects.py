"""One stored version of an object, with its JSON encoded at most once.

Reads are the hot path of an API server: GET, list and every watch event
send the same versions again and again. A stored version is therefore
immutable (nobody mutates ``obj`` after it is stored; writers build a new dict)
and caches its serialized bytes, so a read costs no copy and no encoding.
"""

from __future__ import annotations

import json
from typing import Any

import attrs

_encoder = json.JSONEncoder(ensure_ascii=False, separators=(",", ":"), check_circular=False)


def dumps(obj: Any) -> bytes:
    """Compact JSON, UTF-8, as the API server writes it."""
    return _encoder.encode(obj).encode()


@attrs.define(slots=True, eq=False)
class Stored:
    """An immutable object version: the dict, its revision and its cached JSON."""

    obj: dict[str, Any]
    rv: int
    _raw: bytes | None = None

    def raw(self) -> bytes:
        raw = self._raw
        if raw is None:
            raw = self._raw = dumps(self.obj)
        return raw

    @property
    def namespace(self) -> str:
        return str(self.obj["metadata"].get("namespace") or "")

    @property
    def name(self) -> str:
        return str(self.obj["metadata"]["name"])

    @property
    def uid(self) -> str:
        return str(self.obj["metadata"].get("uid") or "")
