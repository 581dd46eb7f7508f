"""The functions templates may call, in one registry.

Adding a function is one small decorated Python function::

    @template_function("toLower")
    def to_lower(text: Any) -> str:
        return format_value(text).lower()

Arguments arrive as plain values (a pipeline's value comes last, as in Go);
the arity comes from the signature and is checked when the template compiles.
A function that can build a large string asks for the render budget with
``needs_budget=True`` and checks the size *before* building it. Errors are
raised as :class:`GoExecError` and become render errors naming the template.
"""

from __future__ import annotations

import inspect
import json
import re
import urllib.parse
from collections.abc import Callable
from typing import Any, TypeVar

import attrs

from orkestra_trio.katalog._gotemplate.errors import GoExecError
from orkestra_trio.katalog._gotemplate.gofmt import go_quote, sprintf
from orkestra_trio.katalog._gotemplate.limits import RenderBudget
from orkestra_trio.katalog._gotemplate.values import (
    format_nested,
    format_value,
    go_type_name,
    is_list,
    is_mapping,
    is_number,
    number_from_text,
    walk_keys,
)


@attrs.frozen
class TemplateFunction:
    name: str
    func: Callable[..., Any]
    min_args: int
    max_args: int | None  # None: variadic
    needs_budget: bool


REGISTRY: dict[str, TemplateFunction] = {}


_F = TypeVar("_F", bound=Callable[..., Any])


def template_function(name: str, *, needs_budget: bool = False) -> Callable[[_F], _F]:
    """Register ``func`` under the template name ``name``."""
    if not name.isidentifier():
        raise ValueError(f"template function name {name!r} is not an identifier")

    def register(func: _F) -> _F:
        params = list(inspect.signature(func).parameters.values())
        if needs_budget:
            params = params[1:]
        low = sum(
            1
            for p in params
            if p.default is inspect.Parameter.empty and p.kind is not p.VAR_POSITIONAL
        )
        variadic = any(p.kind is p.VAR_POSITIONAL for p in params)
        REGISTRY[name] = TemplateFunction(
            name, func, low, None if variadic else len(params), needs_budget
        )
        return func

    return register


def arity(name: str) -> tuple[int, int | None] | None:
    function = REGISTRY.get(name)
    return None if function is None else (function.min_args, function.max_args)


# -- defaults and object helpers ----------------------------------------------


@template_function("default")
def default(fallback: Any, *given: Any) -> Any:
    """``x | default "y"``: x unless it is empty (nil, "", 0, false, empty list/map)."""
    if not given or not given[-1]:
        return fallback
    return given[-1]


@template_function("phase")
def phase(obj: Any) -> Any:
    """``.status.phase`` of an object (a cross entry), "" when absent."""
    value = walk_keys(obj, ("status", "phase"))
    return "" if value is None else value


@template_function("readyReplicas")
def ready_replicas(obj: Any) -> Any:
    """``.status.readyReplicas`` of an object (a Deployment), 0 when absent."""
    value = walk_keys(obj, ("status", "readyReplicas"))
    return 0 if value is None else value


@template_function("getOr")
def get_or(mapping: Any, key: Any, fallback: Any) -> Any:
    """``getOr .m "key" "fallback"``: the entry, or ``fallback`` when missing or nil."""
    if not is_mapping(mapping):
        return fallback
    value = mapping.get(key if isinstance(key, str) else format_value(key))
    return fallback if value is None else value


# -- collections --------------------------------------------------------------


@template_function("len")
def length(value: Any) -> int:
    if value is None:
        return 0
    if isinstance(value, str) or is_list(value) or is_mapping(value):
        return len(value)
    raise GoExecError(f"len of {go_type_name(value)}")


