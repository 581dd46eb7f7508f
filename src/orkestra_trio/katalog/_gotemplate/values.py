"""Go's view of the plain data a template sees: printing, kinds and path lookup.

Render contexts are YAML/JSON-shaped: mappings, sequences, strings, numbers,
booleans and None. Go's text/template prints and compares these with its own
rules (``true`` not ``True``, ``3`` not ``3.0``, ``map[k:v]``), and users
coming from Go or Helm expect exactly that output, so every place that turns a
value into text goes through :func:`format_value`.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any

from orkestra_trio.katalog._gotemplate.errors import GoExecError


def is_mapping(value: Any) -> bool:
    return type(value) is dict or isinstance(value, Mapping)


def is_list(value: Any) -> bool:
    """A Go slice: any sequence that is not text."""
    return type(value) is list or (
        isinstance(value, Sequence) and not isinstance(value, str | bytes | bytearray)
    )


def walk_keys(value: Any, keys: tuple[str, ...]) -> Any:
    """Follow map keys; None as soon as a key is missing or a step is not a map.

    The lenient walk the catalogue's object readers use (``phase``,
    ``readyReplicas``...): "a path through nothing is nothing". Template field
    access is stricter, as in Go: see :func:`field_chain`.
    """
    for key in keys:
        if type(value) is dict or isinstance(value, Mapping):
            value = value.get(key)
        else:
            return None
    return value


# -- field access in templates, as Go's exec.go does it -------------------------
#
# Orkestra executes with missingkey=zero over map[string]interface{} data. A
# map lookup therefore yields an *interface* value (nil when the key is
# missing), while a pipeline's result is "dug out" of its interface: a nil one
# becomes Go's invalid value. Going on through the two differs:
#   - invalid (``$x := .missing`` then ``$x.a``): zero again, no error;
#   - a nil interface (``.missing.a``, or a nil list element in ``range``):
#     "nil pointer evaluating interface {}.a";
#   - a value that is not a map: "can't evaluate field a in type T", T being
#     the value's type when dug out, else ``interface {}``.
# So a *base* is "concrete" (root, with's dot, variables, a call's result, a
# template's argument) or "wrapped" (range elements and range value variables).


def field_chain(value: Any, keys: tuple[str, ...]) -> Any:
    """``base.k1.k2`` on a concrete base: None (invalid) stays None."""
    if type(value) is not dict:
        if value is None:
            return None
        if not isinstance(value, Mapping):
            reason = f"can't evaluate field {keys[0]} in type {go_type_name(value)}"
            raise GoExecError(f"at <.{'.'.join(keys)}>: {reason}")
    return wrapped_field_chain(value, keys)


def wrapped_field_chain(value: Any, keys: tuple[str, ...]) -> Any:
    """``base.k1.k2`` where the base is an interface value (a list or map element)."""
    for step, key in enumerate(keys):
        if type(value) is dict:
            value = value.get(key)
            continue
        try:
            value = field_step(value, key)
        except GoExecError as exc:
            raise GoExecError(_where(keys, step, value, exc)) from None
    return value


def _where(keys: tuple[str, ...], step: int, value: Any, exc: GoExecError) -> str:
    """Go's reason with the path it stopped at, and what to do when that is a missing key:
    Go (and so Orkestra) does not let ``.a.b`` through a missing ``.a``."""
    reached = "." + ".".join(keys[:step]) if step else "the value"
    message = f"at <.{'.'.join(keys)}>: {exc}"
    if value is None and step:
        message += (
            f" ({reached} is missing or null; guard it with "
            f"{{{{ with {reached} }}}}...{{{{ end }}}} or read it with dig/getOr)"
        )
    return message


def field_step(value: Any, key: str) -> Any:
    """One step from an interface value that is not a plain dict (the slow path)."""
    if isinstance(value, Mapping):
        return value.get(key)
    if value is None:
        raise GoExecError(f"nil pointer evaluating interface {{}}.{key}")
    raise GoExecError(f"can't evaluate field {key} in type interface {{}}")


def lookup_path(context: Any, path: str) -> Any:
    """The value at dot path ``a.b.c`` in ``context``; None when any step is missing.

    Conditions use this for their ``field``. A segment of digits also indexes a
    list (``spec.sites.0.name``); a leading dot is tolerated (``.spec.x``), and
    an empty path is the context itself.
    """
    path = path.strip()
    if path.startswith("."):
        path = path[1:]
    if not path:
        return context
    value = context
    for segment in path.split("."):
        if type(value) is dict or isinstance(value, Mapping):
            value = value.get(segment)
        elif segment.isdigit() and is_list(value):
            index = int(segment)
            value = value[index] if index < len(value) else None
        else:
            return None
    return value


def format_float(number: float) -> str:
    """A float as Go's ``%v`` prints it (strconv 'g', shortest precision).

    Shortest round-trip digits; exponent form when the decimal exponent is
    below -4 or at least 6. So 3.0 prints "3", 0.0001 "0.0001", 1e-05
    "1e-05" and 1e6 "1e+06", exactly as Go does for a float64.
    """
    if math.isnan(number):
        return "NaN"
    if math.isinf(number):
        return "+Inf" if number > 0 else "-Inf"
    digits, point = _shortest_digits(number)
    negative = math.copysign(1.0, number) < 0
    sign = "-" if negative else ""
    exponent = point - 1
    if digits == "0":
        return sign + "0"
    if exponent < -4 or exponent >= 6:
        return sign + _exponent_form(digits, exponent)
    return sign + _fixed_form(digits, point)


def _shortest_digits(number: float) -> tuple[str, int]:
    """Shortest round-trip digits of |number| and the decimal point position.

    The value is 0.DIGITS * 10**point. Python's repr already produces the
    shortest round-trip digits, the same set Go's strconv picks.
    """
    text = repr(abs(number))
    mantissa, _, exp_text = text.partition("e")
    exponent = int(exp_text) if exp_text else 0
    whole, _, fraction = mantissa.partition(".")
    all_digits = whole + fraction
    stripped = all_digits.lstrip("0")
    if not stripped.rstrip("0"):
        return "0", 1
    leading_zeros = len(all_digits) - len(stripped)
    point = len(whole) + exponent - leading_zeros
    return stripped.rstrip("0"), point


def _exponent_form(digits: str, exponent: int) -> str:
    mantissa = digits[0] + ("." + digits[1:] if len(digits) > 1 else "")
    sign = "-" if exponent < 0 else "+"
    return f"{mantissa}e{sign}{abs(exponent):02d}"


def _fixed_form(digits: str, point: int) -> str:
    if point <= 0:
        return "0." + "0" * (-point) + digits
    if point >= len(digits):
        return digits + "0" * (point - len(digits))
    return digits[:point] + "." + digits[point:]


def format_value(value: Any) -> str:
    """A value as ``{{ . }}`` prints it; None (a missing key) prints as ""."""
    if type(value) is str:
        return value
    if value is None:
        return ""
    return format_nested(value)


def format_nested(value: Any) -> str:
    """Go's ``%v``: like :func:`format_value` but nil prints as ``<nil>``.

    Inside lists and maps Go shows nil as ``<nil>``; only a top-level missing
    value renders as "" (the Katalog's missingkey=zero rule).
    """
    if type(value) is str:
        return value
    if value is None:
        return "<nil>"
    if value is True:
        return "true"
    if value is False:
        return "false"
    if type(value) is int:
        return str(value)
    if type(value) is float:
        return format_float(value)
    if isinstance(value, str):
        return str(value)
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(int(value))
    if isinstance(value, float):
        return format_float(float(value))
    if is_mapping(value):
        items = sorted(value.items(), key=lambda kv: _sort_key(kv[0]))
        return "map[" + " ".join(f"{format_nested(k)}:{format_nested(v)}" for k, v in items) + "]"
    if is_list(value):
        return "[" + " ".join(format_nested(v) for v in value) + "]"
    if isinstance(value, bytes | bytearray):
        return bytes(value).decode("utf-8", "replace")
    return str(value)


def _sort_key(key: Any) -> tuple[int, Any]:
    # Go sorts map keys of one kind; mixed kinds (rare in YAML) order by kind.
    if isinstance(key, bool):
        return (0, key)
    if isinstance(key, int | float):
        return (1, key)
    return (2, str(key))


def go_type_name(value: Any) -> str:
    """The Go type a decoded JSON/YAML value would have, for printf's error forms."""
    if value is None:
        return "<nil>"
    if isinstance(value, bool):
        return "bool"
    if isinstance(value, int):
        return "int"
    if isinstance(value, float):
        return "float64"
    if isinstance(value, str):
        return "string"
    if is_mapping(value):
        return "map[string]interface {}"
    if is_list(value):
        return "[]interface {}"
    return type(value).__name__


def is_number(value: Any) -> bool:
    """An int or float, never a bool (Go keeps them apart)."""
    return isinstance(value, int | float) and not isinstance(value, bool)


def sorted_map_items(value: Mapping[Any, Any]) -> list[tuple[Any, Any]]:
    """A map's items in Go's iteration order for range: sorted by key."""
    return sorted(value.items(), key=lambda kv: _sort_key(kv[0]))


def number_from_text(text: str) -> int | float | None:
    """``"3"`` -> 3, ``" 2.5 "`` -> 2.5; anything else (and NaN) -> None."""
    text = text.strip()
    try:
        return int(text)
    except ValueError:
        pass
    try:
        number = float(text)
    except ValueError:
        return None
    return None if math.isnan(number) else number
