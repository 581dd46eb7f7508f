"""Values: collections, conditionals, safe access, types and math.

Templates never mutate the context: functions that "change" a list or a map
(append, set, merge...) return a new one.
"""

from __future__ import annotations

import json
import math
from typing import Any

from orkestra_trio.katalog._gotemplate.errors import GoExecError
from orkestra_trio.katalog._gotemplate.functions import (
    _checked,
    _equal,
    _number,
    template_function,
    to_json,
)
from orkestra_trio.katalog._gotemplate.library._common import (
    dig,
    integer,
    number,
    obj,
    text,
    truthy,
)
from orkestra_trio.katalog._gotemplate.values import (
    format_value,
    go_type_name,
    is_list,
    is_mapping,
    is_number,
    number_from_text,
    sorted_map_items,
)

_MAX_ITEMS = 10_000

# -- collections ----------------------------------------------------------------


@template_function("list")
def list_(*values: Any) -> list[Any]:
    return list(values)


@template_function("dict")
def dict_(*pairs: Any) -> dict[str, Any]:
    if len(pairs) % 2:
        pairs = (*pairs, "")
    return {text(pairs[i]): pairs[i + 1] for i in range(0, len(pairs), 2)}


@template_function("asList")
def as_list(value: Any) -> list[Any]:
    """A list as is; nil -> []; a map -> its values by key; anything else -> [value]."""
    if value is None:
        return []
    if is_list(value):
        return list(value)
    if is_mapping(value):
        return [v for _, v in sorted_map_items(value)]
    return [value]


@template_function("asMap")
def as_map(value: Any) -> dict[str, Any]:
    """A map as is; JSON text of an object parsed; anything else -> {}."""
    if is_mapping(value):
        return dict(value)
    if isinstance(value, str):
        try:
            parsed = json.loads(value)
        except json.JSONDecodeError:
            return {}
        return parsed if isinstance(parsed, dict) else {}
    return {}


@template_function("asString")
def as_string(value: Any) -> str:
    """Text as is; lists and maps as JSON; other values as they print."""
    if is_list(value) or is_mapping(value):
        return to_json(value)
    return format_value(value)


@template_function("listLen")
def list_len(value: Any) -> int:
    return len(as_list(value)) if value is not None else 0


@template_function("listGet")
def list_get(value: Any, index: Any, *fallback: Any) -> Any:
    """``listGet .l 2 "x"``: the item at index (negative from the end), else the fallback."""
    elements = as_list(value)
    i = integer(index, "listGet")
    if -len(elements) <= i < len(elements):
        return elements[i]
    return fallback[0] if fallback else None


@template_function("listHas")
def list_has(value: Any, needle: Any) -> bool:
    return any(format_value(item) == format_value(needle) for item in as_list(value))


@template_function("has")
def has(needle: Any, value: Any) -> bool:
    """sprig's has: ``has 3 .list`` (the list comes last, for pipelines)."""
    return list_has(value, needle)


@template_function("mapGet")
def map_get(value: Any, key: Any, *fallback: Any) -> Any:
    found = obj(value).get(text(key))
    return found if found is not None else (fallback[0] if fallback else None)


@template_function("mapKeys")
def map_keys(value: Any) -> list[str]:
    return sorted(text(k) for k in obj(value))


@template_function("keys")
def keys(*values: Any) -> list[str]:
    return sorted({text(k) for value in values for k in obj(value)})


@template_function("mapValues")
def map_values(value: Any) -> list[Any]:
    return [v for _, v in sorted_map_items(obj(value))]


@template_function("values")
def values_(value: Any) -> list[Any]:
    return map_values(value)


@template_function("mapPick")
def map_pick(value: Any, *names: Any) -> dict[str, Any]:
    wanted = {text(n) for n in _flatten(names)}
    return {k: v for k, v in obj(value).items() if k in wanted}


@template_function("pick")
def pick(value: Any, *names: Any) -> dict[str, Any]:
    return map_pick(value, *names)


@template_function("mapOmit")
def map_omit(value: Any, *names: Any) -> dict[str, Any]:
    unwanted = {text(n) for n in _flatten(names)}
    return {k: v for k, v in obj(value).items() if k not in unwanted}