@template_function("index")
def index(value: Any, *keys: Any) -> Any:
    """Go's ``index x 1 "k"``: ``x[1]["k"]``; a missing map key gives nil, indexing nil fails."""
    if value is None:
        raise GoExecError("index of untyped nil")
    for key in keys:
        if value is None:
            raise GoExecError("index of nil pointer")
        if is_mapping(value):
            if not isinstance(key, str):
                if key is None:
                    raise GoExecError("value is nil; should be of type string")
                raise GoExecError(f"value has type {go_type_name(key)}; should be string")
            value = value.get(key)
        elif isinstance(value, str) or is_list(value):
            if key is None:
                raise GoExecError("cannot index slice/array with nil")
            if not isinstance(key, int) or isinstance(key, bool):
                raise GoExecError(f"cannot index slice/array with type {go_type_name(key)}")
            # A string indexes its bytes and gives one (a number), as in Go.
            items = value.encode() if isinstance(value, str) else value
            if not 0 <= key < len(items):
                raise GoExecError(f"index out of range: {key}")
            value = items[key]
        else:
            raise GoExecError(f"can't index item of type {go_type_name(value)}")
    return value


# -- comparisons (Go's rules: basic kinds only; nil equals only nil) ----------


def _kind(value: Any) -> str:
    if value is None:
        return "nil"
    if isinstance(value, bool):
        return "bool"
    if isinstance(value, int | float):
        return "number"  # Go keeps int and float apart; YAML does not, so neither do we
    if isinstance(value, str):
        return "string"
    return "other"


def _equal(left: Any, right: Any) -> bool:
    left_kind, right_kind = _kind(left), _kind(right)
    if left_kind == "nil" or right_kind == "nil":
        return left_kind == right_kind
    if left_kind == "other" or right_kind == "other":
        other = left if left_kind == "other" else right
        raise GoExecError(f"non-comparable type {go_type_name(other)}")
    if left_kind != right_kind:
        raise GoExecError(
            f"incompatible types for comparison: {go_type_name(left)} and {go_type_name(right)}"
        )
    return bool(left == right)


def _less(left: Any, right: Any) -> bool:
    left_kind, right_kind = _kind(left), _kind(right)
    if left_kind not in ("number", "string") or right_kind not in ("number", "string"):
        bad = left if left_kind not in ("number", "string") else right
        raise GoExecError(f"invalid type for comparison: {go_type_name(bad)}")
    if left_kind != right_kind:
        raise GoExecError(
            f"incompatible types for comparison: {go_type_name(left)} and {go_type_name(right)}"
        )
    return bool(left < right)


@template_function("eq")
def eq(first: Any, other: Any, *more: Any) -> bool:
    """``eq a b c``: a equals b or a equals c."""
    return any(_equal(first, candidate) for candidate in (other, *more))


@template_function("ne")
def ne(left: Any, right: Any) -> bool:
    return not _equal(left, right)


@template_function("lt")
def lt(left: Any, right: Any) -> bool:
    return _less(left, right)


@template_function("le")
def le(left: Any, right: Any) -> bool:
    return _less(left, right) or _equal(left, right)


@template_function("gt")
def gt(left: Any, right: Any) -> bool:
    return _less(right, left)


@template_function("ge")
def ge(left: Any, right: Any) -> bool:
    return _less(right, left) or _equal(left, right)


# -- strings ------------------------------------------------------------------


@template_function("printf", needs_budget=True)
def printf(budget: RenderBudget, template: Any, *args: Any) -> str:
    return sprintf(budget, format_value(template), args)


@template_function("print")
def print_(*args: Any) -> str:
    """Go's ``fmt.Sprint``: a space between operands when neither is a string."""
    out: list[str] = []
    for position, arg in enumerate(args):
        if position and not isinstance(arg, str) and not isinstance(args[position - 1], str):
            out.append(" ")
        out.append(format_nested(arg))
    return "".join(out)


@template_function("toLower")
def to_lower(text: Any) -> str:
    return format_value(text).lower()


@template_function("toUpper")
def to_upper(text: Any) -> str:
    return format_value(text).upper()


@template_function("trim")
def trim(text: Any) -> str:
    """Go's ``strings.TrimSpace``."""
    return format_value(text).strip()


@template_function("replace", needs_budget=True)
def replace(budget: RenderBudget, old: Any, new: Any, text: Any) -> str:
    """``replace old new s`` (sprig's argument order): every ``old`` in ``s`` becomes ``new``."""
    old_s, new_s, text_s = format_value(old), format_value(new), format_value(text)
    count = len(text_s) + 1 if old_s == "" else text_s.count(old_s)
    budget.check_value_size(len(text_s) + count * (len(new_s) - len(old_s)), "replace")
    return text_s.replace(old_s, new_s)


