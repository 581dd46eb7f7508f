"""Go's ``fmt.Sprintf`` and ``strconv.Quote`` for the ``printf`` and ``quote`` functions.

Users copy printf calls from Go and Helm templates, so the verbs, flags and
the odd-looking error forms (``%!d(string=abc)``, ``%!s(MISSING)``) follow Go.
Widths and precisions are capped and the result is size-checked piece by
piece, so a format string cannot make a render allocate without bound.
"""

from __future__ import annotations

import math
from typing import Any

from orkestra_trio.katalog._gotemplate.limits import RenderBudget
from orkestra_trio.katalog._gotemplate.values import (
    format_float,
    format_nested,
    go_type_name,
    is_list,
    is_mapping,
    is_number,
)

# Go itself refuses widths above 1e6; we are stricter since every render is
# synchronous on the event loop thread.
MAX_WIDTH = 10_000

_ESCAPES = {
    "\a": "\\a",
    "\b": "\\b",
    "\f": "\\f",
    "\n": "\\n",
    "\r": "\\r",
    "\t": "\\t",
    "\v": "\\v",
    "\\": "\\\\",
    '"': '\\"',
}


def go_quote(text: str) -> str:
    """``strconv.Quote``: a double-quoted Go string literal."""
    out = ['"']
    for char in text:
        escaped = _ESCAPES.get(char)
        if escaped is not None:
            out.append(escaped)
        elif char.isprintable():
            out.append(char)
        elif ord(char) < 0x80:
            out.append(f"\\x{ord(char):02x}")
        elif ord(char) < 0x10000:
            out.append(f"\\u{ord(char):04x}")
        else:
            out.append(f"\\U{ord(char):08x}")
    out.append('"')
    return "".join(out)


def _bad(verb: str, arg: Any) -> str:
    if arg is None:
        return f"%!{verb}(<nil>)"
    return f"%!{verb}({go_type_name(arg)}={format_nested(arg)})"


def _pad(text: str, width: int | None, flags: str, *, sign_aware: bool = False) -> str:
    if width is None or len(text) >= width:
        return text
    fill = width - len(text)
    if "-" in flags:
        return text + " " * fill
    if "0" in flags:
        if sign_aware and text[:1] in ("+", "-", " "):
            return text[0] + "0" * fill + text[1:]
        return "0" * fill + text
    return " " * fill + text


def _sign(negative: bool, flags: str) -> str:
    if negative:
        return "-"
    if "+" in flags:
        return "+"
    if " " in flags:
        return " "
    return ""


def _format_int(value: int, verb: str, flags: str, width: int | None, prec: int | None) -> str:
    base = {"d": "d", "v": "d", "b": "b", "o": "o", "O": "o", "x": "x", "X": "X"}[verb]
    digits = format(abs(value), base)
    if prec is not None:
        digits = "" if prec == 0 and value == 0 else digits.rjust(prec, "0")
    prefix = ""
    if verb == "O":
        prefix = "0o"
    elif "#" in flags:
        prefix = {"b": "0b", "o": "0", "x": "0x", "X": "0X"}.get(verb, "")
    head = _sign(value < 0, flags) + prefix
    body = head + digits
    if (
        width is not None
        and len(body) < width
        and "0" in flags
        and "-" not in flags
        and prec is None
    ):
        return head + "0" * (width - len(body)) + digits
    return _pad(body, width, flags.replace("0", ""))


def _format_float(value: float, verb: str, flags: str, width: int | None, prec: int | None) -> str:
    if math.isnan(value) or math.isinf(value):
        if math.isnan(value):
            text = "+NaN" if "+" in flags else "NaN"
        else:
            text = ("+Inf" if "+" in flags else "Inf") if value > 0 else "-Inf"
        return _pad(text, width, flags.replace("0", ""))
    negative = math.copysign(1.0, value) < 0
    magnitude = abs(value)
    if verb in ("g", "G", "v") and prec is None:
        digits = format_float(magnitude)
        if verb == "G":
            digits = digits.upper()
    else:
        python_verb = {"v": "g", "F": "f"}.get(verb, verb)
        digits = format(magnitude, f".{6 if prec is None else prec}{python_verb}")
    return _pad(_sign(negative, flags) + digits, width, flags, sign_aware=True)