@template_function("omit")
def omit(value: Any, *names: Any) -> dict[str, Any]:
    return map_omit(value, *names)


def _flatten(names: tuple[Any, ...]) -> list[Any]:
    out: list[Any] = []
    for name in names:
        out.extend(name if is_list(name) else [name])
    return out


@template_function("hasKey")
def has_key(value: Any, key: Any) -> bool:
    return text(key) in obj(value)


@template_function("get")
def get(value: Any, *path: Any) -> Any:
    """Orkestra's get: ``get .obj "status.phase"`` or ``get .obj "status" "phase"``; nil when absent."""
    for part in path:
        value = dig(value, part)
    return value


@template_function("dig")
def dig_(*args: Any) -> Any:
    """sprig's dig: ``dig "a" "b" "default" .map``."""
    if len(args) < 3:
        raise GoExecError("dig: want keys..., a default and a map")
    *path, fallback, value = args
    for part in path:
        value = obj(value).get(text(part))
        if value is None:
            return fallback
    return value


@template_function("merge")
def merge(*maps: Any) -> dict[str, Any]:
    """A new map: the first map's keys win (sprig's merge), recursively."""
    result: dict[str, Any] = {}
    for value in reversed(maps):
        result = _merge_into(result, obj(value))
    return result


def _merge_into(base: dict[str, Any], over: Any) -> dict[str, Any]:
    out = dict(base)
    for key, value in over.items():
        if is_mapping(value) and is_mapping(out.get(key)):
            out[key] = _merge_into(dict(out[key]), value)
        else:
            out[key] = value
    return out


@template_function("first")
def first(value: Any) -> Any:
    elements = as_list(value)
    return elements[0] if elements else None


@template_function("last")
def last(value: Any) -> Any:
    elements = as_list(value)
    return elements[-1] if elements else None


@template_function("rest")
def rest(value: Any) -> list[Any]:
    return as_list(value)[1:]


@template_function("initial")
def initial(value: Any) -> list[Any]:
    return as_list(value)[:-1]


@template_function("append")
def append(value: Any, item: Any) -> list[Any]:
    return [*as_list(value), item]


@template_function("prepend")
def prepend(value: Any, item: Any) -> list[Any]:
    return [item, *as_list(value)]


@template_function("concatLists")
def concat_lists(*lists: Any) -> list[Any]:
    return [item for value in lists for item in as_list(value)]


@template_function("uniq")
def uniq(value: Any) -> list[Any]:
    seen: list[Any] = []
    for item in as_list(value):
        if not any(_same(item, other) for other in seen):
            seen.append(item)
    return seen


def _same(a: Any, b: Any) -> bool:
    try:
        return _equal(a, b)
    except GoExecError:
        return bool(a == b)


@template_function("without")
def without(value: Any, *remove: Any) -> list[Any]:
    return [item for item in as_list(value) if not any(_same(item, r) for r in remove)]


@template_function("compact")
def compact(value: Any) -> list[Any]:
    return [item for item in as_list(value) if truthy(item)]


@template_function("reverse")
def reverse(value: Any) -> list[Any]:
    return list(reversed(as_list(value)))


@template_function("sortAlpha")
def sort_alpha(value: Any) -> list[str]:
    return sorted(format_value(item) for item in as_list(value))


@template_function("until")
def until(count: Any) -> list[int]:
    n = integer(count, "until")
    if abs(n) > _MAX_ITEMS:
        raise GoExecError(f"until: more than {_MAX_ITEMS} items")
    return list(range(n)) if n >= 0 else list(range(0, n, -1))


@template_function("untilStep")
def until_step(start: Any, stop: Any, step: Any) -> list[int]:
    a, b, s = integer(start, "untilStep"), integer(stop, "untilStep"), integer(step, "untilStep")
    if s == 0:
        return []
    result = range(a, b, s)
    if len(result) > _MAX_ITEMS:
        raise GoExecError(f"untilStep: more than {_MAX_ITEMS} items")
    return list(result)