@template_function("contains")
def contains(needle: Any, text: Any) -> bool:
    return format_value(needle) in format_value(text)


@template_function("hasPrefix")
def has_prefix(prefix: Any, text: Any) -> bool:
    return format_value(text).startswith(format_value(prefix))


@template_function("hasSuffix")
def has_suffix(suffix: Any, text: Any) -> bool:
    return format_value(text).endswith(format_value(suffix))


@template_function("quote")
def quote(*values: Any) -> str:
    """Each non-nil value as a double-quoted Go string, space separated."""
    return " ".join(go_quote(format_value(v)) for v in values if v is not None)


def _plain_json(value: Any) -> Any:
    if is_mapping(value):
        return dict(value)
    if is_list(value):
        return list(value)
    raise TypeError(f"{go_type_name(value)} is not JSON")


# Go's encoding/json escapes these so the output is safe inside HTML.
_JSON_HTML_ESCAPES = str.maketrans(
    {"<": "\\u003c", ">": "\\u003e", "&": "\\u0026", "\u2028": "\\u2028", "\u2029": "\\u2029"}
)


@template_function("toJson")
def to_json(value: Any) -> str:
    """Compact JSON with sorted keys, as Go's ``json.Marshal`` writes it."""
    try:
        text = json.dumps(
            value,
            default=_plain_json,
            sort_keys=True,
            separators=(",", ":"),
            ensure_ascii=False,
            allow_nan=False,
        )
    except (TypeError, ValueError) as exc:
        raise GoExecError(f"toJson: {exc}") from None
    return text.translate(_JSON_HTML_ESCAPES)


# -- arithmetic (int when all operands are ints, like Go; int64 range) --------

_INT64_MIN, _INT64_MAX = -(2**63), 2**63 - 1


def _number(value: Any, function: str) -> int | float:
    if value is None:
        return 0
    if is_number(value):
        return value  # type: ignore[no-any-return]
    if isinstance(value, str):
        number = number_from_text(value)
        if number is not None:
            return number
    raise GoExecError(f"{function}: cannot use {format_nested(value)!r} as a number")


def _checked(result: int | float, function: str) -> int | float:
    if isinstance(result, int) and not _INT64_MIN <= result <= _INT64_MAX:
        raise GoExecError(f"{function}: integer overflow")
    return result


@template_function("add")
def add(*values: Any) -> int | float:
    total: int | float = 0
    for value in values:
        total = _checked(total + _number(value, "add"), "add")
    return total


@template_function("sub")
def sub(left: Any, right: Any) -> int | float:
    return _checked(_number(left, "sub") - _number(right, "sub"), "sub")


@template_function("mul")
def mul(*values: Any) -> int | float:
    product: int | float = 1
    for value in values:
        product = _checked(product * _number(value, "mul"), "mul")
    return product


@template_function("div")
def div(left: Any, right: Any) -> int | float:
    """Integer division (truncating, like Go) when both are ints; else float division."""
    dividend, divisor = _number(left, "div"), _number(right, "div")
    if divisor == 0:
        raise GoExecError("div: division by zero")
    if isinstance(dividend, int) and isinstance(divisor, int):
        quotient = abs(dividend) // abs(divisor)
        return _checked(-quotient if (dividend < 0) != (divisor < 0) else quotient, "div")
    return dividend / divisor


# -- the rest of Go's builtins: slice, println, html, js, urlquery, call -------


def _slice_index(index: Any, cap: int) -> int:
    """Go's indexArg: an integer within 0..cap."""
    if index is None:
        raise GoExecError("cannot index slice/array with nil")
    if not isinstance(index, int) or isinstance(index, bool):
        raise GoExecError(f"cannot index slice/array with type {go_type_name(index)}")
    if not 0 <= index <= cap:
        raise GoExecError(f"index out of range: {index}")
    return index


