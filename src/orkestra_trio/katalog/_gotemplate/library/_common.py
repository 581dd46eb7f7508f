"""Small helpers the catalogue's modules share."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from orkestra_trio.katalog._gotemplate.errors import GoExecError
from orkestra_trio.katalog._gotemplate.values import (
    format_value,
    is_list,
    is_mapping,
    number_from_text,
    walk_keys,
)


def text(value: Any) -> str:
    return format_value(value)


def obj(value: Any) -> Mapping[str, Any]:
    """``value`` as a mapping; {} for nil or anything else."""
    return value if is_mapping(value) else {}


def items(value: Any) -> list[Any]:
    """``value`` as a list: a list as is, a map's values (children by name), else []."""
    if is_list(value):
        return list(value)
    if is_mapping(value):
        return list(value.values())
    return []


def at(value: Any, *keys: str) -> Any:
    return walk_keys(value, keys)


def number(value: Any, function: str, default: int | float | None = None) -> int | float:
    """A number from a number or numeric text; ``default`` (or an error) otherwise."""
    if isinstance(value, bool):
        if default is not None:
            return default
        raise GoExecError(f"{function}: cannot use a boolean as a number")
    if isinstance(value, int | float):
        return value
    if value is None and default is not None:
        return default
    if isinstance(value, str):
        found = number_from_text(value)
        if found is not None:
            return found
    if default is not None:
        return default
    raise GoExecError(f"{function}: cannot use {format_value(value)!r} as a number")


def integer(value: Any, function: str, default: int | None = None) -> int:
    found = number(value, function, default)
    return int(found)


def truthy(value: Any) -> bool:
    """Go template truth: false, 0, nil, "" and empty collections are false."""
    if value is None or value is False:
        return False
    if isinstance(value, int | float) and not isinstance(value, bool):
        return value != 0
    if isinstance(value, str) or is_list(value) or is_mapping(value):
        return len(value) > 0
    return True


def split_path(path: Any) -> list[str]:
    """``"a.b.c"`` (a leading dot allowed) -> ["a", "b", "c"]."""
    raw = text(path).strip().lstrip(".")
    return [part for part in raw.split(".") if part] if raw else []


def dig(value: Any, path: Any) -> Any:
    """The value at dot path ``path`` (list indexes as digits); None when absent."""
    for part in split_path(path):
        if is_mapping(value):
            value = value.get(part)
        elif is_list(value) and part.isdigit():
            index = int(part)
            value = value[index] if index < len(value) else None
        else:
            return None
    return value
