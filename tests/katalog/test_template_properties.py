"""Property tests: paths render like lookup_path, and input never becomes code."""

from __future__ import annotations

import math
import re
from decimal import Decimal
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from orkestra_trio.katalog._gotemplate.engine import _ENV, Template
from orkestra_trio.katalog.template import (
    TemplateRenderError,
    TemplateSyntaxError,
    compile_template,
    format_value,
    lookup_path,
)

identifiers = st.from_regex(r"[A-Za-z_][A-Za-z0-9_]{0,6}", fullmatch=True)
leaves = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-(2**63), max_value=2**63 - 1),
    st.floats(allow_nan=False, allow_infinity=False),
    # Floats whose Go printing differs from Python's: integral, exponent forms, -0.
    st.sampled_from([-3.0, 2.0, 1e6, 1234567.0, 1e-5, 0.0001, -0.0, 2.0**53, 1e21]),
    st.text(max_size=12),
)
contexts = st.recursive(
    st.dictionaries(identifiers, leaves, max_size=4),
    lambda children: st.dictionaries(
        identifiers, st.one_of(leaves, children, st.lists(leaves, max_size=3)), max_size=4
    ),
    max_leaves=25,
)


def _paths_in(context: Any, prefix: tuple[str, ...] = ()) -> list[tuple[str, ...]]:
    out = [prefix] if prefix else []
    if isinstance(context, dict):
        for key, value in context.items():
            out.extend(_paths_in(value, (*prefix, key)))
    return out


@st.composite
def context_and_path(draw: st.DrawFn) -> tuple[dict[str, Any], tuple[str, ...]]:
    context = draw(contexts)
    existing = _paths_in(context)
    if existing and draw(st.booleans()):
        path = draw(st.sampled_from(existing))
        # Sometimes walk past the end of a real path, into nothing.
        path = path + tuple(draw(st.lists(identifiers, max_size=2)))
    else:
        path = tuple(draw(st.lists(identifiers, min_size=1, max_size=4)))
    return context, path


def _direct_lookup(context: Any, path: tuple[str, ...]) -> Any:
    """The reference: walk nested dicts; anything else on the way means "missing"."""
    value = context
    for key in path:
        if not isinstance(value, dict):
            return None
        value = value.get(key)
    return value


def _go_failure(context: Any, path: tuple[str, ...]) -> str | None:
    """Go's error for ``.a.b.c`` over map[string]interface{} data, None when it evaluates.

    Every step after the root reads a map element (an interface value): a
    nil one cannot be walked through, nor can one that is not a map.
    """
    value = context
    for key in path:
        if isinstance(value, dict):
            value = value.get(key)
        elif value is None:
            return f"nil pointer evaluating interface {{}}.{key}"
        else:
            return f"can't evaluate field {key} in type interface {{}}"
    return None


def _go_float(value: float) -> str:
    """Go's ``%v`` of a float64, from Python's shortest round-trip digits.

    Go prints the shortest digits that round-trip, in %e form when the decimal
    exponent is below -4 or at least 6 (the precision %v uses for that choice).
    """
    sign = "-" if math.copysign(1.0, value) < 0 else ""
    if value == 0:
        return sign + "0"
    shortest = Decimal(repr(abs(value))).normalize()
    _, digit_tuple, exponent = shortest.as_tuple()
    assert isinstance(exponent, int)
    digits = "".join(map(str, digit_tuple))
    exp10 = len(digits) - 1 + exponent
    if exp10 < -4 or exp10 >= 6:
        mantissa = digits[0] + ("." + digits[1:] if len(digits) > 1 else "")
        return f"{sign}{mantissa}e{'-' if exp10 < 0 else '+'}{abs(exp10):02d}"
    return sign + format(shortest, "f")