@template_function("seq")
def seq(*bounds: Any) -> str:
    """The GNU seq text sprig gives: ``seq 3`` -> "1 2 3", ``seq 2 4`` -> "2 3 4"."""
    nums = [integer(b, "seq") for b in bounds]
    if len(nums) == 1:
        start, step, end = 1, 1, nums[0]
    elif len(nums) == 2:
        start, end = nums
        step = 1 if end >= start else -1
    elif len(nums) == 3:
        start, step, end = nums
    else:
        raise GoExecError("seq: want 1 to 3 numbers")
    if step == 0 or (end - start) * step < 0:
        return ""
    result = range(start, end + (1 if step > 0 else -1), step)
    if len(result) > _MAX_ITEMS:
        raise GoExecError(f"seq: more than {_MAX_ITEMS} items")
    return " ".join(map(str, result))


# -- conditional ----------------------------------------------------------------


@template_function("empty")
def empty(value: Any) -> bool:
    return not truthy(value)


@template_function("Empty")
def empty_upper(value: Any) -> bool:
    return empty(value)


@template_function("notEmpty")
def not_empty(value: Any) -> bool:
    return truthy(value)


@template_function("coalesce")
def coalesce(*values: Any) -> Any:
    return next((v for v in values if truthy(v)), None)


@template_function("ternary")
def ternary(if_true: Any, if_false: Any, condition: Any) -> Any:
    """sprig's ternary: ``ternary "yes" "no" .flag`` (the condition last, for pipelines)."""
    return if_true if truthy(condition) else if_false


@template_function("boolTernary")
def bool_ternary(condition: Any, if_true: Any, if_false: Any) -> Any:
    """Orkestra's boolTernary: the condition first; "true"/"false" text counts as a bool."""
    return if_true if _as_bool(condition) else if_false


@template_function("eqTernary")
def eq_ternary(left: Any, right: Any, if_equal: Any, otherwise: Any) -> Any:
    return if_equal if format_value(left) == format_value(right) else otherwise


@template_function("boolDefault")
def bool_default(fallback: Any, *given: Any) -> bool:
    """``.spec.enabled | boolDefault true``: a bool (or "true"/"false"), else the fallback."""
    value = given[-1] if given else None
    if isinstance(value, bool):
        return value
    if isinstance(value, str) and value.strip().lower() in ("true", "false"):
        return value.strip().lower() == "true"
    return _as_bool(fallback)


def _as_bool(value: Any) -> bool:
    if isinstance(value, str):
        return value.strip().lower() in ("true", "1", "yes")
    return truthy(value)


# -- safe access ----------------------------------------------------------------


@template_function("getStringOr")
def get_string_or(value: Any, path: Any, fallback: Any) -> str:
    found = dig(value, path)
    return text(fallback) if found is None or found == "" else format_value(found)


@template_function("getIntOr")
def get_int_or(value: Any, path: Any, fallback: Any) -> int:
    found = dig(value, path)
    if isinstance(found, bool) or found is None:
        return integer(fallback, "getIntOr")
    if is_number(found):
        return int(found)
    parsed = number_from_text(text(found))
    return int(parsed) if parsed is not None else integer(fallback, "getIntOr")


@template_function("getBoolOr")
def get_bool_or(value: Any, path: Any, fallback: Any) -> bool:
    found = dig(value, path)
    if isinstance(found, bool):
        return found
    if isinstance(found, str) and found.strip().lower() in ("true", "false"):
        return found.strip().lower() == "true"
    return _as_bool(fallback)


# -- types ----------------------------------------------------------------------


@template_function("typeOf")
def type_of(value: Any) -> str:
    """Go's %T of decoded YAML/JSON: string, int, float64, bool, map, slice, <nil>."""
    return go_type_name(value)


@template_function("kindOf")
def kind_of(value: Any) -> str:
    if value is None:
        return "invalid"
    if is_mapping(value):
        return "map"
    if is_list(value):
        return "slice"
    return {"float64": "float64", "int": "int", "bool": "bool", "string": "string"}.get(
        type_of(value), "struct"
    )


@template_function("typeBool")
def type_bool(value: Any) -> bool:
    return isinstance(value, bool)


@template_function("typeString")
def type_string(value: Any) -> bool:
    return isinstance(value, str)