@template_function("slice")
def slice_(item: Any, *indexes: Any) -> Any:
    """``slice x 1 2`` is Go's ``x[1:2]`` (``slice x`` is ``x[:]``, ``slice x 1 2 3`` ``x[1:2:3]``).

    Strings are sliced by bytes, as in Go; a cut through a character leaves
    U+FFFD, which is what Go's JSON encoding makes of it on the way to the API.
    """
    if item is None:
        raise GoExecError("slice of untyped nil")
    if len(indexes) > 3:
        raise GoExecError(f"too many slice indexes: {len(indexes)}")
    if isinstance(item, str):
        if len(indexes) == 3:
            raise GoExecError("cannot 3-index slice a string")
        data: Any = item if item.isascii() else item.encode()
    elif is_list(item):
        data = item
    else:
        raise GoExecError(f"can't slice item of type {go_type_name(item)}")
    bounds = [0, len(data)]
    for position, index in enumerate(indexes):
        found = _slice_index(index, len(data))
        if position < 2:
            bounds[position] = found
        else:
            bounds.append(found)
    if bounds[0] > bounds[1]:
        raise GoExecError(f"invalid slice index: {bounds[0]} > {bounds[1]}")
    if len(bounds) == 3 and bounds[1] > bounds[2]:
        raise GoExecError(f"invalid slice index: {bounds[1]} > {bounds[2]}")
    part = data[bounds[0] : bounds[1]]
    if isinstance(part, bytes):
        return part.decode("utf-8", "replace")
    return part if isinstance(part, str) else list(part)


@template_function("println")
def println(*args: Any) -> str:
    """Go's ``fmt.Sprintln``: a space between every two operands, then a newline."""
    return " ".join(format_nested(arg) for arg in args) + "\n"


def _eval_args(args: tuple[Any, ...]) -> str:
    """Go's evalArgs for the escapers: fmt.Sprint, but a nil operand is "<no value>"."""
    if len(args) == 1 and type(args[0]) is str:
        return args[0]
    return print_(*("<no value>" if arg is None else arg for arg in args))


_HTML_ESCAPES = str.maketrans(
    {"\0": "\ufffd", '"': "&#34;", "'": "&#39;", "&": "&amp;", "<": "&lt;", ">": "&gt;"}
)


@template_function("html")
def html(*args: Any) -> str:
    """Go's HTMLEscaper: ``" ' & < >`` as entities, NUL as U+FFFD."""
    return _eval_args(args).translate(_HTML_ESCAPES)


_JS_ESCAPES = {
    "\\": "\\\\",
    "'": "\\'",
    '"': '\\"',
    "<": "\\u003C",
    ">": "\\u003E",
    "&": "\\u0026",
    "=": "\\u003D",
}


def _js_char(char: str) -> str:
    escaped = _JS_ESCAPES.get(char)
    if escaped is not None:
        return escaped
    code = ord(char)
    if code < 0x20:
        return f"\\u00{code:02X}"
    if code < 0x80 or char.isprintable():
        return char
    return f"\\u{code:04X}"


_JS_SPECIAL = re.compile(r"[\\'\"<>&=\x00-\x1f\x80-\U0010ffff]")


@template_function("js")
def js(*args: Any) -> str:
    """Go's JSEscaper: quotes, backslash, ``< > & =`` and control or unprintable runes escaped."""
    text = _eval_args(args)
    if _JS_SPECIAL.search(text) is None:
        return text
    return "".join(_js_char(char) for char in text)


@template_function("urlquery")
def urlquery(*args: Any) -> str:
    """Go's url.QueryEscape of the operands' text: space is ``+``, all but ``A-Za-z0-9-_.~`` %XX."""
    return urllib.parse.quote_plus(_eval_args(args), safe="", errors="replace")


@template_function("call")
def call(callee: str, function: Any, *args: Any) -> Any:
    """Go's ``call fn args``: Katalog data holds no functions, so every call fails as in Go.

    The parser passes the callee's source text first (``call .x`` -> ".x"),
    which Go's error names.
    """
    if function is None:
        raise GoExecError("call of nil")
    raise GoExecError(f"non-function {callee} of type {go_type_name(function)}")