def _format_one(verb: str, flags: str, width: int | None, prec: int | None, arg: Any) -> str:
    if verb == "T":
        return _pad(go_type_name(arg), width, flags)
    if verb == "v":
        if isinstance(arg, int) and not isinstance(arg, bool):
            return _format_int(arg, "d", flags, width, None)
        if isinstance(arg, float):
            return _format_float(arg, "v", flags, width, prec)
        return _pad(format_nested(arg), width, flags)
    if isinstance(arg, bool):
        if verb == "t":
            return _pad("true" if arg else "false", width, flags)
        return _bad(verb, arg)
    if isinstance(arg, str):
        if verb == "s":
            return _pad(arg if prec is None else arg[:prec], width, flags)
        if verb == "q":
            return _pad(go_quote(arg if prec is None else arg[:prec]), width, flags)
        if verb in ("x", "X"):
            data = arg.encode("utf-8", "surrogatepass")
            if prec is not None:
                data = data[:prec]
            text = data.hex()
            return _pad(text.upper() if verb == "X" else text, width, flags)
        return _bad(verb, arg)
    if is_number(arg):
        if isinstance(arg, float) and verb in "dboOxX" and arg.is_integer():
            # YAML or JSON may hand us 3.0 where Go would have an int.
            arg = int(arg)
        if isinstance(arg, int):
            if verb in "dboOxX":
                return _format_int(arg, verb, flags, width, prec)
            if verb == "c":
                return _pad(chr(arg) if 0 <= arg <= 0x10FFFF else "\ufffd", width, flags)
            if verb == "q":
                char = chr(arg) if 0 <= arg <= 0x10FFFF else "\ufffd"
                return _pad("'" + go_quote(char)[1:-1].replace('\\"', '"') + "'", width, flags)
            if verb == "U":
                return _pad(f"U+{arg:04X}", width, flags)
            if verb in "eEfFgG":
                return _format_float(float(arg), verb, flags, width, prec)
            return _bad(verb, arg)
        if verb in "eEfFgG":
            return _format_float(float(arg), verb, flags, width, prec)
        return _bad(verb, arg)
    if (is_list(arg) or is_mapping(arg)) and verb in ("s", "q", "d"):
        return _pad(format_nested(arg), width, flags)
    return _bad(verb, arg)


def sprintf(budget: RenderBudget, template: str, args: tuple[Any, ...]) -> str:
    """``fmt.Sprintf(template, args...)`` with Go's verbs and error forms."""
    out: list[str] = []
    size = 0
    arg_index = 0
    pos = 0
    end = len(template)
    while pos < end:
        percent = template.find("%", pos)
        if percent < 0:
            out.append(template[pos:])
            break
        out.append(template[pos:percent])
        size += percent - pos
        pos = percent + 1
        if pos >= end:
            out.append("%!(NOVERB)")
            break
        flags = ""
        while pos < end and template[pos] in "+-# 0":
            flags += template[pos]
            pos += 1
        width: int | None = None
        bad_width = False
        if pos < end and template[pos] == "*":
            pos += 1
            if arg_index < len(args) and type(args[arg_index]) is int:
                width = args[arg_index]
                if width < 0:
                    flags += "-"
                    width = -width
            else:
                bad_width = True
            arg_index += 1
        else:
            start = pos
            while pos < end and template[pos].isdigit():
                pos += 1
            if pos > start:
                width = int(template[start:pos]) if pos - start <= 6 else MAX_WIDTH + 1
        prec: int | None = None
        if pos < end and template[pos] == ".":
            pos += 1
            start = pos
            while pos < end and template[pos].isdigit():
                pos += 1
            prec = (
                int(template[start:pos])
                if 0 < pos - start <= 6
                else (0 if pos == start else MAX_WIDTH + 1)
            )
        if pos >= end:
            out.append("%!(NOVERB)")
            break
        verb = template[pos]
        pos += 1
        if verb == "%":
            out.append("%")
            size += 1
            continue
        if bad_width or (width is not None and width > MAX_WIDTH):
            out.append("%!(BADWIDTH)")
            arg_index += 1  # the verb's argument is used up, not reported as EXTRA
            continue
        if prec is not None and prec > MAX_WIDTH:
            out.append("%!(BADPREC)")
            arg_index += 1
            continue
        if arg_index >= len(args):
            out.append(f"%!{verb}(MISSING)")
            continue
        arg = args[arg_index]
        arg_index += 1
        kind = type(arg)
        if flags or width is not None or prec is not None:
            piece = _format_one(verb, flags, width, prec, arg)
        elif kind is str and verb in "sv":
            piece = arg  # the common plain cases, without the general machinery
        elif kind is int and verb in "dv":
            piece = str(arg)
        else:
            piece = _format_one(verb, flags, width, prec, arg)
        out.append(piece)
        size += len(piece)
        budget.check_value_size(size, "printf")
    if arg_index < len(args):
        extra = ", ".join(f"{go_type_name(a)}={format_nested(a)}" for a in args[arg_index:])
        out.append(f"%!(EXTRA {extra})")
    result = "".join(out)
    budget.check_value_size(len(result), "printf")
    return result