def _go_text(value: Any) -> str:
    """How Go prints a leaf value; containers are left to the implementation."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        return _go_float(value)
    if isinstance(value, str):
        return value
    # Maps and lists print as map[k:v] / [a b]; test_template covers those shapes.
    return format_value(value)


def test_the_reference_formatting_is_go_s() -> None:
    cases = {1e6: "1e+06", 3.0: "3", 0.5: "0.5", 123456.0: "123456", 1234567.0: "1.234567e+06"}
    cases |= {1e-5: "1e-05", 0.0001: "0.0001", -2.5: "-2.5", 1e21: "1e+21", -0.0: "-0"}
    for value, text in cases.items():
        assert _go_float(value) == text


@settings(max_examples=200, deadline=None)
@given(
    context_and_path(),
    st.lists(
        st.text(alphabet=st.sampled_from(list("ab-./:{}\r\n %")), max_size=6),
        min_size=3,
        max_size=3,
    ),
)
def test_text_and_fields_render_as_the_generated_code_does(
    case: tuple[dict[str, Any], tuple[str, ...]], texts: list[str]
) -> None:
    # Such templates skip jinja (engine._interpolation): same text, same errors.
    context, path = case
    dotted = ".".join(path)
    source = f"{texts[0]}{{{{ .{dotted} }}}}{texts[1]}{{{{ .{dotted} }}}}{texts[2]}"
    try:
        template = compile_template(source)
    except TemplateSyntaxError:
        return  # the text made an action of it
    slow = Template(source, "<template>")
    assert slow._interpolation is not None or any(c in "".join(texts) for c in "{}\r")
    slow._interpolation = None  # the generated code only
    try:
        expected = slow.render(context)
    except TemplateRenderError as exc:  # a field of nil or of a non-map, as in Go
        with pytest.raises(TemplateRenderError) as caught:
            template.render(context)
        assert caught.value.message == exc.message
        return
    assert template.render(context) == expected


@settings(max_examples=300, deadline=None)
@given(context_and_path())
def test_paths_render_like_a_direct_lookup(case: tuple[dict[str, Any], tuple[str, ...]]) -> None:
    context, path = case
    dotted = ".".join(path)
    failure = _go_failure(context, path)
    if failure is not None:
        for source in (
            "{{ ." + dotted + " }}",
            "{{ $." + dotted + " }}",
            "{{ if ." + dotted + " }}{{ end }}",
        ):
            with pytest.raises(TemplateRenderError, match=re.escape(failure)):
                compile_template(source).render(context)
        return
    found = _direct_lookup(context, path)
    expected = _go_text(found)
    assert compile_template("{{ ." + dotted + " }}").render(context) == expected
    assert compile_template("{{ $." + dotted + " }}").render(context) == expected
    assert (
        compile_template("{{ $v := ." + dotted + " }}[{{ $v }}]").render(context) == f"[{expected}]"
    )
    # Missing is falsy, and so are Go's zero values; everything else is truthy.
    truthy = found not in (None, "", 0, False) and found != {} and found != []
    branch = compile_template("{{ if ." + dotted + " }}yes{{ else }}no{{ end }}").render(context)
    assert branch == ("yes" if truthy else "no")
    # The implementation's own lookup agrees with the reference.
    assert lookup_path(context, dotted) == found
    index_args = " ".join(f'"{key}"' for key in path)
    if all(isinstance(_direct_lookup(context, path[:i]), dict | None) for i in range(1, len(path))):
        assert compile_template(f"{{{{ index . {index_args} }}}}").render(context) == expected


# -- translation safety -----------------------------------------------------

FRAGMENTS = [
    "{{",
    "}}",
    "{{-",
    "-}}",
    "{%",
    "%}",
    "{#",
    "#}",
    "{{ ",
    " }}",
    "__class__",
    "__globals__",
    ".x",
    ".__class__",
    "$",
    "$x",
    ":=",
    "=",
    "|",
    "(",
    ")",
    '"',
    "'",
    "`",
    "\\",
    "7*7",
    "49",
    "if",
    "else",
    "end",
    "range",
    "with",
    "printf",
    "toJson",
    "default",
    "lipsum",
    "cycler",
    "self",
    "config",
    "request",
    "import",
    "os",
    "[",
    "]",
    ".",
    ",",
    " ",
    "\n",
    "\r",
    "a",
    "1",
    "-",
    "+",
    "/*",
    "*/",
    "nil",
    "true",
    "{{ 7*7 }}",
    "{{ .x.__class__ }}",
    "{% raw %}",
    "{{ .x }}",
    '{{ printf "%v" . }}',
    "}}{{",
]

# What generated jinja2 may contain: our own names, jinja keywords, filters.
_OUR_NAME = re.compile(r"(d|v|c|k|w|t)\d+|st|tp|go_[a-z]+|fn_[A-Za-z_][A-Za-z0-9_]*")
_JINJA_KEYWORDS = {
    "if",
    "elif",
    "else",
    "endif",
    "for",
    "in",
    "endfor",
    "set",
    "and",
    "or",
    "not",
    "break",
    "continue",
}
_ALLOWED_OPERATORS = {"|", "(", ")", ",", "="}


def _assert_generated_source_is_ours(source: str, jinja_source: str) -> None:
    for _, kind, value in _ENV.lex(jinja_source):
        if kind == "data":
            # Raw text is copied from the input and is never code.
            assert value in source
        elif kind == "name":
            assert value in _JINJA_KEYWORDS or _OUR_NAME.fullmatch(value), value
        elif kind == "operator":
            assert value in _ALLOWED_OPERATORS, value
        else:
            assert kind in {
                "variable_begin",
                "variable_end",
                "block_begin",
                "block_end",
                "comment_begin",
                "comment",
                "comment_end",
                "whitespace",
            }, (kind, value)


@settings(max_examples=500, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(st.sampled_from(FRAGMENTS), max_size=14).map("".join))
def test_random_text_never_becomes_code(source: str) -> None:
    try:
        template = compile_template(source)
    except TemplateSyntaxError:
        return
    _assert_generated_source_is_ours(source, template.jinja_source)
    context = {"x": {"__class__": "K", "y": 1}, "a": 1}
    try:
        output = template.render(context)
    except TemplateRenderError:
        return
    # 7*7 is not Go syntax, so "49" can only come from the input text.
    if "49" not in source:
        assert "49" not in output


@settings(max_examples=300, deadline=None)
@given(st.text(alphabet=st.sampled_from(list("{}%#-+ \n\r\tab$.|()'\"`\\*/")), max_size=40))
def test_text_without_actions_renders_verbatim(text: str) -> None:
    if "{{" in text:
        return
    assert compile_template(text).render({}) == text


def test_known_injection_attempts() -> None:
    literal = "{% for x in range(3) %}x{% endfor %} {# note #}"
    assert compile_template(literal).render({}) == literal
    # Through a string Go fails ("can't evaluate field"): the sandbox is never asked.
    with pytest.raises(TemplateRenderError, match="can't evaluate field __class__"):
        compile_template("{{ .x.__class__ }}").render({"x": "s"})
    assert compile_template("{{ .x.__class__ }}").render({"x": {"__class__": "ok"}}) == "ok"
    for source in ("{{ 7*7 }}", "{{ ''.__class__ }}", "{{ .x[0] }}", "{{ lipsum }}", "{{ self }}"):
        try:
            compile_template(source)
        except TemplateSyntaxError:
            continue
        raise AssertionError(f"{source!r} compiled")