@template_function("typeNumber")
def type_number(value: Any) -> bool:
    return is_number(value)


@template_function("typeMap")
def type_map(value: Any) -> bool:
    return is_mapping(value)


@template_function("typeList")
def type_list(value: Any) -> bool:
    return is_list(value)


@template_function("typeNull")
def type_null(value: Any) -> bool:
    return value is None


@template_function("isScalar")
def is_scalar(value: Any) -> bool:
    return value is None or isinstance(value, str | int | float | bool)


@template_function("isComposite")
def is_composite(value: Any) -> bool:
    return is_mapping(value) or is_list(value)


@template_function("toBool")
def to_bool(value: Any) -> bool:
    return _as_bool(value) if not isinstance(value, bool) else value


@template_function("toInt")
def to_int(value: Any) -> int:
    """Text or a number as an int (truncated); 0 when it is not a number (as sprig's atoi)."""
    if isinstance(value, bool):
        return int(value)
    found = number(value, "toInt", 0)
    return int(found) if math.isfinite(found) else 0


@template_function("atoi")
def atoi(value: Any) -> int:
    return to_int(value)


@template_function("int")
def int_(value: Any) -> int:
    return to_int(value)


@template_function("int64")
def int64(value: Any) -> int:
    return to_int(value)


@template_function("toFloat")
def to_float(value: Any) -> float:
    if isinstance(value, bool):
        return float(value)
    return float(number(value, "toFloat", 0))


@template_function("float64")
def float64(value: Any) -> float:
    return to_float(value)


@template_function("toString")
def to_string(value: Any) -> str:
    return format_value(value)


@template_function("toStrings")
def to_strings(value: Any) -> list[str]:
    return [format_value(item) for item in as_list(value)]


@template_function("toList")
def to_list(value: Any) -> list[Any]:
    return as_list(value)


# -- math -----------------------------------------------------------------------


@template_function("mod")
def mod(left: Any, right: Any) -> int | float:
    """Go's %: the sign follows the dividend (-7 mod 3 is -1)."""
    a, b = _number(left, "mod"), _number(right, "mod")
    if b == 0:
        raise GoExecError("mod: division by zero")
    if isinstance(a, int) and isinstance(b, int):
        return int(math.fmod(a, b)) if abs(a) < 2**53 else a - b * int(a / b)
    return math.fmod(a, b)


@template_function("abs")
def abs_(value: Any) -> int | float:
    return abs(_number(value, "abs"))


@template_function("min")
def min_(first_value: Any, *more: Any) -> int | float:
    return min(_number(v, "min") for v in (first_value, *more))


@template_function("max")
def max_(first_value: Any, *more: Any) -> int | float:
    return max(_number(v, "max") for v in (first_value, *more))


@template_function("clamp")
def clamp(low: Any, high: Any, value: Any) -> int | float:
    """``.spec.replicas | clamp 1 10``."""
    lo, hi, v = _number(low, "clamp"), _number(high, "clamp"), _number(value, "clamp")
    if lo > hi:
        raise GoExecError("clamp: the lower bound is above the upper bound")
    return min(max(v, lo), hi)


@template_function("add1")
def add1(value: Any) -> int | float:
    return _checked(_number(value, "add1") + 1, "add1")


@template_function("floor")
def floor(value: Any) -> float:
    return float(math.floor(_number(value, "floor")))


@template_function("ceil")
def ceil(value: Any) -> float:
    return float(math.ceil(_number(value, "ceil")))


@template_function("round")
def round_(value: Any, precision: Any, *more: Any) -> float:
    """sprig's round: ``round 3.14159 2`` -> 3.14 (half away from zero)."""
    v, p = float(_number(value, "round")), integer(precision, "round")
    factor = 10.0**p
    return math.copysign(math.floor(abs(v) * factor + 0.5), v) / factor


@template_function("percent")
def percent(part: Any, whole: Any) -> float:
    """``part`` as a percentage of ``whole`` (0 when whole is 0)."""
    w = float(_number(whole, "percent"))
    return 0.0 if w == 0 else float(_number(part, "percent")) * 100.0 / w
